"""FakePlatform: a Mastodon-like publishing API on 127.0.0.1, served by uvicorn in a background thread.

Wire format (JSON answers; errors are ``{"error": "<reason>"}`` as Mastodon sends them):

``POST /api/v1/statuses``
    Form or JSON body: ``status`` (the text), optional ``media_ids[]``. ``Authorization: Bearer <token>`` must
    name one of the fake's tokens, else 401 ``The access token is invalid``. ``Idempotency-Key``: on the
    idempotent fake a key already used with the same token answers the original status (200) and records
    nothing; the non-idempotent fake ignores the header. Blank text without media → 422 ``Validation failed:
    Text can't be blank``. Success → 200 ``{"id": "<n>", "url": "<base>/@<account>/<n>", "content": "<p>…</p>",
    "created_at", "visibility", "media_attachments", "account"}``.
``GET /api/v1/statuses/{id}``
    200 the status, 404 ``Record not found`` (lets a test or a "verify" step check an unknown outcome).
``GET /api/v1/accounts/verify_credentials``
    200 ``{"id", "username", "acct", "url"}`` for a valid token, else 401.
``POST /_control``
    JSON, any of: ``reset`` (true: applied first), ``mode``, ``delay``, ``retry_after``, ``idempotent``,
    ``tokens`` (list, replaces), ``script`` (list of modes, appended). Nothing is applied when a field is invalid
    (400). Answers the state, as ``GET /_control`` does: those settings plus ``published`` (count) and ``attempts``.
``GET /_control/published``
    Every recorded publish, oldest first: ``status_id``, ``received_at``, ``text``, ``token``,
    ``idempotency_key``, ``media_ids``.

Modes — what a publish request with a valid token gets:

``ok``            200.
``slow``          200 after ``delay`` seconds.
``rate_limit``    429 ``Too many requests``, ``Retry-After: <retry_after>``, ``X-RateLimit-Reset`` (ISO 8601).
``server_error``  503 ``Service unavailable``.
``reject``        422 ``Validation failed: Text can't be blank``.
``duplicate``     422 ``Validation failed: duplicate status``.
``hang``          records the publish, then answers nothing until the fake is reset or stopped (then 503).

Scripted responses (``script([...])``) are a queue of modes consumed one per publish request (after the token
check) before falling back to ``mode``. A publish is *recorded* when the fake creates the status (``ok``,
``slow``, ``hang``), stamped with ``time.time()`` at the request's arrival, before any artificial delay.
``attempts`` counts every publish request, whatever its answer. All of it is thread-safe: set it from the test
thread while the server runs.

Standalone, for benchmarks in another process: ``python -m tests.fakes.platform --port P`` prints the base URL
on stdout and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs

import uvicorn

from bot import heap

MODES: Final = ("ok", "slow", "rate_limit", "server_error", "reject", "duplicate", "hang")
DEFAULT_TOKEN: Final = "test-token"

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Answer = tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]

_FAILURES: Final[dict[str, tuple[int, str]]] = {
    "rate_limit": (429, "Too many requests"),
    "server_error": (503, "Service unavailable"),
    "reject": (422, "Validation failed: Text can't be blank"),
    "duplicate": (422, "Validation failed: duplicate status"),
}
_INVALID_TOKEN: Final = "The access token is invalid"


@dataclass(frozen=True)
class Received:
    """One publish the fake accepted (created a status for)."""

    status_id: str
    received_at: float  # time.time() when the request arrived, before any artificial delay
    text: str
    token: str
    idempotency_key: str | None
    media_ids: tuple[str, ...]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_mode(mode: object) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
    return str(mode)


class FakePlatform:
    """A Mastodon-like platform on ``127.0.0.1`` (module docstring: wire format, modes, recording).

    ``start()`` binds a free port (or ``port``) and returns once the server answers; ``stop()`` releases held
    requests and waits for the server thread; starting again serves the same URL (a platform that came back),
    with the settings and records kept. Usable as a context manager. The settings given here are what
    ``reset()`` restores.
    """

    def __init__(
        self,
        *,
        idempotent: bool = True,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        account: str = "herald",
        mode: str = "ok",
        delay: float = 1.0,
        retry_after: int = 30,
        port: int = 0,
    ) -> None:
        self.account = account
        self._defaults: dict[str, Any] = {
            "mode": _check_mode(mode),
            "delay": delay,
            "retry_after": retry_after,
            "idempotent": idempotent,
            "tokens": frozenset(tokens),
        }
        self._requested_port = port
        self._lock = threading.Lock()
        self._next_id = 1
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._released = asyncio.Event()  # set (and replaced) to let held requests go
        self._stopping = False
        self.port = 0
        self._clear()

    # -- lifecycle -----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123`` (valid once started)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 5.0) -> FakePlatform:
        """Serve in a background thread; returns ``self`` once the port accepts connections."""
        if self._thread is not None:
            raise RuntimeError("FakePlatform is already running")
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when the listener says TCP; without
        # it Nagle meets the client's delayed ACK and every keep-alive request waits 40 ms.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port or self._requested_port))  # a restart keeps the URL
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            _App(self),
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,
            server_header=False,
            date_header=False,
            backlog=4096,
            timeout_graceful_shutdown=2,
        )
        ready = threading.Event()
        self._server = server = _Server(config, ready)
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, args=(server, sock, config, ready), name="fake-platform", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout) or not server.started:
            self.stop()
            raise RuntimeError(f"FakePlatform did not start within {timeout} s (see the log above)")
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket, config: uvicorn.Config, ready: threading.Event) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._released = asyncio.Event()  # an Event binds to the loop that first waits on it
            await server.serve(sockets=[sock])

        try:
            with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
                runner.run(serve())
        finally:
            self._loop = None
            sock.close()
            ready.set()  # don't leave start() waiting when startup failed

    def stop(self, timeout: float = 10.0) -> None:
        """Answer held requests (503), stop the server and wait for its thread. Idempotent."""
        thread, server = self._thread, self._server
        if thread is None or server is None:
            return
        self._stopping = True
        self._release_held()
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"FakePlatform did not stop within {timeout} s")
        self._thread = self._server = None

    def __enter__(self) -> FakePlatform:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- behaviour -----------------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return str(self._settings["mode"])

    @mode.setter
    def mode(self, value: str) -> None:
        self.configure(mode=value)

    @property
    def delay(self) -> float:
        """Seconds a ``slow`` answer waits."""
        return float(self._settings["delay"])

    @delay.setter
    def delay(self, value: float) -> None:
        self.configure(delay=value)

    @property
    def retry_after(self) -> int:
        """Seconds a ``rate_limit`` answer asks the client to wait."""
        return int(self._settings["retry_after"])

    @retry_after.setter
    def retry_after(self, value: int) -> None:
        self.configure(retry_after=value)

    @property
    def idempotent(self) -> bool:
        """Whether ``Idempotency-Key`` deduplicates publishes (Mastodon) or is ignored (most platforms)."""
        return bool(self._settings["idempotent"])

    @idempotent.setter
    def idempotent(self, value: bool) -> None:
        self.configure(idempotent=value)

    @property
    def tokens(self) -> frozenset[str]:
        """Bearer tokens the fake accepts; set another collection to revoke or add some."""
        return frozenset(self._settings["tokens"])

    @tokens.setter
    def tokens(self, value: Iterable[str]) -> None:
        self.configure(tokens=list(value))

    def script(self, responses: Iterable[str]) -> None:
        """Queue one-shot modes, used one per publish request before falling back to ``mode``."""
        self.configure(script=list(responses))

    def configure(self, **changes: Any) -> None:
        """Apply ``/_control`` fields (module docstring) atomically; ValueError and no change when one is bad."""
        unknown = set(changes) - {"reset", "mode", "delay", "retry_after", "idempotent", "tokens", "script"}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        new: dict[str, Any] = {}
        if "mode" in changes:
            new["mode"] = _check_mode(changes["mode"])
        if "delay" in changes:
            if not isinstance(changes["delay"], int | float) or changes["delay"] < 0:
                raise ValueError("delay must be a number of seconds >= 0")
            new["delay"] = float(changes["delay"])
        if "retry_after" in changes:
            if not isinstance(changes["retry_after"], int) or changes["retry_after"] < 0:
                raise ValueError("retry_after must be a whole number of seconds >= 0")
            new["retry_after"] = changes["retry_after"]
        if "idempotent" in changes:
            if not isinstance(changes["idempotent"], bool):
                raise ValueError("idempotent must be true or false")
            new["idempotent"] = changes["idempotent"]
        if "tokens" in changes:
            tokens = changes["tokens"]
            if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
                raise ValueError("tokens must be a list of strings")
            new["tokens"] = frozenset(tokens)
        script = changes.get("script", [])
        if isinstance(script, str) or not isinstance(script, list | tuple):
            raise ValueError("script must be a list of modes")
        script = [_check_mode(m) for m in script]
        if changes.get("reset"):
            self.reset()
        with self._lock:
            self._settings.update(new)
            self._script.extend(script)

    def reset(self) -> None:
        """Forget every publish, status and attempt, empty the script, restore the constructor's settings, and
        answer held (``hang``) requests."""
        with self._lock:
            self._clear()
        self._release_held()

    def _clear(self) -> None:
        self._settings: dict[str, Any] = dict(self._defaults)
        self._script: deque[str] = deque()
        self._published: list[Received] = []
        self._statuses: dict[str, dict[str, Any]] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._attempts = 0

    def _release_held(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between: nothing is held any more
            loop.call_soon_threadsafe(self._swap_release_event)

    def _swap_release_event(self) -> None:
        released, self._released = self._released, asyncio.Event()
        released.set()

    # -- recording -----------------------------------------------------------------------------------------

    @property
    def published(self) -> list[Received]:
        """Accepted publishes, oldest first (a copy)."""
        with self._lock:
            return list(self._published)

    def count(self) -> int:
        """How many publishes were accepted (idempotent replays and failures excluded)."""
        with self._lock:
            return len(self._published)

    def texts(self) -> list[str]:
        with self._lock:
            return [r.text for r in self._published]

    @property
    def attempts(self) -> int:
        """Every ``POST /api/v1/statuses`` received, whatever the answer (401, 429, replay, …)."""
        with self._lock:
            return self._attempts

    def status(self, status_id: str) -> dict[str, Any] | None:
        """The status JSON as ``GET /api/v1/statuses/{id}`` answers it, or None."""
        with self._lock:
            return self._statuses.get(status_id)

    def state(self) -> dict[str, Any]:
        """What ``GET /_control`` answers."""
        with self._lock:
            return {
                "mode": self._settings["mode"],
                "delay": self._settings["delay"],
                "retry_after": self._settings["retry_after"],
                "idempotent": self._settings["idempotent"],
                "tokens": sorted(self._settings["tokens"]),
                "script": list(self._script),
                "published": len(self._published),
                "attempts": self._attempts,
            }

    # -- used by the server thread ---------------------------------------------------------------------------

    def _admit(self, token: str | None) -> str | None:
        """Count a publish request; its behaviour, or None when the token is not accepted (script untouched)."""
        with self._lock:
            self._attempts += 1
            if token is None or token not in self._settings["tokens"]:
                return None
            return self._script.popleft() if self._script else str(self._settings["mode"])

    def _create(
        self, token: str, text: str, media: tuple[str, ...], key: str | None, received_at: float
    ) -> dict[str, Any]:
        """The status for this publish: a new recorded one, or the original for a known idempotency key."""
        with self._lock:
            if key is not None and self._settings["idempotent"]:
                original = self._by_key.get((token, key))
                if original is not None and original in self._statuses:
                    return self._statuses[original]
            status_id = str(self._next_id)
            self._next_id += 1
            status = {
                "id": status_id,
                "created_at": _iso(received_at),
                "url": f"{self.url}/@{self.account}/{status_id}",
                "uri": f"{self.url}/users/{self.account}/statuses/{status_id}",
                "content": f"<p>{html.escape(text)}</p>",
                "visibility": "public",
                "media_attachments": [{"id": m} for m in media],
                "account": self._account(),
            }
            self._statuses[status_id] = status
            if key is not None:
                self._by_key[(token, key)] = status_id
            self._published.append(Received(status_id, received_at, text, token, key, media))
            return status

    def _account(self) -> dict[str, Any]:
        return {"id": "1", "username": self.account, "acct": self.account, "url": f"{self.url}/@{self.account}"}

    async def _hold(self, seconds: float | None) -> bool:
        """Wait ``seconds`` (None: until released); False when reset() or stop() let the request go early."""
        if self._stopping:
            return False
        try:
            await asyncio.wait_for(self._released.wait(), seconds)
        except TimeoutError:
            return True
        return False


class _Server(uvicorn.Server):
    """uvicorn's server, telling the starting thread when it listens."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._ready.set()


class _App:
    """The ASGI app: routing and wire format only; decisions and state live in :class:`FakePlatform`.

    Raw ASGI (no framework) keeps a request to a few dict lookups, for the benchmark's request rate, and
    reads form bodies without python-multipart.
    """

    def __init__(self, platform: FakePlatform) -> None:
        self.platform = platform

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        received_at = time.time()
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status, payload, extra = await self._route(scope["method"], scope["path"], headers, body, received_at)
        data = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(data)).encode()),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def _route(self, method: str, path: str, headers: Mapping[str, str], body: bytes, at: float) -> Answer:
        p = self.platform
        if method == "POST" and path == "/api/v1/statuses":
            return await self._post_status(headers, body, at)
        if method == "GET" and path.startswith("/api/v1/statuses/"):
            if not self._token_ok(headers, required=False):
                return _error(401, _INVALID_TOKEN)
            found = p.status(path.removeprefix("/api/v1/statuses/"))
            return (200, found, []) if found is not None else _error(404, "Record not found")
        if method == "GET" and path == "/api/v1/accounts/verify_credentials":
            if not self._token_ok(headers, required=True):
                return _error(401, _INVALID_TOKEN)
            return 200, p._account(), []
        if path == "/_control" and method == "POST":
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object")
                p.configure(**changes)
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                return _error(400, str(exc))
            return 200, p.state(), []
        if path == "/_control" and method == "GET":
            return 200, p.state(), []
        if path == "/_control/published" and method == "GET":
            return 200, {"published": [asdict(r) for r in p.published]}, []
        return _error(404, "Not found")

    def _token_ok(self, headers: Mapping[str, str], *, required: bool) -> bool:
        token = _bearer(headers)
        if token is None:
            return not required and "authorization" not in headers
        return token in self.platform.tokens

    async def _post_status(self, headers: Mapping[str, str], body: bytes, received_at: float) -> Answer:
        p = self.platform
        token = _bearer(headers)
        behaviour = p._admit(token)
        if behaviour is None or token is None:
            return _error(401, _INVALID_TOKEN)
        if behaviour == "rate_limit":
            wait = p.retry_after
            return _error(
                429,
                _FAILURES[behaviour][1],
                [
                    (b"retry-after", str(wait).encode()),
                    (b"x-ratelimit-limit", b"300"),
                    (b"x-ratelimit-remaining", b"0"),
                    (b"x-ratelimit-reset", _iso(time.time() + wait).encode()),
                ],
            )
        if behaviour in _FAILURES:
            return _error(*_FAILURES[behaviour])
        try:
            text, media = _status_fields(headers.get("content-type", ""), body)
        except ValueError as exc:
            return _error(422, f"Validation failed: {exc}")
        if not text.strip() and not media:
            return _error(*_FAILURES["reject"])
        status = p._create(token, text, media, headers.get("idempotency-key"), received_at)
        if behaviour == "slow":
            await p._hold(p.delay)
        elif behaviour == "hang" and not await p._hold(None):
            return _error(*_FAILURES["server_error"])
        return 200, status, []


def _error(status: int, reason: str, headers: list[tuple[bytes, bytes]] | None = None) -> Answer:
    return status, {"error": reason}, headers or []


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _status_fields(content_type: str, body: bytes) -> tuple[str, tuple[str, ...]]:
    """``status`` and ``media_ids[]`` from a JSON or form body; ValueError when malformed."""
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise ValueError("malformed JSON body") from None
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        text = data.get("status", "")
        media = data.get("media_ids[]", data.get("media_ids", []))
        if not isinstance(text, str) or not isinstance(media, list):
            raise ValueError("status must be a string and media_ids a list")
        return text, tuple(str(m) for m in media)
    form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return form.get("status", [""])[0], tuple(form.get("media_ids[]", []))


def main(argv: list[str] | None = None) -> None:
    """Serve a FakePlatform until SIGTERM/SIGINT; prints the base URL first (one line on stdout)."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.platform", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--token", action="append", help=f"accepted Bearer token (repeatable; {DEFAULT_TOKEN!r})")
    parser.add_argument("--account", default="herald")
    parser.add_argument("--not-idempotent", action="store_true", help="ignore Idempotency-Key")
    parser.add_argument("--mode", default="ok", choices=MODES)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds a slow answer waits")
    parser.add_argument("--retry-after", type=int, default=30)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    fake = FakePlatform(
        idempotent=not args.not_idempotent,
        tokens=args.token or (DEFAULT_TOKEN,),
        account=args.account,
        mode=args.mode,
        delay=args.delay,
        retry_after=args.retry_after,
        port=args.port,
    ).start()
    # a stand-in for a server on other machines: spend as little of the benchmark's CPU as Herald's own
    # processes do in the cyclic garbage collector (bot/heap.py)
    heap.settle()
    print(fake.url, flush=True)
    try:
        stop.wait()
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
