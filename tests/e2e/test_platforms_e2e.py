"""Herald publishing for real: the platforms' own clients (``tasks.platforms.live``) against every fake platform
server over real HTTP, on PostgreSQL, with Herald driven in-process as a chat would (draft, approve, publish due).

Accounts are connected as an admin's ``/account connect`` would: the OAuth platforms through their authorize and
token endpoints (Authlib, PKCE where the platform has it) and the client's ``accounts()``; the secret ones through
``connect_secret()``. Platforms that fetch media by URL fetch it from Herald's HTTP side, served here on 127.0.0.1.
"""

from __future__ import annotations

import io
import secrets
import threading
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import FastAPI
from fastapi.responses import Response
from PIL import Image

from handlers.publishing import holds
from models.accounts import AccountStatus, SocialAccount
from models.lifecycle import DeliveryState
from models.posts import Delivery, Post
from tasks.platforms import by_name, live
from tasks.platforms.base import AccountChoice, Client, Credentials, MediaFile
from tests.auxil.chat import Chat
from tests.fakes.bluesky import FakeBluesky
from tests.fakes.linkedin import CLIENT_ID as LINKEDIN_ID
from tests.fakes.linkedin import CLIENT_SECRET as LINKEDIN_SECRET
from tests.fakes.linkedin import FakeLinkedIn
from tests.fakes.meta import MetaGraph
from tests.fakes.server import ServedApp
from tests.fakes.threads import FakeThreads

pytestmark = pytest.mark.postgres

#: Every platform call; short, so a hang is an unknown outcome within a second.
TIMEOUT = httpx.Timeout(connect=2.0, read=1.0, write=2.0, pool=2.0)
REDIRECT = "https://herald.example/oauth/{platform}/callback"
BLUESKY_PASSWORD = "abcd-efgh-ijkl-mnop"
TEXT = "Fresh roast is out: https://acme.example/roast"


def jpeg(width: int = 600, height: int = 600) -> bytes:
    """A real JPEG every platform takes as it is (no conversion on the way)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (180, 110, 40)).save(out, "JPEG", quality=85)
    return out.getvalue()


# --- Herald's HTTP side (media links), recording what platforms fetched


class Recorder:
    """ASGI middleware: every request's path and status, for asserting who fetched which media link."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def sending(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            with self._lock:
                self.seen.append((str(scope["path"]), status))

    def fetched(self, ref: str) -> int:
        with self._lock:
            return sum(1 for path, status in self.seen if path == f"/media/{ref}" and status == 200)


class MemoryMedia:
    """TEMPORARY media store and links until the product's media store lands: files by ref, served at /media/."""

    def __init__(self) -> None:
        self.files: dict[str, MediaFile] = {}
        self.public = ""
        app = FastAPI()

        @app.get("/media/{ref}")
        async def serve(ref: str) -> Response:
            found = self.files.get(ref)
            if found is None:
                return Response(b"not found", status_code=404)
            return Response(found.data, media_type=found.content_type)

        self.app = app

    def put(self, data: bytes, content_type: str = "image/jpeg") -> str:
        ref = secrets.token_hex(8) + ".jpg"
        self.files[ref] = MediaFile(ref=ref, data=data, content_type=content_type)
        return ref

    def for_platform(self, name: str) -> MemoryMedia:
        return self

    async def read(self, ref: str) -> MediaFile:
        return self.files[ref]

    def public_url(self, ref: str, ttl: timedelta = timedelta(hours=24)) -> str:
        return f"{self.public}/media/{ref}?sig=test"


# --- the fakes, each pointed at by its platform's environment variables


@dataclass
class Fakes:
    meta: MetaGraph
    linkedin: FakeLinkedIn
    threads: FakeThreads
    bluesky: FakeBluesky
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    with ExitStack() as stack:
        meta = stack.enter_context(MetaGraph())
        linkedin = stack.enter_context(FakeLinkedIn())
        threads = FakeThreads(username="acme.threads")
        threads.url = stack.enter_context(ServedApp(threads.app, name="fake-threads")).url
        bluesky = stack.enter_context(FakeBluesky(app_password=BLUESKY_PASSWORD, hang_seconds=2.0))
        env = {
            "FACEBOOK_APP_ID": meta.app_id,
            "FACEBOOK_APP_SECRET": meta.app_secret,
            "FACEBOOK_API_URL": meta.url,
            "FACEBOOK_GRAPH_VERSION": meta.version,
            "FACEBOOK_AUTHORIZE_URL": meta.url + "/{version}/dialog/oauth",
            "INSTAGRAM_POLL_SECONDS": "0.02",
            "INSTAGRAM_MAX_POLLS": "10",
            "LINKEDIN_CLIENT_ID": LINKEDIN_ID,
            "LINKEDIN_CLIENT_SECRET": LINKEDIN_SECRET,
            "LINKEDIN_API_URL": linkedin.url,
            "LINKEDIN_AUTH_URL": linkedin.auth_url,
            "THREADS_APP_ID": threads.app_id,
            "THREADS_APP_SECRET": threads.app_secret,
            "THREADS_API_URL": threads.url,
            "THREADS_AUTHORIZE_URL": threads.url + "/oauth/authorize",
            "THREADS_POLL_INTERVAL": "0.02",
            "THREADS_POLL_ATTEMPTS": "10",
            "BLUESKY_PDS_URL": bluesky.url,
            "BLUESKY_WEB_URL": "https://bsky.app",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        user = meta.add_user("Ada")
        meta.add_page(user, "Acme Coffee", instagram="acmecoffee")
        yield Fakes(meta, linkedin, threads, bluesky, env)
        meta.release()
        linkedin.release()


# --- Herald, in-process, publishing with the real clients


@dataclass
class Herald:
    chat: Chat
    fakes: Fakes
    http: httpx.AsyncClient
    media: MemoryMedia
    served: Recorder

    def client(self, platform: str) -> Client:
        found = self.chat.runtime.publishers.for_platform(platform)
        assert found is not None, platform
        return found

    async def login(self, platform: str) -> dict[str, Any]:
        """An admin's OAuth round: authorize (consented by the fake), then the code exchange (PKCE if offered)."""
        spec = await self.client(platform).oauth()
        verifier = secrets.token_urlsafe(48) if spec.pkce else None
        async with AsyncOAuth2Client(
            client_id=spec.client_id,
            client_secret=spec.client_secret,
            scope=spec.scope_separator.join(spec.scopes),
            redirect_uri=REDIRECT.format(platform=platform),
            token_endpoint_auth_method=spec.token_auth,
            code_challenge_method="S256" if spec.pkce else None,
            timeout=5,
        ) as oauth:
            url, _ = oauth.create_authorization_url(spec.authorize_url, code_verifier=verifier, **spec.authorize_params)
            consent = await self.http.get(url, follow_redirects=False)
            assert consent.status_code in (302, 303), consent.text
            location = consent.headers["location"]
            assert "code=" in location, location
            token: dict[str, Any] = await oauth.fetch_token(
                spec.token_url, authorization_response=location, code_verifier=verifier
            )
        return token

    async def choices(self, platform: str) -> list[AccountChoice]:
        client = self.client(platform)
        if platform == "bluesky":
            return await client.connect_secret({"handle": "acme.bsky.social", "app_password": BLUESKY_PASSWORD})
        return await client.accounts(await self.login(platform))

    async def connect(self, platform: str, pick: int = 0) -> SocialAccount:
        """Connect the platform's account as chat would, and keep it (encrypted) as Herald does."""
        choice = (await self.choices(platform))[pick]
        creds = choice.credentials
        existing = await SocialAccount.get_or_none(handle=choice.handle)
        if existing is not None:  # a reconnect
            existing.credentials = creds.to_json()  # type: ignore[assignment]
            existing.credentials_rev += 1
            existing.token_expires_at = creds.expires_at
            existing.status, existing.status_reason = AccountStatus.OK.value, None
            await existing.save()
            return existing
        return await SocialAccount.create(
            platform=platform,
            handle=choice.handle,
            label=choice.label,
            url=choice.url,
            credentials=creds.to_json(),
            token_expires_at=creds.expires_at,
        )

    async def post(self, handles: list[str], text: str = TEXT, *, media: tuple[str, ...] = ()) -> int:
        """Drafted by alice, approved by bob; the post's id."""
        option = f" --media {','.join(media)}" if media else ""
        answer = await self.chat.say(f"/draft --to {','.join(handles)}{option} {text}")
        assert not self.chat.errors, answer
        post = await Post.all().order_by("-id").first()
        assert post is not None
        answer = await self.chat.say(f"/approve {post.id}", as_="bob")
        assert not self.chat.errors, answer
        return post.id

    def image(self, data: bytes | None = None) -> tuple[str, bytes]:
        data = data if data is not None else jpeg()
        return self.media.put(data), data


@pytest.fixture
async def herald(pg_db: str, fakes: Fakes) -> AsyncIterator[Herald]:
    media = MemoryMedia()
    served = Recorder(media.app)
    with ServedApp(served, name="herald-http") as app:
        media.public = app.url
        chat = Chat.build()
        await chat.say("/role add bob approver")
        async with httpx.AsyncClient() as http:
            chat.runtime.publishers = live(http, TIMEOUT)
            chat.runtime.media = media
            yield Herald(chat, fakes, http, media, served)


async def stored(account: SocialAccount) -> Credentials:
    fresh = await SocialAccount.get(id=account.id)
    return Credentials.from_json(fresh.credentials)


# --- 1. one post with an image to every platform


async def test_one_post_with_an_image_goes_to_every_platform_with_a_link_each(herald: Herald) -> None:
    fakes = herald.fakes
    accounts = {name: await herald.connect(name) for name in ("facebook", "instagram", "linkedin", "threads")}
    accounts["bluesky"] = await herald.connect("bluesky")
    ref, data = herald.image()

    post_id = await herald.post([a.handle for a in accounts.values()], media=(ref,))
    reports = (await herald.chat.publish_due()).splitlines()

    assert len(reports) == len(accounts), reports
    deliveries = {d.account_id: d for d in await Delivery.filter(post_id=post_id)}
    for name, account in accounts.items():
        delivery = deliveries[account.id]
        assert delivery.state == DeliveryState.PUBLISHED, (name, delivery.last_error)
        label = by_name(name).rules.label  # type: ignore[union-attr]
        [line] = [r for r in reports if f"published to {account.handle} ({label})" in r]
        assert delivery.url and line.endswith(f": {delivery.url}"), (name, line)

    # Facebook: one Page post carrying the photo it fetched from Herald's signed link
    [fb] = fakes.meta.page_posts()
    assert fb.message == TEXT and len(fb.photo_ids) == 1
    photo = fakes.meta.photos[fb.photo_ids[0]]
    assert photo.url.startswith(f"{herald.media.public}/media/{ref}?")
    assert deliveries[accounts["facebook"].id].url == f"https://www.facebook.com/{fb.id}"
    # Instagram: one media from a container whose image Instagram fetched (all of its bytes)
    [ig] = fakes.meta.published()
    container = fakes.meta.containers[ig.container_id]
    assert ig.caption == TEXT and container.fetched == len(data)
    assert (container.image_url or "").startswith(f"{herald.media.public}/media/{ref}?")
    assert deliveries[accounts["instagram"].id].url == ig.permalink
    # LinkedIn: one post with the uploaded image
    [li] = fakes.linkedin.posts
    [image] = [i for i in fakes.linkedin.images.values() if i.data is not None]
    assert image.data == data and li["content"]["media"]["id"] == image.urn
    assert deliveries[accounts["linkedin"].id].url == f"https://www.linkedin.com/feed/update/{li['id']}/"
    # Threads: one post whose image Threads fetched from the link
    [th] = fakes.threads.published
    assert th.text == TEXT and th.media_type == "IMAGE"
    [url] = th.image_urls
    assert url.startswith(f"{herald.media.public}/media/{ref}?")
    assert (url, 200) in fakes.threads.fetches
    assert deliveries[accounts["threads"].id].url == th.permalink
    # Bluesky: one record with the uploaded blob and the link as a facet
    [bs] = fakes.bluesky.posts
    assert bs.record["text"] == TEXT
    [blob] = fakes.bluesky.blobs.values()
    assert blob.data == data
    assert bs.record["embed"]["images"][0]["image"]["ref"]["$link"] in fakes.bluesky.blobs
    assert bs.record["facets"][0]["features"][0]["uri"] == "https://acme.example/roast"
    # the by-URL platforms fetched the file from Herald's HTTP side
    assert herald.served.fetched(ref) >= 3
