"""Slack ack latency: 200 concurrent button clicks against the running app.

``python bench/slack_ack.py`` (from the repo root): `herald serve` runs as its own process on a fresh
PostgreSQL database, with the fake Slack Web API in another process. The team is set up and 200 posts
are drafted through signed slash commands (each from its own channel, so Slack's per-channel pacing
doesn't stretch the set-up); once the server has gone quiet after that, bob clicks Approve on all 200
approval cards at once, over 200 connections already open (as Slack's own servers keep them). Each click
is the interaction request Slack sends, signed, with the card's whole message (blocks and all) in its
payload: about 3.8 KB. The clicks come from a small client in a process of its own (raw sockets and
epoll, requests signed and connections opened before the clock starts), so the client takes little of
the machine's two cores from the server. Each click's latency is from writing its signed request to
reading the last byte of the ack (HTTP 200); the work each click starts (the decision in the database,
the card's ``chat.update``, the thread reply) runs after the ack and is timed separately
(``settled_s``: until every card shows the decision). One JSON line::

    {"bench": "slack_ack", "clicks": 200, "p50_ms": …, "p99_ms": …, "max_ms": …, "settled_s": …,
     "server_p50_ms_le": …, "server_p99_ms_le": …, "server_cpu_ms_per_click": …,
     "client_cpu_ms_per_click": …, "load_avg_1m": …}

Target: p99 ≤ 50 ms (Slack shows the user an error after 3 s).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import multiprocessing.connection
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_seconds, emit, load_average, say, stats_ms
from tests.auxil.processes import base_env, free_port, herald_command, http_ready, running, wait_for
from tests.fakes import slack_requests as inbound
from tests.infra.postgres import create_database, drop_database, require_postgres

ALICE, BOB = "U0ALICE001", "U0BOB00001"
PATH = "/slack/events"
BOT_ID = "B0HERALDBOT"
CARD = re.compile(r"^Post (\d+) by (?:<@U0ALICE\w*>|@alice)")  # alice as Slack mentions her


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
            if query == "cards":  # approval cards: (post id, channel, ts, the message as Slack holds it)
                found = []
                for call in fake.calls("chat.postMessage"):
                    text = str(call.args.get("text", ""))
                    match = CARD.match(text)
                    if match and isinstance(call.response, dict) and call.response.get("ok"):
                        ts = call.response["ts"]
                        blocks = call.args.get("blocks") or []
                        if isinstance(blocks, str):
                            blocks = json.loads(blocks)
                        message = {"type": "message", "subtype": "bot_message", "text": text, "ts": ts}
                        message.update(bot_id=BOT_ID, blocks=blocks)
                        found.append((int(match.group(1)), call.args["channel"], ts, message))
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


def wait_until(what: str, predicate: Any, timeout: float, interval: float = 0.1) -> None:
    if not wait_for(predicate, timeout, interval):
        raise SystemExit(f"bench: timed out waiting for {what}")


def _request(host: str, port: int, body: bytes, headers: dict[str, str]) -> bytes:
    """The exact bytes of one signed ``POST /slack/events`` on a keep-alive connection."""
    lines = [f"POST {PATH} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _complete(buffer: bytes | bytearray) -> int | None:
    """The status of the HTTP/1.1 response in ``buffer`` once all of it has arrived, else None."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buffer[:head_end]).decode("latin-1").split("\r\n")
    fields = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:])}
    body = len(buffer) - head_end - 4
    if "content-length" in fields:
        if body < int(fields["content-length"]):
            return None
    elif not buffer.endswith(b"0\r\n\r\n"):  # chunked: the last chunk
        return None
    return int(head[0].split()[1])


def _read_response(sock: socket.socket) -> int:
    buffer = bytearray()
    while (status := _complete(buffer)) is None:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buffer += chunk
    return status


def _clicker(host: str, port: int, requests: list[bytes], conn: multiprocessing.connection.Connection) -> None:
    """The client, in a process of its own so it doesn't share an interpreter with anything else.

    Opens one keep-alive connection per click and uses each once (``GET /healthz``), as Slack's servers
    keep theirs open; says ``ready`` and waits for ``go``; then sends every click at once and reads the
    responses as they complete (epoll). A click's latency runs from just before its request is written
    to the socket to the moment the last byte of its response is read. Sends back the latencies (ms),
    the statuses, and the client's own CPU seconds for the burst.
    """
    socks = [socket.create_connection((host, port)) for _ in requests]
    for sock in socks:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    for sock in socks:
        if _read_response(sock) != 200:
            raise SystemExit("bench: /healthz did not answer 200")
    selector = selectors.DefaultSelector()
    for i, sock in enumerate(socks):
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, i)
    buffers = [bytearray() for _ in requests]
    sent, done, statuses = [0.0] * len(requests), [0.0] * len(requests), [0] * len(requests)
    gc.disable()  # nothing to collect in a few hundred milliseconds; no pause inside the measurement
    conn.send("ready")
    conn.recv()
    cpu = time.process_time()
    for i, (sock, request) in enumerate(zip(socks, requests, strict=True)):
        sent[i] = time.perf_counter()
        if sock.send(request) != len(request):  # a fresh socket's buffer takes a whole click
            raise SystemExit("bench: a click did not fit the socket buffer")
    waiting = len(requests)
    deadline = time.monotonic() + 30
    while waiting:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {waiting} clicks unanswered after 30 s")
        for key, _ in selector.select(1.0):
            i = key.data
            chunk = socks[i].recv(65536)
            if not chunk:
                raise SystemExit("bench: the server closed a connection")
            buffers[i] += chunk
            status = _complete(buffers[i])
            if status is not None:
                done[i] = time.perf_counter()
                statuses[i] = status
                selector.unregister(socks[i])
                waiting -= 1
    cpu = time.process_time() - cpu
    for sock in socks:
        sock.close()
    conn.send(([(d - s) * 1000 for s, d in zip(sent, done, strict=True)], statuses, cpu))


def click_all(port: int, cards: list[tuple[int, str, str, dict[str, Any]]], server_pid: int) -> dict[str, Any]:
    """Every card's Approve clicked at once, each over its own open connection, from a client process.

    The signed requests are built (and the connections opened) before anything is timed. Returns the
    latencies (ms), the spread (first send to last response, s) and the CPU seconds the server and the
    client used during the burst.
    """
    host = "127.0.0.1"
    requests = [
        _request(
            host,
            port,
            *inbound.block_action(
                "herald.approve", f"/approve {post}", BOB, channel, ts, user_name="bob", message=message
            ),
        )
        for post, channel, ts, message in cards
    ]
    context = multiprocessing.get_context("spawn")
    conn, child = context.Pipe()
    client = context.Process(target=_clicker, args=(host, port, requests, child), name="clicker", daemon=True)
    client.start()
    try:
        if conn.recv() != "ready":
            raise SystemExit("bench: the client did not start")
        server_cpu = cpu_seconds(server_pid, children=True)
        began = time.perf_counter()
        conn.send("go")
        latencies, statuses, client_cpu = conn.recv()
        spread = time.perf_counter() - began
        server_cpu = cpu_seconds(server_pid, children=True) - server_cpu
    finally:
        client.join(10)
    refused = [s for s in statuses if s != 200]
    say(f"clicks of {min(map(len, requests))}-{max(map(len, requests))} bytes each")
    if refused:
        raise SystemExit(f"bench: {len(refused)} clicks got HTTP {sorted(set(refused))}")
    return {"latencies": latencies, "spread": spread, "server_cpu": server_cpu, "client_cpu": client_cpu}


def wait_idle(pid: int, timeout: float, window: float = 0.5, busy: float = 0.02) -> None:
    """Wait until process ``pid`` has used under ``busy`` of a core for ``window`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        before = cpu_seconds(pid, children=True)
        time.sleep(window)
        if cpu_seconds(pid, children=True) - before < busy * window:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: the server still busy after {timeout} s")


def run(clicks: int, web_workers: int = 1) -> dict[str, object]:
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
            url = f"http://127.0.0.1:{port}{PATH}"
            serve = ["serve", "--port", str(port), "--workers", str(web_workers)]
            with running([("web", serve)], env, Path(tmp)) as (web,), httpx.Client() as http:
                wait_until("herald serve", lambda: http_ready(port), 30)

                def command(command: str, text: str, user: str, name: str, channel: str) -> None:
                    body, headers = inbound.slash_command(command, text, user, channel, user_name=name)
                    response = http.post(url, content=body, headers=headers)
                    if response.status_code != 200:
                        raise SystemExit(f"bench: {command} {text} got HTTP {response.status_code}\n{web.log()}")

                command("/herald", "whoami", ALICE, "alice", "C0SETUP001")
                wait_until("alice", lambda: fake.ask("chat.postEphemeral") >= 1, 30)
                command("/herald", "account add dryrun demo", ALICE, "alice", "C0SETUP001")
                command("/herald", "role add bob approver", ALICE, "alice", "C0SETUP002")
                # whoami and the admin's two answers, each for alice alone
                wait_until("the team", lambda: fake.ask("chat.postEphemeral") >= 3, 30)
                say(f"drafting {clicks} posts")
                for i in range(clicks):
                    command("/draft", f"--to demo --at tomorrow 09:00 Bench post {i}", ALICE, "alice", f"C{i:09d}")
                wait_until("the cards", lambda: len(fake.ask("cards")) >= clicks, 120)
                cards = sorted(fake.ask("cards"))[:clicks]
                wait_idle(web.pid, 60)  # the set-up's own work (replies, timers) done: the clicks meet a quiet server
                say(f"{len(cards)} approval cards posted; {clicks} concurrent clicks")
                before = _ack_buckets(http, port)
                load = load_average()
                burst = click_all(port, cards, web.pid)
                latencies = burst["latencies"]
                server = _bucket_quantiles(before, _ack_buckets(http, port))
                say(f"acked: {stats_ms(latencies)}; waiting for the work behind the acks")
                sent = time.monotonic()
                wait_until("every decision", lambda: fake.ask("decided") >= clicks, 120, 0.05)
                settled = time.monotonic() - sent + burst["spread"]
    finally:
        fake.stop()
        drop_database(database)
    return {
        "bench": "slack_ack",
        "clicks": clicks,
        "web_workers": web_workers,
        **{k: v for k, v in stats_ms(latencies).items() if k != "min_ms"},
        "settled_s": round(settled, 2),
        # inside Herald (from the app receiving the request to its response), from /metrics: the bucket bound
        "server_p50_ms_le": server[50],
        "server_p99_ms_le": server[99],
        # CPU used from the first click sent to the last response read: the whole server process (every
        # layer, from the socket to the ack), and the client process
        "server_cpu_ms_per_click": round(burst["server_cpu"] * 1000 / clicks, 3),
        "client_cpu_ms_per_click": round(burst["client_cpu"] * 1000 / clicks, 3),
        "load_avg_1m": load,
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=200)
    parser.add_argument("--web-workers", type=int, default=1, help="herald serve --workers")
    args = parser.parse_args(argv)
    emit(run(args.clicks, args.web_workers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
