"""The Mastodon client against the fake server (tests/fakes/mastodon.py) over real HTTP: no mocks."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from PIL import Image

from models.errors import ConfigError, InvalidInput
from tasks.platforms.base import ABSENT, Credentials, MediaFile, MemoryProgress, Publication
from tasks.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    PlatformDown,
    PlatformError,
    RateLimited,
    Rejected,
)
from tasks.platforms.mastodon import PLATFORM
from tasks.platforms.mastodon.apps import DatabaseApps, MemoryApps, RegisteredApp
from tasks.platforms.mastodon.client import MastodonClient, normalize_instance
from tasks.platforms.mastodon.settings import MastodonSettings
from tests.fakes.mastodon import FakeMastodon

PUBLIC_URL = "https://herald.example"
CALLBACK = f"{PUBLIC_URL}/oauth/mastodon/callback"
TIMEOUT = httpx.Timeout(connect=2.0, read=0.5, write=2.0, pool=2.0)


def png(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(out, "PNG")
    return out.getvalue()


class Images:
    """The media store of a test: every ref is a small real PNG."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    async def read(self, ref: str) -> MediaFile:
        self.reads.append(ref)
        return MediaFile(ref=ref, data=png(), content_type="image/png", filename=f"{ref}.png")

    def public_url(self, ref: str, ttl: timedelta = timedelta(hours=24)) -> str:
        raise Rejected("Mastodon takes uploads, not URLs.")


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def settings(**overrides: object) -> MastodonSettings:
    values: dict[str, object] = {"public_url": PUBLIC_URL, "media_poll_interval": 0.05, "media_wait": 2.0}
    return MastodonSettings(**(values | overrides))


@pytest.fixture
def client(http: httpx.AsyncClient) -> MastodonClient:
    return MastodonClient(settings(), http, TIMEOUT, apps=MemoryApps())


def credentials(fake: FakeMastodon, token: str | None = None, **extra: str) -> Credentials:
    return Credentials(access_token=token or fake.token(), extra={"instance": fake.url, **extra})


def publication(
    creds: Credentials, text: str = "Hello fediverse", media: tuple[str, ...] = (), **kw: object
) -> Publication:
    defaults: dict[str, object] = {
        "post_id": 7,
        "delivery_id": 70,
        "handle": "alice@fake",
        "text": text,
        "media": media,
        "credentials": creds,
        "idempotency_key": "delivery-70",
        "media_source": Images(),
    }
    return Publication(**(defaults | kw))  # type: ignore[arg-type]


async def test_publishes_a_public_status_with_the_idempotency_key(fake: FakeMastodon, client: MastodonClient) -> None:
    published = await client.publish(publication(credentials(fake), "Hello fediverse https://example.com"))

    [status] = fake.statuses
    assert status.text == "Hello fediverse https://example.com"
    assert status.visibility == "public"
    assert status.idempotency_key == "delivery-70"
    assert published.external_id == status.id
    assert published.url == f"{fake.url}/@alice/{status.id}"


async def test_publishes_images_after_the_server_processed_them(fake: FakeMastodon, client: MastodonClient) -> None:
    fake.process_media_after(2)  # 202, then 206 twice, then 200
    progress = MemoryProgress()

    await client.publish(publication(credentials(fake), media=("a", "b"), progress=progress))

    [status] = fake.statuses
    assert len(status.media_ids) == 2
    assert [progress.steps["media:0"], progress.steps["media:1"]] == status.media_ids
    assert fake.count("POST", "/api/v2/media") == 2
    assert fake.count("GET", "/api/v1/media/") == 6  # each polled until processed
    assert fake.media[status.media_ids[0]].content_type == "image/png"


async def test_a_processed_upload_is_not_polled(fake: FakeMastodon, client: MastodonClient) -> None:
    await client.publish(publication(credentials(fake), media=("a",)))

    assert fake.count("GET", "/api/v1/media/") == 0
    assert len(fake.statuses[0].media_ids) == 1


async def test_a_retry_after_a_restart_does_not_upload_again(fake: FakeMastodon, client: MastodonClient) -> None:
    progress, creds, images = MemoryProgress(), credentials(fake), Images()
    fake.fail("statuses", "server_error")
    with pytest.raises(PlatformDown):
        await client.publish(publication(creds, media=("a",), progress=progress, media_source=images))
    assert fake.statuses == [] and "media:0" in progress.steps

    # a new worker: new client, same recorded progress
    async with httpx.AsyncClient() as http:
        again = MastodonClient(settings(), http, TIMEOUT, apps=MemoryApps())
        await again.publish(publication(creds, media=("a",), progress=progress, media_source=images))

    assert fake.count("POST", "/api/v2/media") == 1
    assert images.reads == ["a"]
    [status] = fake.statuses
    assert status.media_ids == [progress.steps["media:0"]]


async def test_media_still_processing_after_the_wait_is_transient_and_resumes(
    fake: FakeMastodon, http: httpx.AsyncClient
) -> None:
    client = MastodonClient(settings(media_wait=0.2), http, TIMEOUT, apps=MemoryApps())
    fake.process_media_after(1000)
    progress, creds = MemoryProgress(), credentials(fake)
    with pytest.raises(PlatformDown, match="still processing"):
        await client.publish(publication(creds, media=("a",), progress=progress))
    assert fake.count("POST", "/api/v1/statuses") == 0  # never attached unprocessed media

    fake.finish_processing()
    await client.publish(publication(creds, media=("a",), progress=progress))
    assert fake.count("POST", "/api/v2/media") == 1
    assert len(fake.statuses) == 1


async def test_an_unknown_outcome_is_settled_by_retrying_with_the_same_key(
    fake: FakeMastodon, client: MastodonClient
) -> None:
    fake.hang_seconds = 1.5  # longer than the client's read timeout
    fake.fail("statuses", "hang")
    progress, creds = MemoryProgress(), credentials(fake)
    with pytest.raises(OutcomeUnknown):
        await client.publish(publication(creds, progress=progress))
    assert len(fake.statuses) == 1 and "sent" in progress.steps

    assert client.idempotent
    published = await client.publish(publication(creds, progress=progress))

    [status] = fake.statuses  # the server answered the original status
    assert published.external_id == status.id
    assert fake.count("POST", "/api/v1/statuses") == 2


def an_hour_ago(progress: MemoryProgress) -> MemoryProgress:
    progress.steps["sent"] = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    return progress


async def test_a_send_older_than_the_key_window_is_found_by_verify(fake: FakeMastodon, client: MastodonClient) -> None:
    creds = (await client.check(credentials(fake))).credentials
    text = "Hi @bob@example.social,\nread https://example.com/a/very/long/path/that/goes/on?x=1&y=2 <b>now</b>"
    first = await client.publish(publication(creds, text, media=("a",)))

    progress = an_hour_ago(MemoryProgress())
    assert await client.verify(publication(creds, text, media=("a",), progress=progress)) == first
    again = await client.publish(publication(creds, text, media=("a",), progress=progress, idempotency_key="k2"))

    assert again == first
    assert len(fake.statuses) == 1
    [lookup, *_] = [c for c in fake.calls if c.path.endswith("/statuses") and c.method == "GET"]
    assert "authorization" not in lookup.headers  # public statuses: Herald's token can't read:statuses


async def test_a_send_older_than_the_key_window_is_not_repeated_when_verify_cant_tell(
    fake: FakeMastodon, client: MastodonClient
) -> None:
    creds = (await client.check(credentials(fake))).credentials
    await client.publish(publication(creds, "Something else", idempotency_key="other"))
    progress = an_hour_ago(MemoryProgress())

    with pytest.raises(OutcomeUnknown, match="/verify or /republish"):
        await client.publish(publication(creds, progress=progress))
    assert fake.count("POST", "/api/v1/statuses") == 1
    assert await client.verify(publication(creds, progress=progress)) is None
    # a server that hides statuses from anonymous readers can't tell either (and the account stays connected)
    fake.fail("account_statuses", "expired")
    assert await client.verify(publication(creds, progress=progress)) is None


async def test_an_account_quiet_since_the_send_is_absent_and_publishes(
    fake: FakeMastodon, client: MastodonClient
) -> None:
    creds = (await client.check(credentials(fake))).credentials
    progress = an_hour_ago(MemoryProgress())
    assert await client.verify(publication(creds, progress=progress)) == ABSENT

    await client.publish(publication(creds, progress=progress))
    assert len(fake.statuses) == 1
    assert progress.steps["sent"] > (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        ("expired", AuthExpired, "Mastodon said: The access token is invalid. Reconnect the account."),
        ("rate_limit", RateLimited, "Mastodon said: Too many requests."),
        ("reject", Rejected, "Mastodon said: Validation failed: Text character limit of 500 exceeded."),
        ("server_error", PlatformDown, "Mastodon said: We're sorry, but something went wrong on our end."),
    ],
)
async def test_errors_from_the_real_bodies(
    fake: FakeMastodon, client: MastodonClient, mode: str, error: type[PlatformError], message: str
) -> None:
    fake.fail("statuses", mode)
    with pytest.raises(PlatformError) as caught:
        await client.publish(publication(credentials(fake)))
    assert type(caught.value) is error
    assert str(caught.value).startswith(message)
    if mode == "rate_limit":
        assert caught.value.retry_after == pytest.approx(120, abs=5)  # type: ignore[attr-defined]
    assert fake.statuses == []


async def test_a_revoked_token_needs_reconnecting(fake: FakeMastodon, client: MastodonClient) -> None:
    token = fake.token()
    fake.revoke(token)
    with pytest.raises(AuthExpired, match="The access token is invalid"):
        await client.publish(publication(credentials(fake, token)))
    with pytest.raises(AuthExpired, match="reconnect"):
        await client.refresh(credentials(fake, token))


async def test_check_reads_the_servers_own_limits_and_publish_applies_them(http: httpx.AsyncClient) -> None:
    with FakeMastodon(max_characters=100, max_media=2) as fake:
        client = MastodonClient(settings(), http, TIMEOUT, apps=MemoryApps())
        choice = await client.check(credentials(fake))
        port = fake.url.rsplit(":", 1)[1]

        assert choice.handle == f"alice@127.0.0.1:{port}"
        assert choice.url == f"{fake.url}/@alice"
        extra = choice.credentials.extra
        assert (extra["max_characters"], extra["max_media"]) == ("100", "2")
        assert extra["image_size_limit"] == str(16 * 1024 * 1024)
        assert extra["username"] == "alice" and extra["account_id"]

        with pytest.raises(Rejected, match="allows 100 characters, this is 101"):
            await client.publish(publication(choice.credentials, "x" * 101))
        with pytest.raises(Rejected, match="at most 2 images"):
            await client.publish(publication(choice.credentials, media=("a", "b", "c")))
        assert fake.count("POST", "/api/v1/statuses") == 0
        await client.publish(publication(choice.credentials, "x" * 76 + " https://example.com/" + "y" * 60))
        assert len(fake.statuses) == 1  # a URL counts 23


async def test_connecting_registers_the_app_once_and_runs_oauth_with_pkce(
    fake: FakeMastodon, client: MastodonClient
) -> None:
    spec = await client.oauth(fake.url)
    assert await client.oauth(fake.url + "/") == spec  # registered once, reused
    [app] = fake.apps
    assert app.redirect_uris == [CALLBACK]
    assert app.scopes == ["read:accounts", "write:statuses", "write:media"]
    assert app.name == "Herald" and app.website == PUBLIC_URL
    assert (spec.client_id, spec.client_secret) == (app.client_id, app.client_secret)
    assert spec.authorize_url == f"{fake.url}/oauth/authorize" and spec.pkce

    verifier = generate_token(48)
    async with AsyncOAuth2Client(
        client_id=spec.client_id,
        client_secret=spec.client_secret,
        scope=" ".join(spec.scopes),
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        token_endpoint_auth_method=spec.token_auth,
        timeout=5.0,
    ) as oauth:
        url, state = oauth.create_authorization_url(spec.authorize_url, code_verifier=verifier)
        async with httpx.AsyncClient() as browser:
            consent = await browser.get(url, follow_redirects=False)
        assert consent.status_code == 302
        callback = consent.headers["location"]
        assert callback.startswith(CALLBACK) and f"state={state}" in callback
        token = await oauth.fetch_token(spec.token_url, authorization_response=callback, code_verifier=verifier)
    assert app.codes.authorize_requests[0]["code_challenge_method"] == "S256"

    [choice] = await client.accounts(token, fake.url)

    assert choice.handle.startswith("alice@127.0.0.1:")
    assert choice.label.endswith("on Mastodon")
    creds = choice.credentials
    assert creds.access_token == token["access_token"] and creds.expires_at is None
    assert creds.extra["instance"] == fake.url and creds.extra["client_id"] == app.client_id
    await client.publish(publication(creds))
    assert fake.statuses[0].token == token["access_token"]

    assert await client.revoke(creds)
    assert fake.revoked == [token["access_token"]]
    with pytest.raises(AuthExpired):
        await client.check(creds)


async def test_a_reused_authorization_code_or_a_wrong_verifier_is_refused(
    fake: FakeMastodon, client: MastodonClient
) -> None:
    spec = await client.oauth(fake.url)
    [app] = fake.apps
    consent = app.codes.authorize(
        {
            "client_id": spec.client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "write:statuses",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        }
    )
    code = httpx.URL(consent.headers["location"]).params["code"]
    async with httpx.AsyncClient() as http:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": spec.client_id,
            "client_secret": spec.client_secret or "",
            "redirect_uri": CALLBACK,
            "code_verifier": "wrong",
        }
        answer = await http.post(spec.token_url, data=form)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
        again = await http.post(spec.token_url, data=form)
        assert again.status_code == 400  # the code was used up


async def test_oauth_needs_a_server_and_the_public_url(fake: FakeMastodon, http: httpx.AsyncClient) -> None:
    with pytest.raises(InvalidInput, match="Which Mastodon server"):
        await MastodonClient(settings(), http, TIMEOUT, apps=MemoryApps()).oauth(None)
    with pytest.raises(ConfigError, match="HERALD_PUBLIC_URL"):
        await MastodonClient(settings(public_url=None), http, TIMEOUT, apps=MemoryApps()).oauth(fake.url)
    fake.fail("apps", "server_error")
    with pytest.raises(PlatformDown):
        await MastodonClient(settings(), http, TIMEOUT, apps=MemoryApps()).oauth(fake.url)
    assert fake.apps == []


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("mastodon.social", "https://mastodon.social"),
        (" Mastodon.Social/ ", "https://mastodon.social"),
        ("@herald@fosstodon.org", "https://fosstodon.org"),
        ("https://mastodon.social/about", "https://mastodon.social"),
        ("http://127.0.0.1:8123/", "http://127.0.0.1:8123"),
        ("http://localhost:3000", "http://localhost:3000"),
    ],
)
def test_instance_names_become_base_urls(given: str, base: str) -> None:
    assert normalize_instance(given) == base


@pytest.mark.parametrize("given", ["", "mastodon", "ftp://mastodon.social"])
def test_what_is_not_a_server_is_refused(given: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_instance(given)


def test_the_platform_is_registered() -> None:
    from tasks import platforms

    assert platforms.by_name("mastodon") is PLATFORM
    assert PLATFORM.rules.connect == "instance"
    assert PLATFORM.rules.text_limit == 500 and PLATFORM.rules.media.max_items == 4
    assert PLATFORM.rules.length("@bob@example.social " + "https://example.com/" + "a" * 100) == 28


async def test_the_app_is_kept_in_the_database_and_reused_by_every_worker(
    any_db: str, fake: FakeMastodon, http: httpx.AsyncClient
) -> None:
    from models.accounts import PlatformApp

    await PlatformApp.filter(platform="mastodon").delete()
    first = await MastodonClient(settings(), http, TIMEOUT).oauth(fake.url)
    second = await MastodonClient(settings(), http, TIMEOUT).oauth(fake.url)

    assert first == second and len(fake.apps) == 1
    row = await PlatformApp.get(platform="mastodon", instance=fake.url)
    assert (row.client_id, row.client_secret, row.redirect_uri) == (first.client_id, first.client_secret, CALLBACK)

    # two workers registering at once: the second save yields the app saved first
    store = DatabaseApps()
    other = RegisteredApp(fake.url, CALLBACK, "other-id", "other-secret")
    assert await store.save(other) == RegisteredApp(fake.url, CALLBACK, first.client_id, first.client_secret or "")
