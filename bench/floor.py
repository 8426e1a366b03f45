"""Floor: the CPU a post costs in the client libraries and the fake servers alone, without Herald's engine.

``python bench/floor.py`` (from the repo root; needs neither PostgreSQL nor Redis). The fake platform and the
fake Slack Web API run in processes of their own, as in ``bench/burst.py``; ``--procs`` client processes (this
script again, on uvloop, like the workers) each drive ``--concurrency`` posts at a time. A post is what every
delivery must do, with no database and no queue:

1. publish: ``POST /api/v1/statuses`` (form ``status=<~100 chars>``, Bearer token, Idempotency-Key) through
   :class:`~tasks.platforms.fake.FakePlatformPublisher` over Herald's publish client
   (:func:`tasks.platforms.transport.http_client`: httpx's API over aiohttp's pool), as a worker calls it;
2. report: ``chat.postMessage`` (text and two blocks, each post to its own channel) through slack-sdk's
   ``AsyncWebClient`` from :func:`bot.slack.notifier.web_client` with a pooled aiohttp session.

Variants: ``publish_only``, ``report_only``, ``both`` (1 then 2, as Herald does) and ``publish_raw_aiohttp``
(step 1 with a bare ``aiohttp.ClientSession.post``: the difference from ``publish_only`` is httpx's layer). Each
warms up first (not counted); then the CPU of the clients and of both fakes is read (schedstat) around the
measured posts. One JSON line per run::

    {"bench": "floor", "posts": 10000, "variants": {"both": {"cpu_ms_per_post": …, …}, …}, "cpu_ref_s": …, …}
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_reference, cpu_seconds, emit, load_average, say
from bot import heap
from bot.slack.notifier import SESSION_CONNECTIONS, web_client
from tasks.platforms.base import Credentials, Publication
from tasks.platforms.transport import KEEPALIVE_S, MAX_CONNECTIONS, http_client
from tests.auxil.chat_server import BOT_TOKEN
from tests.auxil.fake_servers import ChatProcess, PlatformProcess
from tests.fakes.platform import DEFAULT_TOKEN
from tests.fakes.platform_client import FakePlatformPublisher

VARIANTS = ("publish_only", "report_only", "both", "publish_raw_aiohttp")
PUBLISHING, REPORTING = {"publish_only", "both", "publish_raw_aiohttp"}, {"report_only", "both"}
FILLER = "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. " * 2


# ------------------------------------------------------------------------------------------ client process


async def client(args: argparse.Namespace) -> None:
    """One client process: warm up, say ``ready``, wait for ``go`` on stdin, post, say ``done``, wait for EOF."""
    platform, variant, tag = args.platform_url.rstrip("/"), args.variant, f"{args.variant}-{args.first}"
    credentials = Credentials(access_token=DEFAULT_TOKEN, extra={"base_url": platform})
    http = http_client()
    publisher = FakePlatformPublisher(http, platform, idempotent=True)
    raw = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_S),
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    slack = web_client(BOT_TOKEN, args.chat_url)
    slack.session = aiohttp.ClientSession(  # as SlackNotifier.web() gives it
        timeout=aiohttp.ClientTimeout(total=slack.timeout), connector=aiohttp.TCPConnector(limit=SESSION_CONNECTIONS)
    )

    def text(i: int) -> str:
        return f"Floor post {i}: {FILLER}"[:100]

    async def publish(i: int) -> str:
        publication = Publication(i, i, "@herald", text(i), (), credentials, f"{tag}-{i:012d}")
        return (await publisher.publish(publication)).url

    async def publish_raw(i: int) -> str:
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Idempotency-Key": f"{tag}-{i:012d}"}
        async with raw.post(f"{platform}/api/v1/statuses", data={"status": text(i)}, headers=headers) as response:
            response.raise_for_status()
            status = await response.json()
        if not isinstance(status.get("id"), str | int) or not isinstance(status.get("url"), str):
            raise RuntimeError(f"no id or url in {status!r}")
        return str(status["url"])

    async def report(i: int, url: str) -> None:
        message = f"Post {i} published to @herald (Fake platform): {url}"
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": message}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Delivery {i} · attempt 1 · @herald"}]},
        ]
        response = await slack.chat_postMessage(channel=f"C{i:010d}", text=message, blocks=blocks)
        if not response.get("ok"):
            raise RuntimeError(f"chat.postMessage: {response.data!r}")

    async def both(i: int) -> None:
        await report(i, await publish(i))

    steps: dict[str, Callable[[int], Awaitable[object]]] = {
        "publish_only": publish,
        "report_only": lambda i: report(i, f"{platform}/@herald/{i}"),
        "both": both,
        "publish_raw_aiohttp": publish_raw,
    }
    step = steps[variant]
    warm = range(args.first, args.first + args.warm)
    errors = await drive(step, iter(warm), args.concurrency)
    heap.settle()  # as a Herald worker does once started
    print("ready", flush=True)
    sys.stdin.readline()  # "go" (the loop has nothing to do meanwhile)
    started = time.monotonic()
    errors += await drive(step, iter(range(warm.stop, warm.stop + args.count)), args.concurrency)
    print(f"done {errors} {time.monotonic() - started:.3f}", flush=True)
    sys.stdin.read()  # until the parent, having read our CPU, closes our stdin
    await http.aclose()
    await raw.close()
    await slack.session.close()


async def drive(step: Callable[[int], Awaitable[object]], indices: Iterator[int], concurrency: int) -> int:
    """Post every index with ``concurrency`` posts in flight; returns the number that failed."""
    failed: list[BaseException] = []

    async def lane() -> None:
        for i in indices:
            try:
                await step(i)
            except Exception as exc:
                failed.append(exc)
                if len(failed) == 1:
                    print(f"floor client: post {i} failed: {exc!r}", file=sys.stderr, flush=True)

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return len(failed)


# ------------------------------------------------------------------------------------------ orchestrator


def measure(
    variant: str, args: argparse.Namespace, platform: PlatformProcess, chat: ChatProcess, first: int
) -> dict[str, float]:
    """One variant: start the clients, let them warm up, then time and read the CPU of the measured posts."""
    share = [args.posts // args.procs + (k < args.posts % args.procs) for k in range(args.procs)]
    warm = max(1, args.warmup // args.procs)
    clients: list[subprocess.Popen[str]] = []
    for k, count in enumerate(share):
        command = [sys.executable, __file__, "--client", variant, "--platform-url", platform.url]
        command += ["--chat-url", chat.api_url, "--first", str(first + k * 10_000_000), "--warm", str(warm)]
        command += ["--count", str(count), "--concurrency", str(args.concurrency)]
        clients.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    try:
        for proc in clients:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit(f"bench: a {variant} client did not warm up (exit {proc.wait()})")
        fakes = {"platform": platform.pid, "chat": chat.pid}
        messages = chat.count()
        before = {"clients": sum(cpu_seconds(p.pid) for p in clients)} | {n: cpu_seconds(p) for n, p in fakes.items()}
        started = time.monotonic()
        for proc in clients:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        errors = 0
        for proc in clients:
            assert proc.stdout is not None
            line = proc.stdout.readline().split()
            if not line or line[0] != "done":
                raise SystemExit(f"bench: a {variant} client stopped (exit {proc.wait()})")
            errors += int(line[1])
        seconds = time.monotonic() - started
        after = {"clients": sum(cpu_seconds(p.pid) for p in clients)} | {n: cpu_seconds(p) for n, p in fakes.items()}
    finally:
        for proc in clients:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(30)
    cpu = {name: after[name] - before[name] for name in after}
    published = len(platform.records()) - warm * args.procs if variant in PUBLISHING else 0
    reported = chat.count() - messages if variant in REPORTING else 0
    platform.configure(reset=True)
    total_ms = sum(cpu.values()) * 1000 / args.posts
    say(f"{variant}: {args.posts / seconds:,.0f} posts/s, {total_ms:.3f} ms CPU per post, {errors} errors")
    return {
        "cpu_ms_per_post": round(total_ms, 3),
        "client_cpu_ms_per_post": round(cpu["clients"] * 1000 / args.posts, 3),
        "fakes_cpu_ms_per_post": round((cpu["platform"] + cpu["chat"]) * 1000 / args.posts, 3),
        "platform_cpu_ms_per_post": round(cpu["platform"] * 1000 / args.posts, 3),
        "chat_cpu_ms_per_post": round(cpu["chat"] * 1000 / args.posts, 3),
        "seconds": round(seconds, 2),
        "posts_per_s": round(args.posts / seconds, 1),
        "max_posts_per_s_2_cores": round(2000 / total_ms, 1),
        "errors": errors,
        "published": published,
        "reported": reported,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--procs", type=int, default=2, help="client processes (like workers)")
    parser.add_argument("--concurrency", type=int, default=50, help="posts in flight per client process")
    parser.add_argument("--warmup", type=int, default=400, help="posts before each measurement (all processes)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    client_side = parser.add_argument_group("client process (internal)")
    client_side.add_argument("--client", dest="variant", choices=VARIANTS)
    for name in ("--platform-url", "--chat-url"):
        client_side.add_argument(name, default="")
    for name in ("--first", "--warm", "--count"):
        client_side.add_argument(name, type=int, default=0)
    args = parser.parse_args(argv)
    if args.variant:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as the workers run
            runner.run(client(args))
        return 0
    variants = [v for v in args.variants.split(",") if v]
    if unknown := set(variants) - set(VARIANTS):
        parser.error(f"unknown variant(s): {', '.join(sorted(unknown))}")
    say("machine speed reference (pure-Python loop, best of 3)")
    reference = cpu_reference()
    with tempfile.TemporaryDirectory(prefix="herald-floor-") as tmp:
        platform = PlatformProcess(Path(tmp), name="platform").start()
        chat = ChatProcess(Path(tmp))
        try:
            chat.start()
            say(f"fake platform {platform.url}, fake chat {chat.api_url}; cpu_ref_s {reference}")
            results = {
                variant: measure(variant, args, platform, chat, first=n * 100_000_000)
                for n, variant in enumerate(variants, start=1)
            }
        finally:
            chat.stop()
            platform.stop()
    pub, raw = results.get("publish_only"), results.get("publish_raw_aiohttp")
    httpx_ms = round(pub["client_cpu_ms_per_post"] - raw["client_cpu_ms_per_post"], 3) if pub and raw else None
    emit(
        {
            "bench": "floor",
            "posts": args.posts,
            "procs": args.procs,
            "concurrency": args.concurrency,
            "warmup": args.warmup,
            "variants": results,
            "httpx_layer_client_cpu_ms_per_post": httpx_ms,
            "cpu_ref_s": reference,
            "cpu_ref_end_s": cpu_reference(),  # the same after the run: a shared machine's speed drifts
            "load_avg_1m": load_average(),
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
