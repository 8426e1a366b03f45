"""The approval card's preview per target platform: length as the platform counts it, text, warnings."""

from __future__ import annotations

from handlers.drafting.views import PLATFORM_PREVIEW, platform_preview
from handlers.messages import Button, Preview, Reply, TargetStatus
from handlers.text.platforms import platform
from models.accounts import SocialAccount
from tests.auxil.chat import Chat

LINK = "https://example.com/launch/" + "a" * 60  # 87 code points; X and Mastodon count 23
ASTRONAUT = "👩\u200d🚀"  # three code points, one emoji
TEXT = f"Herald 1.0 is out {ASTRONAUT} {LINK}"  # 109 code points


async def accounts(chat: Chat) -> None:
    for line in ("dryrun demo", "x acme", "x acme_eu", "bluesky sky", "mastodon toot"):
        await chat.say(f"/account add {line}")
    await chat.say("/role add bob approver")


def card_of(chat: Chat) -> Reply:
    (card,) = [r for r in chat.last if r.kind == "approval"]
    return card


async def test_the_card_previews_the_post_once_per_target_platform(chat: Chat) -> None:
    await accounts(chat)
    await chat.say(f"/draft --to acme,sky,acme_eu,toot,demo {TEXT}")
    card = card_of(chat)

    assert [(p.target, p.count, p.warnings) for p in card.previews] == [
        ("X · acme, acme_eu", "44/280 characters", ()),  # 18 + the emoji (2) + 1 + 23 for the link
        ("Bluesky · sky", "107/300 characters", ()),  # graphemes: the emoji is one
        ("Mastodon · toot", "43/500 characters", ()),  # 20 graphemes + 23 for the link
        ("Dry run · demo", "109 characters", ()),  # code points, no limit
    ]
    assert {p.text for p in card.previews} == {TEXT}  # short enough to show whole everywhere
    assert [f.label for f in card.fields] == ["Targets", "When", "Author", "Approved by", "Awaiting"]
    assert dict((f.label, f.value) for f in card.fields)["Targets"] == "acme, sky, acme_eu, toot, demo"


async def test_the_card_warns_when_a_post_no_longer_fits_a_target(chat: Chat) -> None:
    await accounts(chat)
    await chat.say("/draft --to demo " + "word " * 70)  # 349 characters: fine without a limit
    # the account is now an X account (say, re-added with the same handle): the stored post no longer fits
    await SocialAccount.filter(handle="demo").update(platform="x")
    await chat.say("/post 1", as_="bob")
    (detail,) = chat.last

    (preview,) = detail.previews
    assert (preview.target, preview.count) == ("X · demo", "349/280 characters")
    assert preview.warnings == ("X allows 280 characters, this is 349.",)
    assert preview.text.endswith("word word ✂word word word word word…")  # where X's limit falls
    await SocialAccount.filter(handle="demo").update(platform="instagram")
    await chat.say("/post 1", as_="bob")
    assert chat.last[0].previews[0].warnings == ("Instagram needs at least one image or video.",)


def test_a_platform_preview_is_shortened_and_shows_where_the_limit_cuts() -> None:
    x = platform("x")
    long_line = " ".join(f"w{n:03d}" for n in range(100))  # 499 characters

    fits = platform_preview(platform("linkedin"), ["acme"], "Line one\n\nLine  two", [])
    shortened = platform_preview(platform("linkedin"), ["acme"], long_line, [])
    cut = platform_preview(x, ["acme"], long_line, [])

    assert fits == Preview("LinkedIn · acme", 19, 3000, "Line one Line two")
    assert len(shortened.text) == PLATFORM_PREVIEW and shortened.text.startswith("w000 w001")
    assert shortened.text.endswith("…") and not shortened.warnings
    assert cut.warnings == ("X allows 280 characters, this is 499.",)
    before, after = cut.text.split("✂")
    assert before.startswith("…") and before.endswith("w055 ")  # "w000 " … "w055 " is 280 characters
    assert after.startswith("w056 w057") and after.endswith("…")
    assert cut.count == "499/280 characters"


def test_previews_travel_through_the_outbox() -> None:
    reply = Reply(
        text="card",
        previews=(
            Preview("X · acme", 312, 280, "…ends✂here", ("X allows 280 characters, this is 312.",)),
            Preview("Dry run · demo", 12, None, "hello"),
        ),
        statuses=(
            TargetStatus("acme (X)", "unknown", "may or may not …", (Button("Verify", "/verify 3"),)),
            TargetStatus("demo (Dry run)", "published", "published: https://…"),
        ),
        buttons=(Button("Reject", "/reject 1", "danger", ask="reason"),),
    )

    assert Reply.from_json(reply.to_json()) == reply
    assert Reply.from_json({"text": "an old outbox row"}).previews == ()
    assert Reply.from_json({"text": "an old outbox row"}).statuses == ()


async def test_the_card_says_no_more_than_it_needs(chat: Chat) -> None:
    """No version until there is a second, no level when there is one, no state field repeating the header."""
    await accounts(chat)
    await chat.say("/draft --to demo Big launch!")
    first = card_of(chat)
    await chat.say("/edit 1 Big launch today!")
    edited = card_of(chat)
    await chat.say("/role add carol approver")
    await chat.say("/policy set demo level1=role:approver level2=@carol")
    await chat.say("/draft --to demo Two levels")
    two_levels = card_of(chat)

    assert first.text == "Post 1 by @alice — awaiting approval\n> Big launch!"
    assert {f.label for f in first.fields}.isdisjoint({"Level", "State"})
    assert edited.text.startswith("Post 1 by @alice (v2) — awaiting approval")
    assert dict((f.label, f.value) for f in two_levels.fields)["Level"] == "1 of 2"
