"""Telegram channels' rules, from the Bot API documentation (core.telegram.org/bots/api)."""

from __future__ import annotations

from handlers.text.platforms import MediaRules, PlatformInfo

TEXT_LIMIT = 4096  # sendMessage: "1-4096 characters after entities parsing"
CAPTION_LIMIT = 1024  # sendPhoto / sendVideo / sendMediaGroup: "0-1024 characters after entities parsing"
MAX_MEDIA = 10  # sendMediaGroup: "an array describing messages to be sent, must include 2-10 items"


def utf16_length(text: str) -> int:
    """The length Telegram compares with its limits. The docs say "characters" and count message entities in
    UTF-16 code units; counting those (an emoji outside the BMP is 2) never lets a text through that is too long."""
    return len(text.encode("utf-16-le")) // 2


RULES = PlatformInfo(
    name="telegram",
    label="Telegram",
    text_limit=TEXT_LIMIT,  # CAPTION_LIMIT with media: the client checks it before sending
    measure=utf16_length,
    media=MediaRules(
        max_items=MAX_MEDIA,
        max_videos=MAX_MEDIA,
        mixed=True,  # an album mixes photos and videos
        image_types=frozenset({"image/jpeg", "image/png", "image/webp"}),
        video_types=frozenset({"video/mp4"}),
        max_image_bytes=10_000_000,  # sendPhoto: "The photo must be at most 10 MB in size"
        max_video_bytes=50_000_000,  # bots upload files of up to 50 MB
        aspect_ratio=(1 / 20, 20.0),  # "Width and height ratio must be at most 20"
    ),
    connect="secret",
    account_hint="the channel, e.g. @acme, with Herald's bot added as an administrator who can post messages",
)
