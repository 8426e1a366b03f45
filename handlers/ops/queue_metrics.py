"""/queue metrics: how deliveries went over the last 24 hours, per platform, for the people who run Herald.

Read from the database, so every process answers the same whichever workers did the work:

* outcomes per platform: published, failed, unknown (a human must verify) and missed (came due while Herald
  was down), with the share that did not go out. Each is counted by the nearest time the table keeps, as
  /queue status does: published by ``published_at``, failed and unknown by their last claim, missed by due time;
* how late published posts went out: p50 / p95 / max of ``published_at − due_at`` (``published_at`` is written
  right after the platform answered, so it includes the platform's own time);
* retries: outcomes that took more than one attempt;
* how long the chat waited to be told: p50 / p95 of ``reported_at − published_at``;
* the most common failure reasons (the platform's own sentence), at most three.

The newest :data:`CAP` outcomes of the window are read at most, so the command stays cheap on a busy instance;
the reply says when the cap cut the window short.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, NamedTuple

from handlers.context import Context
from handlers.text.platforms import PLATFORMS
from handlers.timing.timeparse import format_age, format_local
from models.lifecycle import DeliveryState
from models.posts import Delivery

WINDOW: Final = timedelta(hours=24)
CAP: Final = 10_000
REASONS: Final = 3
S = DeliveryState
NOT_OUT: Final = (S.FAILED, S.UNKNOWN, S.MISSED)


@dataclass
class Platform:
    """What one platform's deliveries did in the window."""

    outcomes: Counter[str] = field(default_factory=Counter)
    late_s: list[float] = field(default_factory=list)
    told_after_s: list[float] = field(default_factory=list)
    retried: int = 0


async def metrics_text(ctx: Context) -> str:
    now = ctx.now
    since = now - WINDOW
    rows, capped = await _outcomes(since, now)
    lines = [f"Queue metrics, last 24 h to {format_local(now, ctx.tz)}:"]
    if capped:
        lines.append(f"(The newest {CAP:,} outcomes; there were more.)")
    if not rows:
        lines.append("No delivery finished in the last 24 hours.")
        return "\n".join(lines)
    by_platform: dict[str, Platform] = defaultdict(Platform)
    reasons: Counter[str] = Counter()
    for row in rows:
        seen = by_platform[row.platform]
        seen.outcomes[row.state] += 1
        seen.retried += row.attempts > 1
        if row.state == S.PUBLISHED.value and row.published_at is not None:
            if row.due_at is not None:
                seen.late_s.append((row.published_at - row.due_at).total_seconds())
            if row.reported_at is not None:
                seen.told_after_s.append((row.reported_at - row.published_at).total_seconds())
        elif row.state in (S.FAILED.value, S.UNKNOWN.value) and row.last_error:
            reasons[row.last_error.strip()] += 1
    every = Platform()
    for name in sorted(by_platform, key=lambda n: -sum(by_platform[n].outcomes.values())):
        seen = by_platform[name]
        lines.append(_platform_line(PLATFORMS[name].label if name in PLATFORMS else name, seen))
        every.outcomes.update(seen.outcomes)
        every.late_s += seen.late_s
        every.told_after_s += seen.told_after_s
        every.retried += seen.retried
    if len(by_platform) > 1:
        lines.append(_platform_line("All platforms", every))
    if every.late_s:
        lines.append(f"Went out after their time: {_spread(every.late_s)}.")
    if every.told_after_s:
        lines.append(f"Chat told after publishing: {_spread(every.told_after_s)}.")
    total = sum(every.outcomes.values())
    lines.append(f"Retried: {every.retried} of {total} took more than one attempt.")
    if reasons:
        lines.append("Most common failures:")
        lines += [f"{n}× {reason}" for reason, n in reasons.most_common(REASONS)]
    return "\n".join(lines)


FINISHED: Final = (
    (S.PUBLISHED, "published_at"),
    (S.FAILED, "claimed_at"),
    (S.UNKNOWN, "claimed_at"),
    (S.MISSED, "due_at"),
)
COLUMNS: Final = ("account__platform", "state", "attempts", "due_at", "published_at", "reported_at", "last_error")


class Outcome(NamedTuple):
    finished: datetime
    platform: str
    state: str
    attempts: int
    due_at: datetime | None
    published_at: datetime | None
    reported_at: datetime | None
    last_error: str | None


async def _outcomes(since: datetime, now: datetime) -> tuple[list[Outcome], bool]:
    """Deliveries that reached an outcome in (since, now], newest first, at most CAP; and whether there were more.

    Plain tuples, not model instances: the command runs on a web process's event loop, next to Slack's acks.
    """
    done: list[Outcome] = []
    for state, column in FINISHED:
        window = {f"{column}__gt": since, f"{column}__lte": now}
        rows = (
            await Delivery.filter(state=state.value, **window)
            .order_by(f"-{column}")
            .limit(CAP + 1)
            .values_list(column, *COLUMNS)
        )
        done += [Outcome(*row) for row in rows]
    done.sort(key=lambda outcome: outcome.finished, reverse=True)
    return done[:CAP], len(done) > CAP


def _platform_line(label: str, seen: Platform) -> str:
    counts = seen.outcomes
    total = sum(counts.values())
    missing = sum(counts[s.value] for s in NOT_OUT)
    parts = [f"{counts[S.PUBLISHED.value]} published"]
    parts += [f"{counts[s.value]} {s.value}" for s in NOT_OUT if counts[s.value]]
    share = f" ({_percent(missing, total)} did not go out)" if missing else ""
    late = f"; late p50 {_duration(_percentile(seen.late_s, 50))}" if seen.late_s else ""
    return f"{label}: {', '.join(parts)}{share}{late}."


def _spread(values: Sequence[float]) -> str:
    return (
        f"p50 {_duration(_percentile(values, 50))}, p95 {_duration(_percentile(values, 95))}, "
        f"max {_duration(max(values))}"
    )


def _percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _duration(seconds: float) -> str:
    """``12 ms``, ``1.4 s``, then as :func:`~handlers.timing.timeparse.format_age`; early (negative) shows as such."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{sign}{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{sign}{seconds:.1f} s"
    return sign + format_age(timedelta(seconds=seconds))


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"


__all__ = ["CAP", "WINDOW", "metrics_text"]
