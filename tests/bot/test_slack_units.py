"""The Slack adapter's small parts: Block Kit rendering, modals, pacing, identities, files, the notifier."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.slack import blocks, modals
from bot.slack.adapter import typed_command
from bot.slack.files import FileStore
from bot.slack.identity import Identities, member_name
from bot.slack.notifier import SlackNotifier, web_client
from bot.slack.pacing import ChannelPacer
from handlers.app import build_router
from handlers.messages import Button, Conversation, Field, Preview, Reply, TargetStatus
from models.chatrefs import ChatMessageRef
from models.errors import InvalidInput
from models.media import LocalMediaStore
from tests.fakes.slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


# -- Block Kit ----------------------------------------------------------------------------------------------


def test_a_reply_becomes_sections_fields_and_buttons() -> None:
    reply = Reply(
        text="Post 12 by alice — awaiting approval\n> Fish & <chips>",
        fields=(Field("Targets", "x, linkedin"), Field("Awaiting", "")),
        buttons=(
            Button("Approve", "/approve 12", "primary"),
            Button("Reject", "/reject 12", "danger", ask="reason"),
            Button("Verify", "/verify 3"),
        ),
    )

    msg = blocks.message(reply)

    section, fields, actions = msg.blocks
    assert section["text"]["text"] == "Post 12 by alice — awaiting approval\n&gt; Fish &amp; &lt;chips&gt;"
    assert [f["text"] for f in fields["fields"]] == ["*Targets*\nx, linkedin", "*Awaiting*\n–"]
    assert [(e["action_id"], e["value"], e.get("style")) for e in actions["elements"]] == [
        ("herald.approve", "/approve 12", "primary"),
        ("herald.reject.ask.reason", "/reject 12", "danger"),
        ("herald.verify", "/verify 3", None),
    ]
    assert msg.text == reply.text  # the notification text is not escaped: Slack shows it as is
    assert blocks.read_click(actions["elements"][1]) == blocks.Click("/reject 12", "reason")
    assert blocks.read_click(actions["elements"][0]) == blocks.Click("/approve 12", None)


def test_long_text_is_split_under_the_section_limit_and_errors_are_marked() -> None:
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(100))

    msg = blocks.message(Reply(text=text, kind="error"))

    assert len(msg.blocks) == 4
    assert all(len(b["text"]["text"]) <= blocks.SECTION_LIMIT for b in msg.blocks)
    assert msg.blocks[0]["text"]["text"].startswith(":warning: line 0")
    assert len(msg.text) == blocks.FALLBACK_LIMIT


def test_duplicate_action_ids_are_made_unique() -> None:
    reply = Reply(text="x", buttons=(Button("A", "/retry 1"), Button("B", "/retry 2")))

    (_, actions) = blocks.message(reply).blocks

    assert [e["action_id"] for e in actions["elements"]] == ["herald.retry", "herald.retry.2"]


def test_platform_previews_are_small_print_with_warnings_under_them() -> None:
    reply = Reply(
        text="Post 12 by alice — awaiting approval",
        fields=(Field("Targets", "acme, demo"),),
        buttons=(Button("Approve", "/approve 12", "primary"),),
        previews=(
            Preview("X · acme", 312, 280, "…fish & <chips>✂ and more…", ("X allows 280 characters, this is 312.",)),
            Preview("Dry run · demo", 312, None, "fish & chips"),
            Preview("Instagram · gram", 12, 2200, "hi", ("Too long.", "Instagram needs at least one image or video.")),
        ),
    )

    kinds = [b["type"] for b in blocks.message(reply).blocks]
    x, x_warning, dry, gram, gram_warning = blocks.message(reply).blocks[2:7]

    assert kinds == ["section", "section", "context", "section", "context", "context", "section", "actions"]
    assert x["elements"] == [
        {"type": "mrkdwn", "text": ":warning: *X · acme* · 312/280 characters\n…fish &amp; &lt;chips&gt;✂ and more…"}
    ]
    assert x_warning["text"]["text"] == ":warning: X allows 280 characters, this is 312."
    assert dry["elements"][0]["text"] == "*Dry run · demo* · 312 characters\nfish &amp; chips"
    assert gram["elements"][0]["text"].startswith(":warning: *Instagram · gram* · 12/2200 characters\n")
    assert gram_warning["text"]["text"] == ":warning: Too long.\n:warning: Instagram needs at least one image or video."


def test_each_targets_outcome_is_a_section_with_its_own_buttons_under_it() -> None:
    reply = Reply(
        text="Post 12 by alice — failed",
        statuses=(
            TargetStatus("demo (Dry run)", "published", "published: https://dryrun.invalid/demo/dry-1"),
            TargetStatus(
                "acme (X)",
                "unknown",
                "may or may not have been published: X <timed out>.",
                (Button("Verify", "/verify 7"), Button("Republish", "/republish 7", "danger")),
            ),
        ),
        buttons=(Button("Retry", "/retry 12"),),
    )

    rendered = blocks.message(reply).blocks
    published, unknown, its_buttons, card_buttons = rendered[1:]

    assert published["text"]["text"] == (
        ":white_check_mark: *demo (Dry run)* — published: https://dryrun.invalid/demo/dry-1"
    )
    assert (
        unknown["text"]["text"]
        == ":grey_question: *acme (X)* — may or may not have been published: X &lt;timed out&gt;."
    )
    assert [(e["action_id"], e["value"]) for e in its_buttons["elements"]] == [
        ("herald.verify", "/verify 7"),
        ("herald.republish", "/republish 7"),
    ]
    assert [e["value"] for e in card_buttons["elements"]] == ["/retry 12"]
    assert len({b["block_id"] for b in rendered if b["type"] == "actions"}) == 2  # block ids are unique


def test_many_platform_previews_stay_within_slacks_limits() -> None:
    previews = tuple(
        Preview(f"P{n} · " + "h" * 200, n, 300, "t" * 3000, ("w" * 3000,) if n % 2 else ()) for n in range(14)
    )
    reply = Reply(text="card", fields=(Field("Targets", "many"),), buttons=(Button("Approve", "/approve 1"),))

    rendered = blocks.message(replace(reply, previews=previews)).blocks

    contexts = [b for b in rendered if b["type"] == "context"]
    assert len(contexts) == blocks.PREVIEWS_SHOWN + 1 and len(rendered) <= blocks.MESSAGE_BLOCKS
    assert contexts[-1]["elements"][0]["text"].startswith("…and 4 more: P10 · hhh")
    assert ":warning: P11 · " in contexts[-1]["elements"][0]["text"]
    assert all(len(e["text"]) <= blocks.TEXT_LIMIT for b in contexts for e in b["elements"])
    assert all(len(b["text"]["text"]) <= blocks.SECTION_LIMIT for b in rendered if "text" in b)
    assert rendered[-1]["type"] == "actions"


def test_home_view_stacks_replies_with_dividers() -> None:
    view = blocks.home_view(
        [Reply(text="Your open posts:\nnone"), Reply(text="#3", buttons=(Button("Approve", "/approve 3"),))],
        empty="nothing",
    )

    assert view["type"] == "home"
    assert [b["type"] for b in view["blocks"]] == ["section", "divider", "section", "actions"]
    assert blocks.home_view([], empty="nothing")["blocks"][0]["text"]["text"] == "nothing"


# -- commands -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "text", "typed"),
    [
        ("/herald", "approve 12", "/approve 12"),
        ("/herald", "/approve 12", "/approve 12"),
        ("/herald", "", "/help"),
        ("/approve", "12", "/approve 12"),
        ("/draft", "", "/draft"),
        ("/draft", "Fish &amp; chips &lt;3 --to x", "/draft Fish & chips <3 --to x"),
    ],
)
def test_slash_commands_become_text_commands(command: str, text: str, typed: str) -> None:
    assert typed_command(command, text) == typed


def test_the_manifest_declares_commands_herald_has() -> None:
    manifest = (ROOT / "deploy" / "slack-manifest.yml").read_text()
    commands = re.findall(r"- command: (/\S+)", manifest)
    router = build_router()

    assert {"/herald", "/draft", "/approve", "/queue", "/cron"} <= set(commands)
    for command in commands:
        name = typed_command(command, "").lstrip("/").split()[0]
        assert router.get(name) is not None, command
    assert set(re.findall(r"url: (\S+)", manifest)) == {"https://herald.example.com/slack/events"}
    assert "app_home_opened" in manifest and "users:read" in manifest


# -- modals -------------------------------------------------------------------------------------------------


def _form(**kw: object) -> modals.DraftForm:
    values: dict[str, object] = {"text": "Hi", "targets": ["x", "demo"], "mode": None, "at": None, "recurrence": ""}
    values.update(kw)
    return modals.DraftForm(**values)  # type: ignore[arg-type]


def test_the_draft_form_becomes_one_draft_command() -> None:
    at = int(datetime(2026, 12, 1, 9, 30, tzinfo=UTC).timestamp())

    assert modals.draft_command(_form()) == ("/draft --to x,demo --at now Hi", {})
    assert modals.draft_command(_form(at=at))[0] == "/draft --to x,demo --at 2026-12-01T09:30Z Hi"
    assert modals.draft_command(_form(mode="slot", at=at))[0] == "/draft --to x,demo --at next Hi"
    assert modals.draft_command(_form(recurrence="every weekday 09:00"))[0] == (
        '/draft --to x,demo --every "every weekday 09:00" Hi'
    )
    with_media = '/draft --to x,demo --at now --media "/m/a b.png" Hi'
    assert modals.draft_command(_form(), media=["/m/a b.png"])[0] == with_media
    assert modals.draft_command(_form(mode="at")) == ("", {"when": modals.wording.PICK_A_TIME})


def test_core_errors_land_on_the_block_they_are_about() -> None:
    picked = _form(at=1)
    assert modals.error_block(picked, "when", "in the past") == "when"
    assert modals.error_block(_form(mode="slot"), "when", "no free slot") == "when_mode"
    assert modals.error_block(_form(recurrence="every day"), "when", "bad schedule") == "recurrence"
    assert modals.error_block(_form(), "targets", "Which accounts?") == "targets"
    assert modals.error_block(_form(), None, "/draft has no option --media") == "images"
    assert modals.error_block(_form(), None, "Nobody but you can approve") == "text"


# -- pacing, identities ---------------------------------------------------------------------------------------


def test_the_pacer_books_one_slot_per_second_per_channel() -> None:
    now = [100.0]
    pacer = ChannelPacer(1.0, clock=lambda: now[0])

    waits = [pacer.reserve("C1"), pacer.reserve("C1"), pacer.reserve("C2"), pacer.reserve("C1")]
    now[0] = 105.0

    assert waits == [0.0, 1.0, 0.0, 2.0]
    assert pacer.reserve("C1") == 0.0


@pytest.mark.parametrize(("raw", "name"), [("Alice.Smith", "alice.smith"), ("Zoë Ö", "zo"), ("!!!", "u0x")])
def test_member_names_from_slack_usernames(raw: str, name: str) -> None:
    assert member_name(raw, "U0X") == name


@pytest.fixture
def fake() -> FakeSlack:
    with FakeSlack() as running:
        running.add_user("U0BOB00001", name="bob", real_name="Bob Builder", tz="Asia/Tokyo")
        yield running


async def test_identities_ask_users_info_once_and_fall_back_to_the_request(fake: FakeSlack) -> None:
    notifier = SlackNotifier(web_client(fake.bot_token, fake.base_url))
    identities = Identities(notifier.web)

    bob = await asyncio.gather(*(identities.sender("U0BOB00001", "ignored") for _ in range(20)))
    ghost = await identities.sender("U0GHOST001", "Ghost")
    await notifier.aclose()

    assert len(fake.calls("users.info")) == 2  # twenty concurrent lookups of bob share one call
    assert {(s.name, s.display_name, s.timezone) for s in bob} == {("bob", "bob", "Asia/Tokyo")}
    assert (ghost.name, ghost.timezone) == ("ghost", None)


# -- files --------------------------------------------------------------------------------------------------


async def test_images_are_fetched_with_the_bot_token(fake: FakeSlack, tmp_path: Path) -> None:
    image = fake.add_file("chart.png", b"\x89PNG chart")
    async with httpx.AsyncClient() as http:
        stored = await FileStore(http, fake.bot_token, tmp_path).fetch(image)
        again = await FileStore(http, fake.bot_token, tmp_path).fetch(image)
        with pytest.raises(InvalidInput, match=r"couldn't fetch chart.png"):
            await FileStore(http, "xoxb-wrong", tmp_path).fetch(image)  # Slack's sign-in page, not the image
        with pytest.raises(InvalidInput, match=r"not an image"):
            await FileStore(http, fake.bot_token, tmp_path).fetch(fake.add_file("brief.pdf", b"%PDF-"))

    assert stored == again and stored.size == len(b"\x89PNG chart") and stored.ref.endswith(".png")
    assert sorted(p.name for p in await asyncio.to_thread(lambda: list(tmp_path.iterdir()))) == [
        stored.ref,
        f"{stored.ref}.meta",
    ]
    assert (await LocalMediaStore(tmp_path).get(stored.ref)).data == b"\x89PNG chart"


# -- the notifier -------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("sqlite_db")
async def test_a_card_whose_message_is_gone_is_posted_again(fake: FakeSlack) -> None:
    notifier = SlackNotifier(web_client(fake.bot_token, fake.base_url), pacer=ChannelPacer(0))
    where = Conversation("slack", "C1")
    card = Reply(text="Post 1", ref="post:1:approval", post_id=1, buttons=(Button("Approve", "/approve 1"),))

    await notifier.notify(where, card)
    first = fake.messages_in("C1")[0]
    await notifier.web().chat_delete(channel="C1", ts=first.ts)
    await notifier.notify(where, Reply(text="Post 1 (v2)", ref="post:1:approval", post_id=1))
    await notifier.notify(where, Reply(text="Post 1 published: https://x", post_id=1))
    await notifier.aclose()

    (again, report) = fake.messages_in("C1")
    assert again.text == "Post 1 (v2)" and again.ts != first.ts
    assert report.thread_ts == again.ts
    row = await ChatMessageRef.get(adapter="slack", channel="C1", ref="post:1:approval")
    assert row.message_id == again.ts


@pytest.mark.usefixtures("sqlite_db")
async def test_direct_messages_go_to_the_user_and_cards_there_are_remembered(fake: FakeSlack) -> None:
    notifier = SlackNotifier(web_client(fake.bot_token, fake.base_url), pacer=ChannelPacer(0))
    dm = Conversation("slack", "dm:U0BOB00001")

    await notifier.notify(dm, Reply(text="Post 3 needs your approval", post_id=3, ephemeral=True))
    await notifier.notify(dm, Reply(text="card", ref="post:3:approval", post_id=3))
    await notifier.notify(dm, Reply(text="card v2", ref="post:3:approval", post_id=3))
    await notifier.aclose()

    assert [m.text for m in fake.messages_in("U0BOB00001")] == ["Post 3 needs your approval", "card v2"]
    assert fake.calls("chat.postEphemeral") == []


def test_the_web_client_builds_no_debug_lines_unless_herald_logs_at_debug() -> None:
    # slack-sdk formats a line listing every call's arguments when its logger's own level is <= DEBUG
    # (an unset level counts as 0), whatever the handlers would keep
    root = logging.getLogger()
    before = root.level
    try:
        root.setLevel(logging.INFO)
        assert web_client("xoxb-1", "http://127.0.0.1:9/api").logger.level == logging.INFO
        root.setLevel(logging.DEBUG)
        assert web_client("xoxb-1", "http://127.0.0.1:9/api").logger.level == logging.DEBUG
    finally:
        root.setLevel(before)
