"""Rich text for Bluesky: mentions, links and hashtags found in a post's text, as ``app.bsky.richtext.facet``
annotations with UTF-8 byte offsets.

Detection follows the official client's rules (``@atproto/api`` ``RichText.detectFacets``):

* **mentions** ``@handle`` after the start, a space or ``(``, where the handle ends in a known top-level domain
  (or ``.test``); each is resolved to a DID and a handle that doesn't resolve stays plain text;
* **links** ``http(s)://…`` up to the next space, and bare domains (``example.com/path``) with a known
  top-level domain, which link to ``https://…``; one trailing ``.,;:!?`` is left out, and a ``)`` without
  a ``(`` in the link;
* **hashtags** ``#tag`` (or ``＃tag``) after the start or a space, not only digits, without trailing
  punctuation, at most 64 characters.

Offsets count UTF-8 bytes of the text as sent (``byteStart`` inclusive, ``byteEnd`` exclusive), so an emoji or
an accented letter before a link moves it by its byte length, not by one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import regex

MENTION: Final = regex.compile(r"(^|\s|\()(@)([a-zA-Z0-9.-]+)(\b)")
LINK: Final = regex.compile(
    r"(^|\s|\()((https?://\S+)|((?P<domain>[a-z][a-z0-9]*(\.[a-z0-9]+)+)\S*))", regex.IGNORECASE | regex.MULTILINE
)
_INVISIBLE: Final = r"\u00AD\u2060\u200A\u200B\u200C\u200D\u20e2"
TAG: Final = regex.compile(
    rf"(^|\s)[#＃]((?!\ufe0f)[^\s{_INVISIBLE}]*[^\d\s\p{{P}}{_INVISIBLE}]+[^\s{_INVISIBLE}]*)?", regex.UNICODE
)
TRAILING_PUNCTUATION: Final = regex.compile(r"\p{P}+$")
MAX_TAG: Final = 64

#: Top-level domains a bare domain or a handle may end with: the generic ones in common use; any two-letter
#: (country) domain is accepted too. The official client checks the full IANA list.
_GENERIC_TLDS: Final = """
aero africa agency app art asia band bar beer berlin bike biz black blog blue book boutique build business cafe
cam camp capital cards care careers cash cat center chat cheap church city click clinic cloud club codes coffee
com community company computer consulting cool coop country creditcard cricket cymru dad dance day deals dental
design dev diet digital directory dog domains download earth eco edu education email energy engineering estate
eu events exchange expert exposed family fans farm fashion feedback film finance fish fitness florist food
football forum foundation free fun fund fyi gallery games garden gay gift gifts glass global gold golf gov
graphics gratis green gripe group guide guru haus health help hockey holdings holiday horse host house how immo
industries info ink institute int international io jetzt jobs kaufen kim kitchen land lat lawyer legal lgbt life
lighting limited link live loan lol london love ltd luxury maison management market marketing me media memorial
men menu mil mobi moda moe mom money movie museum nagoya name navy net network news ngo ninja nrw nyc observer
okinawa one onl online ooo org page paris partners parts party pet photo photography photos pics pink pizza
place plumbing plus poker porn press pro productions promo properties property pub quebec radio realty recipes
red rehab reise rent repair report rest review reviews rip rocks ruhr run sale salon sarl school science scot
services sexy shoes shop show singles site ski soccer social software solar solutions space sport store stream
studio style sucks supply support surf swiss systems tattoo tax taxi team tech technology tel tennis theater
tips tires today tokyo tools top town toys trade training travel tube tv university vegas ventures vet viajes
video villas vin vip vision vodka vote voting voto voyage wales wang watch website wedding whoswho wien wiki
wine work works world wtf xn--p1ai xxx xyz yoga zip zone
"""
GENERIC_TLDS: Final = frozenset(_GENERIC_TLDS.split())


@dataclass(frozen=True)
class Span:
    """One facet before resolution: ``start``/``end`` are UTF-8 byte offsets; ``value`` a handle, URI or tag."""

    start: int
    end: int
    kind: Literal["mention", "link", "tag"]
    value: str


def known_domain(name: str) -> bool:
    """Whether ``name`` ends in a top-level domain (a dot, then a known generic one or any two letters)."""
    _, dot, tld = name.rpartition(".")
    tld = tld.lower()
    return bool(dot) and (tld in GENERIC_TLDS or (len(tld) == 2 and tld.isascii() and tld.isalpha()))


class _Offsets:
    """Code-point indices of one text as UTF-8 byte offsets."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __call__(self, index: int) -> int:
        return len(self._text[:index].encode("utf-8"))


def detect(text: str) -> list[Span]:
    """Every mention, link and hashtag in ``text``, in order of appearance (mentions not yet resolved)."""
    at = _Offsets(text)
    spans: list[Span] = []
    for match in MENTION.finditer(text):
        handle = match.group(3)
        if not known_domain(handle) and not handle.endswith(".test"):
            continue  # probably not a handle
        start = match.start(2)
        spans.append(Span(at(start), at(match.end(3)), "mention", handle.lower()))
    for match in LINK.finditer(text):
        uri, start = match.group(2), match.start(2)
        if not uri.lower().startswith("http"):
            domain = match.group("domain")
            if not domain or not known_domain(domain):
                continue
            uri = f"https://{uri}"
        end = match.end(2)
        if uri[-1] in ".,;:!?":
            uri, end = uri[:-1], end - 1
        if uri.endswith(")") and "(" not in uri:
            uri, end = uri[:-1], end - 1
        spans.append(Span(at(start), at(end), "link", uri))
    for match in TAG.finditer(text):
        tag = match.group(2)
        if not tag:
            continue
        tag = TRAILING_PUNCTUATION.sub("", tag.strip())
        if not tag or len(tag) > MAX_TAG:
            continue
        start = match.start(0) + len(match.group(1))
        spans.append(Span(at(start), at(start + 1 + len(tag)), "tag", tag))
    return sorted(spans, key=lambda span: span.start)


#: Resolves a handle to its DID, or None when it doesn't resolve.
Resolve = Callable[[str], Awaitable[str | None]]


async def facets(text: str, resolve: Resolve) -> list[dict[str, Any]]:
    """The ``facets`` of a post with ``text``: mentions resolved with ``resolve`` (each handle once; one that
    doesn't resolve is left as plain text), links and tags as they are."""
    dids: dict[str, str | None] = {}
    out: list[dict[str, Any]] = []
    for span in detect(text):
        feature: dict[str, str]
        if span.kind == "mention":
            if span.value not in dids:
                dids[span.value] = await resolve(span.value)
            did = dids[span.value]
            if did is None:
                continue
            feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
        elif span.kind == "link":
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": span.value}
        else:
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": span.value}
        out.append({"index": {"byteStart": span.start, "byteEnd": span.end}, "features": [feature]})
    return out


def first_link(text: str) -> str | None:
    """The first link in ``text`` (what a link card shows), or None."""
    return next((span.value for span in detect(text) if span.kind == "link"), None)
