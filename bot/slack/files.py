"""Images attached in Slack: downloaded with the bot token into the media store, where publishers read them.

Slack serves ``url_private`` only with ``Authorization: Bearer <bot token>``; without it (or with a bad
token) it answers 200 with an HTML sign-in page, so the content type is checked, not just the status.
The store keeps files content-addressed (``<sha256>.<ext>``), so the same image attached twice is stored
once; the post carries the refs (the store is the database with PostgreSQL: no shared volume needed).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.slack import wording
from handlers.ports import MediaStore
from models.errors import InvalidInput
from models.media import DEFAULT_DIRECTORY, LocalMediaStore

MAX_BYTES = 50 * 1024 * 1024
ACCEPTED = ("image/", "video/")


@dataclass(frozen=True)
class StoredFile:
    name: str
    ref: str  # the media store's
    mimetype: str
    size: int


class FileStore:
    def __init__(self, http: httpx.AsyncClient, token: str, store: MediaStore | Path = DEFAULT_DIRECTORY) -> None:
        self._http = http
        self._token = token
        self.store = LocalMediaStore(store) if isinstance(store, Path) else store

    async def fetch(self, file: dict[str, Any]) -> StoredFile:
        """Download one Slack file object (as a ``file_input`` gives it); InvalidInput when that fails."""
        name = str(file.get("name") or file.get("title") or file.get("id") or "file")
        url = file.get("url_private_download") or file.get("url_private")
        if not url:
            raise InvalidInput(wording.FILES_FAILED.format(name=name))
        mimetype = str(file.get("mimetype") or mimetypes.guess_type(name)[0] or "")
        if not mimetype.startswith(ACCEPTED):
            raise InvalidInput(wording.NOT_MEDIA.format(name=name))
        if int(file.get("size") or 0) > MAX_BYTES:
            raise InvalidInput(wording.TOO_LARGE.format(name=name, mb=MAX_BYTES // (1024 * 1024)))
        try:
            response = await self._http.get(str(url), headers={"Authorization": f"Bearer {self._token}"})
        except httpx.HTTPError:
            raise InvalidInput(wording.FILES_FAILED.format(name=name)) from None
        served = response.headers.get("content-type", "")
        if response.status_code != 200 or served.startswith("text/html") or len(response.content) > MAX_BYTES:
            raise InvalidInput(wording.FILES_FAILED.format(name=name))
        ref = await self.store.put(response.content, mimetype, name)
        return StoredFile(name=name, ref=ref, mimetype=mimetype, size=len(response.content))
