"""Fake external services in processes of their own, driven over HTTP, for chaos tests and benchmarks.

* :class:`PlatformProcess`: ``python -m tests.fakes.platform`` (the Mastodon-like fake social platform); its
  receive timestamps are taken in its own process, so a busy test process doesn't delay them.
* :class:`PlatformThread`: the same interface over an in-process :class:`~tests.fakes.platform.FakePlatform`.
* :class:`ChatProcess`: ``python -m tests.auxil.chat_server`` (the fake Slack Web API), for reports over HTTP.

Each is stopped by its own PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

import httpx

from tests.auxil.processes import ROOT, base_env
from tests.fakes.platform import DEFAULT_TOKEN, FakePlatform


def _read_lines(proc: subprocess.Popen[bytes], count: int, timeout: float) -> list[str]:
    """The first ``count`` lines ``proc`` writes on stdout (fewer if it stops or ``timeout`` passes first).

    Reads the pipe's file descriptor directly: a buffered ``readline`` could swallow the second line into its
    buffer, where ``select`` can't see it.
    """
    assert proc.stdout is not None
    fd, data = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while data.count(b"\n") < count:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 4096) if ready else b""
        if not chunk:
            break
        data += chunk
    return [line.strip() for line in data.decode(errors="replace").splitlines()[:count]]


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM our child by its PID, SIGKILL after ``timeout``; close its stdout."""
    if proc is None:
        return
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()


@dataclass(frozen=True)
class Record:
    """One publish a fake platform accepted (created a status for)."""

    status_id: str
    received_at: float  # time.time() in the fake's process when the request arrived
    text: str
    token: str
    idempotency_key: str | None


class Platform(Protocol):
    """What a stack needs from a fake platform, wherever it runs."""

    name: str

    @property
    def url(self) -> str: ...

    def configure(self, **changes: Any) -> dict[str, Any]: ...

    def state(self) -> dict[str, Any]: ...

    def records(self) -> list[Record]: ...

    def stop(self) -> None: ...


class PlatformProcess:
    """``python -m tests.fakes.platform`` in its own process, driven over its HTTP control API.

    ``configure(**changes)`` is ``POST /_control`` (``mode``, ``delay``, ``retry_after``, ``idempotent``,
    ``script``, ``reset``); ``records()`` reads ``GET /_control/published``.
    """

    def __init__(
        self,
        log_dir: Path,
        *,
        name: str = "platform",
        idempotent: bool = True,
        mode: str = "ok",
        delay: float = 1.0,
        retry_after: int = 30,
        token: str = DEFAULT_TOKEN,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._args = ["--mode", mode, "--delay", str(delay), "--retry-after", str(retry_after), "--token", token]
        if not idempotent:
            self._args.append("--not-idempotent")
        self._proc: subprocess.Popen[bytes] | None = None
        self._url = ""
        self._http: httpx.Client | None = None

    @property
    def url(self) -> str:
        return self._url

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self, timeout: float = 20.0) -> Self:
        command = [sys.executable, "-m", "tests.fakes.platform", "--port", "0", *self._args]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(command, cwd=ROOT, env=base_env(), stdout=subprocess.PIPE, stderr=log)
        lines = _read_lines(self._proc, 1, timeout)
        line = lines[0] if lines else ""
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"fake platform {self.name} did not start within {timeout} s: {self._log_tail()}")
        self._url = line
        self._http = httpx.Client(base_url=line, timeout=30.0)
        return self

    def _client(self) -> httpx.Client:
        if self._http is None:
            raise RuntimeError(f"fake platform {self.name} is not running")
        return self._http

    def configure(self, **changes: Any) -> dict[str, Any]:
        response = self._client().post("/_control", json=changes)
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state

    def state(self) -> dict[str, Any]:
        response = self._client().get("/_control")
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state

    def records(self) -> list[Record]:
        response = self._client().get("/_control/published")
        response.raise_for_status()
        return [
            Record(r["status_id"], r["received_at"], r["text"], r["token"], r["idempotency_key"])
            for r in response.json()["published"]
        ]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM our own child by its PID (held ``hang`` requests get a 503), SIGKILL after ``timeout``."""
        if self._http is not None:
            self._http.close()
            self._http = None
        _stop(self._proc, timeout)
        self._proc = None

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
        return ""


class PlatformThread:
    """The same interface over an in-process :class:`FakePlatform` (uvicorn in a thread of this process)."""

    def __init__(self, *, name: str = "platform", **settings: Any) -> None:
        self.name = name
        self.fake = FakePlatform(**settings)

    @property
    def url(self) -> str:
        return self.fake.url

    def start(self) -> Self:
        self.fake.start()
        return self

    def configure(self, **changes: Any) -> dict[str, Any]:
        self.fake.configure(**changes)
        return self.fake.state()

    def state(self) -> dict[str, Any]:
        return self.fake.state()

    def records(self) -> list[Record]:
        return [Record(r.status_id, r.received_at, r.text, r.token, r.idempotency_key) for r in self.fake.published]

    def stop(self) -> None:
        self.fake.stop()


class ChatProcess:
    """The fake Slack Web API in its own process (``python -m tests.auxil.chat_server``); workers given
    :meth:`env` report into it over HTTP through Herald's Slack notifier."""

    def __init__(self, log_dir: Path) -> None:
        self.log_path = log_dir / "chat.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.api_url = ""
        self._http: httpx.Client | None = None

    def start(self, timeout: float = 20.0) -> Self:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.auxil.chat_server"],
                cwd=ROOT,
                env=base_env(),
                stdout=subprocess.PIPE,
                stderr=log,
            )
        found = dict(line.partition("=")[::2] for line in _read_lines(self._proc, 2, timeout))
        if set(found) != {"SLACK_API_URL", "CONTROL_URL"}:
            self.stop()
            raise RuntimeError(f"fake chat did not start within {timeout} s (see {self.log_path})")
        self.api_url = found["SLACK_API_URL"]
        self._http = httpx.Client(base_url=found["CONTROL_URL"], timeout=60.0)
        return self

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def env(self) -> dict[str, str]:
        from tests.auxil.chat_server import BOT_TOKEN

        return {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": self.api_url}

    def count(self) -> int:
        assert self._http is not None
        return int(self._http.get("/count").json()["count"])

    def messages(self) -> list[dict[str, Any]]:
        """Every posted message: ``channel``, ``text``, ``thread_ts``, ``at`` (arrival, unix seconds)."""
        assert self._http is not None
        messages: list[dict[str, Any]] = self._http.get("/messages").json()["messages"]
        return messages

    def stop(self, timeout: float = 10.0) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        _stop(self._proc, timeout)
        self._proc = None
