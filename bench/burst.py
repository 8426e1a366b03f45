"""Burst: 10,000 posts due in the same second, end to end.

``python bench/burst.py`` (from the repo root): on PostgreSQL + Redis Cluster, with real dispatcher and worker
processes, 10,000 approved posts all due at the same instant are published live to the fake platform (its own
process) and each is reported into the conversation it came from. The report goes to a fake chat over HTTP:
the fake Slack Web API (its own process) through Herald's Slack notifier (``bot/slack/notifier.py``), each
post from its own Slack channel by default (``--channels``). With ``--chat outbox`` (or when this build has
no Slack notifier) reports go to the outbox table instead, for the local shell. One JSON line per run::

    {"bench": "burst", "posts": 10000, "seconds": …, "posts_per_s": …, "lost": 0, "duplicates": 0, …}

``seconds`` is the drain time: from the due instant until the last report arrived at the chat (outbox: was
written) or the last publish arrived at the platform, whichever is later; ``posts_per_s`` = posts / seconds.
``publish_s`` is the same for the platform alone. Target: ≥ 2,000 posts/s on 2 cores.

Because a shared machine's other load changes the drain time, the line also gives the CPU seconds each component
used during the run (``cpu_s``: workers, dispatchers, the fake platform, the fake chat, PostgreSQL backends,
Redis nodes), their sum per post (``cpu_ms_per_post``: 2 cores give at most 2,000 / that many posts/s) and the
1-minute load average at the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cluster, cpu_reference, cpu_snapshot, cpu_used, emit, lateness_ms, load_average, say
from tests.auxil.stack import DEFAULTS, Stack, due_in, percentile

FAKES = ("platform", "chat")  # the stand-ins for the platform and Slack among the components in cpu_s


def slack_notifier_available() -> bool:
    return importlib.util.find_spec("bot.slack.notifier") is not None


def run(stack: Stack, *, posts: int, channels: int, lead_in: float, chat: str) -> dict[str, object]:
    def origin(i: int) -> dict[str, object]:
        if chat == "slack":
            return {"adapter": "slack", "channel": f"C{i % channels:08d}", "thread": None}
        return {"adapter": "shell", "channel": f"bench-{i % channels}", "thread": None}

    warm = stack.create_posts(due_in(1.5, count=50, spread=0.5), origin=origin, label="warm")
    stack.wait_drained(warm, timeout=120)
    reference = cpu_reference()  # this VM's speed changes by up to 1.7× from one minute to the next
    say(f"warm-up done; creating {posts:,} posts due together")
    batch = stack.create_posts(due_in(lead_in, count=posts), origin=origin, label="burst")
    due = batch[0].due_at.timestamp()
    say(f"{posts:,} posts due at {batch[0].due_at:%H:%M:%S.%f}")
    before = cpu_snapshot(stack.component_pids())
    stack.wait_drained(batch, timeout=lead_in + 900, report_grace=900, interval=0.5)
    cpu = cpu_used(before, stack.component_pids())
    load = load_average()
    outcome = stack.outcome(batch)
    records = stack.records_by_post(batch)
    last_publish = max(r.received_at for rs in records.values() for r in rs)
    if chat == "slack":
        last_report = max(m["at"] for m in stack.chat_reports(batch))
    else:
        last_report = max(r["created_at"].timestamp() for r in stack.reports(batch))
    seconds = max(last_publish, last_report) - due
    late = lateness_ms(batch, records)
    rows = stack.deliveries(batch)

    def phase(field: str) -> dict[str, float]:
        """When the burst's deliveries reached a stage, in seconds after the due time (p50 and last)."""
        times = [getattr(r, field).timestamp() - due for r in rows if getattr(r, field) is not None]
        return {"p50": round(percentile(times, 50), 2), "last": round(max(times), 2)} if times else {}

    return {
        "bench": "burst",
        "posts": posts,
        "seconds": round(seconds, 2),
        "posts_per_s": round(posts / seconds, 1),
        "lost": len(outcome.lost) + len(outcome.unpublished),
        "duplicates": len(outcome.duplicates),
        "unreported": len(outcome.unreported),
        "reported_twice": len(outcome.over_reported),
        "publish_s": round(last_publish - due, 2),
        "publish_p50_ms": round(percentile(late, 50), 1),
        # where the time goes: enqueued by the dispatcher, claimed by a worker, recorded, told
        "stages_s": {name: phase(name) for name in ("queued_at", "claimed_at", "published_at", "reported_at")},
        "chat": "slack (fake, HTTP)" if chat == "slack" else "outbox",
        "channels": channels,
        "workers": len(stack.workers),
        "dispatchers": len(stack.dispatchers),
        "concurrency": stack.tuning.concurrency,
        "cpu_s": cpu,
        "cpu_ms_per_post": round(sum(cpu.values()) * 1000 / posts, 2),
        # Herald's own processes only: in production the platform and Slack don't run on these cores
        "herald_cpu_ms_per_post": round(sum(v for k, v in cpu.items() if k not in FAKES) * 1000 / posts, 2),
        "load_avg_1m": load,
        "cpu_ref_s": reference,
        "cpu_ref_end_s": cpu_reference(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dispatchers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=DEFAULTS.concurrency, help="HERALD_WORKER_CONCURRENCY")
    parser.add_argument("--channels", type=int, default=0, help="conversations the posts come from (0: one each)")
    parser.add_argument("--chat", choices=["slack", "outbox"], default=None, help="default: slack when available")
    parser.add_argument("--lead-in", type=float, default=5.0, help="seconds from creating the posts to their due time")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    chat = args.chat or ("slack" if slack_notifier_available() else "outbox")
    if chat == "slack" and not slack_notifier_available():
        raise SystemExit("bench: this build has no Slack notifier (bot/slack/notifier.py); use --chat outbox")
    if chat == "outbox":
        say("reports go to the outbox table (no fake chat over HTTP)")
    tuning = replace(DEFAULTS, concurrency=args.concurrency, log_level=args.log_level, log_format="json")
    with (
        cluster() as nodes,
        tempfile.TemporaryDirectory(prefix="herald-bench-") as tmp,
        Stack(
            Path(tmp),
            cluster=nodes,
            name="bench-burst",
            workers=args.workers,
            dispatchers=args.dispatchers,
            tuning=tuning,
            chat=chat == "slack",
        ) as stack,
    ):
        say(f"stack up in {stack.timings['start_s']:.1f} s (queue {stack.queue})")
        emit(run(stack, posts=args.posts, channels=args.channels or args.posts, lead_in=args.lead_in, chat=chat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
