"""The worker's media: files read from the media store and prepared for each platform, and signed links to them.

:class:`Media` is built once per process (``bot.wiring``) around the store; ``media.for_platform(rules)`` gives a
platform's :class:`~tasks.platforms.base.MediaSource` (:class:`PlatformMedia`), whose ``read`` returns the file
*prepared* for that platform's :class:`~handlers.text.platforms.MediaRules`:

* images: the type checked (what Pillow finds in the bytes, not the name), converted where the platform needs
  another (Instagram: JPEG) or doesn't take this one, scaled down to ``max_image_pixels`` on the longest side,
  recompressed and if need be scaled down again until within ``max_image_bytes``; EXIF stripped after turning the
  image the way its orientation tag says. An image already fine is passed through untouched.
* what can't be fixed (an aspect ratio outside the platform's range, a video too long or too large, an animated
  GIF where GIFs aren't taken) is :class:`~tasks.platforms.errors.Rejected` with the sentence drafting shows
  (:func:`handlers.text.platforms.media_problem`).

``public_url(ref)`` is a signed, expiring link (:class:`MediaSigner`) that ``GET /media/{ref}`` on Herald's HTTP
side (``bot/media.py``) serves the same prepared bytes at, for the platforms that fetch media by URL. Pillow's
work runs in a thread; prepared files are kept in a bounded cache by (ref, platform).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from pathlib import PurePath
from urllib.parse import urlencode

from PIL import Image, ImageOps

from handlers.drafting.media import inspect
from handlers.ports import MediaStore
from handlers.text.platforms import MediaRules, PlatformInfo, media_problem
from models import crypto
from models.errors import NotFound
from models.media import StoredMedia
from tasks.platforms.base import MediaFile
from tasks.platforms.errors import Rejected

SAVE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}
QUALITIES = (88, 80, 72, 64)
ROUNDS = 16
CACHE_BYTES = 64_000_000
NO_PUBLIC_URL = (
    "This platform fetches media from a link to Herald, and Herald has no public address: "
    "set HERALD_PUBLIC_URL to where the platform can reach Herald's HTTP side."
)


class MediaSigner:
    """Signed, expiring media links: ``{HERALD_PUBLIC_URL}/media/{ref}?p={platform}&exp={unix}&sig={hmac}``.

    The signature is HMAC-SHA256 over ref, platform and expiry, with a key HKDF-derived from HERALD_SECRET_KEY
    (:func:`models.crypto.subkey`), so a link can't be stretched in time or pointed at another platform's
    variant. ``key`` overrides the derived key (tests).
    """

    def __init__(
        self, public_url: str | None, key: bytes | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self._key = key
        self._clock = clock

    def key(self) -> bytes:
        if self._key is None:
            self._key = crypto.subkey("media-url")
        return self._key

    def signature(self, ref: str, platform: str, expires: int) -> str:
        message = f"{ref}\n{platform}\n{expires}".encode()
        return hmac.new(self.key(), message, hashlib.sha256).hexdigest()

    def url(self, ref: str, platform: str, ttl: timedelta = timedelta(hours=24)) -> str:
        if self.public_url is None:
            raise Rejected(NO_PUBLIC_URL)
        expires = int(self._clock() + ttl.total_seconds())
        query = urlencode({"p": platform, "exp": expires, "sig": self.signature(ref, platform, expires)})
        return f"{self.public_url}/media/{ref}?{query}"

    def valid(self, ref: str, platform: str, expires: str, signature: str) -> bool:
        """Whether a link's signature is right (compared in constant time) and it hasn't expired."""
        try:
            when = int(expires)
        except ValueError:
            return False
        right = hmac.compare_digest(self.signature(ref, platform, when).encode(), signature.encode())
        return right and when >= self._clock()


def _target_type(content_type: str, rules: MediaRules) -> str:
    """The type an image goes out as: the platform's ``convert_to``, else its own if taken, else JPEG (or the
    first type the platform takes)."""
    if rules.convert_to:
        return rules.convert_to
    if content_type in rules.image_types and content_type in SAVE_FORMATS:
        return content_type
    if content_type == "image/gif" and "image/png" in rules.image_types:
        return "image/png"  # a still GIF to change: PNG keeps what it is
    if "image/jpeg" in rules.image_types:
        return "image/jpeg"
    return next((t for t in sorted(rules.image_types) if t in SAVE_FORMATS), "image/jpeg")


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparency laid over white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _encode(image: Image.Image, kind: str, quality: int, icc: bytes | None) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if kind == "image/jpeg":
        _flatten(image).save(out, "JPEG", quality=quality, optimize=True, progressive=True, **options)
    elif kind == "image/webp":
        image.save(out, "WEBP", quality=quality, **options)
    else:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            image = image.convert("RGBA")
        image.save(out, "PNG", optimize=True, **options)
    return out.getvalue()


def _renamed(filename: str, kind: str) -> str:
    return str(PurePath(filename or "media").with_suffix(EXTENSIONS.get(kind, ".bin")))


def prepare(ref: str, stored: StoredMedia, info: PlatformInfo) -> MediaFile:
    """``stored`` as ``info``'s platform takes it (see the module docstring); Rejected with the sentence when it
    can't be made to fit. CPU work: call it in a thread."""
    meta = inspect(ref, stored)
    problem = media_problem(info, meta)
    if problem is not None:
        raise Rejected(problem)
    rules = info.media
    as_is = MediaFile(ref, stored.data, meta.content_type, stored.filename)
    if meta.is_video or meta.frames > 1:
        return as_is  # checked above; Herald doesn't re-encode videos or animations
    kind = _target_type(meta.content_type, rules)
    max_bytes, max_side = rules.max_image_bytes, rules.max_image_pixels
    with Image.open(io.BytesIO(stored.data)) as opened:
        fine = (
            kind == meta.content_type
            and (max_bytes is None or meta.size <= max_bytes)
            and (max_side is None or max(opened.size) <= max_side)
            and not opened.getexif()
        )
        if fine:
            return as_is
        icc = opened.info.get("icc_profile")
        image = ImageOps.exif_transpose(opened)  # a copy, turned upright, without its EXIF on saving
    if max_side is not None and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    quality = 0
    for _ in range(ROUNDS):
        data = _encode(image, kind, QUALITIES[quality], icc)
        if max_bytes is None or len(data) <= max_bytes:
            return MediaFile(ref, data, kind, _renamed(stored.filename, kind))
        if kind == "image/png" and rules.convert_to is None and "image/jpeg" in rules.image_types:
            kind = "image/jpeg"  # a photo saved as PNG: JPEG is what makes it small
            continue
        if kind != "image/png" and quality + 1 < len(QUALITIES):
            quality += 1
            continue
        scale = max(0.5, min(0.9, (max_bytes / len(data)) ** 0.5))
        image = image.resize(
            (max(1, int(image.width * scale)), max(1, int(image.height * scale))), Image.Resampling.LANCZOS
        )
    raise Rejected(f"Herald couldn't make {stored.filename} small enough for {info.label}.")


class Media:
    """The media store as every worker and the HTTP side read it: as stored (``read``, a
    :class:`~tasks.platforms.base.MediaSource` without preparation) or prepared for one platform
    (:meth:`prepared`, :meth:`for_platform`), with signed links (``public_url``)."""

    def __init__(self, store: MediaStore, signer: MediaSigner, *, cache_bytes: int = CACHE_BYTES) -> None:
        self.store = store
        self.signer = signer
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[tuple[str, str], MediaFile] = OrderedDict()
        self._cached = 0

    async def stored(self, ref: str) -> StoredMedia:
        try:
            return await self.store.get(ref)
        except NotFound:
            raise Rejected(f"Herald no longer has the file {ref}; attach it again and reschedule the post.") from None

    async def read(self, ref: str) -> MediaFile:
        stored = await self.stored(ref)
        return MediaFile(ref, stored.data, stored.content_type, stored.filename)

    def public_url(self, ref: str, ttl: timedelta = timedelta(hours=24)) -> str:
        return self.signer.url(ref, "", ttl)

    async def prepared(self, ref: str, info: PlatformInfo | None) -> MediaFile:
        """``ref`` prepared for ``info``'s platform (as stored when None); cached by (ref, platform)."""
        if info is None:
            return await self.read(ref)
        key = (ref, info.name)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        stored = await self.stored(ref)
        prepared = await asyncio.to_thread(prepare, ref, stored, info)
        if len(prepared.data) <= self.cache_bytes // 4:
            self._cache[key] = prepared
            self._cached += len(prepared.data)
            while self._cached > self.cache_bytes:
                _, dropped = self._cache.popitem(last=False)
                self._cached -= len(dropped.data)
        return prepared

    def for_platform(self, info: PlatformInfo) -> PlatformMedia:
        return PlatformMedia(self, info)


class PlatformMedia:
    """One platform's :class:`~tasks.platforms.base.MediaSource`: files prepared for its rules, links signed
    for it (so what the platform fetches is the prepared file too)."""

    def __init__(self, media: Media, info: PlatformInfo) -> None:
        self.media = media
        self.info = info

    async def read(self, ref: str) -> MediaFile:
        return await self.media.prepared(ref, self.info)

    def public_url(self, ref: str, ttl: timedelta = timedelta(hours=24)) -> str:
        return self.media.signer.url(ref, self.info.name, ttl)
