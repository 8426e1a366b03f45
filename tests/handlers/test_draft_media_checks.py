"""Draft-time checks per target: X's weighted length, Bluesky's bytes, Instagram's hashtags and media, media
counts — the same sentences in /draft's refusal and on the approval card."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from bot.notifiers import OutboxNotifier
from handlers.app import Herald
from handlers.context import Services
from handlers.drafting import media as drafting_media
from handlers.drafting.views import platform_preview
from handlers.ports import NullScheduler
from handlers.text import textcount
from handlers.text.platforms import PLATFORMS, MediaMeta, MediaRules, PlatformInfo, check_text, media_problems
from models.accounts import SocialAccount
from models.errors import InvalidInput
from models.media import LocalMediaStore
from tasks.platforms import dry_run
from tasks.runtime import Runtime
from tests.auxil.chat import Chat, FrozenClock

X = PlatformInfo("x", "X", 280, textcount.x_length, MediaRules(max_items=4, max_image_bytes=5_000_000))
BLUESKY = PlatformInfo(
    "bluesky", "Bluesky", 300, textcount.graphemes, MediaRules(max_items=4, max_image_bytes=1_000_000), byte_limit=3000
)
INSTAGRAM = PlatformInfo(
    "instagram",
    "Instagram",
    2200,
    media=MediaRules(max_items=10, required=True, convert_to="image/jpeg", aspect_ratio=(0.8, 1.91)),
    max_hashtags=30,
    max_mentions=20,
)
SQUARE_ONLY = PlatformInfo("squares", "Squares", 500, media=MediaRules(aspect_ratio=(1.0, 1.0)))
ASTRONAUT = "👩\u200d🚀"  # 3 code points, 11 bytes, one grapheme


def test_x_counts_a_bare_domain_and_a_url_as_23_and_an_emoji_as_2() -> None:
    text = "a" * 230 + " example.com https://t.co/abc 🎉"  # 261 code points
    assert X.length(text) == 230 + 1 + 23 + 1 + 23 + 1 + 2
    with pytest.raises(InvalidInput, match=r"^X allows 280 characters, this is 281\.$"):
        check_text(X, text, [])
    check_text(X, text.replace(" example.com", ""), [])  # 269: fits


def test_bluesky_counts_graphemes_and_bytes() -> None:
    text = ASTRONAUT * 290  # 290 graphemes: within 300; 3190 bytes: not within 3000
    assert BLUESKY.length(text) == 290
    with pytest.raises(InvalidInput, match=r"^Bluesky allows 3000 bytes of text, this is 3190\.$"):
        check_text(BLUESKY, text, [])


def test_instagram_counts_hashtags_and_mentions() -> None:
    tags = " ".join(f"#tag{i}" for i in range(31))
    with pytest.raises(InvalidInput, match=r"^Instagram allows 30 hashtags in a post, this has 31\.$"):
        check_text(INSTAGRAM, tags, ["a.jpg"])
    people = " ".join(f"@user{i}" for i in range(21)) + " write to shop@example.com"  # an address is no mention
    with pytest.raises(InvalidInput, match=r"^Instagram allows 20 mentions in a post, this has 21\.$"):
        check_text(INSTAGRAM, people, ["a.jpg"])
    check_text(INSTAGRAM, tags.removesuffix(" #tag30") + " #", ["a.jpg"])


def test_media_counts_kinds_and_what_cant_be_fixed() -> None:
    image = MediaMeta("i.png", "image/png", 3_000_000, 4000, 3000)  # too big for Bluesky: Herald shrinks it
    video = MediaMeta("v.mp4", "video/mp4", 9_000_000, seconds=30)
    gif = MediaMeta("g.gif", "image/gif", 200_000, 400, 400, frames=12)

    assert media_problems(BLUESKY, ["i.png"], [image]) == []
    assert media_problems(BLUESKY, ["i.png"] * 5, [image] * 5) == [
        "Bluesky takes at most 4 images or videos in a post; this has 5."
    ]
    assert media_problems(BLUESKY, ["i.png", "v.mp4", "v.mp4"], [image, video, video]) == [
        "Bluesky takes at most 1 video in a post; this has 2.",
        "Bluesky doesn't take images and videos in the same post.",
    ]
    assert media_problems(INSTAGRAM, ["g.gif"], [gif]) == ["Instagram doesn't take animated GIFs."]
    assert media_problems(INSTAGRAM, [], []) == ["Instagram needs at least one image or video."]
    assert media_problems(BLUESKY, ["gone.png"], [None]) == ["Herald no longer has gone.png; attach it again."]


def picture(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (0, 90, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    for info in (X, BLUESKY, INSTAGRAM, SQUARE_ONLY):
        monkeypatch.setitem(PLATFORMS, info.name, info)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalMediaStore:
    store = LocalMediaStore(tmp_path / "media")
    monkeypatch.setattr(drafting_media, "_default", store)  # what bot.wiring installs for the approval cards
    return store


@pytest.fixture
def media_chat(any_db: str, store: LocalMediaStore, platforms: None) -> Chat:
    clock = FrozenClock()
    notifier = OutboxNotifier()
    services = Services(notifier=notifier, scheduler=NullScheduler(), clock=clock, media=store)
    return Chat(Herald(services), Runtime(publishers=dry_run(), notifier=notifier, clock=clock), clock)


async def test_draft_refuses_media_a_target_cant_take_with_the_cards_sentence(
    media_chat: Chat, store: LocalMediaStore
) -> None:
    chat = media_chat
    for line in ("instagram shop", "bluesky sky"):
        await chat.say(f"/account add {line}")
    await chat.say("/role add bob approver")
    banner = await store.put(picture(1500, 500), "image/png", "banner.png")
    portrait = await store.put(picture(1080, 1350), "image/png", "portrait.png")

    await chat.say(f"/draft --to shop --media {banner} Summer sale")
    assert chat.errors == [
        "Instagram takes images with an aspect ratio from 4:5 to 1.91:1; this one is 3:1 (1500×500)."
    ]
    assert chat.last[0].extra["field"] == "media"
    await chat.say(f"/draft --to shop --media {'0' * 64}.png Summer sale")
    assert chat.errors == [f"Herald has no stored file '{'0' * 64}.png'; attach the image or video again."]
    await chat.say(f"/draft --to sky --media {','.join([portrait] * 5)} Summer sale")
    assert chat.errors == ["Bluesky takes at most 4 images or videos in a post; this has 5."]

    await chat.say(f"/draft --to shop,sky --media {portrait} Summer sale {ASTRONAUT}")
    assert chat.errors == []
    (card,) = [r for r in chat.last if r.kind == "approval"]
    assert [p.warnings for p in card.previews] == [(), ()]

    # the account now publishes somewhere that takes square images only: the card says so
    await SocialAccount.filter(handle="shop").update(platform="squares")
    await chat.say("/post 1", as_="bob")
    assert chat.last[0].previews[0].warnings == (
        "Squares takes images with an aspect ratio of 1:1; this one is 4:5 (1080×1350).",
    )

    # a file gone from the store (a lost volume): an edit of the text isn't refused for it, the card tells
    store.path(portrait).unlink()
    drafting_media._known.clear()
    await chat.say("/edit 1 Summer sale, now with more sun")
    assert chat.errors == []
    (card,) = [r for r in chat.last if r.kind == "approval"]
    assert card.previews[1].warnings == (f"Herald no longer has {portrait}; attach it again.",)


def test_the_card_and_the_check_say_the_same() -> None:
    tall = MediaMeta("t.png", "image/png", 1000, 1000, 2000)
    preview = platform_preview(INSTAGRAM, ["shop"], "#a " * 31, ["t.png"], [tall])
    assert preview.warnings == (
        "Instagram allows 30 hashtags in a post, this has 31.",
        "Instagram takes images with an aspect ratio from 4:5 to 1.91:1; this one is 1:2 (1000×2000).",
    )
    with pytest.raises(InvalidInput) as refused:
        check_text(INSTAGRAM, "#a " * 31, ["t.png"], [tall])
    assert str(refused.value) == preview.warnings[0]
