"""XClient against FakeX (tests/fakes/x.py) over real HTTP on 127.0.0.1: no mocks."""

from __future__ import annotations

import io
import os
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from PIL import Image

from models.errors import ConfigError
from tasks.platforms.base import ABSENT, Credentials, MediaFile, MemoryProgress, Publication, Published
from tasks.platforms.errors import (
    AuthExpired,
    Duplicate,
    OutcomeUnknown,
    PlatformDown,
    RateLimited,
    Rejected,
)
from tasks.platforms.transport import http_client
from tasks.platforms.x import PLATFORM, XClient, XSettings
from tasks.platforms.x.client import DailyLimitReached, comparable
from tests.fakes.x import CLIENT_ID, CLIENT_SECRET, CONSUMER_KEY, CONSUMER_SECRET, USER_ID, USERNAME, FakeX

TIMEOUT = httpx.Timeout(5.0, read=1.0)
CHUNK = 1024  # small segments, so an image takes several APPENDs


class Store:
    """The media store as a client sees it: refs → files."""

    def __init__(self, **files: MediaFile) -> None:
        self.files = files
        self.reads: list[str] = []

    async def read(self, ref: str) -> MediaFile:
        self.reads.append(ref)
        return self.files[ref]

    def public_url(self, ref: str, ttl: timedelta = timedelta(hours=24)) -> str:
        raise Rejected("X uploads media; it never fetches it by URL.")


def png(seed: int, size: tuple[int, int] = (48, 32)) -> MediaFile:
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))  # noise: PNG can't shrink it
    out = io.BytesIO()
    image.save(out, format="PNG")
    return MediaFile(ref=f"img{seed}", data=out.getvalue(), content_type="image/png", filename=f"img{seed}.png")


def video() -> MediaFile:
    return MediaFile(ref="vid", data=os.urandom(3000), content_type="video/mp4", filename="clip.mp4")


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as served:
        yield served


def settings_for(fake: FakeX, **more: str) -> XSettings:
    values = {
        "X_CLIENT_ID": CLIENT_ID,
        "X_CLIENT_SECRET": CLIENT_SECRET,
        "X_API_URL": fake.url,
        "X_AUTHORIZE_URL": f"{fake.url}/i/oauth2/authorize",
        "X_UPLOAD_CHUNK_BYTES": str(CHUNK),
        "X_API_KEY": CONSUMER_KEY,
        "X_API_SECRET": CONSUMER_SECRET,
        **more,
    }
    return XSettings(**values)  # type: ignore[arg-type]


class Sleeps:
    """A sleep that returns at once and moves :meth:`clock` on by the time it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    def clock(self) -> float:
        return time.time() + sum(self.waits)


@pytest.fixture(params=["production", "httpx"])
async def http(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """The workers' client (httpx over aiohttp) and httpx's own."""
    async with http_client() if request.param == "production" else httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def x(fake: FakeX, http: httpx.AsyncClient, sleeps: Sleeps) -> XClient:
    return XClient(settings_for(fake), http, TIMEOUT, sleep=sleeps, clock=sleeps.clock)


def credentials(fake: FakeX) -> Credentials:
    token = fake.issue()
    return Credentials(
        access_token=token["access_token"],
        refresh_token=token["refresh_token"],
        expires_at=datetime.now(UTC) + timedelta(seconds=token["expires_in"]),
        extra={"user_id": USER_ID, "username": USERNAME},
    )


def publication(
    fake: FakeX,
    text: str = "Fresh beans today",
    *,
    store: Store | None = None,
    progress: MemoryProgress | None = None,
    creds: Credentials | None = None,
) -> Publication:
    return Publication(
        post_id=7,
        delivery_id=70,
        handle=USERNAME,
        text=text,
        media=tuple(store.files) if store else (),
        credentials=creds or credentials(fake),
        idempotency_key="delivery-70",
        progress=progress or MemoryProgress(),
        media_source=store,
    )


# --- publishing


async def test_publish_text(fake: FakeX, x: XClient) -> None:
    pub = publication(fake, "Fresh beans today")
    published = await x.publish(pub)
    assert [t.text for t in fake.tweets] == ["Fresh beans today"]
    assert published == Published(fake.tweets[0].id, f"https://x.com/{USERNAME}/status/{fake.tweets[0].id}")
    assert fake.tweets[0].media_ids == ()
    assert await pub.progress.get("sent") is not None


async def test_publish_images_uploads_in_segments(fake: FakeX, x: XClient) -> None:
    store = Store(a=png(1), b=png(2))
    pub = publication(fake, "Two pictures", store=store)
    await x.publish(pub)
    [tweet] = fake.tweets
    assert len(tweet.media_ids) == 2
    for media_id, ref in zip(tweet.media_ids, ("a", "b"), strict=True):
        upload = fake.uploads[media_id]
        assert upload.category == "tweet_image" and upload.media_type == "image/png"
        assert b"".join(upload.segments[i] for i in sorted(upload.segments)) == store.files[ref].data
        assert len(upload.segments) == -(-len(store.files[ref].data) // CHUNK) > 1
    assert [await pub.progress.get(f"media:{n}") for n in range(2)] == list(tweet.media_ids)
    assert fake.hits("/2/media/upload", "GET") == 0  # images need no status polling


async def test_video_is_polled_until_processed(fake: FakeX, x: XClient, sleeps: Sleeps) -> None:
    fake.processing = ["in_progress", "in_progress", "succeeded"]
    fake.check_after_secs = 3
    await x.publish(publication(fake, "A clip", store=Store(v=video())))
    [tweet] = fake.tweets
    assert fake.uploads[tweet.media_ids[0]].category == "tweet_video"
    assert fake.hits("/2/media/upload", "GET") == 3
    assert sleeps.waits == [3.0, 3.0, 3.0]


async def test_video_processing_failed_is_rejected(fake: FakeX, x: XClient) -> None:
    fake.processing = ["in_progress", "failed"]
    with pytest.raises(Rejected, match="Unsupported video format"):
        await x.publish(publication(fake, "A broken clip", store=Store(v=video())))
    assert fake.tweets == []


async def test_resume_after_restart_does_not_upload_again(fake: FakeX, x: XClient) -> None:
    store = Store(a=png(1), b=png(2))
    progress = MemoryProgress()
    fake.fail("server_error")  # the uploads went through, the post didn't
    with pytest.raises(PlatformDown):
        await x.publish(publication(fake, "Resumed", store=store, progress=progress))
    assert fake.hits("/2/media/upload/initialize") == 2 and fake.tweets == []

    store.reads.clear()
    published = await x.publish(publication(fake, "Resumed", store=store, progress=progress))
    assert fake.hits("/2/media/upload/initialize") == 2  # not uploaded again …
    assert store.reads == []  # … not even read again
    assert fake.hits("/2/users/", "GET") == 1  # "sent" was recorded: looked first, found nothing
    [tweet] = fake.tweets
    assert published.external_id == tweet.id and len(tweet.media_ids) == 2


async def test_processing_slower_than_the_publish_resumes_by_polling(fake: FakeX, http: httpx.AsyncClient) -> None:
    fake.processing = ["in_progress"] * 5 + ["succeeded"]
    fake.check_after_secs = 30
    sleeps = Sleeps()
    x = XClient(settings_for(fake, X_MEDIA_PROCESSING_TIMEOUT="60"), http, TIMEOUT, sleep=sleeps, clock=sleeps.clock)
    progress = MemoryProgress()
    with pytest.raises(PlatformDown, match="still processing") as caught:
        await x.publish(publication(fake, "Long clip", store=Store(v=video()), progress=progress))
    assert caught.value.retry_after == 30
    assert await progress.get("media:0") is not None and await progress.get("ready:0") is None
    later = Sleeps()
    slow = XClient(settings_for(fake, X_MEDIA_PROCESSING_TIMEOUT="600"), http, TIMEOUT, sleep=later, clock=later.clock)
    await slow.publish(publication(fake, "Long clip", store=Store(v=video()), progress=progress))
    assert fake.hits("/2/media/upload/initialize") == 1 and fake.hits("/2/media/upload/", "POST") == 1 + 3 + 1
    assert len(fake.tweets) == 1


# --- errors, from X's bodies


async def test_expired_token(fake: FakeX, x: XClient) -> None:
    pub = publication(fake)
    fake.expire(pub.credentials.access_token or "")
    with pytest.raises(AuthExpired, match="X said: Unauthorized"):
        await x.publish(pub)
    fake.fail("expired")
    with pytest.raises(AuthExpired):
        await x.publish(publication(fake, "other"))
    assert fake.tweets == []


async def test_rate_limited_until_the_window_resets(fake: FakeX, x: XClient) -> None:
    fake.fail("rate_limit")
    pub = publication(fake)
    with pytest.raises(RateLimited) as caught:
        await x.publish(pub)
    assert not isinstance(caught.value, DailyLimitReached)
    assert caught.value.retry_after is not None and 895 <= caught.value.retry_after <= 900
    assert await x.wait_before(pub) is None


async def test_daily_limit_waits_for_the_24_hour_reset(fake: FakeX, x: XClient) -> None:
    fake.fail("daily_limit")
    pub = publication(fake)
    with pytest.raises(RateLimited, match="24-hour") as caught:
        await x.publish(pub)
    assert caught.value.retry_after is not None and 20 * 3600 - 5 <= caught.value.retry_after <= 20 * 3600
    wait = await x.wait_before(pub)
    assert wait is not None and 20 * 3600 - 5 <= wait <= 20 * 3600


async def test_duplicate(fake: FakeX, x: XClient) -> None:
    await x.publish(publication(fake, "Same words"))
    with pytest.raises(Duplicate, match="duplicate content"):
        await x.publish(publication(fake, "Same words"))
    assert len(fake.tweets) == 1


async def test_forbidden_is_rejected_not_expired(fake: FakeX, x: XClient) -> None:
    fake.fail("forbidden")
    with pytest.raises(Rejected, match="not permitted") as caught:
        await x.publish(publication(fake))
    assert not isinstance(caught.value, AuthExpired | Duplicate)


async def test_missing_scope_is_rejected(fake: FakeX, x: XClient) -> None:
    token = fake.issue(scopes="tweet.read users.read")
    creds = Credentials(access_token=token["access_token"], extra={"user_id": USER_ID, "username": USERNAME})
    with pytest.raises(Rejected, match="not permitted"):
        await x.publish(publication(fake, creds=creds))


async def test_invalid_request_carries_the_reason(fake: FakeX, x: XClient) -> None:
    fake.fail("invalid")
    with pytest.raises(Rejected, match=r"X said: Your Tweet text is too long\."):
        await x.publish(publication(fake))


async def test_server_error_is_transient(fake: FakeX, x: XClient) -> None:
    fake.fail("server_error")
    with pytest.raises(PlatformDown):
        await x.publish(publication(fake))
    assert fake.tweets == []


# --- verification


async def test_unknown_outcome_settles_by_verify(fake: FakeX, x: XClient) -> None:
    progress = MemoryProgress()
    pub = publication(fake, "Beans & cream <3 https://example.com/menu?x=1", store=Store(a=png(1)), progress=progress)
    fake.fail("hang")
    with pytest.raises(OutcomeUnknown):
        await x.publish(pub)
    [tweet] = fake.tweets
    assert "&amp;" in tweet.shown and "t.co" in tweet.shown  # what verify has to see through
    assert await x.verify(pub) == Published(tweet.id, f"https://x.com/{USERNAME}/status/{tweet.id}")
    # a retry finds it too, and doesn't post again
    assert (await x.publish(pub)).external_id == tweet.id
    assert fake.hits("/2/tweets") == 1 and len(fake.tweets) == 1


async def test_a_busy_account_hides_the_post_and_the_duplicate_check_finds_it(fake: FakeX, x: XClient) -> None:
    progress = MemoryProgress()
    pub = publication(fake, "Lost in the crowd", progress=progress)
    fake.fail("hang")
    with pytest.raises(OutcomeUnknown):
        await x.publish(pub)
    [hung] = fake.tweets
    for n in range(5):
        fake.add_tweet(f"Posted by someone else #{n}")
    assert await x.verify(pub) == ABSENT  # not among the 5 latest
    published = await x.publish(pub)  # X says duplicate; the wider look finds the earlier post
    assert published.external_id == hung.id
    assert fake.hits("/2/tweets") == 2 and len(fake.tweets) == 6


async def test_verify_absent(fake: FakeX, x: XClient) -> None:
    progress = MemoryProgress()
    await progress.put("sent", f"{time.time():.3f}")
    fake.add_tweet("Old news", created_at=time.time() - 3600)  # same text, an hour before this attempt
    fake.add_tweet("Something else")
    assert await x.verify(publication(fake, "Old news", progress=progress)) == ABSENT
    assert await x.verify(publication(fake, "Never posted")) == ABSENT


def test_comparable_sees_through_tco_and_entities() -> None:
    assert comparable("Beans &amp; cream &lt;3 https://t.co/abc https://t.co/img") == comparable(
        "Beans & cream <3 https://example.com/menu"
    )
    assert comparable("A\u0301 b") == comparable("\u00c1  b")


# --- tokens and accounts


async def test_refresh_rotates(fake: FakeX, x: XClient) -> None:
    old = credentials(fake)
    new = await x.refresh(old)
    assert new.access_token != old.access_token and new.refresh_token != old.refresh_token
    assert new.extra == old.extra
    assert new.expires_at is not None
    assert timedelta(hours=1, minutes=59) < new.expires_at - datetime.now(UTC) <= timedelta(hours=2)
    with pytest.raises(AuthExpired, match="Value passed for the token was invalid"):
        await x.refresh(old)  # the old refresh token died when it was used
    await x.publish(publication(fake, "After refresh", creds=new))
    assert len(fake.tweets) == 1


async def test_refresh_refused(fake: FakeX, x: XClient) -> None:
    creds = credentials(fake)
    fake.revoke(creds.refresh_token or "")
    with pytest.raises(AuthExpired):
        await x.refresh(creds)


async def test_refresh_during_an_outage_is_transient_and_keeps_the_token(fake: FakeX, x: XClient) -> None:
    creds = credentials(fake)
    fake.fail_token(503, 429)
    with pytest.raises(PlatformDown):
        await x.refresh(creds)
    with pytest.raises(RateLimited):
        await x.refresh(creds)
    new = await x.refresh(creds)  # nothing was spent: the same refresh token still works
    assert new.refresh_token != creds.refresh_token


async def test_refresh_when_x_is_unreachable_is_transient(fake: FakeX, http: httpx.AsyncClient) -> None:
    x = XClient(settings_for(fake, X_TOKEN_URL="http://127.0.0.1:9/2/oauth2/token"), http, TIMEOUT)
    with pytest.raises(PlatformDown):
        await x.refresh(credentials(fake))


async def test_refresh_with_wrong_app_secret_is_not_the_accounts_fault(fake: FakeX, http: httpx.AsyncClient) -> None:
    x = XClient(settings_for(fake, X_CLIENT_SECRET="wrong"), http, TIMEOUT)
    with pytest.raises(Exception, match="X_CLIENT_SECRET") as caught:
        await x.refresh(credentials(fake))
    assert not isinstance(caught.value, AuthExpired)


async def test_check(fake: FakeX, x: XClient) -> None:
    creds = credentials(fake)
    choice = await x.check(creds.model_copy(update={"extra": {}}))
    assert (choice.handle, choice.label, choice.url) == (USERNAME, f"@{USERNAME} on X", f"https://x.com/{USERNAME}")
    assert choice.credentials.extra == {"user_id": USER_ID, "username": USERNAME}


async def test_revoke(fake: FakeX, x: XClient) -> None:
    creds = credentials(fake)
    assert await x.revoke(creds) is True
    with pytest.raises(AuthExpired):
        await x.check(creds)
    with pytest.raises(AuthExpired):
        await x.refresh(creds)


async def test_oauth_needs_the_app(fake: FakeX, http: httpx.AsyncClient) -> None:
    spec = await XClient(settings_for(fake), http).oauth()
    assert spec.token_auth == "client_secret_basic" and spec.pkce
    assert set(spec.scopes) == {"tweet.read", "tweet.write", "users.read", "offline.access", "media.write"}
    with pytest.raises(ConfigError, match="X_CLIENT_SECRET"):
        await XClient(settings_for(fake, X_CLIENT_SECRET=""), http).oauth()


async def test_accounts_after_authorization_code_with_pkce(fake: FakeX, x: XClient, http: httpx.AsyncClient) -> None:
    spec = await x.oauth()
    redirect = "https://herald.example/oauth/x/callback"
    async with AsyncOAuth2Client(
        client_id=spec.client_id,
        client_secret=spec.client_secret,
        scope=" ".join(spec.scopes),
        redirect_uri=redirect,
        code_challenge_method="S256",
        token_endpoint_auth_method=spec.token_auth,
        timeout=5,
    ) as oauth:
        verifier = generate_token(48)
        url, state = oauth.create_authorization_url(spec.authorize_url, code_verifier=verifier)
        answer = await http.get(url, follow_redirects=False)  # the admin's browser at X's consent screen
        assert answer.status_code == 302
        location = answer.headers["location"]
        query = parse_qs(urlsplit(location).query)
        assert query["state"] == [state] and "code" in query
        token = await oauth.fetch_token(spec.token_url, authorization_response=location, code_verifier=verifier)
        with pytest.raises(Exception, match="invalid"):  # a code is good once
            await oauth.fetch_token(spec.token_url, authorization_response=location, code_verifier=verifier)
    assert fake.codes.authorize_requests[0]["code_challenge_method"] == "S256"
    [choice] = await x.accounts(token)
    assert choice.handle == USERNAME
    assert choice.credentials.refresh_token and choice.credentials.access_token == token["access_token"]
    assert choice.credentials.expires_at is not None and choice.credentials.extra["user_id"] == USER_ID
    await x.publish(publication(fake, "Connected from chat", creds=choice.credentials))
    assert [t.text for t in fake.tweets] == ["Connected from chat"]


# --- OAuth 1.0a user tokens


def oauth1(fake: FakeX, secret: str | None = None) -> Credentials:
    token, token_secret = fake.issue_oauth1()
    extra = {"token_secret": secret or token_secret, "user_id": USER_ID, "username": USERNAME}
    return Credentials(access_token=token, extra=extra)


async def test_oauth1_publishes_with_media_and_verifies(fake: FakeX, x: XClient) -> None:
    creds = oauth1(fake)
    fake.processing = ["succeeded"]
    store = Store(a=png(1))
    pub = publication(fake, "Signed, not bearer", store=store, creds=creds)
    published = await x.publish(pub)
    [tweet] = fake.tweets
    assert published.external_id == tweet.id and len(tweet.media_ids) == 1
    assert await x.verify(pub) == published  # a signed GET with a query
    assert (await x.check(creds)).handle == USERNAME
    assert await x.revoke(creds) is False  # revoked in the app's settings, not by API


async def test_oauth1_bad_signature_is_refused(fake: FakeX, x: XClient, http: httpx.AsyncClient) -> None:
    with pytest.raises(AuthExpired):
        await x.publish(publication(fake, creds=oauth1(fake, secret="not-the-secret")))
    unconfigured = XClient(settings_for(fake, X_API_KEY="", X_API_SECRET=""), http, TIMEOUT)
    with pytest.raises(Exception, match="X_API_KEY") as caught:
        await unconfigured.publish(publication(fake, creds=oauth1(fake)))
    assert not isinstance(caught.value, AuthExpired)
    assert fake.tweets == []


def test_registered() -> None:
    from tasks.platforms import by_name

    assert by_name("x") is PLATFORM
    assert PLATFORM.rules.text_limit == 280 and PLATFORM.rules.length("https://example.com/" + "a" * 100) == 23
    assert PLATFORM.rules.media.max_items == 4 and PLATFORM.rules.media.max_videos == 1
