"""Link cards: the title, description and image a page announces (Open Graph ``og:*`` meta tags, else its
``<title>`` and ``description``), read with the standard library's HTML parser.

Fetching is best effort: a short timeout, at most :data:`MAX_PAGE_BYTES` of the page and
:data:`MAX_IMAGE_BYTES` of the image, and any failure gives no card (a post never fails for its card).
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Final
from urllib.parse import urljoin

import httpx

MAX_PAGE_BYTES: Final = 1_000_000
#: ``app.bsky.embed.external`` ``thumb`` blob ``maxSize``.
MAX_IMAGE_BYTES: Final = 1_000_000
TIMEOUT: Final = httpx.Timeout(5.0)
MAX_TITLE: Final = 300
MAX_DESCRIPTION: Final = 1000
_HEADERS: Final = {"User-Agent": "Herald link preview (+https://github.com/herald)", "Accept": "text/html,*/*;q=0.5"}


@dataclass(frozen=True)
class Card:
    uri: str
    title: str
    description: str
    image: str | None  # absolute URL of the page's image


class _Meta(HTMLParser):
    """Collects ``<meta property|name=… content=…>`` of the head and the ``<title>`` text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            values = {k.lower(): v for k, v in attrs if v is not None}
            key = (values.get("property") or values.get("name") or "").strip().lower()
            content = values.get("content")
            if key and content is not None and key not in self.meta:
                self.meta[key] = content.strip()
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def parse(uri: str, html: str) -> Card | None:
    """The card ``html`` (the page at ``uri``, which relative image URLs are resolved against) announces, or None
    when it has no title."""
    parser = _Meta()
    parser.feed(html)
    parser.close()
    meta = parser.meta
    title = meta.get("og:title") or meta.get("twitter:title") or " ".join(parser.title.split())
    if not title:
        return None
    description = meta.get("og:description") or meta.get("twitter:description") or meta.get("description") or ""
    image = meta.get("og:image") or meta.get("og:image:url") or meta.get("twitter:image")
    return Card(
        uri=uri,
        title=title[:MAX_TITLE],
        description=description[:MAX_DESCRIPTION],
        image=urljoin(uri, image) if image else None,
    )


@dataclass(frozen=True)
class _Body:
    url: str  # after redirects
    content_type: str  # MIME type, lower case, without parameters
    charset: str
    data: bytes


async def _read(http: httpx.AsyncClient, url: str, limit: int) -> _Body | None:
    """GET ``url`` (following redirects); None when it fails, isn't 200 or its body exceeds ``limit`` bytes."""
    try:
        async with http.stream("GET", url, headers=_HEADERS, timeout=TIMEOUT, follow_redirects=True) as response:
            if response.status_code != 200:
                return None
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                return None
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > limit:
                    return None
            content_type = response.headers.get("content-type", "")
            return _Body(
                url=str(response.url),
                content_type=content_type.split(";")[0].strip().lower(),
                charset=response.charset_encoding or "utf-8",
                data=bytes(data),
            )
    except (httpx.HTTPError, httpx.InvalidURL, ValueError):
        return None


async def fetch(http: httpx.AsyncClient, uri: str) -> Card | None:
    """The card of the page at ``uri``, or None (not HTML, unreachable, too large, no title)."""
    body = await _read(http, uri, MAX_PAGE_BYTES)
    if body is None or "html" not in (body.content_type or "text/html"):
        return None
    try:
        html = body.data.decode(body.charset, errors="replace")
    except LookupError:  # a charset Python doesn't know
        html = body.data.decode("utf-8", errors="replace")
    card = parse(body.url, html)
    return None if card is None else Card(uri=uri, title=card.title, description=card.description, image=card.image)


async def fetch_image(http: httpx.AsyncClient, url: str) -> tuple[bytes, str] | None:
    """The image at ``url`` (bytes, MIME type) when it is an image of at most :data:`MAX_IMAGE_BYTES`."""
    body = await _read(http, url, MAX_IMAGE_BYTES)
    if body is None or not body.content_type.startswith("image/") or not body.data:
        return None
    return body.data, body.content_type
