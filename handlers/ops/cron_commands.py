"""/cron: look at recurring series and steer them (list, status, pause, resume, skip, restart).

A series is known by the number of the post that defines it (its template): ``/cron pause 3``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.context import Context
from handlers.messages import Reply, info
from handlers.router import Router
from handlers.text.commandline import parse_post_id
from handlers.timing import recurring
from handlers.timing.cronrules import next_after
from handlers.timing.timeparse import format_local
from models.errors import InvalidInput, NotFound, PermissionDenied
from models.lifecycle import PostState
from models.members import ADMIN_ROLE, OPS_ROLE
from models.posts import Delivery, Post
from models.recurrence import Recurrence

router = Router()
CRON_USAGE = "/cron list · /cron status · /cron pause ID · /cron resume ID · /cron skip ID · /cron restart"
OVERDUE = timedelta(minutes=1)
"""A series whose next run is this far past without having gone out missed its schedule."""
STATUS_RUNS = 5


@dataclass(frozen=True)
class View:
    """One series as /cron shows it."""

    template: Post
    series: Recurrence
    state: str  # active, paused, finished, awaiting approval, waiting for changes, draft, or the template's end
    upcoming: list[datetime]  # its next runs (as many as asked for), earliest first
    targets: list[str]

    @property
    def id(self) -> int:
        return self.template.id

    @property
    def words(self) -> str:
        return recurring.rule_words(self.series.cron, self.series.timezone)


async def view(series: Recurrence, *, now: datetime, runs: int = 1) -> View:
    template = await Post.get(id=series.post_id)  # type: ignore[attr-defined]
    ahead = await recurring.open_runs(series)  # also those due already but not out yet: overdue shows
    targets = await Delivery.filter(post_id=template.id).order_by("id").prefetch_related("account")
    state = template.lifecycle_state
    if state in recurring.WAITING:
        label = "awaiting approval" if state == PostState.PENDING_APPROVAL else state.label
    elif state != PostState.SCHEDULED:
        label = state.label
    elif series.paused:
        label = "paused"
    elif not ahead and series.next_run is None:
        label = "finished"
    else:
        label = "active"
    upcoming = [r.run_at for r in ahead][:runs] if label == "active" else []
    at, remaining = series.next_run, series.remaining
    while at is not None and len(upcoming) < runs and label in {"active", "awaiting approval"}:
        upcoming.append(at)
        if remaining is not None:
            remaining -= 1
        nxt = next_after(series.cron, ZoneInfo(series.timezone), at)
        ended = (remaining is not None and remaining <= 0) or (series.until is not None and nxt > series.until)
        at = None if ended else nxt
    return View(template, series, label, upcoming, [t.account.handle for t in targets])


async def all_views(*, now: datetime, runs: int = 1) -> list[View]:
    return [await view(s, now=now, runs=runs) for s in await Recurrence.all().order_by("post_id")]


def _line(v: View, ctx: Context) -> str:
    head = f"#{v.id} {v.words} → {', '.join(v.targets)}"
    if v.state == "active" and v.upcoming:
        return f"{head} — active, next run {format_local(v.upcoming[0], ctx.tz)}"
    if v.state == "awaiting approval" and v.upcoming:
        return f"{head} — awaiting approval, next run {format_local(v.upcoming[0], ctx.tz)} once approved"
    return f"{head} — {v.state}"


def _series_id(words: list[str], verb: str) -> int:
    if len(words) != 1:
        raise InvalidInput(f"Which series? Usage: /cron {verb} ID (the number of its post; /cron list shows them)")
    return parse_post_id(words[0], f"/cron {verb} ID")


async def _may_steer(ctx: Context, template_id: int, verb: str) -> None:
    series = await _find(template_id)
    template = await Post.get(id=series.post_id)  # type: ignore[attr-defined]
    if template.author_id != ctx.member.id and not ctx.has_role(ADMIN_ROLE):  # type: ignore[attr-defined]
        raise PermissionDenied(f"Only the author of series {template_id} or an admin can {verb} it.")


async def _find(template_id: int) -> Recurrence:
    series = await Recurrence.filter(post_id=template_id).first()
    if series is None:
        if await Post.exists(id=template_id):
            raise NotFound(f"Post {template_id} is not a recurring series; /cron list shows them.")
        raise NotFound(f"There is no series {template_id}; /cron list shows them.")
    return series


cron = router.group("cron", CRON_USAGE, "recurring posts: list, status, pause, resume, skip, restart", default="list")


@cron.command("pause")
async def pause_command(ctx: Context, args: str) -> list[Reply]:
    template_id = await _steered(ctx, args, "pause")
    return await _pause(ctx, template_id)


@cron.command("resume")
async def resume_command(ctx: Context, args: str) -> list[Reply]:
    template_id = await _steered(ctx, args, "resume")
    return await _resume(ctx, template_id)


@cron.command("skip")
async def skip_command(ctx: Context, args: str) -> list[Reply]:
    template_id = await _steered(ctx, args, "skip")
    return await _skip(ctx, template_id)


async def _steered(ctx: Context, args: str, verb: str) -> int:
    """The series ``args`` names, if the member may steer it (its author, or an admin)."""
    template_id = _series_id(args.split(), verb)
    await _may_steer(ctx, template_id, verb)
    return template_id


@cron.command("list", ephemeral=True)
async def list_command(ctx: Context, args: str) -> list[Reply]:
    views = await all_views(now=ctx.now)
    if not views:
        return [info('There are no recurring series yet; start one with /draft --every "every weekday 09:00" TEXT.')]
    return [info("Recurring series:\n" + "\n".join(_line(v, ctx) for v in views))]


@cron.command("status", role=OPS_ROLE, ephemeral=True)
async def status_command(ctx: Context, args: str) -> list[Reply]:
    views = await all_views(now=ctx.now, runs=STATUS_RUNS)
    counts = {state: sum(1 for v in views if v.state == state) for state in ("active", "paused", "finished")}
    text = f"Series: {counts['active']} active, {counts['paused']} paused, {counts['finished']} finished"
    waiting = sum(1 for v in views if v.state in {"awaiting approval", "waiting for changes", "draft"})
    ended = len(views) - sum(counts.values()) - waiting
    extra = [f"{waiting} awaiting approval"] * bool(waiting) + [f"{ended} ended"] * bool(ended)
    lines = [text + (f" (and {', '.join(extra)})." if extra else ".")]
    runs = sorted((at, v) for v in views if v.state == "active" for at in v.upcoming if at >= ctx.now)
    if runs:
        lines.append("Next runs:")
        for at, v in runs[:STATUS_RUNS]:
            lines.append(f"{format_local(at, ctx.tz)} — series {v.id} → {', '.join(v.targets)}")
    else:
        lines.append("No runs ahead.")
    late = [v for v in views if v.state == "active" and v.upcoming and v.upcoming[0] < ctx.now - OVERDUE]
    if late:
        lines.append(
            "Missed schedule: "
            + "; ".join(f"series {v.id} should have run at {format_local(v.upcoming[0], ctx.tz)}" for v in late)
            + ". /cron restart checks and repairs the series."
        )
    else:
        lines.append("Missed schedule: none.")
    return [info("\n".join(lines))]


async def _upcoming(series: Recurrence, ctx: Context) -> str:
    current = await view(series, now=ctx.now)
    if not current.upcoming:
        return "it has no more runs"
    once = " once approved" if current.state == "awaiting approval" else ""
    return f"next run {format_local(current.upcoming[0], ctx.tz)}{once}"


async def _pause(ctx: Context, template_id: int) -> list[Reply]:
    synced = await recurring.pause(template_id, now=ctx.now)
    withdrawn = "".join(
        f"; post {r.post_id} (its run at {format_local(r.run_at, ctx.tz)}) is withdrawn"  # type: ignore[attr-defined]
        for r in synced.withdrawn
    )
    return [info(f"Series {template_id} is paused{withdrawn}. /cron resume {template_id} starts it again.")]


async def _resume(ctx: Context, template_id: int) -> list[Reply]:
    template, series, synced = await recurring.resume(template_id, now=ctx.now)
    await recurring.report(ctx.services, template, synced)
    return [info(f"Series {template_id} runs again; {await _upcoming(series, ctx)}.")]


async def _skip(ctx: Context, template_id: int) -> list[Reply]:
    skipped, withdrawn, series, synced = await recurring.skip(template_id, now=ctx.now)
    template = await Post.get(id=template_id)
    await recurring.report(ctx.services, template, synced)
    post = f" (post {withdrawn.post_id} is withdrawn)" if withdrawn else ""  # type: ignore[attr-defined]
    return [
        info(
            f"Series {template_id} skips its run at {format_local(skipped, ctx.tz)}{post}; "
            f"{await _upcoming(series, ctx)}."
        )
    ]


@cron.command("restart", role=OPS_ROLE, ephemeral=True)
async def restart_command(ctx: Context, args: str) -> list[Reply]:
    checked, fixes = 0, []
    for series in await Recurrence.all().order_by("post_id"):
        found = await recurring.check(series.post_id, now=ctx.now)  # type: ignore[attr-defined]
        if found is None:
            continue
        checked += 1
        await recurring.report(ctx.services, found.template, found.synced)
        notes = _fixes(found, ctx)
        if notes:
            fixes.append(f"series {found.template.id}: {', '.join(notes)}")
    text = f"Checked {checked} series, fixed {len(fixes)}"
    return [info(text + (": " + "; ".join(fixes) + "." if fixes else "."))]


def _fixes(found: recurring.Check, ctx: Context) -> list[str]:
    def when(at: datetime | None) -> str:
        return format_local(at, ctx.tz) if at is not None else "none"

    synced, series = found.synced, found.series
    notes = [f"skipped the missed run at {when(at)}" for at in synced.missed]
    notes += [f"withdrew post {r.post_id} (run at {when(r.run_at)})" for r in synced.withdrawn]  # type: ignore[attr-defined]
    notes += [f"created post {r.post_id} for {when(r.run_at)}" for r in synced.created]  # type: ignore[attr-defined]
    if not synced.created and found.next_was != series.next_run:
        notes.append(f"next run was {when(found.next_was)}, now {when(series.next_run)}")
    if not notes and found.timer_was != found.timer_now:
        was = f"it was set for {when(found.timer_was)}" if found.timer_was else "it was missing"
        notes.append(f"re-armed its timer ({was})")
    return notes


__all__ = ["View", "all_views", "router", "view"]
