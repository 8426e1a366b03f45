"""A fake Slack Web API served over real HTTP on 127.0.0.1, for the real ``AsyncWebClient`` to talk to.

Contract (see /work/shared/reference/chat-apis.md)::

    with FakeSlack() as fake:                       # starts uvicorn in a thread, < 1 s
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.base_url)
        await client.chat_postMessage(channel="C1", text="hi")
        assert fake.messages_in("C1")[0].text == "hi"

Routes (``fake.url`` is ``http://127.0.0.1:PORT``; ``fake.base_url`` is ``fake.url + "/api/"``):

- ``GET|POST /api/<method>``: the Web API. Arguments are merged from the query string (where the SDK puts
  ``params=``, e.g. auth.test, users.info, files.*) and the body, JSON or form-encoded whatever the
  method. Form values of ``blocks``, ``attachments``, ``view``, ``files`` and ``metadata`` are decoded
  from their JSON strings. Every response is JSON with an ``x-oauth-scopes`` header.
  Checks, in order: unknown method → ``unknown_method``; token (``Authorization: Bearer`` or a ``token``
  argument) not the bot token, or ``fail_auth`` set → ``invalid_auth``; a scripted failure
  (``rate_limit``: HTTP 429 + ``Retry-After`` + ``ratelimited``; ``fail``: any error, optionally only for
  one channel); then the method.
- ``POST /upload/<file_id>``: the ``upload_url`` from files.getUploadURLExternal; stores the bytes, 200.
- ``GET /files-pri/<team>-<file_id>/<name>`` (and ``…/download/<name>``): ``url_private`` of a file. With
  ``Authorization: Bearer <bot token>`` the bytes; without, HTTP 200 with an HTML sign-in page, as Slack
  does (a downloader must check the content type); unknown file → 404.
- ``POST /response/<key>``: a ``response_url`` (see ``response_url()``); at most 5 posts per key, later
  ones get 404 ``used_url``.

What a person sees of ephemeral messages follows Slack's documentation, and ``seen_by`` /
``visible_ephemerals`` answer it: ``chat.postEphemeral`` without ``thread_ts`` shows in the channel; with
``thread_ts`` only in that thread's pane, and not at all when the thread has no replies yet ("Ephemeral
messages in threads are only shown if there is already an active thread"). A ``response_url`` post is
ephemeral unless ``response_type`` is ``in_channel``, shown to the person who clicked (or typed the
command) where they did it: next to the clicked message, in its thread's pane when it is a reply; it
replaces the clicked message only with ``replace_original: true`` (and deletes it with
``delete_original: true``).

Every request is recorded as a ``Call`` (pseudo-methods ``upload``, ``download``, ``response_url`` for
the non-API routes). All state is guarded by one lock: tests may read it from any thread or loop while
the server thread writes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import mimetypes
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

UPLOAD = "upload"
DOWNLOAD = "download"
RESPONSE_URL = "response_url"
JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")
FIRST_TS_MICROS = 1_732_800_000_000_000
RESPONSE_URL_LIMIT = 5
SIGN_IN_PAGE = "<!DOCTYPE html><html><head><title>Sign in to Slack</title></head><body>Sign in</body></html>"

Json = dict[str, Any]
Answer = tuple[int, Json, dict[str, str]]  # status, body, extra headers


class ServerThread:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (a free port) in a daemon thread.

    ``start()`` returns once the socket accepts connections; ``stop()`` asks uvicorn to exit and joins the
    thread. Uvicorn's logging config is left alone (``log_config=None``).
    """

    def __init__(self, app: ASGIApp, *, name: str = "asgi-server", port: int = 0) -> None:
        self._app = app
        self._name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port = port  # 0: a free one, chosen on start

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 5.0) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self._socket, self.port = sock, sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            loop="auto",
            timeout_graceful_shutdown=1,  # uvloop and httptools when installed, as in production
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, name=self._name)
        self._thread.daemon = True
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"{self._name}: uvicorn exited during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self._name}: uvicorn did not start within {timeout}s")
            time.sleep(0.002)

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Call:
    """One request the fake received: ``args`` merged from query and body; ``headers`` with lower-case names."""

    method: str
    args: Json
    headers: dict[str, str]
    at: float
    http_method: str
    status: int
    response: Json | str


@dataclass(frozen=True)
class PostedMessage:
    """A message as it now stands in a channel (edits applied); ``thread_ts`` is None for top-level ones."""

    channel: str
    ts: str
    text: str
    blocks: list[Json] | None = None
    thread_ts: str | None = None
    attachments: list[Json] | None = None
    files: list[Json] = field(default_factory=list)
    metadata: Json | None = None
    edits: int = 0
    user: str = ""
    bot_id: str = ""

    def as_json(self) -> Json:
        """The message object Slack returns for it."""
        out: Json = {"type": "message", "ts": self.ts, "text": self.text, "user": self.user, "bot_id": self.bot_id}
        optional = {
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "attachments": self.attachments,
            "files": self.files or None,
            "metadata": self.metadata,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.edits:
            out["edited"] = {"user": self.user, "ts": self.ts}
        return out


@dataclass(frozen=True)
class Ephemeral:
    """A message for one person only, and where Slack shows it: in ``channel`` itself (``thread_ts`` None)
    or in the pane of thread ``thread_ts``; ``shown`` False when Slack drops it (a thread without replies)."""

    channel: str
    user: str
    text: str
    blocks: list[Json] | None = None
    thread_ts: str | None = None
    shown: bool = True
    via: str = "chat.postEphemeral"


class _MethodError(Exception):
    """Raised inside a method handler to answer ``{"ok": false, "error": error}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class _Script:
    status: int
    error: str
    retry_after: int | None = None


Handler = Callable[[Json], Json]


class FakeSlack:
    """The fake Web API plus the files, response_url and upload endpoints (see the module docstring).

    Configure with ``add_user``, ``add_channel``, ``add_file``, ``rate_limit``, ``fail`` and ``fail_auth``;
    inspect with ``calls``, ``last``, ``messages_in``, ``views``, ``responses``, ``file_content`` and
    ``wait_for`` / ``wait_for_async``; ``reset()`` between tests.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-herald-test-token",
        team_id: str = "T0HERALD01",
        team: str = "Herald Test",
        bot_user_id: str = "U0HERALDBOT",
        bot_id: str = "B0HERALDBOT",
        bot_name: str = "herald",
        app_id: str = "A0HERALD01",
        scopes: str = "chat:write,commands,users:read,channels:read,files:read,files:write",
        port: int = 0,
    ) -> None:
        self.bot_token, self.team_id, self.team, self.app_id, self.scopes = bot_token, team_id, team, app_id, scopes
        self.bot_user_id, self.bot_id, self.bot_name = bot_user_id, bot_id, bot_name
        self.fail_auth = False
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server = ServerThread(self._build_app(), name="fake-slack", port=port)
        self._users: dict[str, Json] = {}
        self._channels: dict[str, Json] = {}
        self._configured_files: set[str] = set()
        self._files: dict[str, Json] = {}
        self._blobs: dict[str, bytes] = {}
        self._counter = 0
        self._clear()
        self.add_user(bot_user_id, name=bot_name, real_name=bot_name.title(), is_bot=True)
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.delete": self._delete,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "files.info": self._files_info,
        }

    # -- lifecycle ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self._server.url

    @property
    def base_url(self) -> str:
        """What to pass as ``AsyncWebClient(base_url=...)``; ends with ``/``."""
        return f"{self._server.url}/api/"

    def start(self) -> FakeSlack:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget calls, messages, views, uploads, responses and scripted failures; clear ``fail_auth``.

        Users, channels and files added with ``add_file`` stay; ts and id counters keep increasing.
        """
        with self._lock:
            self._clear()
            for file_id in list(self._files):
                if file_id not in self._configured_files:
                    del self._files[file_id]
                    self._blobs.pop(file_id, None)

    def _clear(self) -> None:
        self.fail_auth = False
        self._calls: list[Call] = []
        self._messages: dict[str, list[PostedMessage]] = {}
        self._views: dict[str, Json] = {}
        self._home_views: dict[str, str] = {}
        self._responses: dict[str, list[Json]] = {}
        self._response_targets: dict[str, tuple[str, str | None, str]] = {}
        self._ephemerals: list[Ephemeral] = []
        self._scripts: dict[str, deque[_Script]] = {}

    # -- configuration -----------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str = "",
        tz: str = "UTC",
        tz_offset: int | None = None,
        is_bot: bool = False,
        email: str | None = None,
    ) -> Json:
        """Make ``users.info(user=user_id)`` answer; ``tz_offset`` (seconds) defaults to ``tz``'s offset now."""
        now = datetime.now(ZoneInfo(tz))
        offset = tz_offset if tz_offset is not None else int(now.utcoffset().total_seconds())  # type: ignore[union-attr]
        profile: Json = {"real_name": real_name, "display_name": name}
        if email:
            profile["email"] = email
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name,
            "deleted": False,
            "tz": tz,
            "tz_label": now.tzname(),
            "tz_offset": offset,
            "is_bot": is_bot,
            "is_admin": False,
            "profile": profile,
        }
        with self._lock:
            self._users[user_id] = user
        return copy.deepcopy(user)

    def add_channel(self, channel_id: str, *, name: str, is_private: bool = False, is_im: bool = False) -> Json:
        """Make ``conversations.info(channel=channel_id)`` answer."""
        channel = {
            "id": channel_id,
            "name": name,
            "is_channel": not (is_private or is_im),
            "is_private": is_private,
            "is_im": is_im,
            "is_member": True,
            "is_archived": False,
            "created": 1732800000,
        }
        with self._lock:
            self._channels[channel_id] = channel
        return dict(channel)

    def add_file(self, name: str, content: bytes, *, mimetype: str | None = None, title: str | None = None) -> Json:
        """Store a file (kept across ``reset``); returns its Slack file object with ``url_private``."""
        with self._lock:
            file_id = self._next_id("F")
            self._files[file_id] = self._file_object(file_id, name, len(content), title, mimetype)
            self._blobs[file_id] = content
            self._configured_files.add(file_id)
            return dict(self._files[file_id])

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429, ``Retry-After``, ``ratelimited``."""
        self._script(method, times, _Script(429, "ratelimited", retry_after))

    def fail(self, method: str, error: str, *, times: int = 1, status: int = 200, channel: str | None = None) -> None:
        """Answer the next ``times`` calls of ``method`` (with ``channel``: only those to that channel) with
        ``{"ok": false, "error": error}``."""
        self._script(method if channel is None else f"{method}@{channel}", times, _Script(status, error))

    def _script(self, key: str, times: int, script: _Script) -> None:
        with self._lock:
            self._scripts.setdefault(key, deque()).extend(replace(script) for _ in range(times))

    def response_url(
        self, key: str, *, channel: str | None = None, message_ts: str | None = None, user: str = ""
    ) -> str:
        """A ``response_url`` on this fake. With ``channel`` (and ``message_ts`` of a message posted here),
        ``replace_original``/``delete_original`` apply to that message, ``in_channel`` responses post to
        the channel, and ephemeral ones are shown to ``user`` (who clicked or typed) where they did it."""
        with self._lock:
            if channel is not None:
                self._response_targets[key] = (channel, message_ts, user)
        return f"{self.url}/response/{key}"

    # -- inspection --------------------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls of ``method`` (all calls if None), oldest first."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def last(self, method: str) -> Call:
        """The most recent call of ``method``; ``LookupError`` naming the methods seen if there is none."""
        with self._lock:
            found = self.calls(method)
            if not found:
                raise LookupError(f"no {method} call; seen: {sorted({c.method for c in self._calls})}")
            return found[-1]

    def messages_in(self, channel: str, thread_ts: str | None = None) -> list[PostedMessage]:
        """Messages now in ``channel`` in posting order, replies included; with ``thread_ts`` only that
        thread's replies. Deleted messages are gone; edits (chat.update, replace_original) are applied."""
        with self._lock:
            messages = list(self._messages.get(channel, []))
        return [m for m in messages if thread_ts is None or m.thread_ts == thread_ts]

    def ephemerals(self, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages posted (in ``channel``), shown or not, oldest first."""
        with self._lock:
            return [e for e in self._ephemerals if channel is None or e.channel == channel]

    def seen_by(self, user: str, channel: str | None = None) -> list[Ephemeral]:
        """The ephemeral messages ``user`` was shown (in ``channel``), wherever in it Slack showed them."""
        return [e for e in self.ephemerals(channel) if e.user == user and e.shown]

    def visible_ephemerals(self, user: str, channel: str, thread_ts: str | None = None) -> list[str]:
        """Texts of the ephemeral messages ``user`` sees in ``channel`` itself, or (``thread_ts``) in that
        thread's pane."""
        return [e.text for e in self.seen_by(user, channel) if e.thread_ts == thread_ts]

    def views(self) -> list[Json]:
        """Views opened or published, as they now stand."""
        with self._lock:
            return copy.deepcopy(list(self._views.values()))

    def responses(self, key: str) -> list[Json]:
        """JSON bodies posted to ``response_url(key)``, oldest first."""
        with self._lock:
            return list(self._responses.get(key, []))

    def file_content(self, file_id: str) -> bytes:
        """Bytes uploaded for (or configured with) ``file_id``."""
        with self._lock:
            return self._blobs[file_id]

    def wait_for(self, method: str, count: int = 1, timeout: float = 2.0) -> list[Call]:
        """Block until ``count`` calls of ``method`` were recorded; ``AssertionError`` after ``timeout`` s.

        Blocks the calling thread: from a test's event loop, when the caller is in that same loop, use
        ``wait_for_async`` instead."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.calls(method)) >= count, timeout):
                self._timed_out(method, count, timeout)
            return self.calls(method)

    async def wait_for_async(self, method: str, count: int = 1, timeout: float = 2.0) -> list[Call]:  # noqa: ASYNC109
        """``wait_for`` that yields to the running event loop while it waits."""
        deadline = time.monotonic() + timeout
        while len(found := self.calls(method)) < count:
            if time.monotonic() > deadline:
                self._timed_out(method, count, timeout)
            await asyncio.sleep(0.005)
        return found

    def _timed_out(self, method: str, count: int, timeout: float) -> None:
        seen = [c.method for c in self.calls()]
        raise AssertionError(f"expected {count} {method} call(s) within {timeout}s; calls so far: {seen}")

    # -- HTTP --------------------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/upload/{file_id}", self._upload, methods=["POST", "PUT"]),
                Route("/files-pri/{key}/{rest:path}", self._download, methods=["GET"]),
                Route("/response/{key}", self._response, methods=["POST"]),
            ]
        )

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            args = parse_args(request.query_params, headers.get("content-type", ""), raw)
        except ValueError:
            args, parse_error = {"_raw": raw.decode("utf-8", "replace")}, "invalid_json"
        else:
            parse_error = ""
        with self._lock:
            status, body, extra = self._answer(method, args, headers, parse_error)
            self._record(Call(method, args, headers, time.time(), request.method, status, body))
        return JSONResponse(body, status_code=status, headers={"x-oauth-scopes": self.scopes, **extra})

    def _answer(self, method: str, args: Json, headers: dict[str, str], parse_error: str) -> Answer:
        handler = self._handlers.get(method)
        if handler is None:
            return 200, _error("unknown_method"), {}
        if self.fail_auth or _token(args, headers) != self.bot_token:
            return 200, _error("invalid_auth"), {}
        scripted = self._scripts.get(f"{method}@{args.get('channel')}") or self._scripts.get(method)
        if scripted:
            script = scripted.popleft()
            retry = {"Retry-After": str(script.retry_after)} if script.retry_after is not None else {}
            return script.status, _error(script.error), retry
        if parse_error:
            return 200, _error(parse_error), {}
        try:
            return 200, {"ok": True, **handler(args)}, {}
        except _MethodError as exc:
            return 200, _error(exc.error), {}

    async def _upload(self, request: Request) -> Response:
        file_id, raw = request.path_params["file_id"], await request.body()
        with self._lock:
            found = file_id in self._files
            if found:
                self._blobs[file_id] = raw
                self._files[file_id]["size"] = len(raw)
            status, text = (200, f"OK - {len(raw)}") if found else (404, "not_found")
            self._record(self._plain_call(UPLOAD, request, {"file_id": file_id, "size": len(raw)}, status, text))
        return PlainTextResponse(text, status_code=status)

    async def _download(self, request: Request) -> Response:
        file_id = request.path_params["key"].partition("-")[2]
        authorized = request.headers.get("authorization") == f"Bearer {self.bot_token}" and not self.fail_auth
        with self._lock:
            file, blob = self._files.get(file_id), self._blobs.get(file_id)
            status = 404 if file is None or blob is None else 200
            summary = "not_found" if status == 404 else ("(bytes)" if authorized else "(sign-in page)")
            self._record(self._plain_call(DOWNLOAD, request, {"file_id": file_id}, status, summary))
        if file is None or blob is None:
            return PlainTextResponse("not_found", status_code=404)
        if not authorized:
            return Response(SIGN_IN_PAGE, media_type="text/html; charset=utf-8")
        return Response(blob, media_type=file["mimetype"])

    async def _response(self, request: Request) -> Response:
        key, raw = request.path_params["key"], await request.body()
        try:
            body: Json = json.loads(raw or b"{}")
        except ValueError:
            body = dict(parse_qsl(raw.decode("utf-8")))
        with self._lock:
            posted = self._responses.setdefault(key, [])
            status, text = (404, "used_url") if len(posted) >= RESPONSE_URL_LIMIT else (200, "ok")
            if status == 200:
                posted.append(body)
                self._apply_response(key, body)
            self._record(self._plain_call(RESPONSE_URL, request, {"key": key, **body}, status, text))
        return PlainTextResponse(text, status_code=status)

    def _apply_response(self, key: str, body: Json) -> None:
        target = self._response_targets.get(key)
        if target is None:
            return
        channel, message_ts, user = target
        if message_ts and _flag(body.get("delete_original")):
            self._messages[channel] = [m for m in self._messages.get(channel, []) if m.ts != message_ts]
        elif message_ts and _flag(body.get("replace_original")):
            self._edit(channel, message_ts, body)
        elif body.get("response_type") == "in_channel":
            self._post(channel, body)
        else:  # ephemeral, Slack's default: for the person who acted, where they acted
            text, thread = str(body.get("text") or ""), self._thread_of(channel, message_ts)
            self._ephemerals.append(Ephemeral(channel, user, text, body.get("blocks"), thread, via=RESPONSE_URL))

    def _plain_call(self, method: str, request: Request, args: Json, status: int, text: str) -> Call:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return Call(method, args, headers, time.time(), request.method, status, text)

    def _record(self, call: Call) -> None:
        self._calls.append(call)
        self._changed.notify_all()

    # -- Web API methods (called with the lock held) -----------------------------------------------------

    def _auth_test(self, args: Json) -> Json:
        return {
            "url": f"{self.url}/",
            "team": self.team,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, args: Json) -> Json:
        channel = _require(args, "channel", "channel_not_found")
        if not any(args.get(k) for k in ("text", "blocks", "attachments")):
            raise _MethodError("no_text")
        message = self._post(channel, args)
        return {"channel": channel, "ts": message.ts, "message": message.as_json()}

    def _update(self, args: Json) -> Json:
        channel, ts = _require(args, "channel", "channel_not_found"), _require(args, "ts", "message_not_found")
        message = self._edit(channel, ts, args)
        return {"channel": channel, "ts": ts, "text": message.text, "message": message.as_json()}

    def _post_ephemeral(self, args: Json) -> Json:
        channel = _require(args, "channel", "channel_not_found")
        user = _require(args, "user", "user_not_in_channel")
        if not any(args.get(k) for k in ("text", "blocks", "attachments")):
            raise _MethodError("no_text")
        thread = str(args["thread_ts"]) if args.get("thread_ts") else None
        shown = thread is None or self._has_replies(channel, thread)  # only in a thread already active
        text = str(args.get("text") or "")
        self._ephemerals.append(Ephemeral(channel, user, text, args.get("blocks"), thread, shown))
        return {"message_ts": self._next_ts()}

    def _delete(self, args: Json) -> Json:
        channel, ts = _require(args, "channel", "channel_not_found"), _require(args, "ts", "message_not_found")
        self._find(channel, ts)
        self._messages[channel] = [m for m in self._messages[channel] if m.ts != ts]
        return {"channel": channel, "ts": ts}

    def _views_open(self, args: Json) -> Json:
        _require(args, "trigger_id", "invalid_arguments")
        return {"view": self._store_view(_view_arg(args), None)}

    def _views_update(self, args: Json) -> Json:
        external_id = args.get("external_id")
        by_external = [v["id"] for v in self._views.values() if external_id and v["external_id"] == external_id]
        view_id = args.get("view_id") or next(iter(by_external), None)
        if view_id not in self._views:
            raise _MethodError("not_found")
        if args.get("hash") and args["hash"] != self._views[view_id]["hash"]:
            raise _MethodError("hash_conflict")
        return {"view": self._store_view(_view_arg(args), view_id)}

    def _views_publish(self, args: Json) -> Json:
        user_id = _require(args, "user_id", "invalid_arguments")
        view = self._store_view(_view_arg(args), self._home_views.get(user_id))
        self._home_views[user_id] = view["id"]
        return {"view": view}

    def _store_view(self, view: Json, view_id: str | None) -> Json:
        view_id = view_id or self._next_id("V")
        stored = {
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "state": {"values": {}},
            "hash": f"{self._next_ts()}.{view_id}",
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
        }
        self._views[view_id] = stored
        return copy.deepcopy(stored)

    def _users_info(self, args: Json) -> Json:
        user = self._users.get(args.get("user", ""))
        if user is None:
            raise _MethodError("user_not_found")
        return {"user": user}

    def _conversations_info(self, args: Json) -> Json:
        channel = self._channels.get(args.get("channel", ""))
        if channel is None:
            raise _MethodError("channel_not_found")
        return {"channel": channel}

    def _get_upload_url(self, args: Json) -> Json:
        filename = _require(args, "filename", "invalid_arguments")
        length = _require(args, "length", "invalid_arguments")
        file_id = self._next_id("F")
        self._files[file_id] = self._file_object(file_id, filename, int(length), None, None)
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, args: Json) -> Json:
        entries = args.get("files")
        if not isinstance(entries, list) or not entries:
            raise _MethodError("invalid_arguments")
        done = []
        for entry in entries:
            file = self._files.get(entry.get("id", ""))
            if file is None or entry["id"] not in self._blobs:
                raise _MethodError("file_not_found")
            file["title"] = entry.get("title") or file["name"]
            done.append(file)
        channel = args.get("channel_id") or args.get("channels")
        if channel:
            for file in done:
                file["channels"] = [channel]
            self._post(
                channel,
                {
                    "text": args.get("initial_comment", ""),
                    "thread_ts": args.get("thread_ts"),
                    "files": [dict(f) for f in done],
                },
            )
        return {"files": [dict(f) for f in done]}

    def _files_info(self, args: Json) -> Json:
        file = self._files.get(args.get("file", ""))
        if file is None or file["id"] not in self._blobs:
            raise _MethodError("file_not_found")
        return {"file": file, "comments": []}

    # -- state helpers (lock held) -----------------------------------------------------------------------

    def _post(self, channel: str, args: Json) -> PostedMessage:
        message = PostedMessage(
            channel=channel,
            ts=self._next_ts(),
            text=args.get("text") or "",
            blocks=args.get("blocks"),
            thread_ts=args.get("thread_ts") or None,
            attachments=args.get("attachments"),
            files=args.get("files") or [],
            metadata=args.get("metadata"),
            user=self.bot_user_id,
            bot_id=self.bot_id,
        )
        self._messages.setdefault(channel, []).append(message)
        return message

    def _edit(self, channel: str, ts: str, args: Json) -> PostedMessage:
        old = self._find(channel, ts)
        changes = {k: args[k] for k in ("text", "blocks", "attachments", "metadata") if k in args}
        new = replace(old, **changes, edits=old.edits + 1)
        self._messages[channel] = [new if m.ts == ts else m for m in self._messages[channel]]
        return new

    def _has_replies(self, channel: str, ts: str) -> bool:
        return any(m.thread_ts == ts and m.ts != ts for m in self._messages.get(channel, []))

    def _thread_of(self, channel: str, ts: str | None) -> str | None:
        """The thread message ``ts`` is a reply in (None for a channel's own message, or one not known)."""
        found = next((m for m in self._messages.get(channel, []) if m.ts == ts), None)
        return found.thread_ts if found is not None and found.thread_ts != found.ts else None

    def _find(self, channel: str, ts: str) -> PostedMessage:
        for message in self._messages.get(channel, []):
            if message.ts == ts:
                return message
        raise _MethodError("message_not_found")

    def _file_object(self, file_id: str, name: str, size: int, title: str | None, mimetype: str | None) -> Json:
        mimetype = mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream"
        private = f"{self.url}/files-pri/{self.team_id}-{file_id}"
        return {
            "id": file_id,
            "created": int(time.time()),
            "name": name,
            "title": title or name,
            "mimetype": mimetype,
            "filetype": name.rpartition(".")[2].lower() if "." in name else "binary",
            "user": self.bot_user_id,
            "size": size,
            "mode": "hosted",
            "is_external": False,
            "is_public": False,
            "url_private": f"{private}/{name}",
            "url_private_download": f"{private}/download/{name}",
            "permalink": f"{self.url}/files/{self.bot_user_id}/{file_id}/{name}",
            "channels": [],
        }

    def _next_ts(self) -> str:
        self._counter += 1
        micros = FIRST_TS_MICROS + self._counter * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:010d}"


def parse_args(query: Mapping[str, str], content_type: str, raw: bytes) -> Json:
    """Merge query parameters and a JSON or form body as Slack does; JSON-string fields are decoded.

    Raises ``ValueError`` when a JSON body does not parse to an object.
    """
    args: Json = dict(query)
    text = raw.decode("utf-8")
    if text.strip():
        is_json = "json" in content_type or ("form" not in content_type and text.lstrip().startswith("{"))
        body = json.loads(text) if is_json else dict(parse_qsl(text, keep_blank_values=True))
        if not isinstance(body, dict):
            raise ValueError("JSON body is not an object")
        args.update(body)
    for key in JSON_FIELDS:
        value = args.get(key)
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):  # left as sent if it is not JSON; the handler decides
                args[key] = json.loads(value)
    return args


def _token(args: Json, headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token
    value = args.get("token")
    return value if isinstance(value, str) else None


def _require(args: Json, key: str, error: str) -> str:
    value = args.get(key)
    if not value:
        raise _MethodError(error)
    return str(value)


def _view_arg(args: Json) -> Json:
    view = args.get("view")
    if not isinstance(view, dict) or "type" not in view:
        raise _MethodError("invalid_arguments")
    return view


def _error(error: str) -> Json:
    return {"ok": False, "error": error}


def _flag(value: object) -> bool:
    """A boolean as JSON or a form sends it."""
    return value is True or value == "true"


__all__ = [
    "DOWNLOAD",
    "RESPONSE_URL",
    "UPLOAD",
    "Call",
    "Ephemeral",
    "FakeSlack",
    "PostedMessage",
    "ServerThread",
    "parse_args",
]
