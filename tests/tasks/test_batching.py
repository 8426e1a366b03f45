"""Group commit in the worker: concurrent publishes share claim and record statements, and reports are
told in the background; the outcome per delivery must be exactly what one-at-a-time would give."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime

import pytest

from bot.notifiers import OutboxNotifier
from handlers.messages import Conversation, Reply
from handlers.ports import SystemClock
from models.accounts import SocialAccount
from models.audit import AuditEntry
from models.chatrefs import ChatMessageRef
from models.lifecycle import DeliveryState, PostState
from models.members import Member
from models.outbox import OutboxMessage
from models.posts import Delivery, Post
from tasks.batching import Coalescer
from tasks.platforms import DryRunPublisher, Publishers
from tasks.platforms.base import BaseClient, Publication, Published
from tasks.publish import run_deliveries, run_delivery
from tasks.reports import Report, ReportRelay
from tasks.runtime import CLAIMABLE, Runtime
from tests.auxil.chat import FrozenClock

# --- the coalescer on its own


async def test_callers_in_the_same_turn_share_one_batch_and_get_their_own_results() -> None:
    seen: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        seen.append(items)
        return [i * 10 for i in items]

    co: Coalescer[int, int] = Coalescer(flush, max_batch=4)
    results = await asyncio.gather(*(co(i) for i in range(10)))
    assert results == [i * 10 for i in range(10)]
    assert sorted(i for batch in seen for i in batch) == list(range(10))
    assert max(len(b) for b in seen) == 4 and len(seen) == 3  # 10 callers, batches of at most 4


async def test_a_lone_caller_is_not_kept_waiting() -> None:
    co: Coalescer[int, int] = Coalescer(lambda items: asyncio.sleep(0, result=items))
    for i in range(3):
        assert await asyncio.wait_for(co(i), timeout=0.5) == i
    assert co.batches == 3


async def test_callers_arriving_while_a_batch_runs_form_the_next_one() -> None:
    running = 0
    peak = 0
    sizes: list[int] = []

    async def flush(items: list[int]) -> list[int]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        sizes.append(len(items))
        await asyncio.sleep(0.02)
        running -= 1
        return items

    co: Coalescer[int, int] = Coalescer(flush, max_batch=1000, max_inflight=1)

    async def late(i: int) -> int:
        await asyncio.sleep(0.005 * (i % 5))
        return await co(i)

    assert await asyncio.gather(*(late(i) for i in range(50))) == list(range(50))
    assert peak == 1
    assert len(sizes) < 10  # grouped while the database was busy, not one statement each


async def test_a_failed_batch_fails_each_of_its_callers() -> None:
    async def flush(items: list[int]) -> list[int]:
        raise ConnectionError("database gone")

    co: Coalescer[int, int] = Coalescer(flush)
    results = await asyncio.gather(co(1), co(2), return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    co2: Coalescer[int, int] = Coalescer(lambda items: asyncio.sleep(0, result=items[:-1]))
    with pytest.raises(RuntimeError, match="got 1 results"):
        await asyncio.gather(co2(1), co2(2))


# --- on PostgreSQL


async def make_posts(count: int, *, state: str = PostState.SCHEDULED.value, deliveries: int = 1) -> list[int]:
    author = await Member.create(name=f"a{uuid.uuid4().hex[:6]}", display_name="a")
    accounts = [
        await SocialAccount.create(platform="dryrun", handle=f"acc{uuid.uuid4().hex[:6]}") for _ in range(deliveries)
    ]
    ids = []
    for i in range(count):
        post = await Post.create(
            author=author, text=f"post {i}", state=state, origin={"adapter": "shell", "channel": "t", "thread": None}
        )
        for account in accounts:
            d = await Delivery.create(
                post=post,
                account=account,
                state=DeliveryState.QUEUED.value,
                due_at=datetime.now(UTC),
                idempotency_key=uuid.uuid4().hex,
            )
            ids.append(d.id)
    return ids


def runtime(worker: str = "w1") -> Runtime:
    return Runtime(
        publishers=Publishers({}, fallback=DryRunPublisher()),
        notifier=OutboxNotifier(),
        clock=SystemClock(),
        worker_id=worker,
    )


async def test_a_burst_is_claimed_and_recorded_in_a_few_statements(pg_db: str) -> None:
    singles = await make_posts(60)
    pairs = await make_posts(3, deliveries=2)  # several deliveries: they settle the post through the ORM
    gone = await make_posts(2, state=PostState.CANCELLED.value)
    rt = runtime()
    work = singles + pairs + gone + singles[:5]  # five duplicate messages in the same burst
    random.shuffle(work)
    outcomes = await asyncio.gather(*(run_delivery(rt, d) for d in work))

    assert sorted(outcomes).count("published") == len(singles) + len(pairs)
    assert sorted(outcomes).count("skipped") == len(gone) + 5
    assert rt.claims.batches <= 3 and rt.records.batches <= 3  # not one statement per delivery
    published = await Delivery.filter(id__in=singles + pairs).values_list("state", "attempts", "claimed_by")
    assert set(published) == {(DeliveryState.PUBLISHED.value, 1, "w1")}
    assert set(await Delivery.filter(id__in=gone).values_list("state", flat=True)) == {DeliveryState.CANCELLED.value}
    post_ids = set(await Delivery.filter(id__in=singles + pairs).values_list("post_id", flat=True))
    assert set(await Post.filter(id__in=post_ids).values_list("state", flat=True)) == {PostState.PUBLISHED.value}
    for post_id in post_ids:
        actions = await AuditEntry.filter(post_id=post_id).order_by("id").values_list("action", flat=True)
        assert actions[-1] == "post.published" and actions.count("post.published") == 1
    assert await OutboxMessage.all().count() == len(singles) + len(pairs)  # each told once
    assert not await Delivery.filter(id__in=singles + pairs, reported_at__isnull=True).exists()


async def test_two_workers_claiming_overlapping_batches_get_each_delivery_once(pg_db: str) -> None:
    ids = await make_posts(40) + await make_posts(5, deliveries=2)
    a, b = runtime("wa"), runtime("wb")
    rounds = []
    for rt in (a, b, a, b):
        order = ids[:]
        random.shuffle(order)  # different lock orders: the statements must not deadlock
        rounds.append(rt._claim(order))
    results = await asyncio.gather(*rounds)
    winners = [c.delivery_id for batch in results for c in batch if c is not None]
    assert sorted(winners) == sorted(ids)
    holders = dict(await Delivery.filter(id__in=ids).values_list("id", "claimed_by"))
    for batch, worker in zip(results, ("wa", "wb", "wa", "wb"), strict=True):
        assert all(holders[c.delivery_id] == worker for c in batch if c is not None)


async def test_a_record_for_a_claim_taken_over_meanwhile_is_dropped_and_the_rest_recorded(pg_db: str) -> None:
    ids = await make_posts(3)
    rt = runtime()
    claimed = await rt._claim(ids)
    assert all(c is not None for c in claimed)
    # the reconciler gave the second delivery to another worker while this one was publishing
    await Delivery.filter(id=ids[1]).update(claimed_by="someone-else")
    from handlers.publishing.delivery import Outcome

    replies = await rt._record([Outcome(c, external_id=str(c.delivery_id), url="u") for c in claimed if c])
    assert [r is not None for r in replies] == [True, False, True]
    states = dict(await Delivery.filter(id__in=ids).values_list("id", "state"))
    assert states == {ids[0]: "published", ids[1]: "publishing", ids[2]: "published"}


# --- the report relay


class SlowChat:
    """A chat that holds messages for one channel until released, and refuses another channel."""

    def __init__(self) -> None:
        self.told: list[tuple[str, str]] = []
        self.release = asyncio.Event()

    async def notify(self, conversation: Conversation, reply: Reply) -> None:
        if conversation.channel == "slow":
            await self.release.wait()
        if conversation.channel == "down":
            raise ConnectionError("chat is down")
        self.told.append((conversation.channel, reply.text))


async def test_a_slow_channel_delays_only_its_own_reports(pg_db: str) -> None:
    ids = await make_posts(3)
    rt = runtime()
    claimed = [c for c in await rt._claim(ids) if c is not None]
    chat = SlowChat()
    relay = ReportRelay(chat, FrozenClock())
    channels = ["slow", "fast", "down"]
    for c, channel in zip(claimed, channels, strict=True):
        c = type(c)(**{**c.__dict__, "origin": Conversation(adapter="slack", channel=channel)})
        await relay.submit(Report(c, Reply(text=f"report {channel}", post_id=c.post_id)))
    for _ in range(50):
        if chat.told:
            break
        await asyncio.sleep(0.01)
    assert chat.told == [("fast", "report fast")]  # not held up by the slow channel
    chat.release.set()
    await relay.drain(within=2)
    assert sorted(chat.told) == [("fast", "report fast"), ("slow", "report slow")]
    reported = dict(await Delivery.filter(id__in=ids).values_list("id", "reported_at"))
    assert reported[ids[0]] is not None and reported[ids[1]] is not None
    assert reported[ids[2]] is None  # the chat was down: left for the straggler pass


async def test_outbox_reports_from_the_relay_are_written_once_with_their_mark(pg_db: str) -> None:
    ids = await make_posts(20)
    rt = runtime()
    rt.reports = ReportRelay(OutboxNotifier(), SystemClock())
    assert await asyncio.gather(*(run_delivery(rt, d) for d in ids)) == ["published"] * 20
    await rt.reports.drain(within=5)
    assert await OutboxMessage.all().count() == 20
    assert not await Delivery.filter(id__in=ids, reported_at__isnull=True).exists()


class Gate(BaseClient):
    """A publisher that holds every call until released, counting calls in flight."""

    idempotent = False

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.calls = 0
        self.in_flight = 0
        self.peak = 0

    async def publish(self, publication: Publication) -> Published:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await self.open.wait()
        self.in_flight -= 1
        return Published(external_id=str(publication.delivery_id), url=f"https://x.test/{publication.delivery_id}")


async def test_a_worker_holds_few_claims_and_platform_calls_at_once(pg_db: str) -> None:
    """If the worker died now, only the deliveries it holds claimed would need the reconciler's judgement:
    that stays a small multiple of its concurrency however big the message or the burst."""
    ids = await make_posts(40)
    gate = Gate()
    rt = Runtime(publishers=Publishers({}, fallback=gate), notifier=OutboxNotifier(), clock=SystemClock())
    rt.limit(2)
    run = asyncio.ensure_future(run_deliveries(rt, [(d, None) for d in ids]))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if gate.calls >= 2:
            break
    await asyncio.sleep(0.1)
    claimed = await Delivery.filter(id__in=ids, state=DeliveryState.PUBLISHING.value).count()
    assert gate.in_flight == 2 and claimed == 2 * CLAIMABLE  # the rest are still queued
    assert await Delivery.filter(id__in=ids, state=DeliveryState.QUEUED.value).count() == 40 - claimed
    gate.open.set()
    assert await run == ["published"] * 40
    assert gate.peak == 2 and rt.claims.batches < 40  # bounded, and the claims still grouped


async def test_a_report_waiting_its_turn_is_not_told_again_by_the_straggler_pass(pg_db: str) -> None:
    """Slack's pace can keep a report waiting for minutes; while its worker lives, the straggler pass
    (outcomes untold for HERALD_REQUEUE_AFTER) must leave it alone, and take it once the worker is gone."""
    from datetime import timedelta

    from handlers.publishing.delivery import report_stragglers

    ids = await make_posts(2)
    rt = runtime()
    claimed = [c for c in await rt._claim(ids) if c is not None]
    from handlers.publishing.delivery import Outcome

    replies = await rt._record([Outcome(c, external_id="1", url="u") for c in claimed])
    chat = SlowChat()
    live = ReportRelay(chat, SystemClock(), heartbeat=0.05)
    dying = ReportRelay(chat, SystemClock(), heartbeat=0.05)
    slow = [type(c)(**{**c.__dict__, "origin": Conversation(adapter="slack", channel="slow")}) for c in claimed]
    await live.submit(Report(slow[0], replies[0]))  # type: ignore[arg-type]
    await dying.submit(Report(slow[1], replies[1]))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    for task in [*dying._tasks, dying._beating]:  # the second worker dies with its report untold
        assert task is not None
        task.cancel()
    await asyncio.sleep(0.4)

    fallback = SlowChat()
    fallback.release.set()
    told = await report_stragglers(
        notifier=fallback, now=datetime.now(UTC), older_than=timedelta(seconds=0.3), batch=10
    )
    assert told == 1 and [text for _, text in fallback.told] == [replies[1].text]  # type: ignore[union-attr]
    chat.release.set()
    await live.drain(within=2)
    assert chat.told == [("slow", replies[0].text)]  # type: ignore[union-attr]
    assert not await Delivery.filter(id__in=ids, reported_at__isnull=True).exists()


async def test_outbox_reports_that_finish_together_share_one_transaction(pg_db: str) -> None:
    ids = await make_posts(30)
    rt = runtime()
    relay = ReportRelay(OutboxNotifier(), SystemClock())
    rt.reports = relay
    assert await asyncio.gather(*(run_delivery(rt, d) for d in ids)) == ["published"] * 30
    await relay.drain(within=5)
    assert relay._in_database.batches < 10  # not a transaction per report
    assert await OutboxMessage.all().count() == 30


async def test_cards_after_reports_told_together_are_looked_up_together_and_shown_once(pg_db: str) -> None:
    """A burst's posts mostly show no card: after their reports, a few grouped lookups find that (not a query
    per post); each post whose card is shown gets one card update, after its report."""
    ids = await make_posts(30)
    posts = await Delivery.filter(id__in=ids).order_by("id").values_list("post_id", flat=True)
    for post_id in posts[:10]:
        await ChatMessageRef.create(adapter="slack", channel="cards", ref=f"post:{post_id}:approval", message_id="1")
    rt = runtime()
    chat = SlowChat()
    chat.release.set()
    relay = ReportRelay(chat, SystemClock())
    rt.reports = relay
    assert await asyncio.gather(*(run_delivery(rt, d) for d in ids)) == ["published"] * 30
    await relay.drain(within=5)

    there = [text for channel, text in chat.told if channel == "cards"]
    cards = [text for text in there if " — published\n" in text]
    assert len(chat.told) == 50 and len(cards) == 10
    assert sorted(int(text.split()[1]) for text in cards) == sorted(posts[:10])  # one each
    # drafted in the shell, shown in Slack too: the report goes to both chats
    reports = [text for text in there if " published to " in text]
    assert sorted(int(text.split()[1]) for text in reports) == sorted(posts[:10])
    assert relay._cards.batches < 10 and relay._elsewhere.batches < 10  # not a lookup per report


async def test_a_crash_in_one_delivery_is_contained_and_left_for_the_reconciler(pg_db: str) -> None:
    async def broken_record(outcomes: list[object]) -> list[object]:
        raise RuntimeError("a bug in recording")

    ids = await make_posts(3)
    rt = Runtime(publishers=Publishers({}, fallback=DryRunPublisher()), notifier=OutboxNotifier(), clock=SystemClock())
    rt.records._flush = broken_record  # type: ignore[assignment]
    assert await run_deliveries(rt, [(d, None) for d in ids]) == ["error"] * 3
    # published at the platform but not recorded: left publishing, for the reconciler to judge
    assert set(await Delivery.filter(id__in=ids).values_list("state", flat=True)) == {"publishing"}
