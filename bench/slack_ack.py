"""Slack ack latency: 200 concurrent button clicks against the running app.

``python bench/slack_ack.py`` (from the repo root): `herald serve` runs as its own process on a fresh
PostgreSQL database, with the fake Slack Web API in another process. The team is set up and 200 posts
are drafted through signed slash commands (each from its own channel, so Slack's per-channel pacing
doesn't stretch the set-up); then bob clicks Approve on all 200 approval cards at once, over 200
connections already open (as Slack's own servers keep them). Each click's latency is from sending the
signed request to receiving the ack (HTTP 200); the work each click starts (the decision in the
database, the card's ``chat.update``, the thread reply) runs after the ack and is timed separately
(``settled_s``: until every card shows the decision). One JSON line::

    {"bench": "slack_ack", "clicks": 200, "p50_ms": …, "p99_ms": …, "max_ms": …, "settled_s": …}

Target: p99 ≤ 50 ms (Slack shows the user an error after 3 s).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, say, stats_ms
from tests.auxil.processes import base_env, herald_command, running
from tests.fakes import slack_requests as inbound
from tests.infra.postgres import create_database, drop_database, require_postgres

ALICE, BOB = "U0ALICE001", "U0BOB00001"
CARD = re.compile(r"^Post (\d+) by alice")


def _fake_slack(conn: multiprocessing.connection.Connection) -> None:
    """The fake Slack Web API in a process of its own; answers queries over ``conn``."""
    from tests.fakes.slack import FakeSlack

    with FakeSlack() as fake:
        fake.add_user(ALICE, name="alice", tz="Europe/Berlin")
        fake.add_user(BOB, name="bob", tz="America/New_York")
        conn.send((fake.base_url, fake.bot_token))
        while True:
            query = conn.recv()
            if query == "stop":
                return
            if query == "cards":  # top-level messages with buttons: (post id, channel, ts, buttons?)
                found = []
                for call in fake.calls("chat.postMessage"):
                    match = CARD.match(str(call.args.get("text", "")))
                    if match and isinstance(call.response, dict) and call.response.get("ok"):
                        found.append((int(match.group(1)), call.args["channel"], call.response["ts"]))
                conn.send(found)
            elif query == "decided":  # cards edited since (each click's chat.update)
                conn.send(sum(1 for c in fake.calls("chat.update") if c.status == 200))
            else:
                conn.send(len(fake.calls(str(query))))


class FakeSlackProcess:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._proc = context.Process(target=_fake_slack, args=(child,), name="fake-slack", daemon=True)
        self._proc.start()
        self.base_url, self.bot_token = self._conn.recv()

    def ask(self, query: str) -> Any:
        self._conn.send(query)
        return self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(what: str, predicate: Any, timeout: float, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(interval)


async def click_all(url: str, cards: list[tuple[int, str, str]]) -> tuple[list[float], float]:
    """Open one connection per click, then send every click at once; returns latencies (ms) and the spread.

    aiohttp, not httpx: httpx's connection pool adds seconds of its own at 200 concurrent requests.
    """
    connector = aiohttp.TCPConnector(limit=len(cards), force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        health = url.replace("/slack/events", "/healthz")

        async def warm() -> None:
            async with http.get(health) as response:
                await response.read()

        await asyncio.gather(*(warm() for _ in cards))  # one open connection per click, as Slack keeps them
        signed = [
            inbound.block_action("herald.approve", f"/approve {post}", BOB, channel, ts, user_name="bob")
            for post, channel, ts in cards
        ]
        start = asyncio.Event()

        async def click(body: bytes, headers: dict[str, str]) -> float:
            await start.wait()
            began = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                text = await response.text()
            took = (time.perf_counter() - began) * 1000
            if response.status != 200:
                raise SystemExit(f"bench: a click got HTTP {response.status}: {text[:200]}")
            return took

        tasks = [asyncio.create_task(click(body, headers)) for body, headers in signed]
        await asyncio.sleep(0.05)
        began = time.perf_counter()
        start.set()
        latencies = await asyncio.gather(*tasks)
        return list(latencies), time.perf_counter() - began


def run(clicks: int) -> dict[str, object]:
    require_postgres()
    database = create_database("herald_bench_slack")
    fake = FakeSlackProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="herald-bench-") as tmp:
            env = base_env(
                DATABASE_URL=database,
                HERALD_SECRET_KEY="bench-slack-secret-key-01",
                SLACK_BOT_TOKEN=fake.bot_token,
                SLACK_SIGNING_SECRET=inbound.SIGNING_SECRET,
                SLACK_API_URL=fake.base_url,
                HERALD_LOG_LEVEL="warning",
            )
            upgrade = subprocess.run(herald_command("db", "upgrade"), env=env, cwd=tmp, capture_output=True, text=True)
            if upgrade.returncode:
                raise SystemExit(f"bench: herald db upgrade failed: {upgrade.stderr}")
            port = free_port()
            url = f"http://127.0.0.1:{port}/slack/events"
            with running([("web", ["serve", "--port", str(port)])], env, Path(tmp)) as (web,), httpx.Client() as http:
                wait_until("herald serve", lambda: _up(http, port), 30)

                def command(command: str, text: str, user: str, name: str, channel: str) -> None:
                    body, headers = inbound.slash_command(command, text, user, channel, user_name=name)
                    response = http.post(url, content=body, headers=headers)
                    if response.status_code != 200:
                        raise SystemExit(f"bench: {command} {text} got HTTP {response.status_code}\n{web.log()}")

                command("/herald", "whoami", ALICE, "alice", "C0SETUP001")
                wait_until("alice", lambda: fake.ask("chat.postEphemeral") >= 1, 30)
                command("/herald", "account add dryrun demo", ALICE, "alice", "C0SETUP001")
                command("/herald", "role add bob approver", ALICE, "alice", "C0SETUP002")
                wait_until("the team", lambda: fake.ask("chat.postMessage") >= 2, 30)
                say(f"drafting {clicks} posts")
                for i in range(clicks):
                    command("/draft", f"--to demo --at tomorrow 09:00 Bench post {i}", ALICE, "alice", f"C{i:09d}")
                wait_until("the cards", lambda: len(fake.ask("cards")) >= clicks, 120)
                cards = sorted(fake.ask("cards"))[:clicks]
                say(f"{len(cards)} approval cards posted; {clicks} concurrent clicks")
                before = _ack_buckets(http, port)
                latencies, spread = asyncio.run(click_all(url, cards))
                server = _bucket_quantiles(before, _ack_buckets(http, port))
                say(f"acked: {stats_ms(latencies)}; waiting for the work behind the acks")
                sent = time.monotonic()
                wait_until("every decision", lambda: fake.ask("decided") >= clicks, 120, 0.05)
                settled = time.monotonic() - sent + spread
    finally:
        fake.stop()
        drop_database(database)
    return {
        "bench": "slack_ack",
        "clicks": clicks,
        **{k: v for k, v in stats_ms(latencies).items() if k != "min_ms"},
        "settled_s": round(settled, 2),
        # inside Herald (from the app receiving the request to its response), from /metrics: the bucket bound
        "server_p50_ms_le": server[50],
        "server_p99_ms_le": server[99],
    }


BUCKET = re.compile(r'^herald_slack_ack_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.MULTILINE)


def _ack_buckets(http: httpx.Client, port: int) -> dict[float, float]:
    text = http.get(f"http://127.0.0.1:{port}/metrics").text
    return {float(le): float(count) for le, count in BUCKET.findall(text)}


def _bucket_quantiles(before: dict[float, float], after: dict[float, float]) -> dict[int, float]:
    """The upper bound (ms) of the bucket holding the 50th and 99th percentile of the clicks' acks."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]  # cumulative
    total = counts[-1] if counts else 0.0
    found: dict[int, float] = {}
    for q in (50, 99):
        bound = next((b for b, c in zip(bounds, counts, strict=True) if total and c >= total * q / 100), float("inf"))
        found[q] = round(bound * 1000, 1)
    return found


def _up(http: httpx.Client, port: int) -> bool:
    try:
        return http.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=200)
    args = parser.parse_args(argv)
    emit(run(args.clicks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
