"""How platforms count a post's length against their limit.

* **characters**: code points (Python's ``len``): Facebook, Instagram, LinkedIn, the test platforms.
* **graphemes** (Bluesky): what a reader sees as one character; an accented letter, a flag or a family
  emoji joined with zero-width joiners is one. :func:`clusters` approximates Unicode's extended
  grapheme clusters (UAX #29) closely enough for counting, without a dependency: combining marks,
  joiners, variation selectors, skin tones and emoji tags stay with the character before them,
  regional indicators pair up, and CR LF is one.
* **X** (twitter-text's v3 rules): the text is NFC-normalised; every URL counts 23 (t.co); an emoji
  sequence counts 2; any other code point counts 1 in U+0000–U+10FF and a few punctuation ranges (Latin,
  Greek, Cyrillic, Hebrew, Arabic, Indic scripts …), else 2 (CJK, for instance). URLs are the ones
  starting with ``http://``, ``https://`` or ``www.``; X also shortens bare domains (``example.com``),
  which this does not recognise.
* **Mastodon**: graphemes, with every ``http(s)://`` URL counting 23 and ``@user@server`` counting as
  ``@user`` (as its status length validator does).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator

Measure = Callable[[str], int]

URL_LENGTH = 23
ZWJ = "\u200d"
X_WEIGHT_1 = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
EMOJI_MARKS = frozenset({0xFE0F, 0x200D, 0x20E3})
X_URL = re.compile(r"(https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
MASTODON_URL = re.compile(r"(https?://)[^\s<>\"]+", re.IGNORECASE)
MASTODON_MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]*[a-z0-9_])?)@[\w.-]*\w", re.IGNORECASE)
TRAILING = ".,:;!?'\"]}"


def characters(text: str) -> int:
    return len(text)


def _regional(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def _extends(ch: str) -> bool:
    """Whether ``ch`` belongs to the character before it."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or ch in (ZWJ, "\u200c")
        or 0xFE00 <= cp <= 0xFE0F
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tones
        or 0xE0020 <= cp <= 0xE007F  # emoji tag sequences (subdivision flags)
    )


def clusters(text: str) -> list[str]:
    """``text`` split into user-perceived characters (see the module docstring for the rules kept)."""
    out: list[str] = []
    lone_flag = False  # the last cluster is one regional indicator, waiting for its pair
    for ch in text:
        last = out[-1] if out else ""
        joins = bool(last) and (
            (last == "\r" and ch == "\n")
            or (last[-1] not in "\r\n" and (_extends(ch) or last.endswith(ZWJ)))
            or (lone_flag and _regional(ord(ch)))
        )
        if joins:
            out[-1] = last + ch
            lone_flag = False
        else:
            out.append(ch)
            lone_flag = _regional(ord(ch))
    return out


def graphemes(text: str) -> int:
    return len(clusters(text))


def _x_weight(cluster: str) -> int:
    points = [ord(c) for c in cluster]
    if len(points) > 1 and any(
        p in EMOJI_MARKS or 0x1F3FB <= p <= 0x1F3FF or _regional(p) or 0xE0020 <= p <= 0xE007F for p in points
    ):
        return 2  # an emoji sequence counts as one emoji
    return sum(1 if any(lo <= p <= hi for lo, hi in X_WEIGHT_1) else 2 for p in points)


def _url_end(url: str) -> str:
    """A URL without the punctuation that ends the sentence around it (a balanced ``)`` stays)."""
    while url and (url[-1] in TRAILING or (url[-1] == ")" and url.count(")") > url.count("("))):
        url = url[:-1]
    return url


def _parts(text: str, pattern: re.Pattern[str]) -> Iterator[tuple[str, bool]]:
    """``text`` as (piece, is_url) pieces, in order."""
    start = 0
    for match in pattern.finditer(text):
        url = _url_end(match.group())
        if len(url) <= len(match.group(1)):
            continue  # a bare "https://" is text
        yield text[start : match.start()], False
        yield url, True
        start = match.start() + len(url)
    yield text[start:], False


def x_length(text: str) -> int:
    """X's weighted length (the number X compares with 280)."""
    total = 0
    for piece, is_url in _parts(unicodedata.normalize("NFC", text), X_URL):
        total += URL_LENGTH if is_url else sum(_x_weight(c) for c in clusters(piece))
    return total


def mastodon_length(text: str) -> int:
    total = 0
    for piece, is_url in _parts(text, MASTODON_URL):
        total += URL_LENGTH if is_url else graphemes(MASTODON_MENTION.sub(r"@\1", piece))
    return total
