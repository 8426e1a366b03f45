"""Bluesky's limits: 300 graphemes and 3000 UTF-8 bytes of text (``app.bsky.feed.post``), four images of at
most 1,000,000 bytes each (``app.bsky.embed.images``), connected with an app password."""

from __future__ import annotations

from handlers.text import textcount
from handlers.text.platforms import MediaRules, PlatformInfo

#: ``app.bsky.embed.images``: ``image`` blob ``maxSize`` 1000000, up to 4 images (one video instead, not
#: published by Herald yet).
MAX_IMAGE_BYTES = 1_000_000

RULES = PlatformInfo(
    name="bluesky",
    label="Bluesky",
    text_limit=300,
    measure=textcount.graphemes,
    byte_limit=3000,
    media=MediaRules(
        max_items=4,
        max_videos=0,
        image_types=frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"}),
        video_types=frozenset(),
        max_image_bytes=MAX_IMAGE_BYTES,
        max_video_bytes=None,
    ),
    connect="secret",
    account_hint="your handle (e.g. acme.bsky.social) and an app password from Settings → Privacy and security → "
    "App passwords",
)
