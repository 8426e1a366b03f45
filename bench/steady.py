"""Steady load: what the dispatcher costs at a constant rate of posts, and whether they stay on time.

``python bench/steady.py`` (from the repo root): on PostgreSQL + Redis Cluster, with real dispatcher and worker
processes, approved posts come due at a steady rate (40 a second, each at its own instant) for a few minutes and
are published live to the fake platform (its own process). A warm-up at the same rate runs first and is not
counted. One JSON line per run::

    {"bench": "steady", "rate": 40, "seconds": 150, "posts": 6000, "dispatcher": {"cpu_pct": …, "rss_growth_mb": …,
     "wakeups_per_s": …, …}, "cpu_pct": {…}, "p50_ms": …, "p99_ms": …, "max_ms": …, "early": 0, "lost": 0, …}

Over the measured window (from the first measured post's due time to the last one's):

* ``dispatcher.cpu_pct``: the dispatcher's CPU, in percent of one core; ``cpu_pct`` the same for every component;
* ``dispatcher.rss_growth_mb``: its resident memory at the end of the window minus at the start, and
  ``rss_mb_per_10min`` the least-squares slope of RSS samples taken every few seconds;
* ``dispatcher.wakeups_per_s``: how often it enqueued something (distinct ``queued_at`` values of the measured
  deliveries: a tick stamps the deliveries it takes with its own time) and ``ctx_switches_per_s`` how often the
  process went to sleep and woke up at all (its voluntary context switches: also every database or Redis wait);
* lateness (``p50_ms`` … ``max_ms``, ``early``): when the platform received each publish minus its due time.

The machine's speed is given as ``cpu_ref_s`` (see :func:`bench.common.cpu_reference`) before and after.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    cluster,
    cpu_reference,
    cpu_snapshot,
    cpu_used,
    emit,
    lateness_ms,
    load_average,
    say,
    stats_ms,
)
from tests.auxil.stack import DEFAULTS, Stack, due_in

SAMPLE_EVERY = 5.0


def status(pid: int, field: str) -> int:
    """A number from ``/proc/<pid>/status`` (``VmRSS`` in kB, ``voluntary_ctxt_switches``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def slope_per_10min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per 10 minutes."""
    if len(samples) < 2:
        return float("nan")
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    return round(cov / var * 600, 2) if var else float("nan")


def sleep_until(at: float) -> None:
    while (left := at - time.time()) > 0:
        time.sleep(min(left, 0.5))


def run(stack: Stack, *, rate: float, seconds: float, warmup: float, lead_in: float) -> dict[str, object]:
    [dispatcher] = [p.pid for p in stack.dispatchers]
    start = time.time() + lead_in
    warm = stack.create_posts(
        due_in(0, count=int(rate * warmup), spread=warmup, now=start), label="steady-warm"
    )  # one stream of due times: the measured posts follow the warm-up's without a gap
    posts = stack.create_posts(
        due_in(0, count=int(rate * seconds), spread=seconds, now=start + warmup + 1 / rate), label="steady"
    )
    first, last = posts[0].due_at.timestamp(), posts[-1].due_at.timestamp()
    say(f"{len(warm)} warm-up posts, then {len(posts)} due from {posts[0].due_at:%H:%M:%S} over {seconds:g} s")
    reference = cpu_reference()
    sleep_until(first)
    before = cpu_snapshot(stack.component_pids())
    switches = status(dispatcher, "voluntary_ctxt_switches")
    rss: list[tuple[float, float]] = [(0.0, status(dispatcher, "VmRSS") / 1024)]
    while time.time() < last:
        sleep_until(min(last, first + len(rss) * SAMPLE_EVERY))
        rss.append((time.time() - first, status(dispatcher, "VmRSS") / 1024))
    window = time.time() - first
    cpu = cpu_used(before, stack.component_pids())
    switches = status(dispatcher, "voluntary_ctxt_switches") - switches
    load = load_average()
    say(f"window over ({window:.0f} s); waiting for the last posts")
    stack.wait_drained(posts, timeout=120)
    outcome = stack.outcome(posts)
    late = lateness_ms(posts, stack.records_by_post(posts))
    wakeups = {row.queued_at for row in stack.deliveries(posts) if row.queued_at is not None}
    return {
        "bench": "steady",
        "rate": rate,
        "seconds": seconds,
        "posts": len(posts),
        "dispatcher": {
            "cpu_pct": round(cpu["dispatchers"] / window * 100, 1),
            "rss_start_mb": round(rss[0][1], 1),
            "rss_growth_mb": round(rss[-1][1] - rss[0][1], 2),
            "rss_mb_per_10min": slope_per_10min(rss),
            "wakeups_per_s": round(len(wakeups) / window, 1),
            "ctx_switches_per_s": round(switches / window, 1),
        },
        "cpu_pct": {name: round(used / window * 100, 1) for name, used in cpu.items()},
        **stats_ms(late),
        "early": sum(1 for v in late if v < 0),
        "lost": len(outcome.lost) + len(outcome.unpublished),
        "duplicates": len(outcome.duplicates),
        "unreported": len(outcome.unreported),
        "workers": len(stack.workers),
        "load_avg_1m": load,
        "cpu_ref_s": reference,
        "cpu_ref_end_s": cpu_reference(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=40.0, help="posts due per second")
    parser.add_argument("--seconds", type=float, default=150.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds at the same rate before it, not counted")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lead-in", type=float, default=5.0, help="seconds from creating the posts to the first")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    tuning = replace(DEFAULTS, log_level=args.log_level, log_format="json")
    with (
        cluster() as nodes,
        tempfile.TemporaryDirectory(prefix="herald-bench-") as tmp,
        Stack(
            Path(tmp), cluster=nodes, name="bench-steady", workers=args.workers, dispatchers=1, tuning=tuning
        ) as stack,
    ):
        say(f"stack up in {stack.timings['start_s']:.1f} s (queue {stack.queue})")
        emit(run(stack, rate=args.rate, seconds=args.seconds, warmup=args.warmup, lead_in=args.lead_in))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
