"""FakePlatformPublisher against the real fake platform server (tests/fakes/platform.py) over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tasks.platforms.base import Client, Credentials, Publication, Published
from tasks.platforms.errors import AuthExpired, OutcomeUnknown, PlatformDown, RateLimited, Rejected
from tasks.platforms.http import DEFAULT_TIMEOUT
from tasks.platforms.transport import http_client
from tests.fakes.platform import DEFAULT_TOKEN, FakePlatform
from tests.fakes.platform_client import FakePlatformPublisher

ROOT = Path(__file__).resolve().parents[2]
SHORT = httpx.Timeout(2.0, read=0.3)  # for the tests where the fake holds the answer back


@pytest.fixture(scope="module")
def server() -> Iterator[FakePlatform]:
    with FakePlatform() as fake:
        yield fake


@pytest.fixture
def fake(server: FakePlatform) -> Iterator[FakePlatform]:
    server.reset()
    yield server
    server.reset()  # also answers a request a test left hanging


@pytest.fixture(params=["production", "httpx"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """The workers' client (httpx over aiohttp) and httpx's own: the publishers read both the same way."""
    async with http_client() if request.param == "production" else httpx.AsyncClient() as client:
        yield client


def publication(text: str = "Hello from Herald", *, key: str = "delivery-1", **credentials: str) -> Publication:
    return Publication(
        post_id=1,
        delivery_id=1,
        handle="@herald",
        text=text,
        media=(),
        credentials=Credentials.from_json(json.dumps({"token": DEFAULT_TOKEN, **credentials})),
        idempotency_key=key,
    )


def publisher(
    client: httpx.AsyncClient, fake: FakePlatform, *, idempotent: bool = True, timeout: httpx.Timeout = DEFAULT_TIMEOUT
) -> Client:
    return FakePlatformPublisher(client, fake.url, idempotent=idempotent, timeout=timeout)


async def test_publish_returns_the_status_and_the_fake_records_it(
    fake: FakePlatform, client: httpx.AsyncClient
) -> None:
    before = time.time()
    result = await publisher(client, fake).publish(publication("Launch day!"))
    after = time.time()

    assert fake.count() == 1
    assert fake.texts() == ["Launch day!"]
    [record] = fake.published
    assert result == Published(external_id=record.status_id, url=f"{fake.url}/@herald/{record.status_id}")
    assert record.token == DEFAULT_TOKEN
    assert record.idempotency_key == "delivery-1"
    assert before <= record.received_at <= after
    status = (await client.get(f"{fake.url}/api/v1/statuses/{result.external_id}")).json()
    assert status["content"] == "<p>Launch day!</p>"


async def test_media_ids_are_sent_as_form_fields(fake: FakePlatform, client: httpx.AsyncClient) -> None:
    with_media = Publication(1, 1, "@herald", "Look", ("m1", "m2"), Credentials(access_token=DEFAULT_TOKEN), "k")
    await publisher(client, fake).publish(with_media)
    assert fake.published[0].media_ids == ("m1", "m2")


async def test_the_accounts_base_url_overrides_the_publishers(fake: FakePlatform, client: httpx.AsyncClient) -> None:
    nowhere = FakePlatformPublisher(client, "http://127.0.0.1:9/unused", idempotent=True)
    await nowhere.publish(publication(base_url=fake.url + "/"))
    assert fake.count() == 1


async def test_an_account_without_a_server_address_is_refused_with_a_sentence(client: httpx.AsyncClient) -> None:
    with pytest.raises(Rejected) as caught:
        await FakePlatformPublisher(client, idempotent=True).publish(publication())
    assert str(caught.value) == (
        "The fake platform account has no server address; add it again with base_url=URL among its keys."
    )


async def test_rate_limit_gives_retry_after_from_the_header(fake: FakePlatform, client: httpx.AsyncClient) -> None:
    fake.mode = "rate_limit"
    fake.retry_after = 7

    with pytest.raises(RateLimited) as caught:
        await publisher(client, fake).publish(publication())

    assert caught.value.retry_after == 7.0
    assert str(caught.value) == "The fake platform said: Too many requests. Retry in 7 seconds."
    assert (fake.count(), fake.attempts) == (0, 1)


async def test_server_error_is_platform_down(fake: FakePlatform, client: httpx.AsyncClient) -> None:
    fake.mode = "server_error"
    with pytest.raises(PlatformDown, match=r"^The fake platform said: Service unavailable\.$"):
        await publisher(client, fake).publish(publication())
    assert fake.count() == 0


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("reject", "The fake platform said: Validation failed: Text can't be blank."),
        ("duplicate", "The fake platform said: Validation failed: duplicate status."),
    ],
)
async def test_validation_failures_are_rejected_with_the_platforms_reason(
    fake: FakePlatform, client: httpx.AsyncClient, mode: str, message: str
) -> None:
    fake.mode = mode
    with pytest.raises(Rejected) as caught:
        await publisher(client, fake).publish(publication())
    assert str(caught.value) == message
    assert fake.count() == 0


async def test_blank_text_is_rejected_by_the_fake_itself(fake: FakePlatform, client: httpx.AsyncClient) -> None:
    with pytest.raises(Rejected, match="Text can't be blank"):
        await publisher(client, fake).publish(publication("   "))


async def test_a_wrong_token_is_auth_expired(fake: FakePlatform, client: httpx.AsyncClient) -> None:
    fake.script(["ok"])  # a refused token must not use up the script
    with pytest.raises(AuthExpired) as caught:
        await publisher(client, fake).publish(publication(token="revoked"))

    assert str(caught.value) == "The fake platform said: The access token is invalid. Reconnect the account."
    assert (fake.count(), fake.attempts, fake.state()["script"]) == (0, 1, ["ok"])
    missing = Publication(1, 1, "@herald", "x", (), Credentials(), "k")
    with pytest.raises(AuthExpired, match="no access token"):
        await publisher(client, fake).publish(missing)
    assert fake.attempts == 1  # refused before any request


async def test_no_answer_is_outcome_unknown_though_the_fake_published(
    fake: FakePlatform, client: httpx.AsyncClient
) -> None:
    fake.mode = "hang"
    with pytest.raises(OutcomeUnknown, match=r"^The fake platform didn't answer in time") as caught:
        await publisher(client, fake, timeout=SHORT).publish(publication())

    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert fake.texts() == ["Hello from Herald"]  # it *was* received: a blind retry could post twice


async def test_slow_answers_arrive_late_but_are_stamped_on_arrival(
    fake: FakePlatform, client: httpx.AsyncClient
) -> None:
    fake.mode, fake.delay = "slow", 0.2
    sent = time.time()
    await publisher(client, fake).publish(publication())
    answered = time.time()

    assert answered - sent >= 0.2
    assert fake.published[0].received_at - sent < 0.1
    fake.delay = 1.0
    with pytest.raises(OutcomeUnknown):
        await publisher(client, fake, timeout=SHORT).publish(publication(key="delivery-2"))
    assert fake.count() == 2


async def test_idempotent_platform_deduplicates_by_key(fake: FakePlatform, client: httpx.AsyncClient) -> None:
    pub = publisher(client, fake, idempotent=True)

    first = await pub.publish(publication())
    again = await pub.publish(publication())
    other = await pub.publish(publication(key="delivery-2"))

    assert again == first
    assert other.external_id != first.external_id
    assert (fake.count(), fake.attempts) == (2, 3)


@pytest.mark.parametrize(
    ("fake_idempotent", "publisher_idempotent", "recorded_key"),
    [
        (False, True, "delivery-1"),  # the platform ignores the key
        (True, False, None),  # the publisher doesn't send it
    ],
)
async def test_without_idempotency_both_publishes_happen(
    fake: FakePlatform,
    client: httpx.AsyncClient,
    fake_idempotent: bool,
    publisher_idempotent: bool,
    recorded_key: str | None,
) -> None:
    fake.idempotent = fake_idempotent
    pub = publisher(client, fake, idempotent=publisher_idempotent)
    assert pub.idempotent is publisher_idempotent

    first = await pub.publish(publication())
    second = await pub.publish(publication())

    assert first.external_id != second.external_id
    assert fake.count() == 2
    assert [r.idempotency_key for r in fake.published] == [recorded_key, recorded_key]


async def test_scripted_answers_come_first_then_the_mode(fake: FakePlatform, client: httpx.AsyncClient) -> None:
    fake.script(["rate_limit", "server_error", "ok"])
    fake.mode = "reject"
    pub = publisher(client, fake)

    with pytest.raises(RateLimited):
        await pub.publish(publication())
    with pytest.raises(PlatformDown):
        await pub.publish(publication())
    assert isinstance(await pub.publish(publication()), Published)
    with pytest.raises(Rejected):
        await pub.publish(publication())
    assert (fake.count(), fake.attempts) == (1, 4)


async def test_control_over_http(fake: FakePlatform, client: httpx.AsyncClient) -> None:
    control = f"{fake.url}/_control"
    state = (await client.post(control, json={"mode": "server_error", "retry_after": 3, "script": ["ok"]})).json()
    assert (state["mode"], state["retry_after"], state["script"]) == ("server_error", 3, ["ok"])
    assert fake.mode == "server_error"

    bad = await client.post(control, json={"mode": "on_fire", "delay": 5})
    assert bad.status_code == 400
    assert "unknown mode 'on_fire'" in bad.json()["error"]
    assert fake.delay == 1.0  # nothing applied

    pub = publisher(client, fake)
    await pub.publish(publication())
    with pytest.raises(PlatformDown):
        await pub.publish(publication(key="delivery-2"))
    state = (await client.get(control)).json()
    assert (state["published"], state["attempts"], state["script"]) == (1, 2, [])
    records = (await client.get(f"{control}/published")).json()["published"]
    assert [(r["text"], r["idempotency_key"]) for r in records] == [("Hello from Herald", "delivery-1")]

    state = (await client.post(control, json={"reset": True, "idempotent": False})).json()
    assert (state["published"], state["attempts"], state["mode"], state["idempotent"]) == (0, 0, "ok", False)


async def test_status_lookup_and_credentials_check(fake: FakePlatform, client: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    me = await client.get(f"{fake.url}/api/v1/accounts/verify_credentials", headers=auth)
    assert me.json()["username"] == "herald"
    refused = await client.get(f"{fake.url}/api/v1/accounts/verify_credentials", headers={"Authorization": "Bearer x"})
    assert (refused.status_code, refused.json()) == (401, {"error": "The access token is invalid"})
    missing = await client.get(f"{fake.url}/api/v1/statuses/999999")
    assert (missing.status_code, missing.json()) == (404, {"error": "Record not found"})


async def test_connection_refused_is_platform_down(client: httpx.AsyncClient) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pub = FakePlatformPublisher(client, f"http://127.0.0.1:{port}", idempotent=False)
    with pytest.raises(PlatformDown, match=r"^The fake platform can't be reached right now\.$"):
        await pub.publish(publication())


async def test_starts_fast_stops_cleanly_and_comes_back_on_the_same_url(client: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    fake = FakePlatform(mode="hang").start()
    assert time.perf_counter() - started < 0.5
    url = fake.url
    held = asyncio.create_task(client.post(f"{url}/api/v1/statuses", data={"status": "x"}, headers=_auth()))
    for _ in range(200):  # until the fake holds it
        if fake.count():
            break
        await asyncio.sleep(0.01)
    assert fake.count() == 1

    await asyncio.to_thread(fake.stop)  # answers the held request rather than waiting on it
    assert (await held).status_code == 503
    with pytest.raises(PlatformDown):
        await FakePlatformPublisher(client, url, idempotent=True).publish(publication())

    with fake:
        assert fake.url == url
        assert fake.mode == "hang"  # stop/start keeps settings and records; reset() forgets them
        fake.mode = "ok"
        assert isinstance(await FakePlatformPublisher(client, url, idempotent=True).publish(publication()), Published)


def test_runs_standalone_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.platform", "--port", "0", "--not-idempotent", "--token", "bench"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        auth = {"Authorization": "Bearer bench", "Idempotency-Key": "same"}
        ids = {httpx.post(f"{url}/api/v1/statuses", data={"status": "x"}, headers=auth).json()["id"] for _ in "ab"}
        assert len(ids) == 2
        assert httpx.get(f"{url}/_control").json()["published"] == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
