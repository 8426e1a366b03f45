"""Requests as Slack sends them, to the running ASGI app: verification, acks, commands, ephemeral answers."""

from __future__ import annotations

import json
import time

import pytest

from models.members import Member
from tests.bot.harness import APPROVALS, GENERAL, harness, user_id
from tests.fakes import slack_requests as inbound
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("pg_db")


@pytest.mark.parametrize("tamper", ["forge", "replay"])
async def test_bad_or_stale_signature_gets_401_and_nothing_happens(fake: FakeSlack, tamper: str) -> None:
    async with harness(fake) as h:
        fake.reset()  # forget the start-up auth.test
        command = inbound.slash_command(
            "/herald",
            "account add dryrun demo",
            user_id("alice"),
            GENERAL,
            user_name="alice",
            forge=tamper == "forge",
            replay=tamper == "replay",
        )
        click = inbound.block_action(
            "herald.approve",
            "/approve 1",
            user_id("bob"),
            GENERAL,
            user_name="bob",
            forge=tamper == "forge",
            replay=tamper == "replay",
        )

        responses = [await h.send(command), await h.send(click)]
        await h.settle()

    assert [r.status_code for r in responses] == [401, 401]
    assert fake.calls() == []
    assert await Member.all().count() == 0


async def test_health_and_unmatched_requests(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        health = await h.http.get(h.url + "/healthz")
        ready = await h.http.get(h.url + "/readyz")
        unknown_action = await h.send(inbound.block_action("someone.else", "x", user_id("bob"), GENERAL))

    assert health.json() == {"status": "ok"} and ready.json() == {"status": "ready"}
    assert unknown_action.status_code == 404


async def test_auth_test_runs_once_at_start_up(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await h.command("/herald", "whoami")
        await h.command("/herald", "whoami")
        await h.settle()

    assert len(fake.calls("auth.test")) == 1
    assert fake.calls("auth.test")[0].at < fake.calls("users.info")[0].at


async def test_slash_command_acks_at_once_and_answers_ephemerally(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        began = time.monotonic()
        acked = await h.command("/herald", "whoami", as_="carol")
        ack_seconds = time.monotonic() - began
        await h.settle()

    assert (acked.status_code, acked.text) == (200, "")
    assert ack_seconds < 0.5
    (answer,) = fake.calls("chat.postEphemeral")
    assert answer.args["user"] == user_id("carol") and answer.args["channel"] == GENERAL
    # the first member is an admin; the time zone comes from Slack's users.info
    assert answer.args["text"] == "You are carol (admin; time zone Asia/Tokyo)."
    assert fake.calls("chat.postMessage") == []


async def test_herald_and_dedicated_commands_are_the_same_command(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await h.command("/herald", "account add dryrun demo")
        await h.settle()
        await h.command("/herald", "")  # bare /herald is /help
        await h.command("/pending", "", as_="bob")
        await h.command("/herald", "/mine", as_="bob")
        await h.settle()

    posted = [c.args["text"] for c in fake.calls("chat.postMessage")]
    ephemeral = [c.args["text"] for c in fake.calls("chat.postEphemeral")]
    assert posted == []  # an admin's answer is for the admin only
    assert ephemeral[0] == "Added Dry run account demo. Draft to it with /draft --to demo …"
    assert ephemeral[1].startswith("Herald commands:")
    assert "Nothing is waiting for your approval." in ephemeral
    assert "You have no posts yet. Start one with /draft." in ephemeral


async def test_slack_escaping_is_undone_before_the_core_sees_the_text(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await h.command("/herald", "account add dryrun demo")
        await h.command("/herald", "role add bob approver")
        await h.settle()
        await h.command("/draft", "--to demo --at now Fish &amp; chips &lt;3", as_="alice")
        await h.settle()

    (card,) = h.cards(GENERAL)
    assert "Fish & chips <3" in card.text
    assert "Fish &amp; chips &lt;3" in card.blocks[0]["text"]["text"]  # escaped once, for mrkdwn


async def test_errors_are_one_ephemeral_sentence(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await h.command("/herald", "nonsense")
        await h.settle()

    (answer,) = fake.calls("chat.postEphemeral")
    assert answer.args["text"] == "I don't know the command /nonsense. Try /help to see what I can do."
    assert answer.args["blocks"][0]["text"]["text"].startswith(":warning: I don't know")
    assert fake.calls("chat.postMessage") == []


async def test_ephemeral_falls_back_to_response_url_where_the_bot_is_not(fake: FakeSlack) -> None:
    fake.fail("chat.postEphemeral", "channel_not_found")
    async with harness(fake) as h:
        await h.command("/herald", "whoami", channel="C0PRIVATE1", response_url=fake.response_url("whoami-1"))
        await h.settle()

    assert fake.responses("whoami-1")[0]["text"].startswith("You are alice")
    assert fake.responses("whoami-1")[0]["response_type"] == "ephemeral"


async def test_ops_commands_answer_only_ops_members_and_only_to_them(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await h.command("/herald", "whoami", as_="alice")  # alice: first member, admin
        await h.settle()
        await h.command("/queue", "status", as_="dave")
        await h.command("/cron", "status", as_="alice")
        await h.settle()

    answers = {c.args["user"]: c.args["text"] for c in fake.calls("chat.postEphemeral")[1:]}
    assert answers[user_id("dave")] == "Only members with the ops role or admins can run /queue status."
    assert user_id("alice") in answers  # an admin gets the command's answer, whatever it is
    assert fake.calls("chat.postMessage") == []
    assert APPROVALS not in {c.args.get("channel") for c in fake.calls()}


async def test_the_event_url_answers_slacks_challenge(fake: FakeSlack) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "deprecated", "challenge": challenge, "type": "url_verification"}).encode()
    headers = {**inbound.sign(body, inbound.SIGNING_SECRET), "Content-Type": "application/json"}
    async with harness(fake) as h:
        answered = await h.http.post(h.events_url, content=body, headers=headers)
        metrics = await h.http.get(h.url + "/metrics")

    assert answered.status_code == 200
    assert answered.json() == {"challenge": challenge}
    assert "herald_slack_ack_seconds_bucket" in metrics.text


async def test_an_ops_member_gets_the_queue_status_only_they_see(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await h.command("/herald", "role add carol ops", as_="alice")  # alice: first member, admin
        await h.settle()
        fake.reset()
        await h.command("/queue", "status", as_="carol")
        await h.command("/herald", "queue status", as_="carol")
        await h.settle()

    answers = [c.args for c in fake.calls("chat.postEphemeral")]
    assert [a["user"] for a in answers] == [user_id("carol")] * 2
    for answer in answers:
        lines = answer["text"].splitlines()
        assert lines[0].startswith("Queue status, ") and "Waiting for a worker: none." in lines
        assert lines[-1] == "Queue: in-process."
    assert fake.calls("chat.postMessage") == []
