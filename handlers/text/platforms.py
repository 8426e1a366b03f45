"""What the application knows about each social platform: its name, label and limits.

The publishers that talk to the platforms live in ``tasks/platforms``; this catalogue holds what
drafting and approval need to know without talking to anybody (character limits and how each
platform counts against them, media rules). The approval card and the draft checks use the same
:meth:`PlatformInfo.length` and the same sentences, so the card never says a post fits that the
checks would refuse, or the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
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
class MediaMeta:
    """What Herald knows of one stored image or video without converting it (read from the store at draft time,
    and again by the worker before it prepares the file for a platform)."""

    ref: str
    content_type: str
    size: int  # bytes
    width: int | None = None  # as shown (EXIF orientation applied); None: not an image Herald could read
    height: int | None = None
    seconds: float | None = None  # a video's duration, when its container says (MP4's mvhd)
    frames: int = 1  # an animated GIF has more

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")

    @property
    def ratio(self) -> float | None:
        return self.width / self.height if self.width and self.height else None


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
ANY_MEDIA = MediaRules(max_items=10, max_videos=10, mixed=True, max_image_bytes=None, max_video_bytes=None)
PLATFORMS: dict[str, PlatformInfo] = {
    p.name: p
    for p in (
        PlatformInfo("dryrun", "Dry run", None, media=ANY_MEDIA),
        PlatformInfo("fake", "Fake platform", 500, media=ANY_MEDIA),  # test platform that takes an idempotency key
        PlatformInfo("fake-nokey", "Fake platform (no key)", 500, media=ANY_MEDIA),  # …and one that doesn't
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


def too_many_bytes(info: PlatformInfo, text: str) -> str | None:
    """Bluesky's second limit: "Bluesky allows 3000 bytes of text, this is 3012." """
    if info.byte_limit is None:
        return None
    size = textcount.utf8_bytes(text)
    return f"{info.label} allows {info.byte_limit} bytes of text, this is {size}." if size > info.byte_limit else None


def too_many_tags(info: PlatformInfo, text: str) -> str | None:
    """Instagram's 30 hashtags and 20 mentions."""
    for limit, count, what in (
        (info.max_hashtags, textcount.hashtags, "hashtags"),
        (info.max_mentions, textcount.mentions, "mentions"),
    ):
        if limit is not None and (found := count(text)) > limit:
            return f"{info.label} allows {limit} {what} in a post, this has {found}."
    return None


def text_problems(info: PlatformInfo, text: str) -> list[str]:
    """Every reason ``text`` can't go to the platform as it is (empty: it can)."""
    return [p for p in (too_long(info, text), too_many_bytes(info, text), too_many_tags(info, text)) if p]


def missing_media(info: PlatformInfo, media: Sequence[str]) -> str | None:
    """The sentence saying the platform needs an image or video the post doesn't have."""
    return f"{info.label} needs at least one image or video." if info.needs_media and not media else None


def _ratio(value: float) -> str:
    """0.8 → "4:5", 1.91 → "1.91:1", 3.0 → "3:1"."""
    for denominator in range(1, 11):
        numerator = round(value * denominator)
        if numerator and abs(numerator / denominator - value) < 0.005:
            return f"{numerator}:{denominator}"
    return f"{value:.2f}".rstrip("0").rstrip(".") + ":1"


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f}".removesuffix(".0") + " MB"


def _kinds(types: frozenset[str]) -> str:
    return ", ".join(sorted(t.split("/", 1)[1].upper().replace("QUICKTIME", "MOV") for t in types)) or "none"


def media_problem(info: PlatformInfo, meta: MediaMeta) -> str | None:
    """Why one file can't go to the platform even after Herald prepares it, or None.

    Too many bytes or pixels in an image, or a type the platform doesn't take, Herald fixes (it downscales,
    recompresses and converts) and says nothing about; a video too long or too large, an animated GIF where
    GIFs aren't taken, or an aspect ratio outside the platform's range can't be fixed.
    """
    rules = info.media
    if meta.is_video:
        if meta.content_type not in rules.video_types:
            if not rules.video_types:
                return f"{info.label} doesn't take videos."
            return (
                f"{info.label} takes {_kinds(rules.video_types)} videos, not {_kinds(frozenset({meta.content_type}))}."
            )
        if rules.max_video_bytes is not None and meta.size > rules.max_video_bytes:
            return f"{info.label} takes videos up to {_mb(rules.max_video_bytes)}; this one is {_mb(meta.size)}."
        if rules.max_video_seconds is not None and meta.seconds is not None and meta.seconds > rules.max_video_seconds:
            return (
                f"{info.label} takes videos up to {rules.max_video_seconds:g} seconds; "
                f"this one is {meta.seconds:.0f} seconds."
            )
        return None
    if meta.width is None:
        return f"Herald can't read {meta.ref} as an image or a video."
    if not rules.image_types:
        return f"{info.label} doesn't take images."
    if meta.frames > 1:  # an animation Herald can't convert or recompress without losing it
        if "image/gif" not in rules.image_types or rules.convert_to not in (None, "image/gif"):
            return f"{info.label} doesn't take animated GIFs."
        if rules.max_image_bytes is not None and meta.size > rules.max_image_bytes:
            return f"{info.label} takes GIFs up to {_mb(rules.max_image_bytes)}; this one is {_mb(meta.size)}."
    if rules.aspect_ratio is not None and meta.ratio is not None:
        low, high = rules.aspect_ratio
        if not low - 0.005 <= meta.ratio <= high + 0.005:
            allowed = f"of {_ratio(low)}" if low == high else f"from {_ratio(low)} to {_ratio(high)}"
            return (
                f"{info.label} takes images with an aspect ratio {allowed}; "
                f"this one is {_ratio(meta.ratio)} ({meta.width}×{meta.height})."
            )
    return None


def media_problems(info: PlatformInfo, media: Sequence[str], metas: Sequence[MediaMeta | None] = ()) -> list[str]:
    """Every reason the post's media can't go to the platform: none where it needs some, too many, videos and
    images mixed, and each file's :func:`media_problem` (``metas``: what the store says of each ref, None for
    a ref it no longer has; empty when the store wasn't asked)."""
    rules = info.media
    found = [p for p in (missing_media(info, media),) if p]
    if len(media) > rules.max_items:
        found.append(f"{info.label} takes at most {rules.max_items} images or videos in a post; this has {len(media)}.")
    known = [m for m in metas if m is not None]
    videos = sum(1 for m in known if m.is_video)
    if videos > rules.max_videos:
        found.append(f"{info.label} takes at most {rules.max_videos} video in a post; this has {videos}.")
    if videos and videos < len(known) and not rules.mixed:
        found.append(f"{info.label} doesn't take images and videos in the same post.")
    for ref, meta in zip(media, metas, strict=False):
        problem = f"Herald no longer has {ref}; attach it again." if meta is None else media_problem(info, meta)
        if problem and problem not in found:
            found.append(problem)
    return found


def check_text(info: PlatformInfo, text: str, media: Sequence[str], metas: Sequence[MediaMeta | None] = ()) -> None:
    """Raise InvalidInput when the post can't go to the platform as it is (the first reason)."""
    problems = text_problems(info, text)
    if problems:
        raise InvalidInput(problems[0])
    problems = media_problems(info, media, metas)
    if problems:
        with about("media"):
            raise InvalidInput(problems[0])
