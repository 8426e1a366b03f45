"""/queue status: what the delivery engine is doing now, for the people who run Herald.

One ephemeral reply, read from the database (the source of truth) and, through the
:class:`~handlers.ports.QueueProbe`, from the queue transport:

* deliveries waiting for a worker (``queued``) and being published (``publishing``), with the oldest's
  age; a claim older than the reconciler's limit (:attr:`Services.stuck_after`) or a queued delivery
  well past its due time is a warning line;
* deliveries scheduled in the next hour and the next 24 h, and the next due time; scheduled ones well
  past due (no dispatcher took them) are a warning line;
* the last hour's outcomes. The table keeps no finish time, so each is counted by the nearest time it
  has: published by ``published_at``, failed and unknown by the claim of their last attempt (a
  failure is recorded within the task timeout of it), missed by the due time that was missed;
* unknown outcomes, with the /verify and /republish follow-ups a human chooses from;
* outcomes recorded but not yet told in chat (``reported_at`` still null);
* the queue transport: stream length, read-but-not-acked, consumers; or "in-process".

Only members with the ops role (and admins) may run it, as the command declares. The last-hour counts
scan the deliveries of those states (there is no index on the finish times); fine for an occasional look.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from tortoise.queryset import QuerySet

from handlers.context import Context
from handlers.messages import Reply, info
from handlers.ops.queue_metrics import metrics_text
from handlers.ports import QueueStats
from handlers.router import Router
from handlers.timing.timeparse import format_age, format_local
from models.errors import InvalidInput
from models.lifecycle import DeliveryState
from models.members import OPS_ROLE
from models.posts import Delivery

log = structlog.get_logger(__name__)

router = Router()
QUEUE_USAGE = "/queue status · /queue metrics"
LATE = timedelta(minutes=1)
"""A delivery this far past its due time and still scheduled or queued is a warning: nobody took it."""
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
LISTED = 5
"""Unknown outcomes and untold deliveries named by id, at most."""
TOLD = (DeliveryState.PUBLISHED, DeliveryState.FAILED, DeliveryState.UNKNOWN, DeliveryState.MISSED)
"""Outcomes told in the post's conversation; ``reported_at`` records when."""


queue = router.group(
    "queue",
    QUEUE_USAGE,
    "the delivery queue now, and how the last 24 h went (ops)",
    role=OPS_ROLE,
    ephemeral=True,
    default="status",  # a bare /queue shows the status
)


@queue.command("status")
async def queue_status(ctx: Context, args: str) -> list[Reply]:
    _no_arguments(args)
    return [info(await status_text(ctx))]


@queue.command("metrics")
async def queue_metrics(ctx: Context, args: str) -> list[Reply]:
    _no_arguments(args)
    return [info(await metrics_text(ctx))]


def _no_arguments(args: str) -> None:
    if args.strip():
        raise InvalidInput(f"Usage: {QUEUE_USAGE}")


async def status_text(ctx: Context) -> str:
    now = ctx.now
    lines = [f"Queue status, {format_local(now, ctx.tz)}:"]
    lines += await _in_flight(ctx, now)
    lines += await _ahead(ctx, now)
    lines += await _last_hour(now)
    lines += await _untold()
    lines.append(await _transport(ctx))
    return "\n".join(lines)


async def _in_flight(ctx: Context, now: datetime) -> list[str]:
    lines = []
    queued = Delivery.filter(state=DeliveryState.QUEUED.value)
    count, line = await _counted(queued, "Waiting for a worker", "queued_at", "oldest queued", now)
    lines.append(line)
    if count:
        late = await queued.filter(due_at__lt=now - LATE).count()
        due = await _earliest(queued, "due_at")
        if late and due is not None:
            lines.append(
                f"Warning: {_n(late, 'queued delivery is', 'queued deliveries are')} past due (the earliest by "
                f"{format_age(now - due)}) and no worker took {_it(late)}: is a worker running?"
            )
    publishing = Delivery.filter(state=DeliveryState.PUBLISHING.value)
    count, line = await _counted(publishing, "Publishing now", "claimed_at", "oldest claim", now)
    lines.append(line)
    if count:
        limit = ctx.services.stuck_after
        stuck = await publishing.filter(claimed_at__lt=now - limit).count()
        if stuck:
            lines.append(
                f"Warning: {_n(stuck, 'claim is', 'claims are')} older than {format_age(limit)}, the reconciler's "
                f"limit: {'its worker' if stuck == 1 else 'their workers'} probably died. A running dispatcher retries "
                f"{_it(stuck)} or marks {_it(stuck)} unknown; if {'it stays' if stuck == 1 else 'they stay'}, "
                "check that a dispatcher runs."
            )
    return lines


async def _counted(rows: QuerySet[Delivery], label: str, column: str, oldest: str, now: datetime) -> tuple[int, str]:
    """How many ``rows`` there are, and the line saying so with the age of the oldest by ``column``."""
    count = await rows.count()
    if not count:
        return 0, f"{label}: none."
    first = await _earliest(rows, column)
    since = f" ({oldest} {format_age(now - first)} ago)" if first is not None else ""
    return count, f"{label}: {count}{since}."


async def _ahead(ctx: Context, now: datetime) -> list[str]:
    scheduled = Delivery.filter(state=DeliveryState.SCHEDULED.value, due_at__isnull=False)
    current = scheduled.filter(due_at__gte=now - LATE)
    hour = await current.filter(due_at__lt=now + HOUR).count()
    day = await current.filter(due_at__lt=now + DAY).count()
    upcoming = await _earliest(current, "due_at")
    if upcoming is None:
        lines = ["Scheduled: nothing ahead."]
    else:
        lines = [
            f"Scheduled: {hour} due in the next hour, {day} in the next 24 h; next {format_local(upcoming, ctx.tz)}."
        ]
    overdue = scheduled.filter(due_at__lt=now - LATE)
    late = await overdue.count()
    earliest = await _earliest(overdue, "due_at")
    if late and earliest is not None:
        lines.append(
            f"Warning: {_n(late, 'scheduled delivery is', 'scheduled deliveries are')} past due (the earliest by "
            f"{format_age(now - earliest)}) and not queued: is a dispatcher running?"
        )
    return lines


async def _last_hour(now: datetime) -> list[str]:
    since = now - HOUR
    published = await Delivery.filter(
        state=DeliveryState.PUBLISHED.value, published_at__gte=since, published_at__lte=now
    ).count()
    failed = await Delivery.filter(state=DeliveryState.FAILED.value, claimed_at__gte=since, claimed_at__lte=now).count()
    unknown = await Delivery.filter(
        state=DeliveryState.UNKNOWN.value, claimed_at__gte=since, claimed_at__lte=now
    ).count()
    missed = await Delivery.filter(state=DeliveryState.MISSED.value, due_at__gte=since, due_at__lte=now).count()
    lines = [f"Last hour: {published} published, {failed} failed, {unknown} unknown, {missed} missed."]
    open_unknown = Delivery.filter(state=DeliveryState.UNKNOWN.value)
    total = await open_unknown.count()
    if total:
        lines.append(
            f"Needs a human: {_n(total, 'outcome is', 'outcomes are')} unknown (the post may or may not have gone "
            "out); check the account, then /verify DELIVERY [URL] if it is there or /republish DELIVERY if not:"
        )
        rows = await open_unknown.order_by("id").limit(LISTED).prefetch_related("account")
        lines += [
            f"delivery {d.id}, post {d.post_id} on {d.account.handle}: /verify {d.id} · /republish {d.id}"  # type: ignore[attr-defined]
            for d in rows
        ]
        if total > LISTED:
            lines.append(f"and {total - LISTED} more.")
    return lines


async def _untold() -> list[str]:
    untold = Delivery.filter(reported_at__isnull=True, state__in=[s.value for s in TOLD])
    count = await untold.count()
    if not count:
        return ["Not yet told in chat: none."]
    ids = await untold.order_by("id").limit(LISTED).values_list("id", flat=True)
    more = f" and {count - LISTED} more" if count > LISTED else ""
    named = ", ".join(str(i) for i in ids)
    return [f"Not yet told in chat: {_n(count, 'outcome', 'outcomes')} (deliveries {named}{more})."]


async def _transport(ctx: Context) -> str:
    probe = ctx.services.queue_probe
    if probe is None:
        return "Queue: in-process."
    try:
        stats = await probe.stats()
    except Exception:  # the probe promises not to raise; the status above must show anyway
        log.exception("queue.probe_raised")
        return "Queue: the probe failed (logged); the lines above come from the database."
    return queue_line(stats)


def queue_line(stats: QueueStats) -> str:
    where = f"{stats.backend} stream {stats.stream}"
    if stats.problem is not None:
        return f"Queue: {stats.backend} not answering ({stats.problem}); the lines above come from the database."
    if not stats.group_exists:
        return (
            f"Queue: {where}: {_n(stats.length, 'entry', 'entries')}; no worker has joined its consumer group "
            f"{stats.group} yet."
        )
    lag = f", {stats.lag} not read yet" if stats.lag is not None else ""
    return (
        f"Queue: {where}: {_n(stats.length, 'entry', 'entries')}, {stats.pending} read and not acked{lag}, "
        f"{_n(stats.consumers, 'consumer', 'consumers')} in group {stats.group}."
    )


async def _earliest(rows: QuerySet[Delivery], column: str) -> datetime | None:
    """The smallest non-null ``column`` among ``rows`` (one indexed lookup where an index serves)."""
    found = await rows.filter(**{f"{column}__isnull": False}).order_by(column).first().values_list(column, flat=True)
    return found  # type: ignore[return-value]


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _it(count: int) -> str:
    return "it" if count == 1 else "them"


__all__ = ["queue_line", "router", "status_text"]
