"""LinkedInClient against FakeLinkedIn (tests/fakes/linkedin.py) over HTTP on 127.0.0.1: no mocks."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from PIL import Image

from handlers.text import platforms as catalogue
from models.errors import ConfigError
from tasks import platforms
from tasks.platforms.base import ABSENT, Credentials, MediaFile, MemoryProgress, Publication, Published
from tasks.platforms.errors import (
    AuthExpired,
    Duplicate,
    OutcomeUnknown,
    PlatformDown,
    RateLimited,
    Rejected,
)
from tasks.platforms.linkedin import LinkedInClient, LinkedInSettings
from tasks.platforms.linkedin.client import little_text, plain_text, seconds_to_midnight_utc
from tasks.platforms.transport import http_client
from tests.fakes.linkedin import CLIENT_ID, CLIENT_SECRET, PERSON, FakeLinkedIn, unescape, unescaped_reserved

SHORT = httpx.Timeout(3.0, read=0.5)
ME = f"urn:li:person:{PERSON}"
ACME = "urn:li:organization:2414183"
ORG_SCOPES = "openid profile w_member_social w_organization_social r_organization_social rw_organization_admin"
REDIRECT = "https://herald.example/oauth/linkedin/callback"
TEXT = "Launch (beta) today! Ask @support: 50% *off* <3 [docs] {x} a|b ~ c_d \\ #herald"


def png(color: str = "red", size: tuple[int, int] = (8, 6)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


class Images:
    """The media store, as the worker passes it: a real PNG per ref."""

    def __init__(self) -> None:
        self.files = {ref: png(ref) for ref in ("red", "green", "blue")}

    async def read(self, ref: str) -> MediaFile:
        return MediaFile(ref=ref, data=self.files[ref], content_type="image/png", filename=f"{ref}.png")

    def public_url(self, ref: str, ttl: timedelta = timedelta(hours=24)) -> str:
        raise Rejected("LinkedIn takes uploads, not URLs.")


class CrashBeforeSent(MemoryProgress):
    """A worker killed right before the post call: everything up to it is kept."""

    async def put(self, step: str, value: str) -> None:
        if step == "sent":
            raise KeyboardInterrupt("worker killed")
        await super().put(step, value)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLinkedIn]:
    with FakeLinkedIn() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeLinkedIn) -> Iterator[FakeLinkedIn]:
    server.reset()
    yield server
    server.reset()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def settings(fake: FakeLinkedIn, **override: str) -> LinkedInSettings:
    values = {
        "LINKEDIN_CLIENT_ID": CLIENT_ID,
        "LINKEDIN_CLIENT_SECRET": CLIENT_SECRET,
        "LINKEDIN_API_URL": fake.url,
        "LINKEDIN_AUTH_URL": fake.auth_url,
        **override,
    }
    return LinkedInSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def client(fake: FakeLinkedIn, http: httpx.AsyncClient) -> LinkedInClient:
    return LinkedInClient(settings(fake), http, SHORT)


def publication(
    token: str,
    author: str = ME,
    text: str = TEXT,
    media: tuple[str, ...] = (),
    progress: MemoryProgress | None = None,
    **credentials: str,
) -> Publication:
    return Publication(
        post_id=7,
        delivery_id=9,
        handle="ada",
        text=text,
        media=media,
        credentials=Credentials(access_token=token, extra={"author_urn": author, **credentials}),
        idempotency_key="d-9",
        progress=progress or MemoryProgress(),
        media_source=Images(),
    )


def post_calls(fake: FakeLinkedIn) -> list[dict[str, str]]:
    return [headers for method, path, headers in fake.requests if method == "POST" and path == "/rest/posts"]


# --- little text


def test_little_text_escapes_every_reserved_character_but_hashtags() -> None:
    assert little_text("a (b) [c] {d} <e> @f *g* _h_ ~i~ j|k \\ #tag x#y # z") == (
        "a \\(b\\) \\[c\\] \\{d\\} \\<e\\> \\@f \\*g\\* \\_h\\_ \\~i\\~ j\\|k \\\\ #tag x\\#y \\# z"
    )
    assert unescape(little_text(TEXT)) == TEXT
    assert unescaped_reserved(little_text(TEXT)) == set()
    assert plain_text(little_text(TEXT)) == TEXT
    assert plain_text("Out now {hashtag|\\#|herald} \\(beta\\)") == "Out now #herald (beta)"


# --- publishing


async def test_publish_text_as_the_member(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    token, _ = fake.grant()
    pub = publication(token)

    published = await client.publish(pub)

    [post] = fake.posts
    assert post["id"] == published.external_id
    assert published.url == f"https://www.linkedin.com/feed/update/{post['id']}/"
    assert post["author"] == ME
    assert unescape(post["commentary"]) == TEXT and unescaped_reserved(post["commentary"]) == set()
    assert post["visibility"] == "PUBLIC" and post["lifecycleState"] == "PUBLISHED"
    assert post["distribution"] == {
        "feedDistribution": "MAIN_FEED",
        "targetEntities": [],
        "thirdPartyDistributionChannels": [],
    }
    assert post["isReshareDisabledByAuthor"] is False and "content" not in post
    [headers] = post_calls(fake)
    assert headers["linkedin-version"] == "202607" and headers["x-restli-protocol-version"] == "2.0.0"
    assert await pub.progress.get("sent")


async def test_publish_one_image_as_a_page(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    token, _ = fake.grant(scopes=ORG_SCOPES)
    pub = publication(token, ACME, "One picture", media=("red",))

    await client.publish(pub)

    [post] = fake.posts
    assert post["author"] == ACME
    urn = post["content"]["media"]["id"]
    assert urn == await pub.progress.get("media:0")
    assert fake.images[urn].owner == ACME and fake.images[urn].data == png("red")
    assert fake.images[urn].content_type == "image/png"


async def test_publish_several_images_as_one_multi_image_post(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    token, _ = fake.grant()
    pub = publication(token, media=("red", "green", "blue"))

    await client.publish(pub)

    [post] = fake.posts
    ids = [image["id"] for image in post["content"]["multiImage"]["images"]]
    assert ids == [await pub.progress.get(f"media:{i}") for i in range(3)]
    assert [fake.images[urn].data for urn in ids] == [png("red"), png("green"), png("blue")]
    assert fake.initialized == [ME] * 3


async def test_a_restart_after_the_uploads_publishes_once_without_uploading_again(
    fake: FakeLinkedIn, client: LinkedInClient
) -> None:
    token, _ = fake.grant()
    crashing = CrashBeforeSent()
    with pytest.raises(KeyboardInterrupt):
        await client.publish(publication(token, media=("red", "green"), progress=crashing))
    assert fake.posts == [] and len(fake.initialized) == 2

    resumed = MemoryProgress()
    resumed.steps = dict(crashing.steps)  # what the database kept
    await client.publish(publication(token, media=("red", "green"), progress=resumed))

    assert len(fake.initialized) == 2  # not uploaded again
    [post] = fake.posts
    assert [i["id"] for i in post["content"]["multiImage"]["images"]] == [
        crashing.steps["media:0"],
        crashing.steps["media:1"],
    ]


async def test_an_image_the_platform_never_received_is_refused_by_the_fake(
    fake: FakeLinkedIn, client: LinkedInClient
) -> None:
    token, _ = fake.grant()
    progress = MemoryProgress()
    await progress.put("media:0", "urn:li:image:C4Enever")
    with pytest.raises(Rejected, match="not an uploaded image"):
        await client.publish(publication(token, media=("red",), progress=progress))
    assert fake.posts == []


# --- unknown outcomes


async def test_verify_settles_a_publish_that_got_no_answer(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    token, _ = fake.grant(scopes=ORG_SCOPES)
    pub = publication(token, ACME, "Did this go out? #herald (beta)")
    fake.hang_posts()

    with pytest.raises(OutcomeUnknown):
        await client.publish(pub)
    fake.release()

    [post] = fake.posts
    assert await client.verify(pub) == Published(post["id"], f"https://www.linkedin.com/feed/update/{post['id']}/")
    again = await client.publish(pub)  # the retry looks first
    assert again.external_id == post["id"]
    assert len(fake.posts) == 1 and len(post_calls(fake)) == 1


async def test_verify_says_absent_when_the_page_has_no_such_post(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    token, _ = fake.grant(scopes=ORG_SCOPES)
    progress = MemoryProgress()
    await progress.put("sent", str(int(datetime.now(UTC).timestamp() * 1000)))
    pub = publication(token, ACME, "Never arrived", progress=progress)

    assert await client.verify(pub) == ABSENT
    published = await client.publish(pub)  # absent: publish after all

    [post] = fake.posts
    assert post["id"] == published.external_id


async def test_a_members_posts_cant_be_read_so_a_sent_publish_asks_a_human(
    fake: FakeLinkedIn, client: LinkedInClient
) -> None:
    token, _ = fake.grant()
    progress = MemoryProgress()
    await progress.put("sent", "1")
    pub = publication(token, progress=progress)

    assert await client.verify(pub) is None
    with pytest.raises(OutcomeUnknown, match="permission"):
        await client.publish(pub)
    assert fake.posts == []


# --- errors, from LinkedIn's own bodies


async def test_an_invalid_or_expired_token_means_reconnect(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    with pytest.raises(AuthExpired, match="Invalid access token"):
        await client.publish(publication("nope"))
    token, _ = fake.grant()
    fake.expire(token)
    with pytest.raises(AuthExpired, match="expired"):
        await client.publish(publication(token))
    assert fake.posts == []


async def test_a_retired_version_names_linkedin_version(fake: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    token, _ = fake.grant()
    old = LinkedInClient(settings(fake, LINKEDIN_VERSION="202001"), http, SHORT)

    with pytest.raises(Rejected, match=r"202001.*LINKEDIN_VERSION") as caught:
        await old.publish(publication(token))

    assert not isinstance(caught.value, AuthExpired)
    assert fake.posts == []


def test_a_malformed_version_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="LINKEDIN_VERSION"):
        LinkedInSettings(LINKEDIN_VERSION="2026-07")  # type: ignore[call-arg]


async def test_the_same_post_twice_is_a_duplicate(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    token, _ = fake.grant()
    first = await client.publish(publication(token))

    with pytest.raises(Duplicate, match=first.external_id):
        await client.publish(publication(token))
    assert len(fake.posts) == 1


async def test_the_daily_limit_waits_until_midnight_utc(fake: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    now = datetime(2026, 12, 3, 18, 30, tzinfo=UTC).timestamp()
    client = LinkedInClient(settings(fake), http, SHORT, clock=lambda: now)
    token, _ = fake.grant()
    fake.daily_limit = 1
    await client.publish(publication(token, text="first"))
    pub = publication(token, text="second")

    with pytest.raises(RateLimited, match="MEMBER DAY limit") as caught:
        await client.publish(pub)

    assert caught.value.retry_after == seconds_to_midnight_utc(now) == 5.5 * 3600
    assert await pub.progress.get("sent") == ""  # refused: the next attempt needn't look first
    assert len(fake.posts) == 1


async def test_a_429_with_retry_after_waits_that_long(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    token, _ = fake.grant()
    body = {"status": 429, "serviceErrorCode": 101, "code": "TOO_MANY_REQUESTS", "message": "Too many requests."}
    fake.fail_next("/rest/posts", 429, body, {"Retry-After": "120"})
    with pytest.raises(RateLimited) as caught:
        await client.publish(publication(token))
    assert caught.value.retry_after == 120


async def test_posting_as_a_page_without_the_permission_names_it(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    token, _ = fake.grant()  # no w_organization_social
    with pytest.raises(Rejected, match="w_organization_social") as caught:
        await client.publish(publication(token, ACME))
    assert not isinstance(caught.value, AuthExpired)

    admin, _ = fake.grant(scopes=ORG_SCOPES)
    with pytest.raises(Rejected, match="w_organization_social"):  # a page she doesn't administer
        await client.publish(publication(admin, "urn:li:organization:999"))
    with pytest.raises(Rejected, match="w_organization_social"):  # refused at the image upload already
        await client.publish(publication(token, ACME, media=("red",)))
    assert fake.posts == [] and fake.initialized == []


async def test_a_server_error_is_transient_and_keeps_sent(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    token, _ = fake.grant()
    fake.fail_next("/rest/posts", 500, {"message": "Internal Server Error", "status": 500})
    pub = publication(token)
    with pytest.raises(PlatformDown):
        await client.publish(pub)
    assert await pub.progress.get("sent")  # a 5xx may still have published: the retry looks first
    assert fake.posts == []


async def test_too_long_a_commentary_is_rejected_with_linkedins_reason(
    fake: FakeLinkedIn, client: LinkedInClient
) -> None:
    token, _ = fake.grant()
    with pytest.raises(Rejected, match=r"LinkedIn said: .*3000"):
        await client.publish(publication(token, text="x" * 3001))


# --- tokens


async def test_refresh_rotates_and_the_old_refresh_token_stops_working(
    fake: FakeLinkedIn, client: LinkedInClient
) -> None:
    token, rt = fake.grant(refresh=True)
    old = Credentials(access_token=token, refresh_token=rt, extra={"author_urn": ME})

    new = await client.refresh(old)

    assert new.access_token != token and new.refresh_token not in (None, rt)
    assert new.extra == {"author_urn": ME}
    assert new.expires_at is not None and new.expires_at > datetime.now(UTC) + timedelta(days=59)
    assert new.refresh_expires_at is not None and new.refresh_expires_at > datetime.now(UTC) + timedelta(days=364)
    assert (await client.check(new)).credentials == new  # the new token works
    with pytest.raises(AuthExpired, match="invalid, expired or revoked"):
        await client.refresh(old)


async def test_without_a_refresh_token_say_when_to_reconnect(client: LinkedInClient) -> None:
    expires = datetime(2027, 2, 1, 12, tzinfo=UTC)
    with pytest.raises(AuthExpired, match="reconnect the account before 2027-02-01"):
        await client.refresh(Credentials(access_token="t", expires_at=expires))
    with pytest.raises(AuthExpired, match="expired on 2020-01-01"):
        await client.refresh(Credentials(access_token="t", expires_at=datetime(2020, 1, 1, tzinfo=UTC)))


async def test_a_refresh_during_an_outage_never_disconnects(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    token, rt = fake.grant(refresh=True)
    credentials = Credentials(access_token=token, refresh_token=rt)
    fake.fail_next("/oauth/v2/accessToken", 503, {"message": "Service Unavailable", "status": 503})
    with pytest.raises(PlatformDown):
        await client.refresh(credentials)
    fake.fail_next("/oauth/v2/accessToken", 429, {"status": 429, "serviceErrorCode": 101, "message": "Throttled."})
    with pytest.raises(RateLimited):
        await client.refresh(credentials)
    assert (await client.refresh(credentials)).access_token  # the refresh token survived both


async def test_revoke(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    token, _ = fake.grant()
    credentials = Credentials(access_token=token, extra={"author_urn": ME})
    assert await client.revoke(credentials) is True
    assert fake.revoked == [token]
    with pytest.raises(AuthExpired):
        await client.check(credentials)


# --- connecting


async def test_check_the_member_and_a_page(fake: FakeLinkedIn, client: LinkedInClient) -> None:
    token, _ = fake.grant(scopes=ORG_SCOPES)
    me = await client.check(Credentials(access_token=token, extra={"author_urn": ME}))
    assert (me.handle, me.label) == ("ada-lovelace", "Ada Lovelace on LinkedIn")
    page = await client.check(Credentials(access_token=token, extra={"author_urn": ACME}))
    assert (page.handle, page.label, page.url) == (
        "acme-coffee",
        "Acme Coffee (LinkedIn page)",
        "https://www.linkedin.com/company/acme-coffee/",
    )


async def authorize(client: LinkedInClient, http: httpx.AsyncClient) -> dict[str, object]:
    """The admin's browser through LinkedIn's consent, and Herald's callback exchanging the code (Authlib)."""
    spec = await client.oauth()
    async with AsyncOAuth2Client(
        client_id=spec.client_id,
        client_secret=spec.client_secret,
        scope=" ".join(spec.scopes),
        redirect_uri=REDIRECT,
        token_endpoint_auth_method=spec.token_auth,
        timeout=5,
    ) as oauth:
        url, state = oauth.create_authorization_url(spec.authorize_url)
        consent = await http.get(url)
        assert consent.status_code == 302
        query = parse_qs(urlsplit(consent.headers["location"]).query)
        assert query["state"] == [state]
        return dict(await oauth.fetch_token(spec.token_url, code=query["code"][0]))


async def test_accounts_after_login_are_the_member_and_the_pages_they_administer(
    fake: FakeLinkedIn, client: LinkedInClient, http: httpx.AsyncClient
) -> None:
    token = await authorize(client, http)

    choices = await client.accounts(token)

    assert [c.credentials.get("author_urn") for c in choices] == [ME, ACME, "urn:li:organization:777"]
    assert [c.handle for c in choices] == ["ada-lovelace", "acme-coffee", "engines"]
    assert {c.credentials.access_token for c in choices} == {token["access_token"]}
    expires = choices[0].credentials.expires_at
    assert expires is not None and expires > datetime.now(UTC) + timedelta(days=59)
    [request] = fake.codes.authorize_requests
    assert "code_challenge" not in request  # LinkedIn: no PKCE for web apps
    assert request["scope"].split() == ["openid", "profile", "w_member_social", *ORG_SCOPES.split()[3:]]
    await client.publish(publication(token["access_token"], ACME, "From the page"))  # the page's choice works
    assert fake.posts[0]["author"] == ACME


async def test_without_organization_scopes_only_the_member(fake: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    client = LinkedInClient(settings(fake, LINKEDIN_ORGANIZATION_SCOPES=""), http, SHORT)
    token = await authorize(client, http)

    choices = await client.accounts(token)

    assert [c.credentials.get("author_urn") for c in choices] == [ME]
    assert not any(path.startswith("/rest/organizationAcls") for _, path, _ in fake.requests)


async def test_a_community_management_app_without_openid_finds_the_member_by_profile(
    fake: FakeLinkedIn, http: httpx.AsyncClient
) -> None:
    client = LinkedInClient(settings(fake, LINKEDIN_MEMBER_SCOPES="r_basicprofile w_member_social"), http, SHORT)
    token = await authorize(client, http)

    choices = await client.accounts(token)

    assert [c.credentials.get("author_urn") for c in choices] == [ME, ACME, "urn:li:organization:777"]
    assert choices[0].label == "Ada Lovelace on LinkedIn"
    assert not any(path == "/v2/userinfo" for _, path, _ in fake.requests)
    assert (await client.check(choices[0].credentials)).handle == "ada-lovelace"


async def test_oauth_needs_the_apps_credentials(http: httpx.AsyncClient) -> None:
    client = LinkedInClient(LinkedInSettings(LINKEDIN_CLIENT_ID="", LINKEDIN_CLIENT_SECRET=""), http)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET"):
        await client.oauth()


async def test_oauth_spec(client: LinkedInClient, fake: FakeLinkedIn) -> None:
    spec = await client.oauth()
    assert spec.pkce is False and spec.token_auth == "client_secret_post"
    assert spec.authorize_url == f"{fake.auth_url}/authorization" and spec.token_url == f"{fake.auth_url}/accessToken"
    assert await client.wait_before(publication("t")) is None


def test_registered_with_its_rules() -> None:
    platform = platforms.by_name("linkedin")
    assert platform is not None and platform.settings is LinkedInSettings
    platforms.install()
    info = catalogue.platform("linkedin")
    assert info.text_limit == 3000 and info.media.max_items == 20 and info.connect == "oauth"
    assert catalogue.too_long(info, "x" * 3001) == "LinkedIn allows 3000 characters, this is 3001."
    assert LinkedInSettings(LINKEDIN_CLIENT_SECRET="s3").secret_values == ("s3",)  # type: ignore[call-arg]


async def test_the_workers_http_client_publishes_images_too(fake: FakeLinkedIn) -> None:
    """The workers' client (httpx over aiohttp) sends the PUT of raw bytes and reads x-restli-id the same way."""
    token, _ = fake.grant()
    async with http_client() as http:
        published = await LinkedInClient(settings(fake), http, SHORT).publish(publication(token, media=("blue",)))
    [post] = fake.posts
    assert post["id"] == published.external_id
    assert fake.images[post["content"]["media"]["id"]].data == png("blue")
