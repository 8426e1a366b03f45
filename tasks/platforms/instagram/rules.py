"""Instagram professional accounts' limits (Content Publishing API), as Herald checks them before sending."""

from __future__ import annotations

from handlers.text import textcount
from handlers.text.platforms import MediaRules, PlatformInfo

RULES = PlatformInfo(
    name="instagram",
    label="Instagram",
    text_limit=2_200,  # caption
    measure=textcount.characters,
    max_hashtags=30,
    max_mentions=20,
    media=MediaRules(
        max_items=10,  # a carousel
        max_videos=0,  # Herald publishes images (and carousels of images); reels are not supported yet
        video_types=frozenset(),
        image_types=frozenset({"image/jpeg", "image/png", "image/webp"}),
        convert_to="image/jpeg",  # the Content Publishing API takes JPEG only
        max_image_bytes=8_000_000,  # 8 MB
        aspect_ratio=(4 / 5, 1.91),  # 4:5 portrait to 1.91:1 landscape
        required=True,  # no text-only posts on Instagram
        by_url=True,  # image_url: Instagram fetches the image from Herald's signed link
    ),
    connect="oauth",
    account_hint="the Instagram professional account to publish to (linked to a Facebook Page)",
)
