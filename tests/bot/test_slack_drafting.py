"""Drafting from Slack: the /draft modal (errors on the right field), and /draft with text skipping it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.posts import Post
from tests.bot.harness import GENERAL, SlackHarness, fields_of, harness, labels, user_id
from tests.fakes import slack_requests as inbound
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("sqlite_db")


async def team(h: SlackHarness) -> None:
    await h.command("/herald", "whoami")  # alice first: she is the admin
    await h.settle()
    for text in ("account add dryrun demo", "account add x brand-x", "role add bob approver"):
        await h.command("/herald", text)
    await h.settle()
    h.fake.reset()


def form(
    text: str | None,
    targets: list[str],
    *,
    mode: str | None = None,
    at: datetime | None = None,
    repeat: str | None = None,
    files: list[dict[str, object]] | None = None,
) -> dict[str, dict[str, dict[str, object]]]:
    return {
        "text": {"text": inbound.plain_text_input(text)},
        "targets": {"targets": inbound.multi_static_select(targets)},
        "when_mode": {"when_mode": inbound.static_select(mode)},
        "when": {"when": inbound.datetimepicker(at)},
        "recurrence": {"recurrence": inbound.plain_text_input(repeat)},
        "images": {"images": inbound.file_input(files or [])},
    }


async def open_modal(h: SlackHarness) -> str:
    """Run /draft; returns the modal's private_metadata."""
    acked = await h.command("/draft", "")
    await h.settle()
    assert (acked.status_code, acked.text) == (200, "")
    (opened,) = h.fake.calls("views.open")
    return str(opened.args["view"]["private_metadata"])


async def test_bare_draft_opens_the_modal_with_the_accounts(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await team(h)
        metadata = await open_modal(h)

    view = fake.last("views.open").args["view"]
    assert view["callback_id"] == "herald.draft"
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert list(blocks) == ["text", "targets", "when_mode", "when", "recurrence", "images"]
    assert [o["value"] for o in blocks["targets"]["element"]["options"]] == ["brand-x", "demo"]
    assert blocks["when"]["element"]["type"] == "datetimepicker"
    assert blocks["images"]["element"]["type"] == "file_input"
    assert [o["value"] for o in blocks["when_mode"]["element"]["options"]] == ["now", "slot", "at"]
    assert json.loads(metadata)["channel"] == GENERAL


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        (form("x" * 312, ["brand-x"]), {"text": "X allows 280 characters, this is 312."}),
        (form("Hello", ["brand-x"], mode="at"), {"when": "Pick a date and time, or choose Now or Next free slot."}),
        (
            form("Hello", []),
            {"targets": "Which accounts? Add --to ACCOUNT (several: --to x,linkedin); /account list shows them."},
        ),
    ],
    ids=["too-long-for-x", "at-without-time", "no-targets"],
)
async def test_submit_errors_come_back_on_their_block(
    fake: FakeSlack, values: dict[str, dict[str, dict[str, object]]], errors: dict[str, str]
) -> None:
    async with harness(fake) as h:
        await team(h)
        metadata = await open_modal(h)
        submitted = await h.submit("herald.draft", values, metadata)
        await h.settle()

    assert submitted.status_code == 200
    assert submitted.json() == {"response_action": "errors", "errors": errors}
    assert await Post.all().count() == 0
    assert fake.calls("chat.postMessage") == []


async def test_a_past_time_is_an_error_on_the_picker(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await team(h)
        metadata = await open_modal(h)
        past = datetime.now(UTC) - timedelta(days=1)
        submitted = await h.submit("herald.draft", form("Hello", ["demo"], at=past), metadata)

    answer = submitted.json()
    assert list(answer["errors"]) == ["when"] and "in the past" in answer["errors"]["when"]


async def test_submit_closes_the_modal_and_posts_the_card(fake: FakeSlack) -> None:
    due = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    async with harness(fake) as h:
        await team(h)
        metadata = await open_modal(h)
        submitted = await h.submit("herald.draft", form("Launch day!\nSecond line", ["demo"], at=due), metadata)
        await h.settle()

    assert (submitted.status_code, submitted.text) == (200, "")
    (post,) = await Post.all()
    assert (post.text, post.due_at) == ("Launch day!\nSecond line", due)
    (card,) = h.cards(GENERAL)
    assert labels(card) == ["Approve", "Request changes", "Reject"]
    assert card.text.startswith("Post 1 by <@U0ALICE001> — awaiting approval")  # no version until there is a second
    (confirm,) = fake.calls("chat.postEphemeral")
    assert confirm.args["user"] == user_id("alice")
    assert confirm.args["text"].startswith("Post 1 is waiting for approval (anyone with role")


async def test_draft_with_text_skips_the_modal(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await team(h)
        await h.command("/draft", 'Big news! --to demo --at "tomorrow 9am"', as_="alice")
        await h.settle()

    assert fake.calls("views.open") == []
    (post,) = await Post.all()
    assert post.text == "Big news!"
    berlin = ZoneInfo("Europe/Berlin")  # alice's time zone in Slack
    tomorrow = datetime.now(berlin).date() + timedelta(days=1)
    assert post.due_at == datetime.combine(tomorrow, time(9, 0), berlin)
    (card,) = h.cards(GENERAL)
    fields = fields_of(card)
    assert fields["When"].endswith(("CET", "CEST")) and " 09:00 " in fields["When"]
    assert (fields["Targets"], fields["Author"], fields["Awaiting"]) == ("demo", "<@U0ALICE001>", "@bob")


async def test_the_card_previews_each_target_platform(fake: FakeSlack) -> None:
    link = "https://example.com/" + "n" * 300
    async with harness(fake) as h:
        await team(h)
        await h.command("/draft", f"Big news & more: {link} --to brand-x,demo", as_="alice")
        await h.settle()

    (card,) = h.cards(GENERAL)
    previews = [b["elements"][0]["text"] for b in card.blocks or [] if b["type"] == "context"]
    assert [p.split("\n")[0] for p in previews] == [
        "*X · brand-x* · 40/280 characters",
        "*Dry run · demo* · 337 characters",
    ]
    assert previews[0].split("\n")[1].startswith("Big news &amp; more: https://example.com/nnn")
    assert previews[0].endswith("…") and len(previews[0]) < 200  # shortened
    assert [b["type"] for b in card.blocks or []] == ["section", "section", "context", "context", "actions"]
    assert "Characters" not in fields_of(card)


async def test_no_accounts_means_no_modal_but_a_sentence(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await h.command("/draft", "")
        await h.settle()

    assert fake.calls("views.open") == []
    assert fake.last("chat.postEphemeral").args["text"].startswith("There are no accounts to post to yet")


async def test_a_slow_submit_closes_the_modal_and_reports_later(fake: FakeSlack) -> None:
    async with harness(fake, submit_timeout=0.0) as h:
        await team(h)
        metadata = await open_modal(h)
        submitted = await h.submit("herald.draft", form("x" * 312, ["brand-x"]), metadata)
        await h.settle()

    assert (submitted.status_code, submitted.text) == (200, "")
    assert fake.last("chat.postEphemeral").args["text"] == "X allows 280 characters, this is 312."
