"""Start and stop Herald subprocesses (worker, dispatcher, shell) for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERALD_PREFIXES = ("REDIS_", "DATABASE_URL", "HERALD_", "SLACK_", "TELEGRAM_")


def herald_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *args]


#: The test platforms (``fake``, ``fake-nokey``), loaded by every Herald process a test or benchmark starts.
TEST_PLATFORMS = {"HERALD_PLATFORM_PLUGINS": "tests.fakes.platform_client"}


def base_env(**overrides: str) -> dict[str, str]:
    """This interpreter's environment minus any Herald settings, plus the test platforms and ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(HERALD_PREFIXES)}
    env.update(TEST_PLATFORMS)
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


class HeraldProcess:
    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path, log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            herald_command(*args), env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (a crash)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code (SIGKILL after ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


@contextmanager
def running(specs: list[tuple[str, list[str]]], env: dict[str, str], cwd: Path) -> Iterator[list[HeraldProcess]]:
    procs = [HeraldProcess(name, args, env, cwd, cwd) for name, args in specs]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.stop()


def run_shell(
    script: str, env: dict[str, str], cwd: Path, *, user: str = "alice", timeout: float = 90.0, wait: float = 60.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        herald_command("shell", "--as", user, "--wait", str(wait)),
        input=script,
        text=True,
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ready(port: int) -> bool:
    """Whether `herald serve` on ``port`` answers ``/readyz`` with 200 (its database reachable)."""
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(predicate: object, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return False
