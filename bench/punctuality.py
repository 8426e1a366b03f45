"""Punctuality: how late posts reach the platform, with real dispatcher and worker processes.

``python bench/punctuality.py`` (from the repo root): on PostgreSQL + Redis Cluster, 1,000 approved posts due
evenly over 20 s are published live to the fake platform (its own process); lateness is when the platform
RECEIVES the publish request minus the post's due time. Run once with no other posts stored, then again after
storing 1,000,000 future posts (``INSERT … SELECT generate_series``, timed). One JSON line per run::

    {"bench": "punctuality", "posts": 1000, "stored": 0, "p50_ms": …, "p99_ms": …, "max_ms": …, …}

Targets: p99 ≤ 10 ms, max ≤ 50 ms. ``min_ms`` < 0 (and ``early`` > 0) would mean posts went out before their
time. Before each measured run, a few warm-up posts go through (not counted).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cluster, cpu_reference, emit, lateness_ms, load_average, say, stats_ms
from tests.auxil.stack import DEFAULTS, Stack, due_in


def measure(stack: Stack, *, posts: int, window: float, stored: int, lead_in: float) -> dict[str, object]:
    warm = stack.create_posts(due_in(1.5, count=20, spread=1.0), label=f"warm-{stored}")
    stack.wait_drained(warm, timeout=60)
    batch = stack.create_posts(due_in(lead_in, count=posts, spread=window), label=f"punctual-{stored}")
    say(f"{posts} posts due from {batch[0].due_at:%H:%M:%S.%f} over {window:g} s")
    stack.wait_drained(batch, timeout=window + lead_in + 120)
    outcome = stack.outcome(batch)
    late = lateness_ms(batch, stack.records_by_post(batch))
    return {
        "bench": "punctuality",
        "posts": posts,
        "stored": stored,
        **stats_ms(late),
        "early": sum(1 for v in late if v < 0),
        "lost": len(outcome.lost),
        "duplicates": len(outcome.duplicates),
        "unreported": len(outcome.unreported),
        "window_s": window,
        "workers": len(stack.workers),
        "dispatchers": len(stack.dispatchers),
        "load_avg_1m": load_average(),
        "cpu_ref_s": cpu_reference(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--window", type=float, default=20.0, help="seconds the due times are spread over")
    parser.add_argument("--stored", default="0,1000000", help="comma-separated numbers of future posts stored")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dispatchers", type=int, default=1)
    parser.add_argument("--lead-in", type=float, default=3.0, help="seconds from creating the posts to the first")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    levels = sorted(int(s) for s in args.stored.split(",") if s.strip())
    tuning = replace(DEFAULTS, log_level=args.log_level, log_format="json")
    with (
        cluster() as nodes,
        tempfile.TemporaryDirectory(prefix="herald-bench-") as tmp,
        Stack(
            Path(tmp),
            cluster=nodes,
            name="bench-punct",
            workers=args.workers,
            dispatchers=args.dispatchers,
            tuning=tuning,
        ) as stack,
    ):
        say(f"stack up in {stack.timings['start_s']:.1f} s (queue {stack.queue}, database {stack.db_url})")
        stored = 0
        for level in levels:
            extra: dict[str, object] = {}
            if level > stored:
                say(f"storing {level - stored:,} future posts …")
                first = datetime.now(UTC) + timedelta(hours=1)
                took = stack.store_future_posts(level - stored, first_due=first + timedelta(seconds=stored))
                say(f"stored {level - stored:,} future posts in {took:.1f} s (incl. VACUUM ANALYZE)")
                extra = {"insert_s": round(took, 1)}
                stored = level
            result = measure(stack, posts=args.posts, window=args.window, stored=stored, lead_in=args.lead_in)
            emit({**result, **extra})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
