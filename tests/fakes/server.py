"""Serve an ASGI app (a platform's fake, usually a FastAPI app) on 127.0.0.1 in a background thread.

Every platform fake under ``tests/fakes/`` runs through :class:`ServedApp`, so a fake is only its wire format::

    app = FastAPI()
    ...
    with ServedApp(app) as served:
        client_under_test(base_url=served.url)
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self._ready.set()


class ServedApp:
    """``app`` served over real HTTP on 127.0.0.1 (``port`` 0: a free one; a restart keeps it)."""

    def __init__(self, app: Any, *, port: int = 0, name: str = "fake") -> None:
        self.app = app
        self.name = name
        self.port = port
        self._thread: threading.Thread | None = None
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 5.0) -> ServedApp:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", server_header=False, date_header=False
        )
        ready = threading.Event()
        self._server = server = _Server(config, ready)

        def run() -> None:
            try:
                with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
                    runner.run(server.serve(sockets=[sock]))
            finally:
                sock.close()
                ready.set()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or not server.started:
            self.stop()
            raise RuntimeError(f"{self.name} did not start within {timeout} s")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        thread, server = self._thread, self._server
        if thread is None or server is None:
            return
        server.should_exit = True
        thread.join(timeout)
        self._thread = self._server = None

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
