"""Telegram callback latency: 200 simultaneous button presses against the running app.

``python bench/telegram_callback.py`` (from the repo root): `herald serve` runs as its own process on a fresh
PostgreSQL database with Telegram's webhook (``TELEGRAM_WEBHOOK_SECRET``), the fake Bot API in another process.
alice sets up the team and drafts 200 posts in her private chat (updates sent to ``/telegram/webhook`` as Telegram
sends them); each card also goes to the approvals group. Once the server has gone quiet, bob presses Approve on
all 200 cards in the group at once, over 200 connections opened beforehand (Telegram keeps its webhook
connections open). A press's latency runs from just before its update is written to the webhook's socket to the
moment the fake Bot API receives that callback query's ``answerCallbackQuery`` (both clocks are the machine's
monotonic clock). The decision, the card edits and the replies run after that; ``settled_s`` is until every
card in the group shows the decision. One JSON line::

    {"bench": "telegram_callback", "clicks": 200, "p50_ms": …, "p99_ms": …, "max_ms": …, "settled_s": …,
     "answered_on_time": …, "load_avg_1m": …}

``answered_on_time`` counts presses answered with the core's own sentence (the rest were answered "On it…" when the
decision took longer than the answer budget, the decision following as a reply). Target: p99 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.connection
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
from tests.infra.postgres import create_database, drop_database, require_postgres

SECRET = "bench-telegram-webhook-secret-0123"
ALICE, BOB = 1001, 1002
PATH = "/telegram/webhook"


def _fake_telegram(conn: multiprocessing.connection.Connection) -> None:
    """The fake Bot API in a process of its own; builds updates and answers queries over ``conn``."""
    from tests.fakes.telegram import BOT_TOKEN, FakeTelegram

    with FakeTelegram() as fake:
        fake.add_user(ALICE, "Alice", "alice")
        fake.add_user(BOB, "Bob", "bob")
        group = fake.add_group("Approvals")
        conn.send((fake.url, BOT_TOKEN, group))
        while True:
            query, *args = conn.recv()
            if query == "stop":
                return
            if query == "say":  # an update with alice's message in her private chat
                conn.send(fake.message_update(ALICE, None, args[0]))
            elif query == "cards":
                cards = [m for m in fake.messages_in(group) if m.reply_to is None and "\nTargets: " in (m.text or "")]
                conn.send(len(cards))
            elif query == "presses":  # bob presses Approve on every card in the group
                cards = [m for m in fake.messages_in(group) if m.reply_to is None and "\nTargets: " in (m.text or "")]
                conn.send([fake.click(BOB, card, "Approve") for card in cards])
            elif query == "answers":
                conn.send({a.query_id: (a.at, a.text) for a in fake.answers})
            elif query == "decided":
                conn.send(sum(1 for m in fake.messages_in(group) if m.edits))
            else:
                conn.send(fake.count(str(query)))


class FakeTelegramProcess:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._proc = context.Process(target=_fake_telegram, args=(child,), name="fake-telegram", daemon=True)
        self._proc.start()
        self.url, self.token, self.group = self._conn.recv()
        self.pid = int(self._proc.pid or 0)

    def ask(self, *query: Any) -> Any:
        self._conn.send(query)
        return self._conn.recv()

    def stop(self) -> None:
        self._conn.send(("stop",))
        self._proc.join(10)


def wait_until(what: str, predicate: Any, timeout: float, interval: float = 0.1) -> None:
    if not wait_for(predicate, timeout, interval):
        raise SystemExit(f"bench: timed out waiting for {what}")


def _request(port: int, update: dict[str, Any]) -> bytes:
    body = json.dumps(update).encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _press_all(port: int, presses: list[dict[str, Any]]) -> tuple[dict[str, float], list[int]]:
    """Every press at once over connections opened beforehand; when each was written, and the HTTP statuses."""
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in presses]
    requests = [_request(port, update) for update in presses]
    sent: dict[str, float] = {}
    for (_, writer), request, update in zip(connections, requests, presses, strict=True):
        sent[update["callback_query"]["id"]] = time.perf_counter()
        writer.write(request)
    statuses = []
    for reader, writer in connections:
        head = await reader.readuntil(b"\r\n\r\n")
        statuses.append(int(head.split()[1]))
        writer.close()
    return sent, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=200)
    args = parser.parse_args()
    require_postgres()
    fake = FakeTelegramProcess()
    database = create_database("herald_bench_tg")
    try:
        with tempfile.TemporaryDirectory(prefix="herald-bench-tg-") as tmp:
            env = base_env(
                DATABASE_URL=database,
                HERALD_SECRET_KEY="bench-telegram-secret-key-0123",
                TELEGRAM_BOT_TOKEN=fake.token,
                TELEGRAM_API_URL=fake.url,
                TELEGRAM_WEBHOOK_SECRET=SECRET,
                HERALD_LOG_LEVEL="warning",
            )
            upgrade = subprocess.run(herald_command("db", "upgrade"), env=env, cwd=tmp, capture_output=True, text=True)
            if upgrade.returncode:
                raise SystemExit(f"bench: db upgrade failed: {upgrade.stderr}")
            port = free_port()
            with running([("web", ["serve", "--port", str(port)])], env, Path(tmp)) as procs:
                wait_until("herald serve", lambda: http_ready(port), 60)
                say(f"herald serve on :{port}; setting up and drafting {args.clicks} posts")
                with httpx.Client(timeout=30) as http:

                    def say_as_alice(text: str) -> None:
                        update = fake.ask("say", text)
                        response = http.post(
                            f"http://127.0.0.1:{port}{PATH}",
                            json=update,
                            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                        )
                        assert response.status_code == 200, response.text

                    for text in ("/whoami", "/account add dryrun demo", "/role add bob editor"):
                        say_as_alice(text)
                    say_as_alice(f"/policy set demo level1=role:editor channel=telegram:{fake.group}")
                    for n in range(args.clicks):
                        say_as_alice(f'/draft Post number {n + 1} --to demo --at "tomorrow 09:00"')
                    wait_until("the cards", lambda: fake.ask("cards") >= args.clicks, 600, 0.5)
                    time.sleep(2.0)  # the server quiet again
                presses = fake.ask("presses")[: args.clicks]
                say(f"{len(presses)} presses at once")
                began = time.perf_counter()
                server_cpu, fake_cpu = cpu_seconds(procs[0].pid), cpu_seconds(fake.pid)
                sent, statuses = asyncio.run(_press_all(port, presses))
                wait_until("every answer", lambda: len(fake.ask("answers")) >= len(presses), 60, 0.05)
                server_cpu, fake_cpu = cpu_seconds(procs[0].pid) - server_cpu, cpu_seconds(fake.pid) - fake_cpu
                if not wait_for(lambda: fake.ask("decided") >= len(presses), 120, 0.1):
                    answers = fake.ask("answers")
                    said = sorted({text for _, text in answers.values()})[:5]
                    raise SystemExit(
                        f"bench: {fake.ask('decided')} cards decided; {len(answers)} answers ({said});"
                        f" server log: {procs[0].log()[-3000:]}"
                    )
                settled = time.perf_counter() - began
                answers = fake.ask("answers")
                if any(status != 200 for status in statuses):
                    raise SystemExit(f"bench: webhook answered {sorted(set(statuses))}; {procs[0].log()[-2000:]}")
        latencies = [(answers[qid][0] - at) * 1000 for qid, at in sent.items()]
        on_time = sum(1 for qid in sent if answers[qid][1] != "On it…")
        stats = stats_ms(latencies)
        emit(
            {
                "bench": "telegram_callback",
                "clicks": len(presses),
                "p50_ms": stats["p50_ms"],
                "p99_ms": stats["p99_ms"],
                "max_ms": stats["max_ms"],
                "settled_s": round(settled, 2),
                "answered_on_time": on_time,
                "server_cpu_ms_per_click": round(server_cpu * 1000 / len(presses), 2),
                "fake_cpu_ms_per_click": round(fake_cpu * 1000 / len(presses), 2),
                "load_avg_1m": load_average(),
            }
        )
    finally:
        fake.stop()
        drop_database(database)


if __name__ == "__main__":
    main()
