"""What Threads takes in one post (developers.facebook.com/docs/threads: posts, overview, media specifications).

* Text: 500 characters, where Threads' docs say "emojis are counted as the number of UTF-8 bytes". Herald counts
  user-perceived characters (graphemes, ``regex`` ``\\X``) and counts a grapheme holding an emoji as its UTF-8
  bytes (😀 = 4, 👍🏽 = 8, a ZWJ family = 25). That may be stricter than Threads really is (its link for the rule
  points at a grapheme splitter), never looser.
* Links: at most 5 distinct URLs in the text (since 22 December 2025 a sixth fails the container with
  ``THREADS_API__LINK_LIMIT_EXCEEDED``).
* Media: JPEG or PNG images, 8 MB each, aspect ratio within 10:1 either way, fetched by Threads from a public URL;
  2 to 20 in a carousel (a carousel counts as one post). Videos are not published by Herald yet.
"""

from __future__ import annotations

from typing import Final

import regex

from handlers.text.platforms import MediaRules, PlatformInfo

TEXT_LIMIT: Final = 500
MAX_LINKS: Final = 5
MAX_CAROUSEL: Final = 20

_CLUSTER = regex.compile(r"\X")
_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}]")
#: What Threads counts as a link: a URL with a scheme, or one starting with www. (its docs' examples).
_URL = regex.compile(r"(?:https?://|www\.)[^\s<>\"]+", regex.IGNORECASE)
_TRAILING = ".,:;!?'\")]}"


def threads_length(text: str) -> int:
    """The length Threads compares with 500 (module docstring)."""
    return sum(len(c.encode()) if _EMOJI.search(c) else 1 for c in _CLUSTER.findall(text))


def links(text: str) -> set[str]:
    """The distinct URLs in ``text``, without the punctuation that ends a sentence around them."""
    return {m.group().rstrip(_TRAILING).lower() for m in _URL.finditer(text)} - {"", "www."}


RULES = PlatformInfo(
    name="threads",
    label="Threads",
    text_limit=TEXT_LIMIT,
    measure=threads_length,
    media=MediaRules(
        max_items=MAX_CAROUSEL,
        max_videos=0,
        image_types=frozenset({"image/jpeg", "image/png"}),
        video_types=frozenset(),
        max_image_bytes=8 * 1024 * 1024,
        aspect_ratio=(0.1, 10.0),
        by_url=True,
    ),
    max_links=MAX_LINKS,
    connect="oauth",
)
