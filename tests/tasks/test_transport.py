"""The workers' HTTP client against real TCP peers that misbehave: whether a failed publish can have reached
the platform decides between a safe retry and asking a human, so each case must map to the right error."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from tasks.platforms.errors import OutcomeUnknown, PlatformDown
from tasks.platforms.http import PlatformHTTP
from tasks.platforms.transport import http_client

Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
FAST = httpx.Timeout(connect=0.5, read=0.5, write=0.5, pool=0.5)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    return head + await reader.readexactly(length)


@asynccontextmanager
async def serve(peer: Peer) -> AsyncIterator[tuple[str, list[bytes]]]:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            seen.append(await read_request(reader))
            await peer(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/api/v1/statuses", seen
    finally:
        server.close()


async def publish(url: str) -> httpx.Response:
    async with http_client() as client:
        return await PlatformHTTP(client, "Mastodon", timeout=FAST).request("POST", url, data={"status": "hi"})


async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    return None  # closes the connection without a word


async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(5)


async def half_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id": ')
    await writer.drain()


async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    body = b'{"id": "7", "url": "https://example.test/7"}'
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()


@pytest.mark.parametrize(
    ("peer", "sentence"),
    [(drop, "dropped the connection"), (hang, "didn't answer in time"), (half_body, "dropped the connection")],
)
async def test_a_request_the_platform_received_is_an_unknown_outcome(peer: Peer, sentence: str) -> None:
    async with serve(peer) as (url, seen):
        with pytest.raises(OutcomeUnknown, match=sentence):
            await publish(url)
        assert len(seen) == 1 and b"status=hi" in seen[0]  # it did arrive: a blind retry could post twice


async def test_a_refused_connection_is_platform_down_and_safe_to_retry() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(PlatformDown, match="can't be reached"):
            await publish(f"http://127.0.0.1:{port}/api/v1/statuses")


async def test_a_good_answer_comes_back_whole_and_the_client_is_not_resent() -> None:
    async with serve(ok) as (url, seen):
        response = await publish(url)
        assert response.json() == {"id": "7", "url": "https://example.test/7"}
        assert len(seen) == 1


async def test_a_connection_the_platform_closed_is_not_reused_for_the_next_publish() -> None:
    """The peer closes after each answer; the next POST must go on a new connection, and arrive once."""
    async with serve(ok) as (url, seen):
        async with http_client() as client:
            http = PlatformHTTP(client, "Mastodon", timeout=FAST)
            await http.request("POST", url, data={"status": "one"})
            await asyncio.sleep(0.1)  # the close reaches the client's pool
            second = await http.request("POST", url, data={"status": "two"})
        assert second.status_code == 200
        assert [b"status=one" in s for s in seen] == [True, False] and b"status=two" in seen[1]


async def test_a_publish_written_to_a_connection_the_platform_just_closed_is_safe_to_retry() -> None:
    """The peer closes right after answering; a publish sent at once may hit the closing connection. It
    can't have arrived whole, so it must not become an unknown outcome (that would ask a human)."""
    async with serve(ok) as (url, seen):
        async with http_client() as client:
            http = PlatformHTTP(client, "Mastodon", timeout=FAST)
            await http.request("POST", url, data={"status": "one"})
            with contextlib.suppress(PlatformDown):  # retried later: safe, it never arrived
                await http.request("POST", url, data={"status": "two"})
        assert sum(b"status=two" in s for s in seen) <= 1


async def test_a_cookie_one_account_was_given_is_never_sent_for_another() -> None:
    async def set_cookie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = b'{"id": "1", "url": "u"}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nSet-Cookie: session=account-a; Path=/\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        await writer.drain()

    async with serve(set_cookie) as (url, seen), http_client() as client:
        http = PlatformHTTP(client, "Mastodon", timeout=FAST)
        await http.request("POST", url, data={"status": "a"})
        await asyncio.sleep(0.1)  # the close reaches the client's pool
        await http.request("POST", url, data={"status": "b"})
        assert not client.cookies
    assert len(seen) == 2 and not any(b"cookie:" in s.lower() for s in seen)


async def test_an_answer_is_freed_by_reference_counting_not_left_to_the_cyclic_collector() -> None:
    # httpx ties a response and its stream in a cycle; a burst worker's collector then spent hundreds of
    # milliseconds a pass on thousands of them (with their requests and aiohttp's responses)
    async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = b'{"id": "1", "url": "u"}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    async with serve(ok) as (url, _), http_client() as client:
        http = PlatformHTTP(client, "Mastodon", timeout=FAST)
        await http.request("POST", url, data={"status": "warm-up"})
        await asyncio.sleep(0.1)  # the peer closes each connection: let the pool see it
        gc.disable()
        try:
            response = await http.request("POST", url, data={"status": "hi"})
            assert http.json_object(response) == {"id": "1", "url": "u"}
            answer, request = weakref.ref(response), weakref.ref(response.request)
            del response
            assert answer() is None and request() is None
        finally:
            gc.enable()
