"""How platforms count a post's length against their limit.

* **characters**: code points (Python's ``len``): Facebook, Instagram, LinkedIn, the test platforms.
* **graphemes** (Bluesky, Threads): what a reader sees as one character (Unicode's extended grapheme
  clusters, UAX #29, as the ``regex`` package's ``\\X`` finds them); an accented letter, a flag or a family
  emoji joined with zero-width joiners is one.
* **X**: twitter-text's v3 rules, by ``twitter-text-parser`` (the port of X's own library): the text is
  NFC-normalised; every URL counts 23 (t.co), bare domains such as ``example.com`` too; an emoji sequence
  counts 2; any other code point 1 in Latin, Greek, Cyrillic … and general punctuation, else 2 (CJK, for
  instance).
* **Mastodon**: graphemes, with every ``http(s)://`` URL counting 23 and ``@user@server`` counting as
  ``@user`` (as its status length validator does).
* **bytes**: UTF-8 bytes (Bluesky's second limit, 3000).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import regex

Measure = Callable[[str], int]

URL_LENGTH = 23
GRAPHEME = regex.compile(r"\X")
MASTODON_URL = re.compile(r"(https?://)[^\s<>\"]+", re.IGNORECASE)
MASTODON_MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]*[a-z0-9_])?)@[\w.-]*\w", re.IGNORECASE)
HASHTAG = re.compile(r"(?<![\w&#])#(\w+)")
MENTION = re.compile(r"(?<![\w@.])@([\w.]+)")
TRAILING = ".,:;!?'\"]}"


def characters(text: str) -> int:
    return len(text)


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def clusters(text: str) -> list[str]:
    """``text`` split into user-perceived characters (extended grapheme clusters)."""
    return list(GRAPHEME.findall(text))


def graphemes(text: str) -> int:
    return len(GRAPHEME.findall(text))


@functools.cache
def _parse_tweet() -> Callable[[str], Any]:
    """twitter-text-parser's ``parse_tweet``, imported on first use: its emoji tables take most of a second to
    load, which a process that never drafts for X shouldn't pay."""
    with warnings.catch_warnings():  # it loads its emoji table through pkg_resources, which warns it's deprecated
        warnings.simplefilter("ignore")
        from twitter_text import parse_tweet

    return parse_tweet  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=1024)
def x_length(text: str) -> int:
    """X's weighted length (the number X compares with 280). Cached: the approval card measures the same text
    again for every prefix it tries."""
    return int(_parse_tweet()(text).weightedLength)


def warm() -> None:
    """Load twitter-text-parser now, off the event loop (a process role calls it in a thread at start-up), rather
    than during the first draft for X."""
    x_length("")


def hashtags(text: str) -> int:
    return len(HASHTAG.findall(text))


def mentions(text: str) -> int:
    return len(MENTION.findall(text))


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


def mastodon_length(text: str) -> int:
    total = 0
    for piece, is_url in _parts(text, MASTODON_URL):
        total += URL_LENGTH if is_url else graphemes(MASTODON_MENTION.sub(r"@\1", piece))
    return total
