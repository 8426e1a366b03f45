"""Slack's Web API down: requests are still acked at once, what people asked for is saved, and the answers
reach Slack once it is back; ``/readyz`` says Slack is unreachable meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.slack.retrying import Backoff, unreachable
from models.accounts import SocialAccount
from models.members import MemberRole
from models.posts import Post
from tests.auxil.processes import free_port
from tests.bot.harness import GENERAL, add_users, harness
from tests.fakes.slack import FakeSlack

QUICK = Backoff(first=0.2, cap=1.0, total=60.0)


async def acked(call: Awaitable[httpx.Response]) -> None:
    """The request is acked with an empty 200 within a second (Slack gives up after 3 s)."""
    began = time.monotonic()
    response = await call
    assert (response.status_code, response.text) == (200, "")
    assert time.monotonic() - began < 1.0


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"no {what} after {timeout}s"
        await asyncio.sleep(0.05)


@pytest.mark.usefixtures("pg_db")
async def test_requests_are_acked_while_slack_is_down_and_answered_once_it_is_back() -> None:
    fake = FakeSlack(port=free_port())  # nothing listens there yet: connections are refused
    add_users(fake)
    async with harness(fake, backoff=QUICK) as h:
        await acked(h.command("/herald", "account add dryrun demo"))
        await until(lambda: SocialAccount.exists(handle="demo"), "the account")
        await acked(h.command("/herald", "role add bob approver"))
        await until(lambda: MemberRole.exists(role="approver"), "bob's role")
        await acked(h.command("/draft", "--to demo --at tomorrow 09:00 Typed during the outage"))
        await until(Post.exists, "the draft")  # saved while nothing reaches Slack
        saved = [post.text for post in await Post.all()]
        down = (await h.http.get(h.url + "/readyz")).json()

        fake.start()
        try:
            await h.settle(timeout=30)
            deadline = time.monotonic() + 30
            while (up := (await h.http.get(h.url + "/readyz")).json()) != {"status": "ready"}:
                assert time.monotonic() < deadline, up
                await asyncio.sleep(0.2)
        finally:
            fake.stop()

    assert saved == ["Typed during the outage"]
    assert down == {"status": "ready", "slack": "unreachable"}
    (card,) = h.cards(GENERAL)
    assert "Typed during the outage" in card.text
    assert len(fake.messages_in(GENERAL)) == 1  # the card, once
    private = fake.visible_ephemerals("U0ALICE001", GENERAL)  # admin answers are the admin's alone
    assert len(private) == 3 and "@bob is now approver." in private  # each answer once, none lost
    assert len(fake.calls("auth.test")) == 1  # learned in the background once Slack answers, then kept


def test_what_counts_as_slack_being_unreachable() -> None:
    def api_error(status: int, body: dict[str, object]) -> SlackApiError:
        response = AsyncSlackResponse(
            client=None, http_verb="POST", api_url="u", req_args={}, data=body, headers={}, status_code=status
        )
        return SlackApiError("failed", response)  # type: ignore[no-untyped-call]

    assert unreachable(aiohttp.ClientConnectionError()) and unreachable(TimeoutError())
    assert unreachable(ConnectionRefusedError()) and unreachable(api_error(503, {"ok": False}))
    assert unreachable(api_error(200, {"ok": False, "error": "service_unavailable"}))
    assert not unreachable(api_error(200, {"ok": False, "error": "channel_not_found"}))
    assert not unreachable(api_error(429, {"ok": False, "error": "ratelimited"}))
    assert not unreachable(ValueError("a bug"))


def test_the_retry_schedule_doubles_up_to_its_cap_within_its_total() -> None:
    delays = list(Backoff(first=1.0, cap=60.0, total=900.0).delays())

    assert delays[:7] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    assert set(delays[6:]) == {60.0} and 840 < sum(delays) <= 900


@pytest.mark.usefixtures("pg_db")
async def test_readyz_says_when_slack_answers_but_refuses_the_token(fake: FakeSlack) -> None:
    fake.fail_auth = True  # a revoked or mistyped SLACK_BOT_TOKEN: Slack answers invalid_auth
    async with harness(fake, backoff=QUICK) as h:
        refused = (await h.http.get(h.url + "/readyz")).json()
        fake.fail_auth = False
        await until(lambda: _ready(h), "readiness once the token is accepted")

    assert refused == {"status": "ready", "slack": "refused: invalid_auth"}


async def _ready(h: Any) -> bool:
    return bool((await h.http.get(h.url + "/readyz")).json() == {"status": "ready"})
