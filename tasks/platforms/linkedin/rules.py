"""LinkedIn's rules: what drafting and approval check before a post goes to a member or an organization page.

* Text: the Posts API's ``commentary`` takes 3000 characters (counted as code points here; LinkedIn's own
  composer counts UTF-16 units, so a post full of emoji may still be refused at the edge).
* Images through the Images API (``initializeUpload`` + PUT): JPEG, PNG or GIF, fewer than 36,152,320 pixels
  (about 6012 × 6012), a GIF at most 250 frames; one image is a ``media`` post, 2–20 a ``multiImage`` post.
  The Images API names no byte limit; Herald keeps images to 5 MB, the figure LinkedIn's help pages give
  for shared images. Videos go through a different (multipart) API that Herald doesn't use yet.
"""

from __future__ import annotations

from handlers.text import textcount
from handlers.text.platforms import MediaRules, PlatformInfo

TEXT_LIMIT = 3000
MAX_IMAGES = 20

RULES = PlatformInfo(
    name="linkedin",
    label="LinkedIn",
    text_limit=TEXT_LIMIT,
    measure=textcount.characters,
    media=MediaRules(
        max_items=MAX_IMAGES,
        max_videos=0,
        image_types=frozenset({"image/jpeg", "image/png", "image/gif"}),
        video_types=frozenset(),
        max_image_bytes=5_000_000,
        max_video_bytes=None,
        max_image_pixels=6012,
    ),
    connect="oauth",
    account_hint="your LinkedIn login; then pick yourself or a page you administer",
)

__all__ = ["MAX_IMAGES", "RULES", "TEXT_LIMIT"]
