"""What the publish path does with an account's token and the platform's limits: refresh ahead of expiry and
once after a refusal (written back atomically), hold posts of an account that can't be refreshed and send them on
reconnect, postpone for a rate limit or a quota and say when, and verify an unknown outcome before asking a human.

The client here is a scripted one over the real database; each platform's own client is tested against its fake
server in ``tests/tasks/platforms/``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from tortoise import connections

from handlers.publishing import holds
from models.accounts import AccountStatus, SocialAccount
from models.audit import AuditEntry
from models.lifecycle import DeliveryState, PostState
from models.posts import Delivery, Post
from tasks import tokens
from tasks.limits import LocalGate
from tasks.platforms import Publishers
from tasks.platforms.base import ABSENT, AccountChoice, BaseClient, Credentials, Publication, Published, Verdict
from tasks.platforms.errors import AuthExpired, OutcomeUnknown, PlatformDown, RateLimited
from tasks.platforms.http import PlatformHTTP, exhausted
from tests.auxil.chat import Chat
from tests.fakes.server import ServedApp


@dataclass
class TokenPlatform(BaseClient):
    """Takes a post when the token is the current one; refresh rotates (old refresh tokens stop working)."""

    label = "Tokenland"
    current: str = "t1"
    refresh_tokens: dict[str, str] = field(default_factory=lambda: {"r1": "t2"})
    refusing: bool = False  # the refresh token was revoked
    refresh_delay: float = 0.0
    refreshes: int = 0
    calls: list[str] = field(default_factory=list)
    quota_wait: float | None = None
    errors: list[Exception] = field(default_factory=list)
    verdict: Verdict = None
    published: list[str] = field(default_factory=list)

    async def publish(self, publication: Publication) -> Published:
        token = publication.credentials.access_token or ""
        self.calls.append(token)
        if token != self.current:
            raise AuthExpired("Tokenland said: Token has expired. Reconnect the account.")
        if self.errors:
            raise self.errors.pop(0)
        self.published.append(publication.text)
        return Published(external_id=str(len(self.published)), url=f"https://tokenland.invalid/{len(self.published)}")

    async def refresh(self, credentials: Credentials) -> Credentials:
        self.refreshes += 1
        await asyncio.sleep(self.refresh_delay)
        new = self.refresh_tokens.pop(credentials.refresh_token or "", None)
        if self.refusing or new is None:
            raise AuthExpired("Tokenland said: invalid_grant. Reconnect the account.")
        self.current = new
        n = int(new[1:])
        self.refresh_tokens[f"r{n}"] = f"t{n + 1}"
        return Credentials(access_token=new, refresh_token=f"r{n}", expires_at=datetime.now(UTC) + timedelta(hours=2))

    async def check(self, credentials: Credentials) -> AccountChoice:
        return AccountChoice(handle="acme", label="acme", credentials=credentials)

    async def wait_before(self, publication: Publication) -> float | None:
        return self.quota_wait

    async def verify(self, publication: Publication) -> Verdict:
        return self.verdict


async def with_account(chat: Chat, client: TokenPlatform, **credentials: object) -> SocialAccount:
    chat.runtime.publishers = Publishers({}, fallback=client)
    chat.runtime.gate = LocalGate(lambda: chat.clock.now().timestamp())
    await chat.say("/account add dryrun acme")
    await chat.say("/role add bob approver")
    account = await SocialAccount.get(handle="acme")
    creds = {"access_token": "t1", "refresh_token": "r1", **credentials}
    account.credentials = json.dumps(creds, default=str)  # type: ignore[assignment]
    await account.save()
    return account


async def approved(chat: Chat, text: str = "Hello") -> None:
    await chat.say(f"/draft --to acme {text}")
    post = await Post.all().order_by("-id").first()
    assert post is not None
    await chat.say(f"/approve {post.id}", as_="bob")


async def stored(handle: str = "acme") -> tuple[Credentials, SocialAccount]:
    account = await SocialAccount.get(handle=handle)
    return Credentials.from_json(account.credentials), account


async def test_a_refused_token_is_refreshed_once_written_back_and_the_post_goes_out(chat: Chat) -> None:
    client = TokenPlatform(current="t2")  # the stored t1 has expired
    await with_account(chat, client)
    await approved(chat)
    assert "published to acme" in await chat.publish_due()
    assert client.calls == ["t1", "t2"] and client.refreshes == 1
    creds, account = await stored()
    assert (creds.access_token, creds.refresh_token) == ("t2", "r2")
    assert account.credentials_rev == 1 and account.token_expires_at is not None
    conn = connections.get("default")
    rows = await conn.execute_query_dict("SELECT credentials FROM social_accounts WHERE id = " + str(account.id))
    raw = str(rows[0]["credentials"])
    assert "t2" not in raw and raw.startswith("gAAAA")  # encrypted at rest


async def test_a_token_about_to_expire_is_refreshed_before_the_call(chat: Chat) -> None:
    client = TokenPlatform(current="t1")
    soon = chat.clock.now() + timedelta(minutes=2)
    await with_account(chat, client, expires_at=soon.isoformat())
    client.current = "t2"  # what the platform will want after the refresh (t1 still works until then)
    client.calls.clear()
    await approved(chat)
    assert "published to acme" in await chat.publish_due()
    assert client.calls == ["t2"]  # refreshed first: no refused call


async def test_two_workers_refreshing_at_once_refresh_once_and_keep_the_newer_token(chat: Chat) -> None:
    client = TokenPlatform(current="t2", refresh_delay=0.2)
    account = await with_account(chat, client)
    seen = Credentials(access_token="t1", refresh_token="r1")
    first, second = await asyncio.gather(
        tokens.refresh(client, account.id, seen), tokens.refresh(client, account.id, seen)
    )
    assert client.refreshes == 1  # the second found the first's new token and didn't spend r1 again
    assert first == second and first.refresh_token == "r2"
    creds, account = await stored()
    assert creds.refresh_token == "r2" and account.credentials_rev == 1


async def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one(chat: Chat) -> None:
    class NoRotation(TokenPlatform):
        async def refresh(self, credentials: Credentials) -> Credentials:
            self.current = "t9"
            return Credentials(access_token="t9")

    client = NoRotation(current="t9")
    await with_account(chat, client, extra={"user_id": "42"})
    await approved(chat)
    assert "published to acme" in await chat.publish_due()
    creds, _ = await stored()
    assert (creds.access_token, creds.refresh_token, creds.get("user_id")) == ("t9", "r1", "42")


async def test_a_revoked_account_holds_its_posts_tells_and_sends_them_after_reconnect(chat: Chat) -> None:
    client = TokenPlatform(current="t5", refusing=True)
    await with_account(chat, client)
    await approved(chat, "First")
    report = await chat.publish_due()
    assert "Post 1 by @alice is held for acme" in report and "reconnects acme" in report
    assert (await Delivery.get(post_id=1)).state == DeliveryState.HELD
    assert (await Post.get(id=1)).state == PostState.PUBLISHING  # not failed, not lost
    _, account = await stored()
    assert account.status == AccountStatus.RECONNECT and "invalid_grant" in (account.status_reason or "")
    owner_dms = await chat.dms("alice")  # no owner recorded: the admins are told, with the button
    assert any("needs reconnecting" in r.text and r.buttons[0].label == "Reconnect" for r in owner_dms)

    # a second post to the same account is held without calling the platform again
    calls = len(client.calls)
    await approved(chat, "Second")
    assert "Post 2 by @alice is held" in await chat.publish_due()
    assert len(client.calls) == calls
    assert await chat.dms("alice") == []  # the owner was told once

    # reconnected (new credentials, status ok): both go out, late but within the grace window
    client.refusing, client.current = False, "t7"
    await SocialAccount.filter(handle="acme").update(
        status=AccountStatus.OK.value, credentials=Credentials(access_token="t7").to_json()
    )
    chat.clock.advance(minutes=5)
    sent, missed = await holds.release(account.id, chat.herald.services)
    assert (sent, missed) == (2, 0)
    reports = await chat.publish_due()
    assert "Post 1 by @alice published to acme" in reports and "Post 2 by @alice published to acme" in reports
    assert client.published == ["First", "Second"]


async def test_held_beyond_the_grace_window_is_reported_missed_with_publish_now(chat: Chat) -> None:
    client = TokenPlatform(current="t5", refusing=True)
    account = await with_account(chat, client)
    await approved(chat)
    await chat.publish_due()
    chat.clock.advance(hours=2)
    assert await holds.release(account.id, chat.herald.services) == (0, 1)
    report = await chat.reports()
    assert "acme needed reconnecting until now" in report and "Publish it now or pick a new time" in report
    assert (await Delivery.get(post_id=1)).state == DeliveryState.MISSED


async def test_a_rate_limit_postpones_to_the_reset_tells_when_and_blocks_the_account(chat: Chat) -> None:
    client = TokenPlatform(errors=[RateLimited("Tokenland said: Too Many Requests.", retry_after=600)])
    await with_account(chat, client)
    await approved(chat, "One")
    report = await chat.publish_due()
    assert "Post 1 by @alice goes to acme at" in report and "instead: Tokenland said: Too Many Requests." in report
    delivery = await Delivery.get(post_id=1)
    assert delivery.state == DeliveryState.SCHEDULED and delivery.attempts == 0  # a reset is no failed attempt
    assert (delivery.due_at - chat.clock.now()).total_seconds() >= 599

    await approved(chat, "Two")  # due now, but the account is blocked until the reset: not sent
    calls = len(client.calls)
    await chat.publish_due()
    assert len(client.calls) == calls
    assert (await Delivery.get(post_id=2)).state == DeliveryState.SCHEDULED


async def test_a_used_up_quota_is_not_sent_and_the_author_hears_when_it_goes(chat: Chat) -> None:
    client = TokenPlatform(quota_wait=3 * 3600)
    await with_account(chat, client)
    await approved(chat)
    report = await chat.publish_due()
    assert "goes to acme at" in report and "publishing limit for this account is used up" in report
    assert client.published == []
    client.quota_wait = None
    chat.clock.advance(hours=3, minutes=1)
    assert "published to acme" in await chat.publish_due()


async def test_an_unknown_outcome_found_by_verification_settles_itself(chat: Chat) -> None:
    client = TokenPlatform(errors=[OutcomeUnknown("Tokenland didn't answer in time.")])
    client.verdict = Published(external_id="77", url="https://tokenland.invalid/77")
    await with_account(chat, client)
    await approved(chat)
    assert await chat.publish_due() == "Post 1 by @alice published to acme (Dry run): https://tokenland.invalid/77"
    assert (await Delivery.get(post_id=1)).state == DeliveryState.PUBLISHED


async def test_an_unknown_outcome_verification_shows_absent_is_sent_again(chat: Chat) -> None:
    client = TokenPlatform(errors=[OutcomeUnknown("Tokenland didn't answer in time.")])
    client.verdict = ABSENT
    await with_account(chat, client)
    await approved(chat)
    assert await chat.publish_due() == ""
    assert (await Delivery.get(post_id=1)).state == DeliveryState.SCHEDULED
    chat.clock.advance(minutes=1)
    assert "published to acme" in await chat.publish_due()
    assert client.published == ["Hello"]


async def test_an_unknown_outcome_the_platform_cant_tell_asks_a_human(chat: Chat) -> None:
    client = TokenPlatform(errors=[OutcomeUnknown("Tokenland didn't answer in time.")])
    await with_account(chat, client)
    await approved(chat)
    assert "may or may not have reached acme" in await chat.publish_due()
    assert (await Delivery.get(post_id=1)).state == DeliveryState.UNKNOWN


async def test_the_background_job_refreshes_tokens_expiring_within_a_day(chat: Chat) -> None:
    client = TokenPlatform(current="t1")
    await with_account(chat, client)
    await SocialAccount.filter(handle="acme").update(token_expires_at=chat.clock.now() + timedelta(hours=3))
    assert await tokens.refresh_due(chat.runtime.publishers, chat.runtime.notifier, chat.clock) == 1
    creds, account = await stored()
    assert creds.access_token == "t2" and account.refreshed_at is not None


async def test_the_background_job_marks_a_refused_account_and_tells_once(chat: Chat) -> None:
    client = TokenPlatform(refusing=True)
    await with_account(chat, client)
    await SocialAccount.filter(handle="acme").update(token_expires_at=chat.clock.now() + timedelta(hours=3))
    await tokens.refresh_due(chat.runtime.publishers, chat.runtime.notifier, chat.clock)
    _, account = await stored()
    assert account.status == AccountStatus.RECONNECT
    assert [r.text for r in await chat.dms("alice") if "needs reconnecting" in r.text]
    await tokens.refresh_due(chat.runtime.publishers, chat.runtime.notifier, chat.clock)
    assert await chat.dms("alice") == []


async def test_a_transient_refresh_error_never_disconnects_the_account(chat: Chat) -> None:
    class Down(TokenPlatform):
        async def refresh(self, credentials: Credentials) -> Credentials:
            raise PlatformDown("Tokenland is unavailable (HTTP 503).")

    client = Down()
    await with_account(chat, client)
    await SocialAccount.filter(handle="acme").update(token_expires_at=chat.clock.now() + timedelta(hours=3))
    assert await tokens.refresh_due(chat.runtime.publishers, chat.runtime.notifier, chat.clock) == 0
    _, account = await stored()
    assert account.status == AccountStatus.OK and Credentials.from_json(account.credentials).refresh_token == "r1"


async def test_a_token_that_cant_be_renewed_is_warned_about_once_a_day(chat: Chat) -> None:
    client = TokenPlatform()
    await with_account(chat, client)
    await SocialAccount.filter(handle="acme").update(
        credentials=Credentials(access_token="t1").to_json(), token_expires_at=chat.clock.now() + timedelta(days=5)
    )
    await tokens.refresh_due(chat.runtime.publishers, chat.runtime.notifier, chat.clock)
    warned = [r.text for r in await chat.dms("alice")]
    assert any("token expires in 4 days" in t or "token expires in 5 days" in t for t in warned), warned
    await tokens.refresh_due(chat.runtime.publishers, chat.runtime.notifier, chat.clock)
    assert await chat.dms("alice") == []
    assert await AuditEntry.filter(action="account.expiry_warned").count() == 1


async def test_an_app_wide_limit_holds_every_account_of_the_platform(chat: Chat) -> None:
    client = TokenPlatform(errors=[RateLimited("Tokenland is throttling Herald.", retry_after=900, app_wide=True)])
    await with_account(chat, client)
    await chat.say("/account add dryrun other")
    await SocialAccount.filter(handle="other").update(credentials=Credentials(access_token="t1").to_json())
    await approved(chat, "One")
    await chat.publish_due()
    await chat.say("/draft --to other Two")
    await chat.say("/approve 2", as_="bob")
    calls = len(client.calls)
    await chat.publish_due()
    assert len(client.calls) == calls  # the other account waits for the app's reset too
    assert (await Delivery.get(post_id=2)).state == DeliveryState.SCHEDULED


async def test_a_window_used_up_on_success_holds_the_next_post_until_its_reset(chat: Chat) -> None:
    """X-RateLimit-Remaining: 0 on a successful answer: the next post waits for the reset instead of a 429."""
    reset = [0.0]

    async def statuses(request: Request) -> JSONResponse:
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": f"{reset[0]:.0f}"}
        return JSONResponse({"id": "1", "url": "https://windowed.invalid/1"}, headers=headers)

    app = FastAPI()
    app.add_api_route("/statuses", statuses, methods=["POST"])

    class Windowed(TokenPlatform):
        async def publish(self, publication: Publication) -> Published:
            self.calls.append(publication.text)
            async with httpx.AsyncClient() as client:
                response = await PlatformHTTP(client, "Windowed").request("POST", f"{served.url}/statuses")
            return Published(external_id="1", url=str(response.json()["url"]))

    with ServedApp(app) as served:
        client = Windowed()
        await with_account(chat, client)
        reset[0] = chat.clock.now().timestamp() + 600  # the account's window resets in 10 minutes
        await approved(chat, "One")
        assert "published to acme" in await chat.publish_due()
        await approved(chat, "Two")
        report = await chat.publish_due()  # not sent: the platform said the window is used up
        assert "Post 2 by @alice goes to acme at" in report and "asked Herald to wait" in report
        assert client.calls == ["One"]
        delivery = await Delivery.get(post_id=2)
        assert delivery.state == DeliveryState.SCHEDULED and delivery.attempts == 0
        assert 590 <= (delivery.due_at - chat.clock.now()).total_seconds() <= 601


def test_exhausted_reads_the_remaining_and_reset_headers() -> None:
    now = 1_800_000_000.0
    assert exhausted(httpx.Headers({"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(now + 30)}), now) == 30
    assert exhausted(httpx.Headers({"x-rate-limit-remaining": "3", "x-rate-limit-reset": str(now + 30)}), now) is None
    iso = datetime.fromtimestamp(now + 120, UTC).isoformat()
    assert exhausted(httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": iso}), now) == 120
    assert exhausted(httpx.Headers({"ratelimit-remaining": "0", "ratelimit-reset": str(now + 5)}), now) == 5
    assert exhausted(httpx.Headers({}), now) is None


def test_every_platforms_secrets_are_known_to_the_log_scrubber(monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks import platforms

    for name, value in {
        "X_CLIENT_SECRET": "x-secret-0123456789",
        "FACEBOOK_APP_SECRET": "fb-secret-0123456789",
        "LINKEDIN_CLIENT_SECRET": "li-secret-0123456789",
        "THREADS_APP_SECRET": "th-secret-0123456789",
    }.items():
        monkeypatch.setenv(name, value)
    found = set(platforms.secret_values())
    assert {"x-secret-0123456789", "fb-secret-0123456789", "li-secret-0123456789", "th-secret-0123456789"} <= found
