"""The Slack adapter's work after the ack: queued, a few pieces at a time, after the burst of acks."""

from __future__ import annotations

import asyncio
import inspect

import structlog

from bot.slack import adapter as adapter_module
from bot.slack.adapter import SlackAdapter


def _adapter(concurrency: int = 3) -> SlackAdapter:
    return SlackAdapter(None, None, None, concurrency=concurrency)  # type: ignore[arg-type]  # no core needed


async def test_queued_work_runs_in_order_a_few_pieces_at_a_time() -> None:
    adapter = _adapter(concurrency=3)
    running, most, order = 0, 0, []

    async def piece(n: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.001)
        order.append(n)
        running -= 1

    for n in range(20):
        adapter.request_arrived()
        adapter.spawn(piece(n), what="click")
    assert adapter.busy == 20 + 3  # 20 pieces queued, 3 runners started, nothing ran yet
    await adapter.drain()

    assert adapter.busy == 0 and most == 3
    assert sorted(order) == list(range(20)) and order[:3] == [0, 1, 2]


async def test_work_waits_for_the_burst_of_acks_to_end() -> None:
    adapter = _adapter()
    started: list[float] = []

    async def piece() -> None:
        started.append(asyncio.get_running_loop().time())

    adapter.spawn(piece(), what="click")
    for _ in range(5):  # requests keep arriving for ~20 ms
        adapter.request_arrived()
        last = asyncio.get_running_loop().time()
        await asyncio.sleep(0.005)
    await adapter.drain()

    assert started and started[0] - last >= adapter_module.QUIET


async def test_a_failing_piece_is_logged_and_the_rest_still_run() -> None:
    adapter = _adapter(concurrency=1)
    done: list[str] = []

    async def fails() -> None:
        raise RuntimeError("boom")

    async def works() -> None:
        done.append("ok")

    with structlog.testing.capture_logs() as logs:
        adapter.spawn(fails(), what="click")
        adapter.spawn(works(), what="click")
        await adapter.drain()

    assert done == ["ok"]
    assert [(e["event"], e["what"]) for e in logs] == [("slack.work_failed", "click")]


async def test_work_that_never_started_is_closed_when_the_runners_are_cancelled() -> None:
    adapter = _adapter(concurrency=1)
    blocker = asyncio.Event()
    pieces = [blocker.wait() for _ in range(3)]
    for piece in pieces:
        adapter.spawn(piece, what="click")
    await asyncio.sleep(0.05)  # the runner is inside the first piece
    runners = list(adapter._tasks)
    for runner in runners:
        runner.cancel()
    await asyncio.gather(*runners, return_exceptions=True)

    assert adapter.busy == 0
    # closed, not left for Python to warn about ("coroutine ... was never awaited")
    assert [inspect.getcoroutinestate(p) for p in pieces] == [inspect.CORO_CLOSED] * 3


async def test_urgent_work_skips_the_queue() -> None:
    adapter = _adapter(concurrency=1)
    order: list[str] = []
    gate = asyncio.Event()

    async def slow() -> None:
        await gate.wait()
        order.append("queued")

    async def now() -> None:
        order.append("urgent")
        gate.set()

    adapter.spawn(slow(), what="click")
    adapter.spawn(now(), what="modal", urgent=True)
    await adapter.drain()

    assert order == ["urgent", "queued"]
