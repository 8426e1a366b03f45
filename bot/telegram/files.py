"""Photos and videos sent with a ``/draft`` caption: fetched from Telegram (``getFile``, then the file's URL
under ``TELEGRAM_API_URL``) into the media store, where publishers read them.

A bot may download files up to 20 MB from the Bot API; Telegram sends every photo in several sizes and the
largest is taken. The store keeps files content-addressed, so the same photo sent twice is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from telegram import Message
from telegram.error import TelegramError

from bot.telegram import wording
from bot.telegram.notifier import TelegramNotifier, describe
from handlers.ports import MediaStore
from models.errors import InvalidInput

log = structlog.get_logger(__name__)
MAX_BYTES = 20 * 1024 * 1024
ACCEPTED = ("image/", "video/")


@dataclass(frozen=True)
class Attachment:
    file_id: str
    name: str
    mimetype: str
    size: int


def attachments(message: Message) -> list[Attachment]:
    """The image or video a message carries (none for text, stickers, voice …)."""
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        name = f"photo-{largest.file_unique_id}.jpg"
        return [Attachment(largest.file_id, name, "image/jpeg", largest.file_size or 0)]
    if message.video:
        video = message.video
        name = video.file_name or f"video-{video.file_unique_id}.mp4"
        return [Attachment(video.file_id, name, video.mime_type or "video/mp4", video.file_size or 0)]
    if message.document and (message.document.mime_type or "").startswith(ACCEPTED):
        doc = message.document
        name = doc.file_name or f"file-{doc.file_unique_id}"
        return [Attachment(doc.file_id, name, str(doc.mime_type), doc.file_size or 0)]
    return []


class FileFetcher:
    def __init__(self, notifier: TelegramNotifier, store: MediaStore) -> None:
        self.notifier = notifier
        self.store = store

    async def fetch(self, attachment: Attachment) -> str:
        """Download one attachment into the store; its ref. InvalidInput (a sentence) when that fails."""
        name = attachment.name
        if not attachment.mimetype.startswith(ACCEPTED):
            raise InvalidInput(wording.NOT_MEDIA.format(name=name))
        if attachment.size > MAX_BYTES:
            raise InvalidInput(wording.TOO_LARGE.format(name=name, mb=MAX_BYTES // (1024 * 1024)))
        try:
            file = await self.notifier.call("get_file", None, file_id=attachment.file_id)
            data = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("telegram.file_failed", file=attachment.file_id, **describe(exc))
            raise InvalidInput(wording.FILES_FAILED.format(name=name)) from None
        if len(data) > MAX_BYTES:
            raise InvalidInput(wording.TOO_LARGE.format(name=name, mb=MAX_BYTES // (1024 * 1024)))
        return await self.store.put(data, attachment.mimetype, name)
