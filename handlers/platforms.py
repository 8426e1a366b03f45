"""What the application knows about each social platform: its name, label and limits.

The publishers that talk to the platforms live in ``tasks/publishers``; this catalogue holds what
drafting and approval need to know without talking to anybody (character limits, media rules).
"""

from __future__ import annotations

from dataclasses import dataclass

from models.errors import InvalidInput, about


@dataclass(frozen=True)
class PlatformInfo:
    name: str
    label: str
    text_limit: int | None
    needs_media: bool = False


PLATFORMS: dict[str, PlatformInfo] = {
    p.name: p
    for p in (
        PlatformInfo("dryrun", "Dry run", None),
        PlatformInfo("fake", "Fake platform", 500),  # test platform that takes an idempotency key
        PlatformInfo("fake-nokey", "Fake platform (no key)", 500),  # …and one that doesn't
        PlatformInfo("x", "X", 280),
        PlatformInfo("facebook", "Facebook Page", 63206),
        PlatformInfo("instagram", "Instagram", 2200, needs_media=True),
        PlatformInfo("linkedin", "LinkedIn", 3000),
        PlatformInfo("mastodon", "Mastodon", 500),
        PlatformInfo("bluesky", "Bluesky", 300),
    )
}


def platform(name: str) -> PlatformInfo:
    info = PLATFORMS.get(name.lower())
    if info is None:
        known = ", ".join(sorted(PLATFORMS))
        raise InvalidInput(f"I don't know the platform {name!r}; use one of {known}.")
    return info


def check_text(info: PlatformInfo, text: str, media: list[str]) -> None:
    """Raise InvalidInput when ``text`` can't go to the platform as it is."""
    if info.text_limit is not None and len(text) > info.text_limit:
        raise InvalidInput(f"{info.label} allows {info.text_limit} characters, this is {len(text)}.")
    if info.needs_media and not media:
        with about("media"):
            raise InvalidInput(f"{info.label} needs at least one image or video.")
