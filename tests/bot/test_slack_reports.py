"""Reports (published, failed …) as thread replies under the post's card, in every channel showing it,
and the card itself edited to say how each target fared.

A worker tells a report to the conversation the draft came from, through the Slack notifier; the
notifier also threads it under the card in the policy's approvals channel. Here the report is told
exactly as a worker tells it (``notifier.notify(origin, reply)``), after a real draft through Slack; the
card's tests publish through a worker's own path (claim, publish, record, its report relay).
"""

from __future__ import annotations

import asyncio
import logging
from zoneinfo import ZoneInfo

import pytest
import structlog
from slack_sdk.errors import SlackApiError

from bot.notifiers import RoutingNotifier
from handlers.drafting.views import approval_card
from handlers.messages import Button, Conversation, Reply
from handlers.ports import SystemClock
from models.posts import Post
from tasks.dispatcher import Dispatcher
from tasks.platforms import DryRunPublisher, Publishers
from tasks.publish import run_deliveries
from tasks.reports import ReportRelay
from tasks.runtime import Runtime
from tests.bot.harness import APPROVALS, GENERAL, SlackHarness, fields_of, harness, labels
from tests.fakes.slack import FakeSlack, PostedMessage

pytestmark = pytest.mark.usefixtures("pg_db")

PUBLISHED = Reply(
    text="Post 1 published to demo (Dry run): https://dryrun.invalid/demo/dry-1", post_id=1, kind="report"
)
FAILED = Reply(
    text="Post 1 failed on demo (Dry run): Fake said: Validation failed: duplicate status.",
    buttons=(Button("Retry", "/retry 1"),),
    post_id=1,
    kind="report",
)


async def drafted(
    h: SlackHarness, *, approvals: str = APPROVALS, where: str = GENERAL, to: str = "demo", at: str = "tomorrow 09:00"
) -> Conversation:
    """alice drafts post 1 in ``where``; the policy shows its card in ``approvals`` too. Returns the origin."""
    await h.command("/herald", "whoami")
    await h.settle()
    for text in ("account add dryrun demo", "account add x acme", "role add bob approver"):
        await h.command("/herald", text)
    await h.settle()
    for account in to.split(","):
        await h.command("/herald", f"policy set {account} level1=role:approver channel=slack:{approvals}")
    await h.settle()
    await h.command("/draft", f"--to {to} --at {at} Big launch!", channel=where)
    await h.settle()
    post = await Post.get(id=1)
    return Conversation.from_json(post.origin)


def card_in(h: SlackHarness, channel: str) -> PostedMessage:
    (card,) = h.cards(channel)
    return card


def thread(fake: FakeSlack, card: PostedMessage) -> list[str]:
    return [m.text for m in fake.messages_in(card.channel, thread_ts=card.ts)]


async def test_a_report_lands_under_the_card_where_it_was_drafted_and_in_the_approvals_channel(
    fake: FakeSlack,
) -> None:
    async with harness(fake) as h:
        origin = await drafted(h)
        await h.slack.adapter.notifier.notify(origin, PUBLISHED)

    assert origin == Conversation("slack", GENERAL)
    assert thread(fake, card_in(h, GENERAL)) == [PUBLISHED.text]
    assert thread(fake, card_in(h, APPROVALS)) == [PUBLISHED.text]
    assert [c.args["channel"] for c in fake.calls("chat.postMessage") if c.args["text"] == PUBLISHED.text] == [
        GENERAL,
        APPROVALS,
    ]


async def test_drafted_in_the_approvals_channel_the_report_comes_once(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        origin = await drafted(h, where=APPROVALS)
        await h.slack.adapter.notifier.notify(origin, PUBLISHED)

    card = card_in(h, APPROVALS)
    assert thread(fake, card) == [PUBLISHED.text]
    assert [m.text for m in fake.messages_in(APPROVALS)].count(PUBLISHED.text) == 1
    assert h.cards(GENERAL) == [] and PUBLISHED.text not in [m.text for m in fake.messages_in(GENERAL)]


async def test_a_failure_report_keeps_its_buttons_in_both_places(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        origin = await drafted(h)
        await h.slack.adapter.notifier.notify(origin, FAILED)

    for channel in (GENERAL, APPROVALS):
        card = card_in(h, channel)
        (report,) = fake.messages_in(channel, thread_ts=card.ts)
        assert report.text == FAILED.text and labels(report) == ["Retry"]
        (element,) = [e for b in report.blocks or [] if b["type"] == "actions" for e in b["elements"]]
        assert (element["action_id"], element["value"]) == ("herald.retry", "/retry 1")


async def test_a_channel_that_fails_does_not_keep_the_report_from_the_others(fake: FakeSlack) -> None:
    third = "C0THIRD001"
    async with harness(fake) as h:
        origin = await drafted(h)
        card = await approval_card(await Post.get(id=1), tz=ZoneInfo("UTC"))
        await h.slack.adapter.notifier.notify(Conversation("slack", third), card)  # shown in a third channel
        fake.fail("chat.postMessage", "is_archived", channel=APPROVALS)
        with structlog.testing.capture_logs() as logs:
            await h.slack.adapter.notifier.notify(origin, PUBLISHED)  # doesn't raise

    assert thread(fake, card_in(h, GENERAL)) == [PUBLISHED.text]
    assert thread(fake, card_in(h, APPROVALS)) == []
    assert thread(fake, card_in(h, third)) == [PUBLISHED.text]
    assert [(e["event"], e["channel"], e["error"]) for e in logs] == [
        ("slack.report_not_threaded", APPROVALS, "is_archived")
    ]


async def test_if_the_origin_fails_nothing_is_posted_so_a_retry_posts_each_once(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        origin = await drafted(h)
        fake.fail("chat.postMessage", "fatal_error", channel=GENERAL)
        with pytest.raises(SlackApiError):
            await h.slack.adapter.notifier.notify(origin, PUBLISHED)
        assert thread(fake, card_in(h, APPROVALS)) == []
        await h.slack.adapter.notifier.notify(origin, PUBLISHED)  # the straggler pass, later

    assert thread(fake, card_in(h, GENERAL)) == [PUBLISHED.text]
    assert thread(fake, card_in(h, APPROVALS)) == [PUBLISHED.text]


async def test_a_report_costs_one_query(fake: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    async with harness(fake) as h:
        origin = await drafted(h)
        with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
            await h.slack.adapter.notifier.notify(origin, PUBLISHED)

    queries = [r.getMessage() for r in caplog.records if r.name == "tortoise.db_client"]
    assert len(queries) == 1 and "chat_message_refs" in queries[0]
    assert thread(fake, card_in(h, APPROVALS)) == [PUBLISHED.text]


async def test_reports_told_together_each_land_under_their_own_cards(fake: FakeSlack) -> None:
    """A burst's reports look their cards up in one query; each still finds its own post's cards."""
    async with harness(fake) as h:
        origin = await drafted(h)
        await h.command("/draft", "--to demo --at tomorrow 10:00 Second launch!")
        await h.settle()
        second = Reply(
            text="Post 2 published to demo (Dry run): https://dryrun.invalid/demo/dry-2", post_id=2, kind="report"
        )
        notifier = h.slack.adapter.notifier
        await asyncio.gather(notifier.notify(origin, PUBLISHED), notifier.notify(origin, second))

    for channel in (GENERAL, APPROVALS):
        first_card, second_card = h.cards(channel)
        assert thread(fake, first_card) == [PUBLISHED.text]
        assert thread(fake, second_card) == [second.text]


async def published_by_a_worker(h: SlackHarness, publishers: Publishers) -> None:
    """bob approves post 1 (due now) on its card; the dispatcher hands it out and a worker publishes it and
    tells Slack as a worker process does, through its report relay (which tells in the background)."""
    await h.click(card_in(h, APPROVALS), "Approve", as_="bob")
    await h.settle()
    queued: list[int] = []

    async def enqueue(chunk: list[tuple[int, object]]) -> None:
        queued.extend(delivery_id for delivery_id, _ in chunk)

    await Dispatcher(enqueue, lead=0).tick()
    notifier = RoutingNotifier({"slack": h.slack.adapter.notifier})
    relay = ReportRelay(notifier, SystemClock())
    runtime = Runtime(publishers=publishers, notifier=notifier, reports=relay)
    assert await run_deliveries(runtime, [(delivery_id, None) for delivery_id in queued])
    await relay.drain(within=10)


def sections(card: PostedMessage) -> list[str]:
    return [b["text"]["text"] for b in card.blocks or [] if b["type"] == "section" and "text" in b]


async def test_after_publishing_the_card_says_published_with_the_link_wherever_it_is_shown(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await drafted(h, at="now")
        await published_by_a_worker(h, Publishers({}, fallback=DryRunPublisher()))

    for channel in (GENERAL, APPROVALS):
        card = card_in(h, channel)
        assert card.text.startswith("Post 1 by <@U0ALICE001> — published")
        assert ":white_check_mark: *demo (Dry run)* — published: https://dryrun.invalid/demo/dry-1" in sections(card)
        assert labels(card) == [] and fields_of(card)["Approved by"] == "<@U0BOB00001>"
        assert (
            thread(fake, card)[-1]
            == "Post 1 by <@U0ALICE001> published to demo (Dry run): https://dryrun.invalid/demo/dry-1"
        )
    card_updates = [c for c in fake.calls("chat.update") if "published" in str(c.args["text"]).split("\n")[0]]
    assert sorted(c.args["channel"] for c in card_updates) == sorted([GENERAL, APPROVALS])  # once in each


async def test_a_target_that_failed_shows_its_reason_and_retry_on_the_card(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await drafted(h, to="demo,acme", at="now")
        # no publisher for X in this worker: that target fails, the other goes out
        await published_by_a_worker(h, Publishers({"dryrun": DryRunPublisher()}))

    for channel in (GENERAL, APPROVALS):
        card = card_in(h, channel)
        assert card.text.startswith("Post 1 by <@U0ALICE001> — failed")
        assert sections(card)[-2:] == [
            ":white_check_mark: *demo (Dry run)* — published: https://dryrun.invalid/demo/dry-1",
            ":x: *acme (X)* — failed: Herald can't publish to x yet.",
        ]
        assert labels(card) == ["Retry"]
    retry = [e for b in card_in(h, APPROVALS).blocks or [] if b["type"] == "actions" for e in b["elements"]]
    assert [(e["action_id"], e["value"]) for e in retry] == [("herald.retry", "/retry 1")]


async def test_a_card_rendered_before_the_one_shown_does_not_undo_it(fake: FakeSlack) -> None:
    """A web process renders the card at a click and is held up behind its paced messages; meanwhile a worker
    renders the outcome and shows it. The older render, arriving last, is dropped."""
    async with harness(fake) as h:
        origin = await drafted(h)
        older = await approval_card(await Post.get(id=1))
        await Post.filter(id=1).update(text="Big launch, now with the outcome!")
        newer = await approval_card(await Post.get(id=1))
        await h.slack.adapter.notifier.notify(origin, newer)
        await h.slack.adapter.notifier.notify(origin, older)

    card = card_in(h, GENERAL)
    assert card.edits == 1 and "now with the outcome" in card.text
