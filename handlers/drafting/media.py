"""What a post's media are, read from the media store: type, size, dimensions, a video's duration.

Drafting and the approval card check a post's media against each target's rules with this
(:func:`handlers.text.platforms.media_problems`); the worker reads the same before preparing a file for a
platform. Reading is cheap: Pillow opens an image's header (in a thread, never on the event loop), and an
MP4's duration comes from its ``mvhd`` box. Refs are content-addressed, so what was read of one is cached.
"""

from __future__ import annotations

import asyncio
import io
import struct
from collections import OrderedDict
from collections.abc import Sequence

from PIL import Image, UnidentifiedImageError

from handlers.ports import MediaStore
from handlers.text.platforms import MediaMeta
from models.errors import NotFound
from models.media import StoredMedia

#: Pillow's image formats as MIME types (what the bytes are, whatever the file was called).
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp", "MPO": "image/jpeg"}
FORMATS |= {"HEIF": "image/heic", "BMP": "image/bmp", "TIFF": "image/tiff"}
ROTATED = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
CACHED = 2048

_default: MediaStore | None = None
_known: OrderedDict[str, MediaMeta] = OrderedDict()


def install(store: MediaStore | None) -> None:
    """The store the approval card reads media from (the wiring installs the same one it gives the Services)."""
    global _default
    _default = store


def installed() -> MediaStore | None:
    return _default


def mp4_duration(data: bytes) -> float | None:
    """An MP4 or QuickTime file's duration in seconds from its movie header (``moov``/``mvhd``), or None."""
    box = _find(data, 0, len(data), b"moov")
    if box is None:
        return None
    header = _find(data, box[0], box[1], b"mvhd")
    if header is None:
        return None
    start, _ = header
    try:
        version = data[start]
        if version == 1:
            timescale, duration = struct.unpack_from(">IQ", data, start + 4 + 16)
            unknown = duration == 0xFFFFFFFFFFFFFFFF
        else:
            timescale, duration = struct.unpack_from(">II", data, start + 4 + 8)
            unknown = duration == 0xFFFFFFFF
    except (struct.error, IndexError):
        return None
    if not timescale or unknown:
        return None
    return float(duration / timescale)


def _find(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """The body (start, end) of the first box of ``kind`` among the boxes in ``data[start:end]``."""
    at = start
    while at + 8 <= end:
        size, found = struct.unpack_from(">I4s", data, at)
        body = at + 8
        if size == 1:  # a 64-bit size follows the type
            if at + 16 > end:
                return None
            (size,) = struct.unpack_from(">Q", data, at + 8)
            body = at + 16
        elif size == 0:  # up to the end
            size = end - at
        if size < body - at or at + size > end:
            return None
        if found == kind:
            return body, at + size
        at += size
    return None


def inspect(ref: str, stored: StoredMedia) -> MediaMeta:
    """What ``stored`` is: for an image the type Pillow finds in its bytes and its size as shown (EXIF
    orientation applied), for a video its duration where the container says. CPU work: call it in a thread."""
    size = len(stored.data)
    if stored.content_type.startswith("video/"):
        seconds = mp4_duration(stored.data) if stored.content_type in ("video/mp4", "video/quicktime") else None
        return MediaMeta(ref, stored.content_type, size, seconds=seconds)
    try:
        with Image.open(io.BytesIO(stored.data)) as image:
            width, height = image.size
            if image.getexif().get(0x0112) in ROTATED:
                width, height = height, width
            kind = FORMATS.get(image.format or "", stored.content_type)
            return MediaMeta(ref, kind, size, width, height, frames=int(getattr(image, "n_frames", 1)))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        return MediaMeta(ref, stored.content_type, size)


async def describe(refs: Sequence[str], store: MediaStore | None = None) -> list[MediaMeta | None]:
    """What the store has under each ref (None where it has nothing); empty without a store."""
    store = store or _default
    if store is None or not refs:
        return []
    found: list[MediaMeta | None] = []
    for ref in refs:
        meta = _known.get(ref)
        if meta is None:
            try:
                stored = await store.get(ref)
            except NotFound:
                found.append(None)
                continue
            meta = await asyncio.to_thread(inspect, ref, stored)
            _known[ref] = meta
            while len(_known) > CACHED:
                _known.popitem(last=False)
        found.append(meta)
    return found
