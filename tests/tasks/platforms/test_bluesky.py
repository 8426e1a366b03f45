"""The Bluesky client against FakeBluesky (a PDS over real HTTP on 127.0.0.1): connecting with an app password,
sessions, publishing with facets, images and link cards, resuming, the errors, and verify."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from PIL import Image

from tasks import platforms
from tasks.platforms.base import ABSENT, Credentials, MediaFile, MemoryProgress, Publication, Published
from tasks.platforms.bluesky import PLATFORM, BlueskyClient, BlueskySettings
from tasks.platforms.bluesky import cards as cards_module
from tasks.platforms.bluesky.client import TID_ALPHABET, jwt_expiry, tid
from tasks.platforms.bluesky.facets import detect, facets
from tasks.platforms.errors import AuthExpired, OutcomeUnknown, PlatformDown, RateLimited, Rejected
from tests.fakes.bluesky import FakeBluesky
from tests.fakes.server import ServedApp

PASSWORD = "abcd-efgh-ijkl-mnop"
SHORT = httpx.Timeout(connect=2.0, read=0.5, write=2.0, pool=2.0)
CREATE = "com.atproto.repo.createRecord"
UPLOAD = "com.atproto.repo.uploadBlob"
GET = "com.atproto.repo.getRecord"


def png(width: int = 40, height: int = 30, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


class Media:
    """The media store as a client sees it: a few files in memory."""

    def __init__(self, files: dict[str, MediaFile]) -> None:
        self.files = files
        self.reads = 0

    async def read(self, ref: str) -> MediaFile:
        self.reads += 1
        return self.files[ref]

    def public_url(self, ref: str, ttl: timedelta = timedelta(hours=24)) -> str:
        raise AssertionError("Bluesky uploads media; it never fetches them by URL")


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    with FakeBluesky(app_password=PASSWORD) as served:
        served.add_handle("alice.bsky.social", "did:plc:alice")
        yield served


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def client_for(fake: FakeBluesky, http: httpx.AsyncClient, **settings: object) -> BlueskyClient:
    config = BlueskySettings(BLUESKY_PDS_URL=fake.url, BLUESKY_WEB_URL="https://bsky.app", **settings)
    return BlueskyClient(config, http, SHORT)


async def connect(client: BlueskyClient) -> Credentials:
    [account] = await client.connect_secret({"handle": "acme.bsky.social", "app_password": PASSWORD})
    return account.credentials


def publication(
    credentials: Credentials,
    text: str = "Hello from Herald",
    *,
    media: Media | None = None,
    progress: MemoryProgress | None = None,
) -> Publication:
    return Publication(
        post_id=7,
        delivery_id=70,
        handle="acme.bsky.social",
        text=text,
        media=tuple(media.files) if media else (),
        credentials=credentials,
        idempotency_key="delivery-70",
        progress=progress or MemoryProgress(),
        media_source=media,
    )


# --- rich text, TIDs, JWTs (no network)


async def test_facets_count_utf8_bytes_after_emoji_and_accents() -> None:
    text = "Café 🎉 déjà vu: https://example.com/a?b=1, with @alice.bsky.social #launch!"

    async def resolve(handle: str) -> str | None:
        return {"alice.bsky.social": "did:plc:alice"}.get(handle)

    found = await facets(text, resolve)
    raw = text.encode()
    by_kind = {f["features"][0]["$type"].split("#")[1]: f for f in found}
    link, mention, tag = by_kind["link"], by_kind["mention"], by_kind["tag"]
    assert raw[link["index"]["byteStart"] : link["index"]["byteEnd"]] == b"https://example.com/a?b=1"
    assert link["index"]["byteStart"] == len("Café 🎉 déjà vu: ".encode()) != len("Café 🎉 déjà vu: ")
    assert link["features"][0]["uri"] == "https://example.com/a?b=1"  # the trailing comma is not part of it
    assert raw[mention["index"]["byteStart"] : mention["index"]["byteEnd"]] == b"@alice.bsky.social"
    assert mention["features"][0]["did"] == "did:plc:alice"
    assert raw[tag["index"]["byteStart"] : tag["index"]["byteEnd"]] == b"#launch"
    assert tag["features"][0]["tag"] == "launch"
    assert [f["index"]["byteStart"] for f in found] == sorted(f["index"]["byteStart"] for f in found)


async def test_unresolvable_mentions_stay_plain_text() -> None:
    async def resolve(handle: str) -> str | None:
        return None

    assert await facets("ping @nobody.bsky.social", resolve) == []


def test_detection_follows_the_official_rules() -> None:
    spans = {(s.kind, s.value) for s in detect("see example.com/x. (https://a.org/p) #123 #ok. a@b.com @x")}
    assert ("link", "https://example.com/x") in spans  # bare domain, trailing full stop dropped
    assert ("link", "https://a.org/p") in spans  # the unbalanced ")" dropped
    assert ("tag", "ok") in spans
    assert not any(kind == "tag" and value == "123" for kind, value in spans)  # digits only: no tag
    assert not any(kind == "mention" for kind, _ in spans)  # "@x" has no domain, a@b.com is an email
    assert not any(value in ("https://b.com", "https://file.nope") for _, value in spans)
    assert {s.value for s in detect("notes.txt and node.nope")} == set()  # unknown top-level domains


def test_tids_are_13_sortable_characters_carrying_their_time() -> None:
    now = time.time()
    first, second = tid(now, 5), tid(now + 0.001, 0)
    assert len(first) == 13 and first[0] in "234567abcdefghij"
    assert set(first) <= set("234567abcdefghijklmnopqrstuvwxyz")
    assert first < second
    value = 0
    for char in first:
        value = value << 5 | TID_ALPHABET.index(char)
    assert value >> 63 == 0 and value & 0x3FF == 5
    assert abs((value >> 10) / 1_000_000 - now) < 0.001


def test_jwt_expiry_is_read_without_verification() -> None:
    payload = json.dumps({"exp": 2_000_000_000}).encode()
    token = "x." + base64.urlsafe_b64encode(payload).decode().rstrip("=") + ".sig"
    assert jwt_expiry(token) == datetime.fromtimestamp(2_000_000_000, UTC)
    assert jwt_expiry("not-a-jwt") is None


def test_card_parsing_reads_open_graph() -> None:
    html = """<html><head><title>Fallback</title>
    <meta property="og:title" content="Launch day &amp; more">
    <meta name="description" content="plain description">
    <meta property="og:image" content="/img/card.png"></head><body>x</body></html>"""
    card = cards_module.parse("https://example.com/post/1", html)
    assert card is not None
    assert card.title == "Launch day & more"
    assert card.description == "plain description"
    assert card.image == "https://example.com/img/card.png"
    assert cards_module.parse("https://x.org", "<html><body>nothing</body></html>") is None


def test_registered_with_its_rules() -> None:
    assert platforms.by_name("bluesky") is PLATFORM
    rules = PLATFORM.rules
    assert rules.connect == "secret" and rules.byte_limit == 3000 and rules.text_limit == 300
    assert rules.media.max_image_bytes == 1_000_000 and rules.media.max_items == 4
    assert rules.length("👨‍👩‍👧 é") == 3  # graphemes


# --- connecting and sessions


async def test_connect_with_an_app_password_stores_the_session_not_the_password(
    fake: FakeBluesky, http: httpx.AsyncClient
) -> None:
    client = client_for(fake, http)
    [account] = await client.connect_secret({"handle": "@acme.bsky.social", "app_password": PASSWORD})
    credentials = account.credentials
    assert account.handle == "acme.bsky.social" and account.url == "https://bsky.app/profile/acme.bsky.social"
    assert credentials.extra["did"] == fake.account.did
    assert credentials.extra["pds"] == fake.url  # from the DID document's #atproto_pds service
    assert credentials.access_token and credentials.refresh_token
    assert credentials.expires_at is not None and credentials.refresh_expires_at is not None
    assert timedelta(hours=1) < credentials.expires_at - datetime.now(UTC) <= timedelta(hours=2)
    assert credentials.refresh_expires_at - datetime.now(UTC) > timedelta(days=50)
    assert PASSWORD not in credentials.to_json()
    assert fake.calls["com.atproto.server.createSession"] == 1


async def test_connect_with_a_wrong_password_is_refused_with_the_reason(
    fake: FakeBluesky, http: httpx.AsyncClient
) -> None:
    with pytest.raises(Rejected, match="Invalid identifier or password"):
        await client_for(fake, http).connect_secret({"handle": "acme.bsky.social", "app_password": "wrong"})


async def test_logins_are_rate_limited_until_the_reset(http: httpx.AsyncClient) -> None:
    with FakeBluesky(app_password=PASSWORD, login_limit=2) as fake:
        client = client_for(fake, http)
        await connect(client)
        await connect(client)
        with pytest.raises(RateLimited) as caught:
            await connect(client)
    assert caught.value.retry_after is not None and 290 <= caught.value.retry_after <= 300


async def test_refresh_rotates_and_the_old_refresh_token_stops_working(
    fake: FakeBluesky, http: httpx.AsyncClient
) -> None:
    client = client_for(fake, http)
    first = await connect(client)
    second = await client.refresh(first)
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    assert second.extra["did"] == first.extra["did"] and second.refresh_expires_at is not None
    with pytest.raises(AuthExpired):
        await client.refresh(first)
    third = await client.refresh(second)
    assert (await client.check(third)).handle == "acme.bsky.social"
    assert fake.calls["com.atproto.server.createSession"] == 1  # never logs in again


async def test_two_workers_refreshing_at_once_within_the_grace_period_get_the_same_next_token(
    http: httpx.AsyncClient,
) -> None:
    def jti(token: str | None) -> str:
        payload = (token or "").split(".")[1]
        return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])

    with FakeBluesky(app_password=PASSWORD, refresh_grace=7200) as fake:  # the reference PDS keeps 2 hours
        client = client_for(fake, http)
        first = await connect(client)
        one, two = await client.refresh(first), await client.refresh(first)
        assert jti(one.refresh_token) == jti(two.refresh_token) != jti(first.refresh_token)
        assert (await client.refresh(two)).access_token


async def test_a_revoked_or_expired_session_needs_reconnecting(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    fake.revoke_sessions()
    with pytest.raises(AuthExpired, match="Reconnect"):
        await client.refresh(credentials)
    with FakeBluesky(app_password=PASSWORD, refresh_ttl=-10) as expired:
        stale = await connect(client_for(expired, http))
        with pytest.raises(AuthExpired):
            await client_for(expired, http).refresh(stale)


async def test_refresh_during_an_outage_is_transient(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    fake.script("com.atproto.server.refreshSession", "bad_gateway", "rate_limit")
    with pytest.raises(PlatformDown):
        await client.refresh(credentials)
    with pytest.raises(RateLimited):
        await client.refresh(credentials)
    assert (await client.refresh(credentials)).access_token  # the token survived both


async def test_revoke_ends_the_session(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    assert await client.revoke(credentials) is True
    with pytest.raises(AuthExpired):
        await client.refresh(credentials)


# --- publishing


async def test_publish_text_with_facets_at_the_chosen_rkey(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    progress = MemoryProgress()
    text = "Ünïcødé 🚀 launch with @alice.bsky.social and @ghost.bsky.social #herald"
    published = await client.publish(publication(credentials, text, progress=progress))
    [post] = fake.posts
    rkey = progress.steps["rkey"]
    assert post.rkey == rkey and progress.steps["sent"] == rkey
    assert published == Published(
        external_id=f"at://{fake.account.did}/app.bsky.feed.post/{rkey}",
        url=f"https://bsky.app/profile/acme.bsky.social/post/{rkey}",
    )
    record = post.record
    assert record["text"] == text and record["$type"] == "app.bsky.feed.post"
    created = datetime.fromisoformat(record["createdAt"].replace("Z", "+00:00"))
    assert record["createdAt"].endswith("Z") and abs(created - datetime.now(UTC)) < timedelta(seconds=30)
    assert "embed" not in record
    raw = text.encode()
    spans = {raw[f["index"]["byteStart"] : f["index"]["byteEnd"]]: f["features"][0] for f in record["facets"]}
    assert spans == {
        b"@alice.bsky.social": {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:alice"},
        b"#herald": {"$type": "app.bsky.richtext.facet#tag", "tag": "herald"},
    }  # the unknown @ghost stays plain text
    assert await client.verify(publication(credentials, text, progress=progress)) == published


async def test_publish_images_uploads_each_blob_once(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    media = Media(
        {
            "a": MediaFile("a", png(color="red"), "image/png", "a.png"),
            "b": MediaFile("b", png(color="blue"), "image/png", "b.png"),
        }
    )
    progress = MemoryProgress()
    await client.publish(publication(credentials, "two pictures https://example.com", media=media, progress=progress))
    [post] = fake.posts
    embed = post.record["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [image["alt"] for image in embed["images"]] == ["", ""]
    links = [image["image"]["ref"]["$link"] for image in embed["images"]]
    assert [fake.blobs[link].data for link in links] == [media.files["a"].data, media.files["b"].data]
    assert json.loads(progress.steps["media:1"])["ref"]["$link"] == links[1]
    assert fake.calls[UPLOAD] == 2
    assert "card" not in progress.steps  # images win over a link card


async def test_an_image_over_one_megabyte_is_refused_before_uploading(
    fake: FakeBluesky, http: httpx.AsyncClient
) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    media = Media({"big": MediaFile("big", b"\x89PNG" + b"0" * 1_000_000, "image/png", "big.png")})
    with pytest.raises(Rejected, match="1 MB"):
        await client.publish(publication(credentials, "big", media=media))
    assert fake.calls[UPLOAD] == 0 and fake.posts == []


async def test_resume_after_a_restart_doesnt_upload_again(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    media = Media({"a": MediaFile("a", png(), "image/png", "a.png")})
    progress = MemoryProgress()
    fake.script(CREATE, "bad_gateway")
    with pytest.raises(PlatformDown):
        await client.publish(publication(credentials, "resumed", media=media, progress=progress))
    assert fake.posts == [] and "media:0" in progress.steps
    rkey = progress.steps["rkey"]

    restarted = client_for(fake, http)  # a new worker, the same delivery's progress
    published = await restarted.publish(publication(credentials, "resumed", media=media, progress=progress))
    assert fake.calls[UPLOAD] == 1
    [post] = fake.posts
    assert post.rkey == rkey and published.url.endswith(f"/post/{rkey}")


async def test_a_lost_answer_is_settled_by_the_rkey(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    progress = MemoryProgress()
    fake.script(CREATE, "hang_after")  # created, but the answer comes too late
    fake.script(GET, "server_error")  # and the PDS can't be asked right away
    with pytest.raises(OutcomeUnknown):
        await client.publish(publication(credentials, "did it go?", progress=progress))
    assert client.idempotent is True
    verdict = await client.verify(publication(credentials, "did it go?", progress=progress))
    assert isinstance(verdict, Published) and verdict.url.endswith(progress.steps["rkey"])

    again = await client.publish(publication(credentials, "did it go?", progress=progress))  # a blind retry
    assert again == verdict
    assert len(fake.posts) == 1 and fake.calls[CREATE] == 1


async def test_a_create_at_a_taken_rkey_is_taken_as_published(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    progress = MemoryProgress()
    first = await client.publish(publication(credentials, "once", progress=progress))
    del progress.steps["sent"]  # as if the worker died before it could record it
    second = await client.publish(publication(credentials, "once", progress=progress))
    assert second == first
    assert fake.calls[CREATE] == 2 and len(fake.posts) == 1  # the PDS answered the second create with a 500


async def test_verify_without_a_post_is_absent(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    assert await client.verify(publication(credentials)) == ABSENT  # no rkey: nothing was sent
    progress = MemoryProgress()
    progress.steps["rkey"] = tid()
    assert await client.verify(publication(credentials, progress=progress)) == ABSENT  # RecordNotFound


# --- link cards


@pytest.fixture
def site() -> Iterator[tuple[str, dict[str, int]]]:
    hits: dict[str, int] = {}
    app = FastAPI()
    image = png(120, 63, "green")

    @app.get("/article")
    def article() -> HTMLResponse:
        hits["article"] = hits.get("article", 0) + 1
        return HTMLResponse(
            '<html><head><meta property="og:title" content="Herald ships">'
            '<meta property="og:description" content="Scheduling, approved.">'
            '<meta property="og:image" content="/card.png"></head><body></body></html>'
        )

    @app.get("/card.png")
    def card() -> Response:
        hits["card"] = hits.get("card", 0) + 1
        return Response(image, media_type="image/png")

    @app.get("/huge")
    def huge() -> HTMLResponse:  # over the 1 MB a card page may have
        return HTMLResponse('<html><head><meta property="og:title" content="Huge"></head>' + "x" * 1_100_000)

    @app.get("/big-image")
    def big_image() -> HTMLResponse:
        return HTMLResponse('<html><head><title> Big\n image </title><meta property="og:image" content="/big.png">')

    @app.get("/big.png")
    def big() -> Response:  # over the thumb's 1,000,000 bytes
        return Response(b"\x89PNG" + b"0" * 1_000_001, media_type="image/png")

    with ServedApp(app, name="site") as served:
        yield served.url, hits


async def test_a_link_gets_a_card_with_its_image(
    fake: FakeBluesky, http: httpx.AsyncClient, site: tuple[str, dict[str, int]]
) -> None:
    url, hits = site
    client = client_for(fake, http)
    credentials = await connect(client)
    progress = MemoryProgress()
    text = f"Read this: {url}/article"
    await client.publish(publication(credentials, text, progress=progress))
    [post] = fake.posts
    embed = post.record["embed"]
    assert embed["$type"] == "app.bsky.embed.external"
    external = embed["external"]
    assert (external["uri"], external["title"], external["description"]) == (
        f"{url}/article",
        "Herald ships",
        "Scheduling, approved.",
    )
    assert fake.blobs[external["thumb"]["ref"]["$link"]].mime_type == "image/png"
    [link] = post.record["facets"]
    assert link["features"][0]["uri"] == f"{url}/article"
    assert hits == {"article": 1, "card": 1} and fake.calls[UPLOAD] == 1


async def test_a_card_that_cant_be_made_never_fails_the_post(
    fake: FakeBluesky, http: httpx.AsyncClient, site: tuple[str, dict[str, int]]
) -> None:
    url, _ = site
    client = client_for(fake, http)
    credentials = await connect(client)
    await client.publish(publication(credentials, f"gone: {url}/missing"))
    await client.publish(publication(credentials, f"huge: {url}/huge"))
    await client.publish(publication(credentials, f"big image: {url}/big-image"))
    missing, huge, big = fake.posts
    assert "embed" not in missing.record and missing.record["facets"][0]["features"][0]["uri"] == f"{url}/missing"
    assert "embed" not in huge.record
    assert big.record["embed"]["external"] == {"uri": f"{url}/big-image", "title": "Big image", "description": ""}
    assert fake.calls[UPLOAD] == 0


# --- errors, from the PDS's bodies


async def test_an_expired_access_token_refreshes_and_publishes(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    progress = MemoryProgress()
    fake.expire_access_tokens()
    with pytest.raises(AuthExpired, match="Token has expired"):
        await client.publish(publication(credentials, "after refresh", progress=progress))
    renewed = await client.refresh(credentials)
    await client.publish(publication(renewed, "after refresh", progress=progress))
    assert [p.record["text"] for p in fake.posts] == ["after refresh"]


async def test_rate_limited_until_the_reset(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    fake.script(CREATE, "rate_limit")
    with pytest.raises(RateLimited, match="Rate Limit Exceeded") as caught:
        await client.publish(publication(credentials))
    assert caught.value.retry_after is not None and 100 <= caught.value.retry_after <= 121
    assert fake.posts == []


async def test_invalid_requests_and_takedowns_are_rejected_with_the_reason(
    fake: FakeBluesky, http: httpx.AsyncClient
) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    fake.script(CREATE, "invalid")
    with pytest.raises(Rejected, match="Bluesky said: Input/record must be an object"):
        await client.publish(publication(credentials))
    with pytest.raises(Rejected, match="300 graphemes"):
        await client.publish(publication(credentials, "é" * 301))  # the fake validates as the PDS does
    fake.takedown()
    with pytest.raises(Rejected, match="taken down") as caught:
        await client.publish(publication(credentials))
    assert not isinstance(caught.value, AuthExpired)
    assert fake.posts == []


async def test_missing_or_garbage_tokens_need_reconnecting(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    garbage = credentials.model_copy(update={"access_token": "a.b.c"})
    with pytest.raises(AuthExpired, match="Token could not be verified"):
        await client.publish(publication(garbage))
    with pytest.raises(AuthExpired):
        await client.publish(publication(Credentials()))
    assert fake.posts == []


async def test_server_errors_are_transient(fake: FakeBluesky, http: httpx.AsyncClient) -> None:
    client = client_for(fake, http)
    credentials = await connect(client)
    fake.script(CREATE, "server_error")
    with pytest.raises(PlatformDown):
        await client.publish(publication(credentials))
    assert fake.posts == [] and fake.calls[GET] == 1  # it looked for the rkey before giving up
