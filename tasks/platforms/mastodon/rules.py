"""Mastodon's rules, as a stock server (4.x) has them; a server may change its limits, so the client reads the
server's own (``GET /api/v2/instance``) when an account connects and checks a post against those."""

from __future__ import annotations

from handlers.text import textcount
from handlers.text.platforms import MediaRules, PlatformInfo

#: A stock server's limits (``configuration.statuses`` / ``configuration.media_attachments`` of /api/v2/instance).
MAX_CHARACTERS = 500
MAX_MEDIA = 4
IMAGE_BYTES = 16 * 1024 * 1024  # image_size_limit 16 MB
VIDEO_BYTES = 99 * 1024 * 1024  # video_size_limit 99 MB

RULES = PlatformInfo(
    name="mastodon",
    label="Mastodon",
    text_limit=MAX_CHARACTERS,
    # graphemes, every http(s) URL 23, @user@server counted as @user: Mastodon's StatusLengthValidator
    measure=textcount.mastodon_length,
    media=MediaRules(
        max_items=MAX_MEDIA,
        max_videos=1,
        mixed=False,  # a status has up to 4 images, or one video/audio
        image_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/heic"}),
        video_types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
        max_image_bytes=IMAGE_BYTES,
        max_video_bytes=VIDEO_BYTES,
        max_image_pixels=None,  # the server downsizes images above 3840×2160 (8.3 MP) itself
    ),
    connect="instance",
    account_hint="your Mastodon server, e.g. mastodon.social",
)
