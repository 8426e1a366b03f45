"""The login pages of /account connect (bot/oauth.py) over HTTP: Herald's app through httpx's ASGI transport, the
test platform's authorize and token endpoints over real HTTP (tests/fakes/connectable.py), the browser's
redirects followed one by one."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tortoise import connections

from bot import logs
from bot.http import create_app
from bot.serving import login_pages
from bot.slack.blocks import button_element
from bot.wiring import build
from handlers.messages import Button, Reply
from handlers.settings import Settings
from models.accounts import SocialAccount
from models.connections import Connection
from models.outbox import OutboxMessage
from tasks.platforms.directory import Directory
from tests.auxil.connecting import PUBLIC_URL, Connecting, connecting


@dataclass
class Browser:
    world: Connecting
    herald: httpx.AsyncClient  # Herald's HTTP app, at PUBLIC_URL
    web: httpx.AsyncClient  # anything else (the platform)

    async def link(self, platform: str = "testnet") -> str:
        await self.world.chat.say(f"/account connect {platform}")
        assert self.world.chat.errors == []
        url = self.world.chat.last[0].buttons[0].url
        assert url is not None
        return url

    async def get(self, url: str) -> httpx.Response:
        client = self.herald if url.startswith(PUBLIC_URL) else self.web
        return await client.get(url)

    async def login(self, link: str) -> tuple[httpx.Response, str]:
        """Follow the link to the platform's consent page and back; the callback's response and its URL."""
        start = await self.get(link)
        assert start.status_code == 302, start.text
        consent = await self.get(start.headers["location"])
        assert consent.status_code == 302
        callback = consent.headers["location"]
        return await self.get(callback), callback


@pytest.fixture
async def browser(any_db: str) -> AsyncIterator[Browser]:
    async with connecting() as world:
        await world.chat.say("/help")  # alice, the first member: an admin
        app = create_app(Settings(_env_file=None), login=world.pages)  # type: ignore[call-arg]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as herald, httpx.AsyncClient() as web:
            yield Browser(world, herald, web)


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


async def test_the_whole_login_connects_the_account_and_tells_the_chat(browser: Browser) -> None:
    world = browser.world
    link = await browser.link()
    state = state_of(link)
    stream = io.StringIO()
    logs.configure("info", stream=stream)  # every log line of the login, as Herald writes them by default
    try:
        start = await browser.get(link)
        assert start.status_code == 302
        authorize = urlsplit(start.headers["location"])
        assert f"{authorize.scheme}://{authorize.netloc}" == world.served.url
        query = parse_qs(authorize.query)
        assert query["state"] == [state] and query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"] == [f"{PUBLIC_URL}/oauth/testnet/callback"]
        assert query["client_id"] == ["herald-test-app"] and query["scope"] == ["read write"]
        consent = await browser.get(start.headers["location"])
        callback = consent.headers["location"]
        assert callback.startswith(f"{PUBLIC_URL}/oauth/testnet/callback?")
        done = await browser.get(callback)
    finally:
        logs.configure("warning")

    assert done.status_code == 200, done.text
    assert "Connected @acme on Testnet as acme — you can close this tab." in done.text
    # the token request carried the PKCE verifier (the fake checked it against the challenge) and the app's secret
    [exchange] = world.fake.token_requests
    assert exchange["code_verifier"] and exchange["client_secret"] == "s3cret-app"
    assert exchange["redirect_uri"] == f"{PUBLIC_URL}/oauth/testnet/callback"
    account = await SocialAccount.get(handle="acme").prefetch_related("connected_by")
    assert account.platform == "testnet" and account.remote_id == "u-acme" and account.status == "ok"
    assert account.connected_by is not None and account.connected_by.name == "alice"
    assert account.token_expires_at is not None
    assert '"refresh_token":"rt-1"' in (account.credentials or "")
    rows = await connections.get("default").execute_query_dict("SELECT credentials FROM social_accounts")
    assert "rt-1" not in str(rows[0]["credentials"])  # encrypted at rest
    raw = await connections.get("default").execute_query_dict("SELECT code_verifier FROM connections")
    assert exchange["code_verifier"] not in str(raw[0]["code_verifier"])
    assert "Connected @acme on Testnet as acme" in await world.chat.reports()
    # no code, state, verifier or token in any log line
    code = parse_qs(urlsplit(callback).query)["code"][0]
    logged = stream.getvalue()
    assert "oauth.start" in logged and "oauth.connected" in logged
    for secret in (state, code, exchange["code_verifier"], "rt-1", "at-"):
        assert secret not in logged


async def test_a_replayed_callback_is_refused_and_saves_nothing_more(browser: Browser) -> None:
    done, callback = await browser.login(await browser.link())
    assert done.status_code == 200
    again = await browser.get(callback)
    assert again.status_code == 400
    assert "already used" in again.text
    assert await SocialAccount.all().count() == 1
    assert len(browser.world.fake.token_requests) == 1
    # the link itself is used up too
    start = await browser.get(await browser.link())
    assert start.status_code == 302
    assert (await browser.get(f"{PUBLIC_URL}/oauth/testnet/start?state={state_of(callback)}")).status_code == 400


async def test_an_expired_link_is_refused(browser: Browser) -> None:
    link = await browser.link()
    browser.world.chat.clock.advance(minutes=16)
    start = await browser.get(link)
    assert start.status_code == 400 and "expired" in start.text
    # and a callback coming back after the link expired
    link = await browser.link()
    start = await browser.get(link)
    consent = await browser.get(start.headers["location"])
    browser.world.chat.clock.advance(minutes=16)
    late = await browser.get(consent.headers["location"])
    assert late.status_code == 400 and "expired" in late.text
    assert await SocialAccount.all().count() == 0 and not browser.world.fake.token_requests


async def test_unknown_or_foreign_states_are_refused(browser: Browser) -> None:
    link = await browser.link()
    foreign = link.replace("/oauth/testnet/", "/oauth/testkey/")
    for url in (f"{PUBLIC_URL}/oauth/testnet/start?state=nope", f"{PUBLIC_URL}/oauth/testnet/start", foreign):
        response = await browser.get(url)
        assert response.status_code == 400
        assert "not one Herald gave out" in response.text
    bogus = await browser.get(f"{PUBLIC_URL}/oauth/testnet/callback?code=abc&state=nope")
    assert bogus.status_code == 400
    assert (await Connection.get(state=state_of(link))).used_at is None


async def test_a_refused_consent_is_told(browser: Browser) -> None:
    link = await browser.link()
    assert (await browser.get(link)).status_code == 302
    denied = await browser.get(f"{PUBLIC_URL}/oauth/testnet/callback?error=access_denied&state={state_of(link)}")
    assert denied.status_code == 400
    assert "The Testnet login didn't connect an account (access_denied)." in denied.text
    assert "access_denied" in await browser.world.chat.reports()
    assert await SocialAccount.all().count() == 0 and not browser.world.fake.token_requests


async def test_a_wrong_pkce_verifier_is_refused_by_the_platform(browser: Browser) -> None:
    link = await browser.link()
    start = await browser.get(link)
    await Connection.filter(state=state_of(link)).update(code_verifier="x" * 48)
    consent = await browser.get(start.headers["location"])
    refused = await browser.get(consent.headers["location"])
    assert refused.status_code == 400
    assert "code_verifier does not match" in refused.text
    assert "Testnet refused the login's code" in await browser.world.chat.reports()
    assert await SocialAccount.all().count() == 0


async def test_several_accounts_are_offered_as_buttons_and_the_pick_saves(browser: Browser) -> None:
    world = browser.world
    world.fake.pages = [("p1", "Acme Coffee"), ("p2", "Acme Tea")]
    done, _ = await browser.login(await browser.link())
    assert done.status_code == 200 and "pick the one to connect in chat" in done.text
    assert await SocialAccount.all().count() == 0
    row = await OutboxMessage.filter(channel="test").order_by("-id").first()
    assert row is not None
    offer = Reply.from_json(row.payload)
    assert [b.label for b in offer.buttons] == ["Acme Coffee (Testnet page)", "Acme Tea (Testnet page)"]
    await world.chat.say(offer.buttons[1].command)
    assert world.chat.errors == []
    account = await SocialAccount.get(handle="acme-tea")
    assert account.remote_id == "p2" and account.label == "Acme Tea (Testnet page)"
    await world.chat.say(offer.buttons[0].command)
    assert world.chat.errors  # one pick per login
    assert await SocialAccount.all().count() == 1


async def test_the_wiring_gives_the_core_and_the_login_pages_the_same_clients() -> None:
    settings = Settings(_env_file=None, HERALD_PUBLIC_URL="https://herald.example.com/")  # type: ignore[call-arg]
    comps = build(settings)
    try:
        assert isinstance(comps.platforms, Directory)
        assert comps.herald.services.platforms is comps.platforms
        assert comps.herald.services.public_url == "https://herald.example.com"
        pages = login_pages(settings, comps)
        assert pages is not None and pages.platforms is comps.platforms
        assert pages.redirect_uri("x") == "https://herald.example.com/oauth/x/callback"
        assert login_pages(Settings(_env_file=None), comps) is None  # type: ignore[call-arg]
    finally:
        await comps.aclose()


def test_a_link_button_opens_its_url_in_slack_and_survives_the_outbox() -> None:
    link = Button("Log in to X", "", "primary", url="https://herald.example.com/oauth/x/start?state=s")
    element = button_element(link, set())
    assert element["url"] == link.url and element["value"] == ""
    reply = Reply(text="Log in", buttons=(link, Button("Cancel", "/cancel 1")))
    assert Reply.from_json(reply.to_json()).buttons == reply.buttons


async def test_a_federated_platform_logs_in_on_the_admins_server(browser: Browser) -> None:
    world = browser.world
    await world.chat.say("/account connect testfed")
    assert world.chat.errors == ["Which Testfed server? /account connect testfed SERVER (e.g. testfed.social)."]
    await world.chat.say(f"/account connect testfed {world.served.url}/")
    link = world.chat.last[0].buttons[0].url
    assert link is not None and (await Connection.get(state=state_of(link))).instance == world.served.url
    done, _ = await browser.login(link)
    assert done.status_code == 200, done.text
    account = await SocialAccount.get(platform="testfed")
    assert json.loads(account.credentials or "")["extra"]["instance"] == world.served.url
    # a Reconnect button names no server: the one server its accounts are on is taken
    await world.chat.say("/account connect testfed")
    again = world.chat.last[0].buttons[0].url
    assert again is not None and (await Connection.get(state=state_of(again))).instance == world.served.url
