"""Where a post's images and videos are kept: the media stores.

Both stores are content-addressed: a file's ref is ``<sha256>.<ext>`` of its bytes, so the same image attached
twice is stored once and a ref always means the same bytes (which lets readers cache what they derive from it).

* :class:`LocalMediaStore`: files under a directory (``data/media``), the embedded default. Workers on other
  machines would need that directory on a shared volume.
* :class:`DatabaseMediaStore`: rows of :class:`MediaBlob`, chosen when ``DATABASE_URL`` is PostgreSQL, so every
  worker that reaches the database reaches the media too.

Both implement :class:`handlers.ports.MediaStore`.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

import anyio
from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from models.errors import NotFound

DEFAULT_DIRECTORY = Path("data/media")
#: A ref as the stores make them: 64 hex digits, a dot, a short extension (nothing that could walk a path).
REF = re.compile(r"[0-9a-f]{64}\.[a-z0-9]{1,8}")
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}
EXTENSIONS |= {"video/mp4": ".mp4", "video/quicktime": ".mov", "image/heic": ".heic"}


class MediaBlob(Model):
    """One image or video, content-addressed: ``key`` is ``<sha256>.<ext>``."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=96, unique=True)
    content_type = fields.CharField(max_length=64)
    filename = fields.CharField(max_length=255, default="media")
    size = fields.IntField()
    data = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "media_blobs"
        table_description = "images and videos, content-addressed"


@dataclass(frozen=True)
class StoredMedia:
    """A stored file: its bytes, MIME type and the name it was attached with."""

    data: bytes
    content_type: str
    filename: str = "media"


def content_type_of(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def make_ref(data: bytes, content_type: str, filename: str = "") -> str:
    """``<sha256>.<ext>``: the extension from the MIME type, else from the file's name."""
    extension = EXTENSIONS.get(content_type) or Path(filename).suffix.lower() or mimetypes.guess_extension(content_type)
    extension = (extension or ".bin").lstrip(".")
    if not re.fullmatch(r"[a-z0-9]{1,8}", extension):
        extension = "bin"
    return f"{hashlib.sha256(data).hexdigest()}.{extension}"


def key_of(ref: str) -> str | None:
    """The store key a ref names, or None when it isn't one. A path ending in a key (what Herald put on posts
    before the store existed: ``/srv/herald/data/media/<sha256>.png``) names that key."""
    name = ref.rsplit("/", 1)[-1].lower()
    return name if REF.fullmatch(name) else None


class LocalMediaStore:
    """Files in a directory, named by their ref; the original name and type in a ``<ref>.meta`` beside them."""

    def __init__(self, directory: Path = DEFAULT_DIRECTORY) -> None:
        self.directory = directory

    def path(self, ref: str) -> Path:
        key = key_of(ref)
        if key is None:
            raise NotFound(f"There is no stored file {ref!r}.")
        return self.directory / key

    async def put(self, data: bytes, content_type: str, filename: str = "media") -> str:
        ref = make_ref(data, content_type, filename)
        path = anyio.Path(self.directory / ref)
        await path.parent.mkdir(parents=True, exist_ok=True)
        if not await path.exists():
            await anyio.Path(f"{path}.meta").write_text(f"{content_type}\n{filename}\n")
            partial = anyio.Path(f"{path}.part")
            await partial.write_bytes(data)
            await partial.rename(path)  # readers never see half a file
        return ref

    async def get(self, ref: str) -> StoredMedia:
        path = anyio.Path(self.path(ref))
        try:
            data = await path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"There is no stored file {ref!r}.") from None
        content_type, filename = content_type_of(path.name), path.name
        meta = anyio.Path(f"{path}.meta")
        if await meta.exists():
            lines = (await meta.read_text()).splitlines()
            content_type = lines[0] if lines and lines[0] else content_type
            filename = lines[1] if len(lines) > 1 and lines[1] else filename
        return StoredMedia(data, content_type, filename)

    async def exists(self, ref: str) -> bool:
        key = key_of(ref)
        return key is not None and await anyio.Path(self.directory / key).exists()


class DatabaseMediaStore:
    """Rows of :class:`MediaBlob` in Herald's database (PostgreSQL: every worker reaches them)."""

    async def put(self, data: bytes, content_type: str, filename: str = "media") -> str:
        ref = make_ref(data, content_type, filename)
        if not await MediaBlob.filter(key=ref).exists():
            with contextlib.suppress(IntegrityError):  # stored by someone else meanwhile: the same bytes
                await MediaBlob.create(
                    key=ref, content_type=content_type, filename=filename[:255], size=len(data), data=data
                )
        return ref

    async def get(self, ref: str) -> StoredMedia:
        key = key_of(ref)
        blob = None if key is None else await MediaBlob.filter(key=key).first()
        if blob is None:
            raise NotFound(f"There is no stored file {ref!r}.")
        return StoredMedia(bytes(blob.data), blob.content_type, blob.filename)

    async def exists(self, ref: str) -> bool:
        key = key_of(ref)
        return key is not None and await MediaBlob.filter(key=key).exists()


def media_store(database_url: str, directory: Path = DEFAULT_DIRECTORY) -> LocalMediaStore | DatabaseMediaStore:
    """The database with PostgreSQL (workers on other machines need no shared disk), else the directory."""
    from models.db import dialect_of

    return DatabaseMediaStore() if dialect_of(database_url) == "postgres" else LocalMediaStore(directory)
