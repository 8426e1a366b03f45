"""Chaos: real `herald worker` and `herald dispatcher` processes on PostgreSQL + a 6-node Redis Cluster, publishing
live to fake platforms in their own processes, while we kill things.

R1 SIGKILL a worker mid-run, R2 SIGKILL the master holding the stream, R3 ``pg_terminate_backend`` the workers'
database sessions: every post must reach the platform exactly once (counted at the fake), every delivery end
``published`` and every post be reported once (outbox). Each of R1–R3 starts its own cluster because it kills
nodes or processes; the platform-failure tests share one stack on the session cluster and run their scenarios
side by side (they are started together by the module fixture, each test checks its own).

Only processes the test started are killed, by their PIDs (HeraldProcess.kill, RedisClusterProcess.kill_node).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tasks.platforms.http import DEFAULT_TIMEOUT
from tests.auxil.fake_servers import Platform
from tests.auxil.processes import HeraldProcess
from tests.auxil.stack import CHAOS, PostRef, Stack, chaos_tuning, due_in
from tests.infra.redis_cluster import RedisClusterProcess

pytestmark = [pytest.mark.chaos, pytest.mark.cluster, pytest.mark.postgres, pytest.mark.timeout(240)]

POSTS = 500
#: The accounts publish with Herald's real Mastodon client (Idempotency-Key) to the fake platform, which speaks
#: Mastodon's ``POST /api/v1/statuses``.
MASTODON = "mastodon"
DRAIN_TIMEOUT = 75.0


def wait_until(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting until {what}")


def published_count(stack: Stack, posts: list[PostRef]) -> int:
    return sum(1 for d in stack.deliveries(posts) if d.state == "published")


def in_flight(stack: Stack, worker: HeraldProcess) -> int:
    rows = stack.fetch(
        "SELECT count(*) AS n FROM deliveries WHERE state = 'publishing' AND claimed_by = $1", stack.worker_id(worker)
    )
    return int(rows[0]["n"])


def stuck_details(stack: Stack, posts: list[PostRef]) -> str:
    """The deliveries that are not published or not reported, with who claimed them and why they stopped."""
    reported = {r["post_id"] for r in stack.reports(posts)}
    rows = [d for d in stack.deliveries(posts) if d.state != "published" or d.post_id not in reported]
    states = stack.fetch("SELECT id, state FROM posts WHERE id = ANY($1::int[])", [d.post_id for d in rows])
    post_state = {r["id"]: r["state"] for r in states}
    workers = {stack.worker_id(p): p.name for p in stack.workers}
    shown = "\n".join(
        f"  delivery {d.id} (post {d.post_id}, post state {post_state.get(d.post_id)}): {d.state}, "
        f"{'reported' if d.post_id in reported else 'NOT reported'}, attempts {d.attempts}, "
        f"claimed by {workers.get(d.claimed_by or '', d.claimed_by)}, last_error {d.last_error!r}"
        for d in rows[:20]
    )
    return f"{len(rows)} deliveries not published or not reported:\n{shown}" if rows else ""


def drain_and_check(stack: Stack, posts: list[PostRef], *, timeout: float = DRAIN_TIMEOUT) -> None:
    """Wait until drained, then assert exactly once; the failure message says what was lost or doubled."""
    note = ""
    try:
        stack.wait_drained(posts, timeout=timeout)
    except TimeoutError as exc:
        note = f"{exc}\n"
    outcome = stack.outcome(posts)
    assert outcome.ok, (
        f"{note}{outcome.summary()}\n{stuck_details(stack, posts)}\n"
        f"log lines: stream.reclaimed {stack.grep_logs('stream.reclaimed')}, "
        f"dispatch.requeued {stack.grep_logs('dispatch.requeued')}, reconcile {stack.grep_logs('reconcile.')}, "
        f"db.retry {stack.grep_logs('db.retry')}, notify.failed {stack.grep_logs('notify.failed')}, "
        f"Traceback {stack.grep_logs('Traceback')}"
    )


def assert_survivors_alive(stack: Stack, killed: Sequence[HeraldProcess] = ()) -> None:
    dead = [p for p in stack.dead() if p not in killed]
    assert not dead, f"processes died: {[(p.name, p.proc.returncode) for p in dead]}\n{stack.logs()}"


# ------------------------------------------------------------------------------------------------ R1–R3


def test_r1_worker_sigkilled_mid_run_publishes_every_post_once(tmp_path: Path) -> None:
    with Stack(tmp_path, name="chaos-r1", workers=3, dispatchers=2, tuning=CHAOS, account_platform=MASTODON) as stack:
        # Each publish is held 0.2 s by the platform after it is recorded: a killed worker dies with posts that
        # reached the platform but whose answer it never read, the hardest case for exactly once.
        stack.platform.configure(mode="slow", delay=0.2)
        posts = stack.create_posts(due_in(2.0, count=POSTS, spread=3.0))
        victim = stack.workers[0]
        wait_until(
            "the victim worker has publishes in flight mid-run",
            lambda: in_flight(stack, victim) >= 3 and published_count(stack, posts) >= 100,
            timeout=30,
        )
        victim.kill()
        killed_in_flight = in_flight(stack, victim)
        assert killed_in_flight >= 1, "the victim had nothing in flight: the test proved nothing"
        drain_and_check(stack, posts)
        assert_survivors_alive(stack, [victim])


def test_r2_stream_master_sigkilled_replica_takes_over(tmp_path: Path) -> None:
    with Stack(tmp_path, name="chaos-r2", workers=2, dispatchers=2, tuning=CHAOS, account_platform=MASTODON) as stack:
        stack.platform.configure(mode="slow", delay=0.05)
        posts = stack.create_posts(due_in(2.0, count=POSTS, spread=6.0))
        master = stack.cluster.master_port_for_key(stack.queue)
        wait_until("a fifth of the posts are published", lambda: published_count(stack, posts) >= POSTS // 5, 30)
        stack.cluster.kill_node(master)
        new_master = stack.cluster.wait_for_failover(master, timeout=30)
        assert new_master != master
        assert stack.cluster.master_port_for_key(stack.queue) == new_master
        drain_and_check(stack, posts)
        assert_survivors_alive(stack)


def test_r3_worker_database_sessions_terminated_mid_run(tmp_path: Path) -> None:
    with Stack(tmp_path, name="chaos-r3", workers=2, dispatchers=1, tuning=CHAOS, account_platform=MASTODON) as stack:
        stack.platform.configure(mode="slow", delay=0.05)
        posts = stack.create_posts(due_in(2.0, count=POSTS, spread=4.0))
        wait_until("the run is under way", lambda: published_count(stack, posts) >= 50, 30)
        terminated = 0
        for _ in range(20):  # every 0.15 s for 3 s: sessions die mid-claim, mid-record and mid-report
            terminated += stack.terminate_worker_connections()
            time.sleep(0.15)
        assert terminated > 0, "no worker session was terminated: the test proved nothing"
        drain_and_check(stack, posts)
        assert_survivors_alive(stack)


# ------------------------------------------------------------------------------------------------ platform failures

#: The failure scenarios run with a task timeout well below the publishers' 30 s read timeout, as an operator
#: may set it; the stream's reclaim window stays above it, as tasks/streams.py asks.
FAILURE_TUNING = chaos_tuning(task_timeout=10.0, reclaim_idle=12.0)


@dataclass
class Scenario:
    platform: Platform
    post: PostRef


@pytest.fixture(scope="module")
def failures(
    cluster: RedisClusterProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, dict[str, Scenario]]]:
    """One stack; one fake platform (own process) and account per failure mode; all posts due 2 s from now, so
    the scenarios (the hangs take the publishers' read timeout) run side by side."""
    workdir = tmp_path_factory.mktemp("chaos-failures")
    with Stack(workdir, cluster=cluster, name="chaos-fail", workers=2, dispatchers=1, tuning=FAILURE_TUNING) as stack:
        setups: dict[str, tuple[str, dict[str, Any], list[str]]] = {
            # name: (account platform, fake settings, scripted first answers)
            # the idempotent ones publish with Herald's real Mastodon client (the fake speaks its wire format)
            "rate_limit": (MASTODON, {"idempotent": True, "retry_after": 3}, ["rate_limit"]),
            "server_error": (MASTODON, {"idempotent": True}, ["server_error"]),
            "reject": (MASTODON, {"idempotent": True, "mode": "reject"}, []),
            "hang_nokey": ("fake-nokey", {"idempotent": False}, ["hang"]),
            "hang_idempotent": (MASTODON, {"idempotent": True}, ["hang"]),
        }
        due = due_in(2.0, count=1)
        scenarios = {}
        for name, (kind, settings, script) in setups.items():
            platform = stack.add_platform(name=name, **settings)
            if script:
                platform.configure(script=script)
            account = stack.add_account(name.replace("_", "-"), base_url=platform.url, platform=kind)
            [post] = stack.create_posts(due, accounts=[account], label=name)
            scenarios[name] = Scenario(platform, post)
        yield stack, scenarios


def settled(stack: Stack, post: PostRef, timeout: float = 90.0) -> tuple[str, int, str | None]:
    """Wait until the post's delivery is final and reported; (state, attempts, last_error)."""
    stack.wait_drained([post], timeout=timeout)
    [row] = stack.deliveries([post])
    return row.state, row.attempts, row.last_error


def report_texts(stack: Stack, post: PostRef) -> list[str]:
    return [r["text"] for r in stack.reports([post])]


def after_held_request_ended(post: PostRef) -> None:
    """Sleep until the worker that sent the held (``hang``) request has given up on it: its read timeout after
    the due time, plus a margin for recording what happened."""
    end = post.due_at.timestamp() + (DEFAULT_TIMEOUT.read or 30.0) + 4.0
    time.sleep(max(0.0, end - time.time()))


def test_rate_limited_retry_after_is_honoured_then_published(failures: tuple[Stack, dict[str, Scenario]]) -> None:
    stack, scenarios = failures
    scenario = scenarios["rate_limit"]
    state, attempts, _ = settled(stack, scenario.post)
    records = scenario.platform.records()
    # the platform saw two requests; the delivery counts one attempt: a wait the platform asked for is no failure
    assert (state, attempts, len(records)) == ("published", 1, 1), stack.logs()
    assert scenario.platform.state()["attempts"] == 2
    waited = records[0].received_at - scenario.post.due_at.timestamp()
    assert 3.0 <= waited < 15.0, f"the retry came {waited:.2f} s after the due time; Retry-After said 3 s"
    assert report_texts(stack, scenario.post) == [
        f"Post {scenario.post.post_id} by @chaos published to rate-limit (Mastodon): {scenario.platform.url}/@herald/1"
    ]


def test_server_error_is_retried_then_published(failures: tuple[Stack, dict[str, Scenario]]) -> None:
    stack, scenarios = failures
    scenario = scenarios["server_error"]
    state, attempts, _ = settled(stack, scenario.post)
    assert (state, attempts, len(scenario.platform.records())) == ("published", 2, 1), stack.logs()
    assert scenario.platform.state()["attempts"] == 2
    [report] = report_texts(stack, scenario.post)
    assert report.startswith(f"Post {scenario.post.post_id} by @chaos published to server-error (")


def test_rejected_post_fails_with_the_platform_reason_and_is_not_retried(
    failures: tuple[Stack, dict[str, Scenario]],
) -> None:
    stack, scenarios = failures
    scenario = scenarios["reject"]
    state, attempts, error = settled(stack, scenario.post)
    assert (state, attempts) == ("failed", 1), stack.logs()
    assert error is not None and "Validation failed: Text can't be blank" in error
    time.sleep(2 * FAILURE_TUNING.requeue_after)  # past any requeue window: nothing is sent again
    assert scenario.platform.state()["attempts"] == 1
    [report] = report_texts(stack, scenario.post)
    assert f"Post {scenario.post.post_id} by @chaos failed on reject (" in report
    assert "Validation failed: Text can't be blank" in report


def test_hang_without_idempotency_key_becomes_unknown_reported_once_and_never_resent(
    failures: tuple[Stack, dict[str, Scenario]],
) -> None:
    stack, scenarios = failures
    scenario = scenarios["hang_nokey"]
    state, attempts, error = settled(stack, scenario.post)
    assert (state, attempts) == ("unknown", 1), f"{error}\n{stack.logs()}"
    after_held_request_ended(scenario.post)
    [row] = stack.deliveries([scenario.post])
    assert (row.state, row.attempts) == ("unknown", 1), row
    assert scenario.platform.state()["attempts"] == 1, "the platform without idempotency was called again"
    reports = report_texts(stack, scenario.post)
    assert len(reports) == 1, f"reported {len(reports)} times: {reports}"
    assert reports[0].startswith(f"Post {scenario.post.post_id} by @chaos may or may not have reached hang-nokey (")


def test_hang_on_idempotent_platform_is_retried_with_the_same_key_and_published_once(
    failures: tuple[Stack, dict[str, Scenario]],
) -> None:
    stack, scenarios = failures
    scenario = scenarios["hang_idempotent"]
    state, _, error = settled(stack, scenario.post)
    assert state == "published", f"{error}\n{stack.logs()}"
    after_held_request_ended(scenario.post)
    [row] = stack.deliveries([scenario.post])
    assert row.state == "published" and row.attempts >= 2, row
    assert scenario.platform.state()["attempts"] >= 2
    # One status at the platform, made with the delivery's own key: the retry re-used it.
    assert [r.idempotency_key for r in scenario.platform.records()] == [row.idempotency_key]
    reports = report_texts(stack, scenario.post)
    assert len(reports) == 1, f"reported {len(reports)} times: {reports}"
