"""Approval in the channel: the card posted, clicked, edited in place; events in its thread; wrong clicks."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from models.approvals import ApprovalDecision
from models.chatrefs import ChatMessageRef
from tests.bot.harness import APPROVALS, GENERAL, SlackHarness, fields_of, harness, labels, user_id
from tests.fakes import slack_requests as inbound
from tests.fakes.slack import FakeSlack, PostedMessage

pytestmark = pytest.mark.usefixtures("pg_db")


async def two_levels(h: SlackHarness) -> None:
    """alice (admin) drafts; level 1: role editor (bob); level 2: carol; cards also go to #approvals."""
    await h.command("/herald", "whoami")
    await h.settle()
    for text in ("account add dryrun demo", "role add bob editor", "role add carol reviewer"):
        await h.command("/herald", text)
    await h.settle()
    await h.command("/herald", f"policy set demo level1=role:editor level2=@carol channel=slack:{APPROVALS}")
    await h.settle()
    await h.command("/draft", "--to demo --at tomorrow 09:00 Big launch!")
    await h.settle()


def card_in(h: SlackHarness, channel: str) -> PostedMessage:
    (card,) = h.cards(channel)
    return card


async def test_two_levels_by_clicks_edit_the_card_in_place(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await two_levels(h)
        first = card_in(h, APPROVALS)
        assert fields_of(first)["Level"] == "1 of 2" and fields_of(first)["Awaiting"] == "@bob"  # not in Slack yet

        assert (await h.click(first, "Approve", as_="bob")).status_code == 200
        await h.settle()
        after_bob = card_in(h, APPROVALS)
        await h.click(after_bob, "Approve", as_="carol")
        await h.settle()

    final = card_in(h, APPROVALS)
    assert final.ts == first.ts and final.edits == 2  # one message, edited after each decision
    assert labels(final) == []  # final: no buttons left
    assert fields_of(final)["Approved by"] == "<@U0BOB00001> (level 1), <@U0CAROL001> (level 2)"
    assert fields_of(after_bob)["Level"] == "2 of 2" and fields_of(after_bob)["Awaiting"] == "@carol"
    # decisions are thread replies under the card, where they were clicked
    thread = [m.text for m in fake.messages_in(APPROVALS, thread_ts=first.ts)]
    assert thread == [
        "Post 1: <@U0BOB00001> approved; now at level 2 of 2 (@carol).",
        thread[1],
    ] and thread[1].startswith("Post 1 approved by <@U0CAROL001>; it goes to demo at ")
    # the card where the draft was made is kept up to date too, and the decisions are told there, to alice
    origin = card_in(h, GENERAL)
    assert origin.edits == 2 and labels(origin) == []
    told = [m.text for m in fake.messages_in(GENERAL, thread_ts=origin.ts)]
    assert told == [line.replace("Post 1", "Post 1 by <@U0ALICE001>", 1) for line in thread]
    refs = await ChatMessageRef.filter(ref="post:1:approval").order_by("channel").values_list("channel", flat=True)
    assert refs == [APPROVALS, GENERAL]


async def test_an_unauthorised_click_gets_one_ephemeral_sentence(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await two_levels(h)
        before = len(fake.calls())
        card = card_in(h, APPROVALS)
        await h.click(card, "Approve", as_="dave")
        await h.settle()

    calls = fake.calls()[before:]
    (said,) = [c for c in calls if c.method == "chat.postEphemeral"]
    assert (said.args["user"], said.args["channel"]) == (user_id("dave"), APPROVALS)
    assert said.args["text"] == "Level 1 of post 1 needs anyone with role editor."
    assert [c.method for c in calls if c.method.startswith("chat.")] == ["chat.postEphemeral"]
    assert card_in(h, APPROVALS).edits == 0
    assert await ApprovalDecision.all().count() == 0


async def test_a_double_click_changes_nothing_the_second_time(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await two_levels(h)
        card = card_in(h, APPROVALS)
        await h.click(card, "Approve", as_="bob")
        await h.click(card, "Approve", as_="bob")  # the stale card, clicked again before it was updated
        await h.settle()

    assert await ApprovalDecision.all().count() == 1
    repeats = [c.args["text"] for c in fake.calls("chat.postEphemeral") if c.args["user"] == user_id("bob")]
    assert repeats == ["You already approved post 1; nothing changed."]
    assert card_in(h, APPROVALS).edits == 1


async def test_reject_asks_for_a_reason_in_a_modal(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await two_levels(h)
        card = card_in(h, APPROVALS)
        await h.click(card, "Reject", as_="bob")
        await h.settle()
        (opened,) = fake.calls("views.open")
        view = opened.args["view"]
        empty = await h.submit(
            "herald.ask", {"answer": {"answer": inbound.plain_text_input("")}}, view["private_metadata"], as_="bob"
        )
        submitted = await h.submit(
            "herald.ask",
            {"answer": {"answer": inbound.plain_text_input("off-brand")}},
            view["private_metadata"],
            as_="bob",
        )
        await h.settle()

    assert view["callback_id"] == "herald.ask"  # titled with the button's label (the fake sends the value)
    assert json.loads(view["private_metadata"])["command"] == "/reject 1"
    assert empty.json() == {"response_action": "errors", "errors": {"answer": "Please fill this in."}}
    assert (submitted.status_code, submitted.text) == (200, "")
    final = card_in(h, APPROVALS)
    assert labels(final) == [] and final.text.startswith("Post 1 by <@U0ALICE001> — rejected")
    assert "State" not in fields_of(final)  # the header says it
    assert [m.text for m in fake.messages_in(APPROVALS, thread_ts=card.ts)] == [
        "Post 1 rejected by <@U0BOB00001>: off-brand"
    ]


async def test_an_answer_the_core_refuses_stays_in_the_modal(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await two_levels(h)
        card = card_in(h, APPROVALS)
        await h.click(card, "Request changes", as_="dave")
        await h.settle()
        metadata = fake.last("views.open").args["view"]["private_metadata"]
        submitted = await h.submit(
            "herald.ask", {"answer": {"answer": inbound.plain_text_input("typo")}}, metadata, as_="dave"
        )

    assert submitted.json() == {
        "response_action": "errors",
        "errors": {"answer": "Level 1 of post 1 needs anyone with role editor."},
    }
    assert card_in(h, APPROVALS).edits == 0


async def test_a_429_is_retried_after_retry_after(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await two_levels(h)
        posted_before = len(fake.calls("chat.postMessage"))
        fake.rate_limit("chat.postMessage", times=1, retry_after=1)
        fake.rate_limit("chat.update", times=1, retry_after=1)
        await h.click(card_in(h, APPROVALS), "Approve", as_="bob")
        await h.settle()

    posts, updates = fake.calls("chat.postMessage")[posted_before:], fake.calls("chat.update")
    assert [c.status for c in posts][:2] == [429, 200] and [c.status for c in updates][:2] == [429, 200]
    assert posts[1].at - posts[0].at >= 1.0 and updates[1].at - updates[0].at >= 1.0
    assert fields_of(card_in(h, APPROVALS))["Level"] == "2 of 2"


async def test_messages_to_one_channel_are_paced(fake: FakeSlack) -> None:
    async with harness(fake, pace=0.3) as h:
        for text in ("account add dryrun demo", "role add bob approver"):  # answered ephemerally: not paced
            await h.command("/herald", text)
        await h.settle()
        began = time.monotonic()
        for text in ("one", "two", "three"):
            await h.command("/draft", f"--to demo --at tomorrow 09:00 {text}")
        await h.settle()
        took = time.monotonic() - began

    posts = fake.calls("chat.postMessage")
    assert len(posts) == 3
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert min(gaps) >= 0.28 and took >= 0.55


async def test_app_home_shows_what_awaits_me(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await two_levels(h)
        await h.event(
            {
                "type": "app_home_opened",
                "user": user_id("bob"),
                "channel": "D0BOB00001",
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            }
        )
        await h.settle()
        (published,) = fake.calls("views.publish")
        view = published.args["view"]
        approve = next(e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"])
        clicked = await h.send(
            inbound.block_action(
                approve["action_id"],
                approve["value"],
                user_id("bob"),
                None,
                None,
                user_name="bob",
                view={"id": "V0HOME0001", "type": "home"},
            )
        )
        await h.settle()

    texts = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section" and "text" in b]
    assert published.args["user_id"] == user_id("bob") and view["type"] == "home"
    assert texts[0].startswith("Your open posts:\nnone")
    assert texts[1] == "Waiting for your approval:"
    assert texts[2].startswith("#1 [awaiting approval] → demo")
    assert texts[3].startswith("The next 7 days:\n#1 [awaiting approval]")
    assert clicked.status_code == 200
    assert fields_of(card_in(h, APPROVALS))["Level"] == "2 of 2"
    assert len(fake.calls("views.publish")) == 2  # refreshed after the click
    dm = [c.args["text"] for c in fake.calls("chat.postMessage") if c.args["channel"] == user_id("bob")]
    assert "Post 1: <@U0BOB00001> approved; now at level 2 of 2 (@carol)." in dm
