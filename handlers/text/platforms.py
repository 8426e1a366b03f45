"""What the application knows about each social platform: its name, label and limits.

The publishers that talk to the platforms live in ``tasks/platforms``; this catalogue holds what
drafting and approval need to know without talking to anybody (character limits and how each
platform counts against them, media rules). The approval card and the draft checks use the same
:meth:`PlatformInfo.length` and the same sentences, so the card never says a post fits that the
checks would refuse, or the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.text import textcount
from models.errors import InvalidInput, about


@dataclass(frozen=True)
class PlatformInfo:
    name: str
    label: str
    text_limit: int | None
    needs_media: bool = False
    measure: textcount.Measure = textcount.characters  # how the platform counts against text_limit

    def length(self, text: str) -> int:
        """The text's length as this platform counts it (X: weighted, URLs 23; Bluesky: graphemes …)."""
        return self.measure(text)


PLATFORMS: dict[str, PlatformInfo] = {
    p.name: p
    for p in (
        PlatformInfo("dryrun", "Dry run", None),
        PlatformInfo("fake", "Fake platform", 500),  # test platform that takes an idempotency key
        PlatformInfo("fake-nokey", "Fake platform (no key)", 500),  # …and one that doesn't
        PlatformInfo("x", "X", 280, measure=textcount.x_length),
        PlatformInfo("facebook", "Facebook Page", 63206),
        PlatformInfo("instagram", "Instagram", 2200, needs_media=True),
        PlatformInfo("linkedin", "LinkedIn", 3000),
        PlatformInfo("mastodon", "Mastodon", 500, measure=textcount.mastodon_length),
        PlatformInfo("bluesky", "Bluesky", 300, measure=textcount.graphemes),
    )
}


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
