"""Buttons in Telegram: every callback query answered with a sentence; refusals as an alert for the clicker alone;
double, stale and unknown clicks; reasons asked with a ForceReply prompt; the answer that can't wait for the core."""

from __future__ import annotations

import logging

import pytest
import structlog

from bot.telegram.callbacks import token_for
from handlers.messages import Button
from models.approvals import ApprovalDecision
from models.dialogs import CallbackToken
from models.posts import Post
from tests.bot.telegram_harness import USERS, TelegramHarness, harness
from tests.fakes.telegram import QUERY_TOO_OLD, FakeTelegram

pytestmark = pytest.mark.usefixtures("pg_db")
ALICE = USERS["alice"]


async def drafted(h: TelegramHarness) -> None:
    await h.say("alice", "/whoami")
    for text in ("/account add dryrun demo", "/role add bob editor"):
        await h.say("alice", text)
    await h.say("alice", f"/policy set demo level1=role:editor channel=telegram:{h.group}")
    await h.say("alice", '/draft Big launch! --to demo --at "tomorrow 09:00"')


async def test_a_refusal_is_an_alert_only_the_clicker_sees_and_nothing_is_posted() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await drafted(h)
            card = h.card(h.group)
            before = len(fake.messages)
            click = await h.click("dave", card, "Approve")

        (answer,) = fake.answers_to(click["callback_query"]["id"])
        assert answer.show_alert and answer.text == "⚠️ Level 1 of post 1 needs anyone with role editor."
        assert len(fake.messages) == before and card.edits == 0  # nothing in the group, the card as it was
    assert await ApprovalDecision.all().count() == 0


async def test_a_double_click_is_answered_twice_and_decided_once() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await drafted(h)
            card = h.card(h.group)
            first = fake.click(USERS["bob"], card, "Approve")
            second = fake.click(USERS["bob"], card, "Approve")  # the same card, before it was edited
            assert (await h.send(first)).status_code == 200
            assert (await h.send(second)).status_code == 200
            await h.settle()

        answers = [fake.answers_to(u["callback_query"]["id"]) for u in (first, second)]
        assert [len(a) for a in answers] == [1, 1]
        texts = sorted(a[0].text for a in answers)
        assert any("already approved" in t for t in texts), texts
        assert card.edits == 1 and len(h.replies_to(card)) == 1
    assert await ApprovalDecision.all().count() == 1


async def test_a_stale_click_on_an_old_card_and_a_query_too_old_are_answered_or_logged_never_a_crash() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await drafted(h)
            card = h.card(h.group)
            approve = card.data("Approve")
            await h.click("bob", card, "Approve")
            old = fake.callback_update(USERS["bob"], card, approve)  # the keyboard as it was before the decision
            await h.send(old)
            await h.settle()
            (answer,) = fake.answers_to(old["callback_query"]["id"])
            assert answer.text == "You already approved post 1; nothing changed."

            fake.query_timeout = 0.0  # Telegram no longer takes an answer for this query
            late = fake.callback_update(USERS["bob"], card, approve)
            with structlog.testing.capture_logs() as logs:
                await h.send(late)
                await h.settle()
            assert fake.answers_to(late["callback_query"]["id"]) == []
            (refused,) = [e for e in logs if e["event"] == "telegram.answer_refused"]
            assert refused["description"] == QUERY_TOO_OLD.removeprefix("Bad Request: ").capitalize()
    assert await ApprovalDecision.all().count() == 1


async def test_unknown_or_foreign_callback_data_gets_a_sentence() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await drafted(h)
            card = h.card(h.group)
            update = fake.callback_update(USERS["bob"], card, "not-a-herald-button")
            assert (await h.send(update)).status_code == 200
            await h.settle()
        (answer,) = fake.answers_to(update["callback_query"]["id"])
        assert answer.show_alert and "doesn't work any more" in answer.text
        assert card.edits == 0


async def test_button_tokens_are_short_stored_and_read_back_by_any_process() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await drafted(h)
            card = h.card(h.group)
            data = card.data("Approve")
            assert data == token_for(Button("Approve", "/approve 1", "primary"))
            row = await CallbackToken.get(token=data)
            assert (row.command, row.adapter) == ("/approve 1", "telegram") and len(data) <= 32
            h.telegram.adapter.callbacks._known.clear()  # as a process that didn't render the card: from the table
            await h.click("bob", card, "Approve")
    assert await ApprovalDecision.all().count() == 1


async def test_reject_asks_for_the_reason_with_a_force_reply_and_the_reply_completes_it() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await drafted(h)
            card = h.card(h.group)
            click = await h.click("bob", card, "Reject")
            (prompt,) = [m for m in fake.messages_in(h.group) if (m.raw or "").startswith('<a href="tg://user?id=1002')]
            assert prompt.reply_to == card.message_id
            assert prompt.reply_markup is not None and prompt.reply_markup["force_reply"] is True
            assert fake.answers_to(click["callback_query"]["id"])[0].text == "Reply to my message below."
            # someone else answering the prompt changes nothing
            await h.say("dave", "looks fine to me", chat=h.group, reply_to=prompt)
            assert (await Post.get(id=1)).state == "pending_approval"
            await h.say("bob", "off-brand", chat=h.group, reply_to=prompt)

    post = await Post.get(id=1)
    assert post.state == "rejected"
    decision = await ApprovalDecision.get(post_id=1)
    assert decision.reason == "off-brand"


async def test_with_a_short_budget_the_click_is_answered_at_once_and_a_refusal_follows_as_a_reply() -> None:
    with FakeTelegram() as fake:
        async with harness(fake, answer_budget=0.0) as h:
            await drafted(h)
            card = h.card(h.group)
            click = await h.click("dave", card, "Approve")

        (answer,) = fake.answers_to(click["callback_query"]["id"])
        assert (answer.text, answer.show_alert) == ("On it…", False)
        (said,) = h.replies_to(card)
        assert said == "⚠️ @dave: Level 1 of post 1 needs anyone with role editor."


async def test_a_group_that_removed_the_bot_is_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await drafted(h)
            card = h.card(h.group)
            fake.set_bot(h.group, "kicked")
            with structlog.testing.capture_logs() as logs:
                click = await h.click("bob", card, "Approve")
        assert fake.answers_to(click["callback_query"]["id"])  # the clicker still got an answer
        kicked = [e for e in logs if e["event"] == "telegram.cant_write"]
        assert kicked and kicked[0]["description"] == "Forbidden: bot was kicked from the supergroup chat"
    assert await ApprovalDecision.all().count() == 1
    assert logging.ERROR not in [r.levelno for r in caplog.records]
