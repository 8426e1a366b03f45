"""X's rules: 280 weighted characters (twitter-text's counting), up to 4 images or one video or GIF."""

from __future__ import annotations

from handlers.text import textcount
from handlers.text.platforms import MediaRules, PlatformInfo

#: https://docs.x.com: images up to 5 MB (JPEG, PNG, WEBP, GIF), animated GIFs up to 15 MB, videos up to 512 MB
#: (MP4/MOV); a post has up to 4 images, or exactly one GIF or video (never mixed).
RULES = PlatformInfo(
    name="x",
    label="X",
    text_limit=280,
    measure=textcount.x_length,
    media=MediaRules(
        max_items=4,
        max_videos=1,
        mixed=False,
        image_types=frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"}),
        video_types=frozenset({"video/mp4", "video/quicktime"}),
        max_image_bytes=5 * 1024 * 1024,
        max_video_bytes=512 * 1024 * 1024,
        max_video_seconds=140.0,
    ),
    connect="oauth",
)

__all__ = ["RULES"]
