"""The whole story in Telegram, every update sent to ``/telegram/webhook`` over HTTP as Telegram sends it:
alice drafts in her private chat → the card with its keyboard in her chat and in the approvals group → bob
presses Approve in the group → the callback is answered, the card edited in place in both chats, the decision a
reply to the card → a worker (its own Telegram notifier, as in another process) publishes with the dry-run
publisher → "published" as a reply to the card in both chats, the card says so and has no keyboard left."""

from __future__ import annotations

import pytest

from bot.notifiers import RoutingNotifier
from bot.telegram import notifier as telegram_notifier
from handlers.ports import SystemClock
from models.approvals import ApprovalDecision
from models.chatrefs import ChatMessageRef
from tasks.dispatcher import Dispatcher
from tasks.platforms import dry_run
from tasks.publish import run_deliveries
from tasks.reports import ReportRelay
from tasks.runtime import Runtime
from tests.bot.telegram_harness import USERS, TelegramHarness, harness, settings_for
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.usefixtures("pg_db")
ALICE = USERS["alice"]


async def drafted(h: TelegramHarness, *, at: str = "now") -> None:
    """alice (the first member: admin) sets up a dry-run account, bob as editor, the policy's approvals group;
    then drafts in her private chat."""
    await h.say("alice", "/whoami")
    for text in ("/account add dryrun demo", "/role add bob editor"):
        await h.say("alice", text)
    await h.say("alice", f"/policy set demo level1=role:editor channel=telegram:{h.group}")
    await h.say("alice", f'/draft Big launch! <b>not bold</b> --to demo --at "{at}"')


async def published_by_a_worker(h: TelegramHarness) -> None:
    """The dispatcher hands the approved post out; a worker publishes it (dry run) and reports through a Telegram
    notifier of its own, built from the settings as ``herald worker`` builds it."""
    queued: list[int] = []

    async def enqueue(chunk: list[tuple[int, object]]) -> None:
        queued.extend(delivery_id for delivery_id, _ in chunk)

    await Dispatcher(enqueue, lead=0).tick()
    worker_side = telegram_notifier.from_settings(settings_for(h.fake))
    notifier = RoutingNotifier({"telegram": worker_side})
    relay = ReportRelay(notifier, SystemClock())
    runtime = Runtime(publishers=dry_run(), notifier=notifier, reports=relay)
    try:
        assert await run_deliveries(runtime, [(delivery_id, None) for delivery_id in queued])
        await relay.drain(within=10)
    finally:
        await worker_side.aclose()


async def test_draft_card_approve_click_edit_and_published_report_as_replies() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await drafted(h)
            card = h.card(h.group)
            mine = h.card(ALICE)
            assert card.labels() == ["Approve", "Request changes", "Reject"] == mine.labels()
            assert card.parse_mode == "HTML" and "<b>not bold</b>" in str(card.text)  # escaped: shown as typed
            assert '<a href="tg://user?id=1001">@alice</a>' in str(card.raw)  # the author, as a Telegram mention
            assert all(len(b["callback_data"].encode()) <= 64 for b in card.buttons())

            click = await h.click("bob", card, "Approve")
            query = click["callback_query"]["id"]
            (answer,) = fake.answers_to(query)
            assert answer.text.startswith("Post 1") and not answer.show_alert
            assert h.card(h.group).edits == 1 and h.card(ALICE).edits == 1  # the same messages, edited in place
            assert "Approved by: @bob" in str(h.card(h.group).text)
            decided = h.replies_to(card)
            assert len(decided) == 1 and "approved" in decided[0]

            await published_by_a_worker(h)
            await h.settle()

        for shown in (h.card(h.group), h.card(ALICE)):
            assert shown.labels() == []  # final: the keyboard is gone
            assert "published" in str(shown.text)
            assert any("published" in line for line in h.replies_to(shown))
    assert await ApprovalDecision.all().count() == 1
    refs = await ChatMessageRef.filter(adapter="telegram", ref="post:1:approval").values_list("channel", flat=True)
    assert sorted(refs) == sorted([str(h.group), str(ALICE)])
