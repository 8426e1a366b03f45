"""The HTTP client every publisher uses: httpx's API over aiohttp's connection pool.

Why not httpx's own transport: under a burst (dozens of publishes in flight per worker) httpcore's pool
rescans every connection for every request, and a publish cost 2–3 ms of CPU in the client alone; over
aiohttp (``httpx-aiohttp``'s transport) the same request costs a fraction of that (``bench/floor.py`` measures
it, and what httpx's own layer adds above bare aiohttp). Publishers still speak httpx (requests, responses,
exceptions), so nothing else changes.

What this module adds is the one thing the publishers' error mapping depends on: **whether a failed request
can have reached the platform**. ``httpx-aiohttp`` maps a dropped connection to ``ConnectTimeout`` (as if
never sent); here every aiohttp failure is mapped again, conservatively::

    aiohttp                                     httpx              the platform may have it?
    ClientConnectorError (refused, DNS, TLS)     ConnectError       no
    ConnectionTimeoutError (connect, pool wait)  ConnectTimeout     no
    ClientConnectionResetError, a failed body    WriteError         no (not whole: it can't act on it)
      write (the request never went out whole)
    SocketTimeoutError (no answer in time)       ReadTimeout        yes
    ServerDisconnectedError, ClientOSError,      ReadError          yes
      ClientPayloadError, anything else
    InvalidURL                                   InvalidURL         no

aiohttp never resends a POST by itself, and an idle connection is dropped after ``KEEPALIVE_S`` (below the
keep-alive of common servers), so a publish isn't written to a connection the platform already closed.
Every request also has an overall deadline (connect + write + read), since aiohttp has no write timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any, Final

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

#: Connections per process (all platforms together) and how long an idle one is kept.
MAX_CONNECTIONS: Final = 200
KEEPALIVE_S: Final = 4.0
DEFAULT_TIMEOUT: Final = httpx.Timeout(10.0, connect=3.0)


def _remap(exc: BaseException, request: httpx.Request) -> httpx.HTTPError | httpx.InvalidURL:
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.InvalidURL(str(exc))
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc), request=request)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc) or "connect timed out", request=request)
    unsent = any(isinstance(arg, str) and arg.startswith(_UNSENT_BODY) for arg in exc.args)
    if isinstance(exc, aiohttp.ClientConnectionResetError) or unsent:
        return httpx.WriteError(str(exc), request=request)
    if isinstance(exc, aiohttp.SocketTimeoutError | TimeoutError):
        return httpx.ReadTimeout(str(exc) or "no answer in time", request=request)
    return httpx.ReadError(str(exc) or type(exc).__name__, request=request)


#: How aiohttp words a failure while writing the request body (before the request was complete).
_UNSENT_BODY: Final = ("Can not write request body", "Failed to send bytes into the underlying connection")


def _deadline(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    parts = [timeout.get(k) for k in ("connect", "write", "read", "pool")]
    return None if any(p is None for p in parts) else float(sum(parts))  # type: ignore[arg-type]


@contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError as exc:
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientError | TimeoutError):
            raise _remap(cause, request) from cause
        raise
    except (aiohttp.ClientError, TimeoutError) as exc:  # not mapped by httpx-aiohttp, or our deadline
        raise _remap(exc, request) from exc


class _Body(httpx.AsyncByteStream):
    """The answer's body, with the same mapping while it is read (the request was sent by then)."""

    def __init__(self, stream: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self._request):  # aiohttp's read timeout applies to each read
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        with _mapped(self._request):
            await self._stream.aclose()


class PublishTransport(AiohttpTransport):
    """``AiohttpTransport`` with the mapping above and an overall deadline per request."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _mapped(request):
            async with asyncio.timeout(_deadline(request)):
                response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Body(response.stream, request)
        return response


class _NoCookies(httpx.Cookies):
    """A jar that never keeps or sends a cookie."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


_NO_COOKIES: Final = _NoCookies()


class PublishClient(httpx.AsyncClient):
    """An ``AsyncClient`` without cookies: one client serves every account, so a cookie one account's answer set
    must never ride along on another account's request (and reading ``Set-Cookie`` on every answer costs CPU);
    and whose answers are freed by reference counting (:meth:`send`)."""

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES  # read on every request: one empty jar for all of them

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        return None

    async def send(self, request: httpx.Request, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        """httpx's ``send``; a response read whole no longer waits for the cyclic garbage collector.

        httpx keeps a response and its stream in a reference cycle (the stream holds the response to time it),
        so every answer, with its request and aiohttp's response, was left to the collector: a burst worker's
        collections took hundreds of milliseconds. Once the body is read, a plain stream over it breaks the
        cycle and reference counting frees the rest at once.
        """
        response = await super().send(request, stream=stream, **kwargs)
        if not stream:
            response.stream = httpx.ByteStream(response.content)
        return response


def _session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_S)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


def http_client(timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """The one HTTP client a process uses for platforms: pooled, with timeouts on every call.

    Create it inside the event loop that uses it (aiohttp's session belongs to one loop); its session is
    opened lazily on the first request.
    """
    return PublishClient(timeout=timeout, transport=PublishTransport(client=_session))
