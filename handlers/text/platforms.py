"""What the application knows about each social platform: its name, label and limits.

The publishers that talk to the platforms live in ``tasks/platforms``; this catalogue holds what
drafting and approval need to know without talking to anybody (character limits and how each
platform counts against them, media rules). The approval card and the draft checks use the same
:meth:`PlatformInfo.length` and the same sentences, so the card never says a post fits that the
checks would refuse, or the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from handlers.text import textcount
from models.errors import InvalidInput, about


@dataclass(frozen=True)
class MediaRules:
    """What media a platform takes in one post. Sizes in bytes; ``aspect_ratio`` is (min, max) width/height."""

    max_items: int = 4  # images and videos together
    max_videos: int = 1
    mixed: bool = False  # images and videos in the same post
    image_types: frozenset[str] = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
    video_types: frozenset[str] = frozenset({"video/mp4", "video/quicktime"})
    max_image_bytes: int | None = 5_000_000
    max_video_bytes: int | None = 512_000_000
    max_video_seconds: float | None = None
    aspect_ratio: tuple[float, float] | None = None
    max_image_pixels: int | None = None  # longest side
    convert_to: str | None = None  # a MIME type every image is converted to (Instagram: image/jpeg)
    required: bool = False  # a post needs at least one image or video
    by_url: bool = False  # the platform fetches media from a public URL (Herald's signed media links)


@dataclass(frozen=True)
class PlatformInfo:
    """A platform's rules: what drafting and approval check without talking to anybody."""

    name: str
    label: str
    text_limit: int | None
    measure: textcount.Measure = textcount.characters  # how the platform counts against text_limit
    media: MediaRules = MediaRules()
    byte_limit: int | None = None  # UTF-8 bytes (Bluesky: 3000)
    max_hashtags: int | None = None
    max_mentions: int | None = None
    max_links: int | None = None  # distinct URLs in the text (Threads: 5)
    connect: Literal["oauth", "instance", "secret", "none"] = "none"  # how an admin connects an account
    account_hint: str = ""  # what /account connect asks for, e.g. "your Mastodon server, e.g. mastodon.social"

    @property
    def needs_media(self) -> bool:
        return self.media.required

    def length(self, text: str) -> int:
        """The text's length as this platform counts it (X: weighted, URLs 23; Bluesky: graphemes …)."""
        return self.measure(text)


#: Every platform Herald knows, by name. The built-in ones are here; the social networks register theirs from
#: ``tasks/platforms`` (:func:`register`, called by ``tasks.platforms.install()`` when a process starts).
PLATFORMS: dict[str, PlatformInfo] = {
    p.name: p
    for p in (
        PlatformInfo("dryrun", "Dry run", None),
        PlatformInfo("fake", "Fake platform", 500),  # test platform that takes an idempotency key
        PlatformInfo("fake-nokey", "Fake platform (no key)", 500),  # …and one that doesn't
    )
}


def register(info: PlatformInfo) -> None:
    PLATFORMS[info.name] = info


def platform(name: str) -> PlatformInfo:
    info = PLATFORMS.get(name.lower())
    if info is None:
        known = ", ".join(sorted(PLATFORMS))
        raise InvalidInput(f"I don't know the platform {name!r}; use one of {known}.")
    return info


def too_long(info: PlatformInfo, text: str) -> str | None:
    """The sentence saying ``text`` is too long for the platform ("X allows 280 characters, this is 312.")."""
    if info.text_limit is None:
        return None
    length = info.length(text)
    return f"{info.label} allows {info.text_limit} characters, this is {length}." if length > info.text_limit else None


def missing_media(info: PlatformInfo, media: list[str]) -> str | None:
    """The sentence saying the platform needs an image or video the post doesn't have."""
    return f"{info.label} needs at least one image or video." if info.needs_media and not media else None


def check_text(info: PlatformInfo, text: str, media: list[str]) -> None:
    """Raise InvalidInput when ``text`` can't go to the platform as it is."""
    problem = too_long(info, text)
    if problem is not None:
        raise InvalidInput(problem)
    problem = missing_media(info, media)
    if problem is not None:
        with about("media"):
            raise InvalidInput(problem)
