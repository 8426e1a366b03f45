"""Facebook Pages' limits, as Herald checks them before sending."""

from __future__ import annotations

from handlers.text import textcount
from handlers.text.platforms import MediaRules, PlatformInfo

RULES = PlatformInfo(
    name="facebook",
    label="Facebook",
    text_limit=63_206,  # a Page post's message, in characters
    measure=textcount.characters,
    media=MediaRules(
        # Several photos go as unpublished photos attached to one /feed post; Meta documents no maximum for
        # attached_media, Herald keeps to what the composer shows well.
        max_items=10,
        max_videos=0,  # Herald publishes photos to Pages; videos (/videos, resumable upload) are not supported yet
        video_types=frozenset(),
        image_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff"}),
        max_image_bytes=4_000_000,  # /photos: "4MB or smaller"
        by_url=True,  # /photos with url=: Facebook fetches the image from Herald's signed link
    ),
    connect="oauth",
    account_hint="the Facebook Page to publish to (you pick it after logging in)",
)
