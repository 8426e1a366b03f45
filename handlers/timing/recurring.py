"""Recurring posts: a series is approved once, then each run goes out at its time.

How a series fits the rest of Herald:

* ``/draft --every …`` creates the *template* post, which goes through the normal approval flow, and a
  :class:`~models.recurrence.Recurrence` with the rule (:func:`start`). The template's deliveries are
  created ``cancelled``: they name the targets (so policies, the approval card and ``/edit``'s checks
  see them) but the template itself never goes out.
* Each run is a post of its own (author, text, targets and origin copied from the template, so reports
  reach the same conversation) with deliveries ``scheduled`` at the run's time. A series always keeps
  its next run's post created, as soon as it is approved and again whenever a run goes out, so the
  delivery engine publishes it punctually.
* The series follows its template. The core records every state change of a post in the audit log;
  :func:`_on_audit` (connected by :func:`install`, at wiring) listens to those entries and re-syncs the
  template's series inside the same transaction: approved → the next run's post is created; back under
  approval (an edit) → the run not yet out is withdrawn until the new text is approved; withdrawn,
  cancelled or rejected → the series ends. So the approval and drafting code needs to know nothing
  about series.
* One timer (kind ``recurrence``) per series, at the time of its next run: when a run goes out it
  creates the one after; while the series waits for approval it steps past runs that can't go out.

Counting (``--count N``): N run posts are created; runs Herald withdraws (skip, pause, an edit
waiting for approval) give their place back, runs a member cancels by hand count.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from tortoise.signals import Signals
from tortoise.transactions import in_transaction

from handlers import audit
from handlers.context import Context, Services
from handlers.messages import Reply
from handlers.notices import member_zone, tell_origin
from handlers.review import timers
from handlers.timing import scheduling
from handlers.timing.cronrules import describe, localize, next_after, parse_every, parse_zone
from handlers.timing.timeparse import format_local, parse_when
from models.audit import AuditEntry
from models.errors import InvalidInput, InvalidTransition, NotFound
from models.lifecycle import Action, Move, PostState, advance, move_deliveries
from models.members import Member
from models.posts import Delivery, Post
from models.recurrence import Recurrence, SeriesRun
from models.timers import Timer

log = structlog.get_logger(__name__)
KIND = "recurrence"
LATE = timedelta(minutes=15)
"""A run Herald notices up to this late (it was down) still goes out, as other posts do; older ones are skipped."""
MAX_COUNT = 1000
WAITING = frozenset({PostState.DRAFT, PostState.PENDING_APPROVAL, PostState.CHANGES_REQUESTED})
ENDED = frozenset({PostState.CANCELLED, PostState.REJECTED, PostState.EXPIRED})
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})", re.ASCII)


@dataclass(frozen=True)
class Spec:
    """A checked ``--every`` with its options, as /draft read them."""

    cron: str
    tz: ZoneInfo
    until: datetime | None
    count: int | None
    first: datetime

    @property
    def words(self) -> str:
        return rule_words(self.cron, self.tz.key)


@dataclass
class Synced:
    """What one sync did: run posts created and withdrawn, runs skipped because they were missed."""

    created: list[SeriesRun] = field(default_factory=list)
    withdrawn: list[SeriesRun] = field(default_factory=list)
    missed: list[datetime] = field(default_factory=list)


def rule_words(cron: str, zone: str) -> str:
    return f"{describe(cron)} ({zone})"


def day_text(when: datetime, tz: ZoneInfo) -> str:
    """``Sun 31 Jan 2027``: :func:`format_local` without the time."""
    return " ".join(format_local(when, tz).split()[:4])


# --- reading /draft's options ------------------------------------------------------------------------


def read_options(ctx: Context, options: dict[str, str]) -> Spec | None:
    """The series /draft asks for, or None for a one-off post; raises InvalidInput with one sentence."""
    every = options.get("every")
    if every is None:
        if {"tz", "until", "count"} & options.keys():
            raise InvalidInput("--tz, --until and --count belong to a recurring post: add --every SCHEDULE.")
        return None
    if "at" in options:
        raise InvalidInput("A recurring post goes out on its schedule: use --every or --at, not both.")
    cron = parse_every(every)
    tz = parse_zone(options["tz"]) if "tz" in options else ctx.tz
    if "until" in options and "count" in options:
        raise InvalidInput("Use --until or --count, not both.")
    until = _until(options["until"], ctx.now, tz) if "until" in options else None
    count = _count(options["count"]) if "count" in options else None
    first = next_after(cron, tz, ctx.now)
    if until is not None and first > until:
        raise InvalidInput(
            f"The schedule {describe(cron)} has no run before --until {options['until']} "
            f"(the first would be {format_local(first, ctx.tz)})."
        )
    return Spec(cron=cron, tz=tz, until=until, count=count, first=first)


def looks_like_date(text: str) -> bool:
    """``2027-01-31`` (valid or not): what --until reads as a whole day."""
    return _DATE.fullmatch(text.strip()) is not None


def _until(raw: str, now: datetime, tz: ZoneInfo) -> datetime:
    """A date means up to the end of that day in the series' zone; a time is read as --at reads it."""
    if m := _DATE.fullmatch(raw.strip()):
        try:
            day = date(int(m[1]), int(m[2]), int(m[3]))
            until = localize(datetime.combine(day + timedelta(days=1), time()), tz) - timedelta(seconds=1)
        except (ValueError, OverflowError):
            raise InvalidInput(f'"{raw}" is not a date: use YYYY-MM-DD, e.g. 2027-01-31.') from None
    else:
        until = parse_when(raw, now=now, tz=tz)
    if until <= now:
        raise InvalidInput(f"--until {raw} is already past; pick a later date.")
    return until


def _count(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_COUNT:
        raise InvalidInput(f"--count takes a whole number of runs from 1 to {MAX_COUNT}, e.g. --count 10.")
    return int(raw)


def where_phrase(spec: Spec, handles: list[str], tz: ZoneInfo) -> str:
    """``it goes to demo every weekday at 09:00 (Europe/Berlin), 10 times; next run …``."""
    limit = ""
    if spec.count is not None:
        limit = ", once" if spec.count == 1 else f", {spec.count} times"
    elif spec.until is not None:
        limit = f", until {day_text(spec.until, spec.tz)}"
    return f"it goes to {', '.join(handles)} {spec.words}{limit}; next run {format_local(spec.first, tz)}"


async def start(post: Post, spec: Spec) -> Recurrence:
    """Make ``post`` the template of a new series (call inside /draft's transaction)."""
    await move_deliveries(Move.CANCEL, {"post_id": post.id})  # the template itself never goes out
    series = await Recurrence.create(
        post=post, cron=spec.cron, timezone=spec.tz.key, until=spec.until, remaining=spec.count, next_run=spec.first
    )
    await _arm(series, post, spec.first)
    return series


# --- keeping a series in step with its template -------------------------------------------------------


async def _lock(template_id: int) -> tuple[Post, Recurrence] | None:
    """Lock the template, then its series (always in that order: the approval flow locks the post first)."""
    template = await Post.select_for_update().filter(id=template_id).first()
    series = await Recurrence.select_for_update().filter(post_id=template_id).first()
    if template is None or series is None:
        return None
    return template, series


def following(series: Recurrence, after: datetime) -> datetime | None:
    """The run after ``after`` within the series' end (until, remaining), or None."""
    if series.remaining is not None and series.remaining <= 0:
        return None
    nxt = next_after(series.cron, ZoneInfo(series.timezone), after)
    if series.until is not None and nxt > series.until:
        return None
    return nxt


async def open_runs(series: Recurrence, *, after: datetime | None = None) -> list[SeriesRun]:
    """Runs whose post hasn't gone out yet (still scheduled), earliest first; only those due after ``after``."""
    query = SeriesRun.filter(series_id=series.id, post__state=PostState.SCHEDULED.value)
    if after is not None:
        query = query.filter(run_at__gt=after)
    return await query.order_by("run_at")


async def sync(template: Post, series: Recurrence, *, now: datetime | None) -> Synced:
    """Bring the series in line with its template (both locked). ``now`` is None when called from the
    audit listener, which has no clock: then only what doesn't depend on the time is done."""
    out = Synced()
    state = template.lifecycle_state
    if state not in WAITING | {PostState.SCHEDULED}:  # withdrawn, cancelled, rejected, expired: the end
        await _withdraw(series, await open_runs(series), out, f"series {template.id} is {state.label}", restore=False)
        series.next_run = None
        await series.save()
        await _arm(series, template, None)
        return out
    if series.paused:
        await _arm(series, template, None)
        return out
    if state in WAITING:
        reason = f"series {template.id} is waiting for approval again"
        await _withdraw(series, await open_runs(series), out, reason, restore=True)
        while now is not None and series.next_run is not None and series.next_run <= now:
            series.next_run = following(series, series.next_run)  # can't go out unapproved: not counted
        await Post.filter(id=template.id).update(due_at=None)
        await series.save()
        await _arm(series, template, series.next_run)
        return out
    pending = await open_runs(series, after=now)
    stale = [r for r in pending if r.version != template.version]  # the text changed without approval again
    if stale:
        await _withdraw(series, stale, out, f"series {template.id} has a new text", restore=True)
        pending = [r for r in pending if r not in stale]
    if not pending and series.next_run is not None:
        while now is not None and series.next_run is not None and series.next_run < now - LATE:
            out.missed.append(series.next_run)
            series.next_run = following(series, series.next_run)
        if series.next_run is not None:
            run = await _create_run(template, series, series.next_run)
            out.created.append(run)
            series.next_run = following(series, run.run_at)
            pending = [run]
    upcoming = pending[0].run_at if pending else series.next_run
    if upcoming is not None:
        await Post.filter(id=template.id).update(due_at=upcoming)
    await series.save()
    await _arm(series, template, upcoming)
    return out


async def _create_run(template: Post, series: Recurrence, at: datetime) -> SeriesRun:
    child = await Post.create(
        author_id=template.author_id,  # type: ignore[attr-defined]
        text=template.text,
        media=list(template.media or []),
        due_at=at,
        origin=template.origin,
    )
    targets = await Delivery.filter(post_id=template.id).order_by("id").prefetch_related("account")
    for target in targets:
        await Delivery.create(post=child, account=target.account, idempotency_key=uuid.uuid4().hex)
    await advance(child.id, Action.SCHEDULE_DIRECT)
    await scheduling.release(child, now=at)
    run = await SeriesRun.filter(series_id=series.id, run_at=at).first()
    if run is None:
        run = await SeriesRun.create(series=series, post=child, run_at=at, version=template.version)
    else:  # re-created after a pause or an edit withdrew it
        run.post = child
        run.version = template.version
        await run.save()
    if series.remaining is not None:
        series.remaining -= 1
    await audit.record(
        "post.created",
        post_id=child.id,
        state=PostState.SCHEDULED.value,
        version=1,
        text=child.text,
        targets=[t.account.handle for t in targets],
        series=template.id,
        reason=f"run of series {template.id} (approved as post {template.id} v{template.version})",
    )
    log.info("series.run_created", series=template.id, post_id=child.id, run_at=at.isoformat())
    return run


async def _withdraw(series: Recurrence, runs: list[SeriesRun], out: Synced, reason: str, *, restore: bool) -> None:
    """Cancel runs not yet out; they give their place in the count back (and, with ``restore``, the
    earliest becomes the next run again, so it can still go out once the series is approved)."""
    for run in runs:
        post_id: int = run.post_id  # type: ignore[attr-defined]
        try:
            await advance(post_id, Action.CANCEL)
        except InvalidTransition:
            continue  # it went out meanwhile
        await scheduling.cancel_open(post_id)
        await audit.record("post.cancel", post_id=post_id, state=PostState.CANCELLED.value, version=1, reason=reason)
        if series.remaining is not None:
            series.remaining += 1
        if restore and (series.next_run is None or run.run_at < series.next_run):
            series.next_run = run.run_at
        out.withdrawn.append(run)


async def _arm(series: Recurrence, template: Post, at: datetime | None) -> None:
    """Keep exactly one waiting timer for the series, at ``at`` (none if None)."""
    await Timer.filter(kind=KIND, post_id=template.id, fired_at__isnull=True).delete()
    if at is not None:
        await Timer.create(
            kind=KIND, post_id=template.id, version=template.version, run_at=at, data={"series": series.id}
        )


async def template_changed(post_id: int) -> None:
    """Re-sync the series of ``post_id`` if it is a template (no-op for every other post)."""
    if not await Recurrence.exists(post_id=post_id):
        return
    async with in_transaction():
        locked = await _lock(post_id)
        if locked is not None:
            await sync(*locked, now=None)


_TEMPLATE_STATES = frozenset(s.value for s in WAITING | {PostState.SCHEDULED, *ENDED})


async def _on_audit(sender: type[AuditEntry], instance: AuditEntry, created: bool, *args: Any) -> None:
    """Every recorded state change of a post reaches the series it defines (see the module docstring).

    States a template never takes (publishing, published, failed, missed: only runs go out) are not
    looked up, so the workers' records cost nothing here.
    """
    if created and instance.post_id is not None and instance.state in _TEMPLATE_STATES:
        await template_changed(instance.post_id)


async def _fire(timer: Timer, services: Services) -> None:
    async with in_transaction():
        locked = await _lock(timer.post_id)
        if locked is None:
            return
        synced = await sync(*locked, now=services.clock.now())
    await report(services, locked[0], synced)


def install() -> None:
    """Connect series to the rest of Herald: the audit hook (:func:`_on_audit`) and the ``recurrence`` timer
    kind. Every process that records post states or fires timers calls it once at wiring (calling it again
    changes nothing); importing this module registers nothing."""
    AuditEntry.register_listener(Signals.post_save, _on_audit)
    timers.register(KIND, _fire)


def installed() -> bool:
    """Whether :func:`install` ran in this process (the hook is listening and the timer kind known)."""
    listeners = AuditEntry._listeners.get(Signals.post_save, {}).get(AuditEntry, [])
    return _on_audit in listeners and timers.HANDLERS.get(KIND) is _fire


async def report(services: Services, template: Post, synced: Synced) -> None:
    """Wake the dispatcher for new runs; tell the series' conversation about runs Herald missed."""
    for run in synced.created:
        await services.scheduler.scheduled(run.run_at)
    if synced.missed:
        author = await Member.get(id=template.author_id)  # type: ignore[attr-defined]
        tz = member_zone(author, services)
        series = await Recurrence.get(post_id=template.id)
        when = ", ".join(format_local(t, tz) for t in synced.missed[:3])
        more = f" and {len(synced.missed) - 3} more" if len(synced.missed) > 3 else ""
        after = f"the next run is {format_local(series.next_run, tz)}" if series.next_run else "it has no more runs"
        text = f"Series {template.id} missed its run at {when}{more} because Herald wasn't running; {after}."
        await tell_origin(services, template, Reply(text=text, post_id=template.id, kind="report"))


# --- what members do to a series (/cron) -----------------------------------------------------------------


async def locked(template_id: int) -> tuple[Post, Recurrence]:
    """Lock a series for a change (call inside a transaction)."""
    found = await _lock(template_id)
    if found is None:
        raise NotFound(f"There is no series {template_id}; /cron list shows them.")
    return found


def _refuse_ended(template: Post, verb: str) -> None:
    state = template.lifecycle_state
    if state not in WAITING | {PostState.SCHEDULED}:
        raise InvalidInput(f"Series {template.id} is {state.label}, so it can't be {verb}.")


async def pause(template_id: int, *, now: datetime) -> Synced:
    """Stop a series from running (the run not yet out is withdrawn) until it is resumed."""
    out = Synced()
    async with in_transaction():
        template, series = await locked(template_id)
        _refuse_ended(template, "paused")
        if series.paused:
            raise InvalidInput(f"Series {template_id} is already paused; /cron resume {template_id} starts it again.")
        if series.next_run is None and not await open_runs(series, after=now):
            raise InvalidInput(f"Series {template_id} has finished, so there is nothing to pause.")
        pending = await open_runs(series, after=now)
        await _withdraw(series, pending, out, f"series {template_id} is paused", restore=True)
        series.paused = True
        await series.save()
        await _arm(series, template, None)
        await audit.record("series.paused", post_id=template_id, version=template.version)
    return out


async def resume(template_id: int, *, now: datetime) -> tuple[Post, Recurrence, Synced]:
    """Start a paused series again from its next run after now (runs missed while paused don't go out)."""
    async with in_transaction():
        template, series = await locked(template_id)
        _refuse_ended(template, "resumed")
        if not series.paused:
            raise InvalidInput(f"Series {template_id} isn't paused.")
        series.paused = False
        series.next_run = following(series, now)
        synced = await sync(template, series, now=now)
        await audit.record("series.resumed", post_id=template_id, version=template.version)
    return template, series, synced


async def skip(template_id: int, *, now: datetime) -> tuple[datetime, SeriesRun | None, Recurrence, Synced]:
    """Skip the series' next run; returns its time, the run withdrawn (if its post existed), the series."""
    out = Synced()
    async with in_transaction():
        template, series = await locked(template_id)
        _refuse_ended(template, "skipped")
        if series.paused:
            raise InvalidInput(f"Series {template_id} is paused; /cron resume {template_id} first.")
        pending = await open_runs(series, after=now)
        withdrawn: SeriesRun | None = None
        if pending:
            withdrawn = pending[0]
            skipped = withdrawn.run_at
            await _withdraw(series, [withdrawn], out, f"run skipped with /cron skip {template_id}", restore=False)
            if series.next_run is None:  # it was the last run; its place in the count is free again
                series.next_run = following(series, skipped)
        elif series.next_run is not None:
            skipped = series.next_run
            series.next_run = following(series, skipped)
        else:
            raise InvalidInput(f"Series {template_id} has no next run to skip.")
        synced = await sync(template, series, now=now)
        synced.withdrawn[:0] = out.withdrawn
        await audit.record("series.skipped", post_id=template_id, version=template.version, run_at=skipped.isoformat())
    return skipped, withdrawn, series, synced


@dataclass
class Check:
    """What :func:`check` found and fixed on one series."""

    template: Post
    series: Recurrence
    next_was: datetime | None
    timer_was: datetime | None
    synced: Synced
    timer_now: datetime | None = None


async def check(template_id: int, *, now: datetime) -> Check | None:
    """Re-read one series (not paused, not ended): recompute its next run from the rule, re-create a
    missing next run post and re-arm its timer. None when there was nothing to check.

    The stored next run is kept when it is a run of the rule and still ahead: after the last run not
    yet out (approved series), or of now (waiting for approval; LATE back for an approved series
    without a run ahead). Otherwise it is recomputed from there.
    """
    async with in_transaction():
        template, series = await locked(template_id)
        state = template.lifecycle_state
        if series.paused or state not in WAITING | {PostState.SCHEDULED}:
            return None
        timer = await Timer.filter(kind=KIND, post_id=template_id, fired_at__isnull=True).first()
        found = Check(template, series, series.next_run, timer.run_at if timer else None, Synced())
        pending = await open_runs(series, after=now) if state == PostState.SCHEDULED else []
        floor = pending[-1].run_at if pending else now - (LATE if state == PostState.SCHEDULED else timedelta(0))
        stored = series.next_run
        tz = ZoneInfo(series.timezone)
        on_rule = stored is not None and next_after(series.cron, tz, stored - timedelta(seconds=1)) == stored
        if not (on_rule and stored is not None and stored > floor):
            series.next_run = following(series, floor)
        found.synced = await sync(template, series, now=now)
        timer = await Timer.filter(kind=KIND, post_id=template_id, fired_at__isnull=True).first()
        found.timer_now = timer.run_at if timer else None
    return found


__all__ = [
    "KIND",
    "Check",
    "Spec",
    "Synced",
    "check",
    "following",
    "install",
    "installed",
    "open_runs",
    "pause",
    "read_options",
    "resume",
    "skip",
    "start",
    "sync",
    "where_phrase",
]
