"""What the benchmarks share: the repo on ``sys.path``, the cluster, progress lines and the JSON result line.

Every benchmark starts (or reuses) what it needs: PostgreSQL must be running on 127.0.0.1:5432 (a fresh
database is made and dropped per run); the Redis Cluster is the one named by ``HERALD_TEST_CLUSTER_PORTS``
if set, else a throw-away 6-node cluster started for the run; the fake platform, the fake chat and the
Herald processes are started as subprocesses by :class:`tests.auxil.stack.Stack`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.auxil.fake_servers import Record  # noqa: E402
from tests.auxil.stack import PostRef, percentile  # noqa: E402
from tests.infra.postgres import require_postgres  # noqa: E402
from tests.infra.redis_cluster import RedisClusterProcess, start_from_env_or_new  # noqa: E402
from tests.infra.services import ServiceUnavailableError  # noqa: E402

_STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line on stderr (stdout carries only the JSON results)."""
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


@contextmanager
def cluster() -> Iterator[RedisClusterProcess]:
    """The cluster from HERALD_TEST_CLUSTER_PORTS, or a new one for this run (stopped at the end)."""
    try:
        require_postgres()
        nodes = start_from_env_or_new()
    except ServiceUnavailableError as exc:
        raise SystemExit(f"bench: {exc}") from None
    say(f"Redis Cluster on ports {nodes.ports}")
    try:
        yield nodes
    finally:
        nodes.stop()


def lateness_ms(posts: list[PostRef], records: dict[int, list[Record]]) -> list[float]:
    """For each post the platform received: first receive time minus due time, in milliseconds."""
    return [
        (min(r.received_at for r in records[p.post_id]) - p.due_at.timestamp()) * 1000.0
        for p in posts
        if records.get(p.post_id)
    ]


def stats_ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan"), "min_ms": float("nan")}
    return {
        "p50_ms": round(percentile(values, 50), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(max(values), 2),
        "min_ms": round(min(values), 2),
    }


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU seconds used so far by every thread of process ``pid`` (and, with ``children``, of the processes it
    started, as `herald serve --workers N` serves from them), to the nanosecond (schedstat); 0 when it is gone."""
    total = 0
    for proc in [pid, *(_descendants(pid) if children else [])]:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for task in Path(f"/proc/{proc}/task").iterdir():
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread that just ended
                    total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                for child in (task / "children").read_text().split():
                    found += [int(child), *_descendants(int(child))]
    return found


def cpu_snapshot(pids: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    return {name: {pid: cpu_seconds(pid) for pid in group} for name, group in pids.items()}


def cpu_used(before: dict[str, dict[int, float]], pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds each component used since ``before`` (processes present in both snapshots count; a process
    that started meanwhile counts from zero)."""
    used = {}
    for name, group in pids.items():
        start = before.get(name, {})
        used[name] = round(sum(max(0.0, cpu_seconds(pid) - start.get(pid, 0.0)) for pid in group), 2)
    return used


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def cpu_reference(repeat: int = 3) -> float:
    """A speed reference for this machine: CPU seconds a fixed pure-Python loop (a generator summed over five
    million integers) takes, best of ``repeat``. A benchmark's CPU figures divided by it compare across machines."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        sum(i for i in range(5_000_000))
        best = min(best, time.process_time() - started)
    return round(best, 3)
