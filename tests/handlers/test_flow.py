"""The draft → approval → publish loop through the chat-neutral core, on SQLite and on PostgreSQL."""

from __future__ import annotations

from models.lifecycle import DeliveryState, PostState
from models.posts import Delivery, Post
from tests.auxil.chat import Chat


async def setup_team(chat: Chat) -> None:
    assert "Added" in await chat.say("/account add dryrun demo")
    assert "@bob is now approver" in await chat.say("/role add bob approver")


async def test_issue_script_publishes_after_approval(chat: Chat) -> None:
    await setup_team(chat)
    text = await chat.say("/draft --to demo --at now Hello from Herald")
    assert "Post 1 is waiting for approval" in text
    card = chat.last[-1]
    assert card.ref == "post:1:approval"
    assert [b.command for b in card.buttons] == ["/approve 1", "/changes 1", "/reject 1"]
    assert "nothing" not in await chat.publish_due()  # not approved: nothing goes out
    assert await chat.publish_due() == ""

    text = await chat.say("/approve 1", as_="bob")
    assert "Post 1 by @alice approved by @bob; it goes to demo now." in text
    assert chat.last[-1].buttons == ()  # final: the buttons are gone

    reports = await chat.publish_due()
    assert reports == "Post 1 by @alice published to demo (Dry run): https://dryrun.invalid/demo/dry-1"
    post = await Post.get(id=1)
    assert post.state == PostState.PUBLISHED
    delivery = await Delivery.get(post_id=1)
    assert (delivery.state, delivery.attempts) == (DeliveryState.PUBLISHED, 1)
    assert await chat.publish_due() == ""  # nothing twice


async def test_future_post_waits_for_its_time(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/draft --to demo --at in 10m Later")
    await chat.say("/approve 1", as_="bob")
    assert await chat.publish_due() == ""
    chat.clock.advance(minutes=9, seconds=59)
    assert await chat.publish_due() == ""
    chat.clock.advance(seconds=1)
    assert "published to demo" in await chat.publish_due()


async def test_bad_input_gets_one_sentence_and_changes_nothing(chat: Chat) -> None:
    await setup_team(chat)
    cases = {
        "/frobnicate": "I don't know the command /frobnicate. Try /help to see what I can do.",
        "/draft --to demo": "A post needs some text. Usage: /draft [--to ACCOUNT,…] [--at WHEN|next] "
        "[--every RULE [--tz ZONE] [--until DATE|--count N]] [--media REF,…] [--review] TEXT",
        "/draft --to nowhere Hi": "There is no account called nowhere; /account list shows them.",
        "/draft --to demo --at 2020-01-01 09:00 Hi": "is in the past",
        "/draft --to demo --at next blursday Hi": "blursday",
        "/approve": "Which post? Usage: /approve ID",
        "/approve 99": "There is no post 99.",
        "/draft --to demo --colour red Hi": "/draft has no option --colour",
    }
    for command, expected in cases.items():
        await chat.say(command)
        assert len(chat.errors) == 1, command
        assert expected in chat.errors[0], (command, chat.errors)
        assert "\n" not in chat.errors[0]
    assert await Post.all().count() == 0


async def test_author_cannot_approve_own_post_and_non_approver_is_told_why(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/draft --to demo Mine")
    await chat.say("/approve 1")
    assert chat.errors == ["You can't approve your own post."]
    await chat.say("/approve 1", as_="carol")
    assert chat.errors == ["Level 1 of post 1 needs anyone with role approver."]
    assert (await Post.get(id=1)).state == PostState.PENDING_APPROVAL


async def test_rejected_post_cannot_be_approved(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/role add dan approver")
    await chat.say("/draft --to demo Nope")
    await chat.say("/reject 1", as_="bob")
    assert chat.errors == ["Please say why: /reject 1 REASON."]
    assert "Post 1 by @alice rejected by @bob: off-brand" in await chat.say("/reject 1 off-brand", as_="bob")
    await chat.say("/approve 1", as_="dan")
    assert chat.errors == ["Post 1 was rejected by bob, so it can't be approved."]
    assert await chat.publish_due() == ""
    assert (await Delivery.get(post_id=1)).state == DeliveryState.CANCELLED


async def test_repeated_click_is_idempotent(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/draft --to demo Twice")
    await chat.say("/approve 1", as_="bob")
    assert "You already approved post 1; nothing changed." in await chat.say("/approve 1", as_="bob")
    assert chat.errors == []
    assert "published" in await chat.publish_due()
    assert await chat.publish_due() == ""


async def test_changes_requested_then_edit_goes_back_to_approval(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/draft --to demo Helo")
    assert "sent back for changes by @bob: typo" in await chat.say("/changes 1 typo", as_="bob")
    assert (await Post.get(id=1)).state == PostState.CHANGES_REQUESTED
    await chat.say("/edit 1 Hello", as_="bob")
    assert chat.errors == ["Only the author can edit post 1."]
    assert "version 2" in await chat.say("/edit 1 Hello")
    post = await Post.get(id=1)
    assert (post.state, post.version, post.text) == (PostState.PENDING_APPROVAL, 2, "Hello")
    await chat.say("/approve 1", as_="bob")
    assert "published" in await chat.publish_due()
    history = await chat.say("/post 1")
    for fragment in (
        "post.created",
        "decision.request_changes",
        "typo",
        "post.edited",
        "-Helo",
        "+Hello",
        "decision.approve",
        "delivery.published",
        "post.published",
    ):
        assert fragment in history, fragment


async def test_withdraw_and_lists(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/draft --to demo One")
    await chat.say("/draft --to demo Two")
    assert "#1" in await chat.say("/pending", as_="bob") and "#2" in chat.last[0].text
    await chat.say("/withdraw 1", as_="bob")
    assert chat.errors == ["Only the author can withdraw post 1."]
    assert "Post 1 is withdrawn" in await chat.say("/withdraw 1")
    mine = await chat.say("/mine")
    assert "#1 [cancelled]" in mine and "#2 [awaiting approval]" in mine
    assert "#1" not in await chat.say("/pending", as_="bob")
    await chat.say("/approve 1", as_="bob")
    assert chat.errors == ["Post 1 is cancelled, so it can't be approved."]


async def test_help_lists_every_command(chat: Chat) -> None:
    text = await chat.say("/help")
    for name in (
        "/draft",
        "/approve",
        "/changes",
        "/reject",
        "/withdraw",
        "/edit",
        "/post",
        "/pending",
        "/mine",
        "/account",
        "/role",
        "/cancel",
        "/tz",
    ):
        assert name in text, name
    assert "/approve ID" in await chat.say("/help approve")


async def test_draft_errors_name_the_field_they_are_about(chat: Chat) -> None:
    """Forms (the Slack modal) show each sentence next to its field."""
    await setup_team(chat)
    cases = {
        "/draft --to demo": "text",
        "/draft --to nowhere Hi": "targets",
        "/draft --to demo --at 2020-01-01 09:00 Hi": "when",
    }
    for command, field in cases.items():
        await chat.say(command)
        assert [r.extra.get("field") for r in chat.last] == [field], command


async def test_draft_carries_media_and_platforms_check_it(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/account add instagram shop")
    await chat.say("/draft --to shop No picture")
    assert chat.errors == ["Instagram needs at least one image or video."]
    assert chat.last[0].extra["field"] == "media"
    await chat.say("/draft --to shop --media media/ab12.jpg,media/cd34.png Two pictures")
    assert chat.errors == []
    assert (await Post.get(id=1)).media == ["media/ab12.jpg", "media/cd34.png"]


def test_draft_usage_names_every_option() -> None:
    from handlers.drafting.drafts import DRAFT_FLAGS, DRAFT_OPTIONS, DRAFT_USAGE

    missing = sorted(o for o in DRAFT_OPTIONS | DRAFT_FLAGS if f"--{o}" not in DRAFT_USAGE)
    assert not missing, f"/draft usage leaves out {missing}"
