"""The Threads client against FakeThreads over real HTTP: containers, polling, publish, verify, quota, tokens."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import FastAPI
from fastapi.responses import Response
from PIL import Image

from models.errors import ConfigError
from tasks.platforms import by_name
from tasks.platforms.base import ABSENT, Credentials, MediaFile, MemoryProgress, Publication, Published
from tasks.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    PlatformDown,
    RateLimited,
    Rejected,
    Transient,
)
from tasks.platforms.threads import ThreadsClient, ThreadsSettings
from tasks.platforms.threads.graph import classify
from tasks.platforms.threads.rules import RULES, links, threads_length
from tests.fakes.server import ServedApp
from tests.fakes.threads import FakeThreads

REDIRECT = "https://herald.example/oauth/threads/callback"
TIMEOUT = httpx.Timeout(connect=2.0, read=1.0, write=2.0, pool=2.0)


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(out, format="PNG")
    return out.getvalue()


class Media:
    """The media store as Threads sees it: signed URLs served by Herald's HTTP side (here a tiny app)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.served = ServedApp(self._app(), name="media")

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/media/{ref}")
        async def media(ref: str) -> Response:
            data = self.files.get(ref)
            if data is None:
                return Response(status_code=404)
            return Response(data, media_type="image/png")

        return app

    async def read(self, ref: str) -> MediaFile:
        return MediaFile(ref, self.files[ref], "image/png")

    def public_url(self, ref: str, ttl: timedelta = timedelta(hours=24)) -> str:
        return f"{self.served.url}/media/{ref}?sig=test"


@pytest.fixture(scope="module")
def media() -> Iterator[Media]:
    store = Media()
    with store.served:
        yield store


@pytest.fixture
def fake() -> Iterator[FakeThreads]:
    threads = FakeThreads()
    with ServedApp(threads.app, name="threads") as served:
        threads.url = served.url
        yield threads


@pytest.fixture
def settings(fake: FakeThreads) -> ThreadsSettings:
    url = fake.url
    return ThreadsSettings(
        THREADS_APP_ID=fake.app_id,
        THREADS_APP_SECRET=fake.app_secret,
        THREADS_API_URL=url,
        THREADS_AUTHORIZE_URL=f"{url}/oauth/authorize",
        THREADS_POLL_INTERVAL=0.01,
        THREADS_POLL_ATTEMPTS=5,
    )


@pytest.fixture
async def client(settings: ThreadsSettings) -> AsyncIterator[ThreadsClient]:
    async with httpx.AsyncClient() as http:
        yield ThreadsClient(settings, http, TIMEOUT)


def credentials(fake: FakeThreads, *, age: float = 0.0) -> Credentials:
    token = fake.issue_token(age=age)
    issued = datetime.fromtimestamp(fake.now() - age, UTC)
    return Credentials(
        access_token=token,
        expires_at=issued + timedelta(days=60),
        extra={"user_id": fake.user_id, "username": fake.username, "issued_at": issued.isoformat()},
    )


def publication(
    fake: FakeThreads,
    text: str = "Hello from Herald",
    *,
    media: tuple[str, ...] = (),
    store: Media | None = None,
    progress: MemoryProgress | None = None,
    creds: Credentials | None = None,
) -> Publication:
    return Publication(
        post_id=7,
        delivery_id=70,
        handle=fake.username,
        text=text,
        media=media,
        credentials=creds or credentials(fake),
        idempotency_key="k-7",
        progress=progress or MemoryProgress(),
        media_source=store,
    )


# --- rules


def test_threads_is_registered_with_its_rules() -> None:
    platform = by_name("threads")
    assert platform is not None and platform.rules is RULES
    assert RULES.text_limit == 500 and RULES.max_links == 5 and RULES.media.by_url and RULES.media.max_items == 20


def test_length_counts_graphemes_and_an_emoji_as_its_utf8_bytes() -> None:
    assert threads_length("héllo") == 5  # é as e + combining accent is one character too
    assert threads_length("e\u0301") == 1
    assert threads_length("😀") == 4
    assert threads_length("👍🏽") == 8
    assert threads_length("a" * 496 + "😀") == 500
    assert RULES.length("a" * 497 + "😀") == 501


def test_links_are_distinct_urls_without_trailing_punctuation() -> None:
    assert links("see https://a.com/x, www.b.org and https://A.com/x.") == {"https://a.com/x", "www.b.org"}


# --- publishing


async def test_publish_text_creates_a_container_and_publishes_it_once(fake: FakeThreads, client: ThreadsClient) -> None:
    progress = MemoryProgress()
    done = await client.publish(publication(fake, progress=progress))
    [post] = fake.published
    assert post.text == "Hello from Herald" and post.media_type == "TEXT_POST"
    assert done == Published(external_id=post.id, url=post.permalink)
    assert progress.steps["container"] == post.container and "sent" in progress.steps
    assert fake.containers[post.container].media_type == "TEXT"


async def test_publish_an_image_lets_threads_fetch_it_by_url(
    fake: FakeThreads, client: ThreadsClient, media: Media
) -> None:
    media.files["one"] = png()
    fake.in_progress_polls = 2  # IN_PROGRESS twice, then FINISHED
    done = await client.publish(publication(fake, "A picture", media=("one",), store=media))
    [post] = fake.published
    assert post.media_type == "IMAGE" and post.image_urls == [media.public_url("one")]
    assert fake.fetches == [(media.public_url("one"), 200)]
    assert done.url == post.permalink


async def test_publish_a_carousel_makes_one_item_per_image(
    fake: FakeThreads, client: ThreadsClient, media: Media
) -> None:
    for ref in ("c1", "c2", "c3"):
        media.files[ref] = png()
    progress = MemoryProgress()
    await client.publish(publication(fake, "Three", media=("c1", "c2", "c3"), store=media, progress=progress))
    [post] = fake.published
    assert post.media_type == "CAROUSEL_ALBUM" and len(post.image_urls) == 3
    children = fake.containers[post.container].children
    assert children == [progress.steps[f"media:{i}"] for i in range(3)]
    assert all(fake.containers[c].carousel_item for c in children)


async def test_an_image_threads_cannot_fetch_puts_the_container_in_error(
    fake: FakeThreads, client: ThreadsClient, media: Media
) -> None:
    with pytest.raises(Rejected, match="FAILED_DOWNLOADING_IMAGE"):
        await client.publish(publication(fake, "Gone", media=("missing",), store=media))
    assert fake.fetches == [(media.public_url("missing"), 404)]
    assert fake.published == [] and fake.publish_attempts == 0


async def test_a_container_still_in_progress_is_resumed_later_not_made_again(
    fake: FakeThreads, client: ThreadsClient, media: Media
) -> None:
    media.files["slow"] = png()
    fake.in_progress_polls = 8  # more than the 5 looks one attempt takes
    progress = MemoryProgress()
    with pytest.raises(PlatformDown) as caught:
        await client.publish(publication(fake, "Slow", media=("slow",), store=media, progress=progress))
    assert caught.value.retry_after is not None
    assert len(fake.containers) == 1 and fake.published == []
    await client.publish(publication(fake, "Slow", media=("slow",), store=media, progress=progress))
    assert len(fake.containers) == 1 and len(fake.published) == 1 and len(fake.fetches) == 1


async def test_restart_after_the_container_step_publishes_once_without_a_new_container(
    fake: FakeThreads, client: ThreadsClient, media: Media
) -> None:
    for ref in ("r1", "r2"):
        media.files[ref] = png()
    progress = MemoryProgress()
    fake.fail("publish", "server_error")  # the worker's first attempt stops after the container
    with pytest.raises(PlatformDown):
        await client.publish(publication(fake, "Resume", media=("r1", "r2"), store=media, progress=progress))
    made = dict(fake.containers)
    assert len(made) == 3 and fake.published == []
    await client.publish(publication(fake, "Resume", media=("r1", "r2"), store=media, progress=progress))
    assert fake.containers.keys() == made.keys() and len(fake.fetches) == 2
    assert [p.text for p in fake.published] == ["Resume"]


async def test_an_expired_container_is_made_again(fake: FakeThreads, client: ThreadsClient) -> None:
    progress = MemoryProgress()
    fake.fail("publish", "server_error")
    with pytest.raises(PlatformDown):
        await client.publish(publication(fake, progress=progress))
    old = progress.steps["container"]
    fake.expire_container(old)
    await client.publish(publication(fake, progress=progress))
    [post] = fake.published
    assert post.container != old and progress.steps["container"] == post.container


async def test_a_hang_is_an_unknown_outcome_that_verify_settles(fake: FakeThreads, client: ThreadsClient) -> None:
    progress = MemoryProgress()
    fake.fail("publish", "hang")
    with pytest.raises(OutcomeUnknown):
        await client.publish(publication(fake, progress=progress))
    [post] = fake.published
    verdict = await client.verify(publication(fake, progress=progress))
    assert verdict == Published(external_id=post.id, url=post.permalink)
    # a retry after the unknown outcome finds the post instead of publishing again
    again = await client.publish(publication(fake, progress=progress))
    assert again.external_id == post.id and len(fake.published) == 1 and fake.publish_attempts == 1


async def test_no_answer_to_a_container_is_retried_not_unknown(fake: FakeThreads, client: ThreadsClient) -> None:
    fake.fail("container", "hang")  # nothing shows until threads_publish: a lost container is harmless
    with pytest.raises(PlatformDown):
        await client.publish(publication(fake))
    await client.publish(publication(fake))
    assert len(fake.published) == 1


async def test_verify_says_absent_when_the_publish_never_happened(fake: FakeThreads, client: ThreadsClient) -> None:
    progress = MemoryProgress()
    fake.fail("publish", "server_error")
    with pytest.raises(PlatformDown):
        await client.publish(publication(fake, progress=progress))
    assert await client.verify(publication(fake, progress=progress)) == ABSENT
    fake.seed_posts(600, text="Hello from Herald")  # the same text, but well before "sent": not ours
    done = await client.publish(publication(fake, progress=progress))
    assert [p.text for p in fake.published][-1] == "Hello from Herald" and done.external_id == fake.published[-1].id


async def test_too_long_or_too_many_links_is_refused_before_any_container(
    fake: FakeThreads, client: ThreadsClient
) -> None:
    with pytest.raises(Rejected, match="500 characters"):
        await client.publish(publication(fake, "a" * 498 + "😀"))
    six = " ".join(f"https://example.com/{i}" for i in range(6))
    with pytest.raises(Rejected, match="5 links"):
        await client.publish(publication(fake, six))
    assert fake.containers == {} and fake.requests == []


async def test_the_fake_refuses_six_links_as_threads_does(fake: FakeThreads, settings: ThreadsSettings) -> None:
    six = " ".join(f"https://example.com/{i}" for i in range(6))
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{settings.graph}/{fake.user_id}/threads",
            data={"media_type": "TEXT", "text": six, "access_token": fake.issue_token()},
        )
    assert answer.status_code == 400 and answer.json()["error"]["message"] == "THREADS_API__LINK_LIMIT_EXCEEDED"


# --- errors, from Graph's bodies


async def test_an_expired_token_is_auth_expired(fake: FakeThreads, client: ThreadsClient) -> None:
    creds = credentials(fake)
    fake.expire_token(creds.access_token or "")
    with pytest.raises(AuthExpired, match="Session has expired"):
        await client.publish(publication(fake, creds=creds))
    assert fake.containers == {}


async def test_throttling_codes_are_rate_limited(fake: FakeThreads, client: ThreadsClient) -> None:
    fake.fail("container", "rate_limit")
    with pytest.raises(RateLimited, match="request limit"):
        await client.publish(publication(fake))


async def test_a_transient_error_is_platform_down(fake: FakeThreads, client: ThreadsClient) -> None:
    fake.fail("container", "server_error")
    with pytest.raises(PlatformDown):
        await client.publish(publication(fake))


async def test_other_errors_are_rejected_with_threads_words(fake: FakeThreads, client: ThreadsClient) -> None:
    fake.fail("container", "reject")
    with pytest.raises(Rejected, match=re.escape("Threads said: The post can't be published.")):
        await client.publish(publication(fake))


async def test_publishing_over_the_daily_limit_is_rate_limited(fake: FakeThreads, client: ThreadsClient) -> None:
    fake.quota_total = 2
    fake.seed_posts(100, 50)
    with pytest.raises(RateLimited):
        await client.publish(publication(fake))
    assert len(fake.published) == 2


def graph(status: int, **error: object) -> httpx.Response:
    return httpx.Response(status, json={"error": {"type": "OAuthException", "fbtrace_id": "AxYz", **error}})


def test_classify_reads_the_real_graph_bodies() -> None:
    expired = graph(
        400, message="Error validating access token: Session has expired on Friday.", code=190, error_subcode=463
    )
    assert isinstance(classify(expired), AuthExpired)
    throttled = graph(400, message="(#4) Application request limit reached", code=4, is_transient=True)
    assert isinstance(classify(throttled), RateLimited)
    # the container isn't ready yet (fbsamples/threads_api#70): try again shortly, it's not the post's fault
    not_ready = graph(
        400,
        message="The requested resource does not exist",
        code=24,
        error_subcode=4279009,
        is_transient=False,
        error_user_title="Media Not Found",
        error_user_msg="The media with id 18079098539304490 cannot be found.",
    )
    assert isinstance(classify(not_ready), PlatformDown)
    # an image Threads couldn't download (postiz-app#1364)
    download = graph(400, message="An unknown error occurred", code=1, error_subcode=2207052, is_transient=False)
    refused = classify(download)
    assert isinstance(refused, Rejected) and str(refused) == "Threads said: An unknown error occurred."
    assert isinstance(
        classify(graph(500, message="Please retry your request later.", code=2, is_transient=True)), PlatformDown
    )
    assert classify(httpx.Response(502, text="<html>Bad gateway</html>")) is None  # left to the shared mapping


async def test_an_image_threads_cannot_read_is_an_error_too(
    fake: FakeThreads, client: ThreadsClient, media: Media
) -> None:
    media.files["text"] = b"not an image"
    with pytest.raises(Rejected, match=r"\(UNKNOWN\)"):
        await client.publish(publication(fake, "Odd", media=("text",), store=media))
    assert fake.published == []


async def test_verify_cannot_tell_when_threads_published_the_container_but_it_is_not_recent(
    fake: FakeThreads, client: ThreadsClient
) -> None:
    progress = MemoryProgress()
    fake.fail("publish", "hang")
    with pytest.raises(OutcomeUnknown):
        await client.publish(publication(fake, progress=progress))
    fake.seed_posts(*[1.0] * 10, text="later posts")  # ten newer posts push ours out of the latest ten
    assert await client.verify(publication(fake, progress=progress)) is None
    with pytest.raises(OutcomeUnknown):
        await client.publish(publication(fake, progress=progress))
    assert len([p for p in fake.published if p.text == "Hello from Herald"]) == 1


# --- quota


async def test_wait_before_is_none_while_posts_are_left(fake: FakeThreads, client: ThreadsClient) -> None:
    fake.seed_posts(100)
    assert await client.wait_before(publication(fake)) is None


async def test_wait_before_says_when_the_oldest_post_leaves_the_24_hours(
    fake: FakeThreads, client: ThreadsClient
) -> None:
    fake.quota_total = 150
    ages = [86_400 - 3_600 - i for i in range(150)]  # the oldest of 150 posts leaves the window in about an hour
    fake.seed_posts(*ages)
    wait = await client.wait_before(publication(fake))
    assert wait is not None and 3_590 <= wait <= 3_610
    assert sum(1 for method, path in fake.requests if path.endswith("/threads")) == 2  # two pages of 100


# --- tokens and accounts


async def test_connect_exchanges_the_code_and_the_short_token_for_a_60_day_one(
    fake: FakeThreads, client: ThreadsClient
) -> None:
    spec = await client.oauth()
    assert spec.scope_separator == "," and spec.scopes == ("threads_basic", "threads_content_publish")
    async with AsyncOAuth2Client(
        client_id=spec.client_id,
        client_secret=spec.client_secret,
        scope=spec.scope_separator.join(spec.scopes),
        redirect_uri=REDIRECT,
        token_endpoint_auth_method=spec.token_auth,
    ) as oauth:
        url, state = oauth.create_authorization_url(spec.authorize_url)
        async with httpx.AsyncClient() as browser:
            consent = await browser.get(url, follow_redirects=False)
        location = consent.headers["location"]
        assert location.startswith(REDIRECT) and f"state={state}" in location
        token = await oauth.fetch_token(spec.token_url, authorization_response=location)
    assert fake.codes.authorize_requests[0]["scope"] == "threads_basic,threads_content_publish"
    assert fake.tokens[token["access_token"]].kind == "short"
    [account] = await client.accounts(token)
    assert account.handle == "acme" and account.label == "@acme on Threads"
    creds = account.credentials
    assert creds.get("user_id") == fake.user_id and creds.get("username") == "acme"
    assert fake.tokens[creds.access_token or ""].kind == "long"
    assert creds.expires_at is not None and creds.expires_at - datetime.now(UTC) > timedelta(days=59)
    await client.publish(publication(fake, creds=creds))
    assert len(fake.published) == 1


async def test_oauth_names_what_is_missing(fake: FakeThreads) -> None:
    async with httpx.AsyncClient() as http:
        client = ThreadsClient(ThreadsSettings(THREADS_APP_ID="", THREADS_APP_SECRET=""), http, TIMEOUT)
        with pytest.raises(ConfigError, match="THREADS_APP_ID and THREADS_APP_SECRET"):
            await client.oauth()


async def test_check_says_who_the_token_is(fake: FakeThreads, client: ThreadsClient) -> None:
    account = await client.check(credentials(fake))
    assert account.handle == "acme" and account.url == "https://www.threads.net/@acme"


async def test_refresh_rotates_the_long_lived_token(fake: FakeThreads, client: ThreadsClient) -> None:
    old = credentials(fake, age=2 * 86_400)
    new = await client.refresh(old)
    assert new.access_token != old.access_token and new.get("user_id") == fake.user_id
    assert new.expires_at is not None and new.expires_at - datetime.now(UTC) > timedelta(days=59)
    await client.check(new)
    with pytest.raises(AuthExpired):
        await client.check(old)  # the old token stopped working
    with pytest.raises(AuthExpired):
        await client.refresh(old.model_copy(update={"extra": {**old.extra}}))


async def test_a_token_younger_than_24_hours_is_kept_as_it_is(fake: FakeThreads, client: ThreadsClient) -> None:
    young = credentials(fake, age=3_600)
    assert await client.refresh(young) == young
    assert not any(path == "/refresh_access_token" for _, path in fake.requests)


async def test_a_refresh_threads_finds_too_early_is_tried_again_later(fake: FakeThreads, client: ThreadsClient) -> None:
    young = Credentials(access_token=fake.issue_token(age=3_600), extra={"user_id": fake.user_id})  # age unknown
    with pytest.raises(PlatformDown, match="24 hours") as caught:
        await client.refresh(young)
    assert caught.value.retry_after == 3600
    await client.check(young)  # still works


async def test_an_expired_token_cannot_be_refreshed(fake: FakeThreads, client: ThreadsClient) -> None:
    expired = credentials(fake, age=61 * 86_400)
    with pytest.raises(AuthExpired, match="Reconnect"):
        await client.refresh(expired)


async def test_a_refresh_during_an_outage_is_transient(fake: FakeThreads, client: ThreadsClient) -> None:
    creds = credentials(fake, age=2 * 86_400)
    fake.fail("refresh", "server_error")
    with pytest.raises(Transient):
        await client.refresh(creds)
    fake.fail("refresh", "rate_limit")
    with pytest.raises(RateLimited):
        await client.refresh(creds)
    assert (await client.refresh(creds)).access_token != creds.access_token
