"""/queue status: deliveries in flight, ahead and in the last hour, the queue transport; ops only."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from handlers.ports import QueueStats
from handlers.timing.timeparse import format_age as age
from models.accounts import SocialAccount
from models.lifecycle import DeliveryState, PostState
from models.members import Member
from models.posts import Delivery, Post
from tests.auxil.chat import Chat

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
S = DeliveryState


async def team(chat: Chat) -> None:
    """alice (admin), bob (no role), carol (ops), one account; the clock at NOW."""
    chat.clock.current = NOW
    await chat.say("/account add dryrun demo")
    await chat.say("/whoami", as_="bob")
    await chat.say("/role add carol ops")


async def delivery(state: DeliveryState, **fields: Any) -> int:
    """A post with one delivery in ``state``, its times given relative to NOW by ``fields``."""
    author = await Member.get(name="alice")
    account = await SocialAccount.get(handle="demo")
    post_state = {S.PUBLISHED: PostState.PUBLISHED, S.FAILED: PostState.FAILED, S.MISSED: PostState.MISSED}
    post = await Post.create(author=author, text="hi", state=post_state.get(state, PostState.PUBLISHING).value)
    times = {k: NOW + v if isinstance(v, timedelta) else v for k, v in fields.items()}
    row = await Delivery.create(
        post=post, account=account, state=state.value, idempotency_key=uuid.uuid4().hex, **times
    )
    return row.id


def ago(**kw: float) -> timedelta:
    return -timedelta(**kw)


def later(**kw: float) -> timedelta:
    return timedelta(**kw)


async def test_status_counts_ages_warnings_and_follow_ups(chat: Chat) -> None:
    await team(chat)
    await chat.say("/tz Europe/Berlin", as_="carol")
    told = {"reported_at": ago(seconds=1)}
    # waiting for a worker: one queued 3 min ago and already 5 min past due (nobody took it)
    await delivery(S.QUEUED, queued_at=ago(minutes=3), due_at=ago(minutes=5))
    await delivery(S.QUEUED, queued_at=ago(seconds=20), due_at=later(seconds=20))
    # being published: one fresh claim, one older than the reconciler's limit (125.5 s by default)
    await delivery(S.PUBLISHING, claimed_at=ago(seconds=40), due_at=ago(seconds=40))
    await delivery(S.PUBLISHING, claimed_at=ago(minutes=10), due_at=ago(minutes=10))
    # ahead: 10 min, 3 h, 2 days; and one 30 min overdue that no dispatcher queued
    await delivery(S.SCHEDULED, due_at=later(minutes=10))
    await delivery(S.SCHEDULED, due_at=later(hours=3))
    await delivery(S.SCHEDULED, due_at=later(days=2))
    await delivery(S.SCHEDULED, due_at=ago(minutes=30))
    # the last hour (and before it)
    await delivery(S.PUBLISHED, published_at=ago(minutes=5), **told)
    await delivery(S.PUBLISHED, published_at=ago(hours=2), **told)
    untold_published = await delivery(S.PUBLISHED, published_at=ago(minutes=1))
    await delivery(S.FAILED, claimed_at=ago(minutes=30), **told)
    await delivery(S.FAILED, claimed_at=ago(hours=3), **told)
    unknown_recent = await delivery(S.UNKNOWN, claimed_at=ago(minutes=20), **told)
    unknown_old = await delivery(S.UNKNOWN, claimed_at=ago(hours=5), **told)
    untold_missed = await delivery(S.MISSED, due_at=ago(minutes=40))
    await delivery(S.MISSED, due_at=ago(hours=3), **told)
    # neither in flight nor an outcome to tell
    await delivery(S.CANCELLED, due_at=ago(minutes=10))
    await delivery(S.WAITING, due_at=later(minutes=5))

    text = await chat.say("/queue status", as_="carol")

    assert chat.last[0].ephemeral and chat.last[0].kind == "info"
    assert text == "\n".join(
        [
            "Queue status, Mon 4 Jan 2027 13:00 CET:",
            "Waiting for a worker: 2 (oldest queued 3 min ago).",
            "Warning: 1 queued delivery is past due (the earliest by 5 min) and no worker took it: is a worker "
            "running?",
            "Publishing now: 2 (oldest claim 10 min ago).",
            "Warning: 1 claim is older than 2 min 5 s, the reconciler's limit: its worker probably died. A running "
            "dispatcher retries it or marks it unknown; if it stays, check that a dispatcher runs.",
            "Scheduled: 1 due in the next hour, 2 in the next 24 h; next Mon 4 Jan 2027 13:10 CET.",
            "Warning: 1 scheduled delivery is past due (the earliest by 30 min) and not queued: is a dispatcher "
            "running?",
            "Last hour: 2 published, 1 failed, 1 unknown, 1 missed.",
            "Needs a human: 2 outcomes are unknown (the post may or may not have gone out); check the account, "
            "then /verify DELIVERY [URL] if it is there or /republish DELIVERY if not:",
            f"delivery {unknown_recent}, post {unknown_recent} on demo: /verify {unknown_recent} · "
            f"/republish {unknown_recent}",
            f"delivery {unknown_old}, post {unknown_old} on demo: /verify {unknown_old} · /republish {unknown_old}",
            f"Not yet told in chat: 2 outcomes (deliveries {untold_published}, {untold_missed}).",
            "Queue: in-process.",
        ]
    )


async def test_a_quiet_queue_and_what_the_engine_itself_records(chat: Chat) -> None:
    await team(chat)
    quiet = await chat.say("/queue status")  # alice: an admin
    assert quiet == "\n".join(
        [
            "Queue status, Mon 4 Jan 2027 12:00 UTC:",
            "Waiting for a worker: none.",
            "Publishing now: none.",
            "Scheduled: nothing ahead.",
            "Last hour: 0 published, 0 failed, 0 unknown, 0 missed.",
            "Not yet told in chat: none.",
            "Queue: in-process.",
        ]
    )
    await chat.say("/role add bob approver")
    await chat.say("/draft --to demo --at in 90m Hello")
    await chat.say("/approve 1", as_="bob")
    assert "Scheduled: 0 due in the next hour, 1 in the next 24 h; next Mon 4 Jan 2027 13:30 UTC." in (
        await chat.say("/queue")  # bare /queue is the status too
    )
    chat.clock.advance(minutes=90)
    assert "Post 1 by @alice published" in await chat.publish_due()
    chat.clock.advance(minutes=59)
    status = await chat.say("/queue status")
    assert "Scheduled: nothing ahead." in status
    assert "Last hour: 1 published, 0 failed, 0 unknown, 0 missed." in status
    assert "Not yet told in chat: none." in status
    chat.clock.advance(minutes=2)
    assert "Last hour: 0 published" in await chat.say("/queue status")


async def test_only_ops_members_and_admins_may_look(chat: Chat) -> None:
    await team(chat)
    await chat.say("/queue status", as_="bob")
    assert chat.errors == ["Only members with the ops role or admins can run /queue status."]
    assert chat.last[0].ephemeral
    await chat.say("/queue metrics", as_="bob")  # /queue is ops-only throughout
    assert chat.errors == ["Only members with the ops role or admins can run /queue metrics."]
    await chat.say("/queue frobnicate", as_="bob")
    assert chat.errors == ["Only members with the ops role or admins can run /queue."]
    assert (await chat.say("/queue status", as_="carol")).startswith("Queue status, ")
    assert (await chat.say("/queue status")).startswith("Queue status, ")


@pytest.mark.parametrize("args", ["status now", "metrics today", "frobnicate"])
async def test_unknown_subcommand_gets_the_usage(chat: Chat, args: str) -> None:
    await team(chat)
    await chat.say(f"/queue {args}", as_="carol")
    assert chat.errors == ["Usage: /queue status · /queue metrics"]


async def test_help_lists_queue(chat: Chat) -> None:
    await team(chat)
    assert "/queue status · /queue metrics — the delivery queue now, and how the last 24 h went" in await chat.say(
        "/help"
    )


class Probe:
    def __init__(self, stats: QueueStats | None = None, error: Exception | None = None) -> None:
        self.result, self.error = stats, error

    async def stats(self) -> QueueStats:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


STREAM, GROUP = "{herald}:publish", "herald-workers"


@pytest.mark.parametrize(
    ("probe", "line"),
    [
        (
            Probe(QueueStats("Redis Cluster", STREAM, GROUP, length=3, pending=2, consumers=4)),
            "Queue: Redis Cluster stream {herald}:publish: 3 entries, 2 read and not acked, 4 consumers in group "
            "herald-workers.",
        ),
        (
            Probe(QueueStats("Redis", STREAM, GROUP, length=1, pending=0, consumers=1, lag=1)),
            "Queue: Redis stream {herald}:publish: 1 entry, 0 read and not acked, 1 not read yet, 1 consumer in group "
            "herald-workers.",
        ),
        (
            Probe(QueueStats("Redis", STREAM, GROUP, length=0, group_exists=False)),
            "Queue: Redis stream {herald}:publish: 0 entries; no worker has joined its consumer group herald-workers "
            "yet.",
        ),
        (
            Probe(QueueStats("Redis Cluster", STREAM, GROUP, problem="no answer within 2 s")),
            "Queue: Redis Cluster not answering (no answer within 2 s); the lines above come from the database.",
        ),
        (
            Probe(error=RuntimeError("a broken probe")),
            "Queue: the probe failed (logged); the lines above come from the database.",
        ),
    ],
)
async def test_the_queue_line_comes_from_the_probe(chat: Chat, probe: Probe, line: str) -> None:
    await team(chat)
    await delivery(S.QUEUED, queued_at=ago(seconds=2), due_at=later(seconds=1))
    chat.herald.services = replace(chat.herald.services, queue_probe=probe)
    text = await chat.say("/queue status", as_="carol")
    assert "Waiting for a worker: 1 (oldest queued 2 s ago)." in text  # shown whatever the probe says
    assert text.splitlines()[-1] == line


async def test_the_claim_warning_follows_the_configured_limit(chat: Chat) -> None:
    await team(chat)
    await delivery(S.PUBLISHING, claimed_at=ago(seconds=40), due_at=ago(seconds=40))
    await delivery(S.PUBLISHING, claimed_at=ago(seconds=50), due_at=ago(seconds=50))
    assert "Warning" not in await chat.say("/queue status")
    chat.herald.services = replace(chat.herald.services, stuck_after=timedelta(seconds=30))
    assert (
        "Warning: 2 claims are older than 30 s, the reconciler's limit: their workers probably died. A running "
        "dispatcher retries them or marks them unknown; if they stay, check that a dispatcher runs."
    ) in await chat.say("/queue status")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 s"),
        (59.9, "59 s"),
        (60, "1 min"),
        (125.5, "2 min 5 s"),
        (600, "10 min"),
        (3600, "1 h"),
        (3 * 3600 + 600, "3 h 10 min"),
        (86400, "1 d"),
        (2 * 86400 + 4 * 3600, "2 d 4 h"),
        (-5, "0 s"),
    ],
)
def test_age(seconds: float, shown: str) -> None:
    assert age(timedelta(seconds=seconds)) == shown
