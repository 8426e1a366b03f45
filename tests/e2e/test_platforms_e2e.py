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
from PIL import Image

from bot.http import create_app
from bot.notifiers import OutboxNotifier
from bot.wiring import build_media
from handlers.app import Herald as HeraldApp
from handlers.context import Services
from handlers.drafting import media as drafting_media
from handlers.ports import NullScheduler
from handlers.publishing import holds
from handlers.settings import Settings
from handlers.text.platforms import PLATFORMS
from handlers.timing import recurring
from models.accounts import AccountStatus, SocialAccount
from models.lifecycle import DeliveryState
from models.posts import Delivery, Post
from tasks.platforms import dry_run, live
from tasks.platforms.base import AccountChoice, Client, Credentials
from tasks.platforms.media import Media
from tasks.runtime import Runtime
from tests.auxil.chat import Chat, FrozenClock
from tests.bot.harness import serving
from tests.fakes.bluesky import FakeBluesky
from tests.fakes.linkedin import CLIENT_ID as LINKEDIN_ID
from tests.fakes.linkedin import CLIENT_SECRET as LINKEDIN_SECRET
from tests.fakes.linkedin import FakeLinkedIn
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.meta import MetaGraph
from tests.fakes.server import ServedApp
from tests.fakes.telegram import BOT_TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.fakes.threads import FakeThreads
from tests.fakes.x import CLIENT_ID as X_ID
from tests.fakes.x import CLIENT_SECRET as X_SECRET
from tests.fakes.x import FakeX

pytestmark = pytest.mark.postgres

#: Every platform call; short, so a hang is an unknown outcome within a second.
TIMEOUT = httpx.Timeout(connect=2.0, read=1.0, write=2.0, pool=2.0)
BLUESKY_PASSWORD = "abcd-efgh-ijkl-mnop"
TEXT = "Fresh roast is out: https://acme.example/roast"


def jpeg(width: int = 600, height: int = 600) -> bytes:
    """A real JPEG every platform takes as it is (no conversion on the way)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (180, 110, 40)).save(out, "JPEG", quality=85)
    return out.getvalue()


# --- Herald's HTTP side (signed media links), recording what the platforms fetched


class Recorder:
    """ASGI middleware around Herald's HTTP app: every request's path and status (who fetched which media)."""

    def __init__(self) -> None:
        self.app: Any = None  # set once the server's port, and so HERALD_PUBLIC_URL, is known
        self.seen: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # nothing to start: the test's database connection is the app's
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
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

    def fetched(self, ref: str) -> list[int]:
        """The statuses Herald answered requests for ``ref``'s media link with."""
        with self._lock:
            return [status for path, status in self.seen if path == f"/media/{ref}"]


# --- the fakes, each pointed at by its platform's environment variables


@dataclass
class Fakes:
    x: FakeX
    meta: MetaGraph
    linkedin: FakeLinkedIn
    threads: FakeThreads
    mastodon: FakeMastodon
    bluesky: FakeBluesky
    telegram: FakeTelegram
    channel: int


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    with ExitStack() as stack:
        x = stack.enter_context(FakeX())
        meta = stack.enter_context(MetaGraph())
        linkedin = stack.enter_context(FakeLinkedIn())
        threads = FakeThreads(username="acme.threads")
        threads.url = stack.enter_context(ServedApp(threads.app, name="fake-threads")).url
        mastodon = stack.enter_context(FakeMastodon())
        bluesky = stack.enter_context(FakeBluesky(app_password=BLUESKY_PASSWORD))
        telegram = stack.enter_context(FakeTelegram())
        env = {
            "X_CLIENT_ID": X_ID,
            "X_CLIENT_SECRET": X_SECRET,
            "X_API_URL": x.url,
            "X_AUTHORIZE_URL": f"{x.url}/i/oauth2/authorize",
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
            "MASTODON_MEDIA_POLL_SECONDS": "0.02",
            "BLUESKY_PDS_URL": bluesky.url,
            "BLUESKY_WEB_URL": "https://bsky.app",
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_API_URL": telegram.url,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        user = meta.add_user("Ada")
        meta.add_page(user, "Acme Coffee", instagram="acmecoffee")
        channel = telegram.add_channel("acme", "Acme News")
        yield Fakes(x, meta, linkedin, threads, mastodon, bluesky, telegram, channel)
        x.release()
        meta.release()
        linkedin.release()


# --- Herald, in-process, publishing with the real clients


@dataclass
class Herald:
    chat: Chat
    fakes: Fakes
    http: httpx.AsyncClient
    media: Media
    served: Recorder
    public_url: str

    def client(self, platform: str) -> Client:
        found = self.chat.runtime.publishers.for_platform(platform)
        assert found is not None, platform
        return found

    async def login(self, platform: str, instance: str | None = None) -> dict[str, Any]:
        """An admin's OAuth round: authorize (consented by the fake), then the code exchange (PKCE if offered)."""
        spec = await self.client(platform).oauth(instance)
        verifier = secrets.token_urlsafe(48) if spec.pkce else None
        async with AsyncOAuth2Client(
            client_id=spec.client_id,
            client_secret=spec.client_secret,
            scope=spec.scope_separator.join(spec.scopes),
            redirect_uri=f"{self.public_url}/oauth/{platform}/callback",
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
        if platform == "telegram":
            return await client.connect_secret({"channel": "@acme"})
        instance = self.fakes.mastodon.url if platform == "mastodon" else None
        return await client.accounts(await self.login(platform, instance), instance)

    async def connect(self, platform: str) -> SocialAccount:
        """Connect the platform's account as chat would (its first choice), and keep it (encrypted) as Herald does;
        an account already there gets the new credentials and works again (a reconnect)."""
        choice = (await self.choices(platform))[0]
        creds = choice.credentials
        handle = choice.handle
        existing = await SocialAccount.get_or_none(handle=handle)
        if existing is not None and existing.platform != platform:  # the name is another platform's account's
            handle = f"{handle}-{platform}"
            existing = await SocialAccount.get_or_none(handle=handle)
        if existing is not None:
            existing.credentials = creds.to_json()  # type: ignore[assignment]
            existing.credentials_rev += 1
            existing.token_expires_at = creds.expires_at
            existing.status, existing.status_reason = AccountStatus.OK.value, None
            await existing.save()
            return existing
        return await SocialAccount.create(
            platform=platform,
            handle=handle,
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

    async def image(self, data: bytes | None = None) -> tuple[str, bytes]:
        """A JPEG put in Herald's media store (as an adapter does with an attached file): its ref and bytes."""
        data = data if data is not None else jpeg()
        return await self.media.store.put(data, "image/jpeg", "roast.jpg"), data


def chat_with(media: Media) -> Chat:
    """:meth:`Chat.build`, with the media store in the services and the runtime (as ``bot.wiring`` has them)."""
    recurring.install()
    clock = FrozenClock()
    notifier = OutboxNotifier()
    services = Services(notifier=notifier, scheduler=NullScheduler(), clock=clock, media=media.store)
    runtime = Runtime(publishers=dry_run(), notifier=notifier, clock=clock, media=media)
    return Chat(HeraldApp(services), runtime, clock)


@pytest.fixture
async def herald(pg_db: str, fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Herald]:
    recorder = Recorder()
    # in this event loop (not ServedApp's thread): the media store reads the database through the test's connection
    async with serving(recorder) as public_url:
        monkeypatch.setenv("HERALD_PUBLIC_URL", public_url)
        monkeypatch.setenv("DATABASE_URL", pg_db)
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        media = build_media(settings)  # PostgreSQL: the media live in the database
        recorder.app = create_app(settings, media=media, lifespan=False)
        chat = chat_with(media)
        drafting_media.install(media.store)
        await chat.say("/role add bob approver")
        try:
            async with httpx.AsyncClient() as http:
                chat.runtime.publishers = live(http, TIMEOUT)
                yield Herald(chat, fakes, http, media, recorder, public_url)
        finally:
            drafting_media.install(None)


async def stored(account: SocialAccount) -> tuple[Credentials, SocialAccount]:
    fresh = await SocialAccount.get(id=account.id)
    return Credentials.from_json(fresh.credentials), fresh


# --- 1. one post with an image to every platform

ALL = ("x", "facebook", "instagram", "linkedin", "threads", "mastodon", "bluesky", "telegram")


async def test_one_post_with_an_image_goes_to_all_eight_platforms_with_a_link_each(herald: Herald) -> None:
    fakes = herald.fakes
    accounts = {name: await herald.connect(name) for name in ALL}
    ref, data = await herald.image()

    post_id = await herald.post([a.handle for a in accounts.values()], media=(ref,))
    reports = (await herald.chat.publish_due()).splitlines()

    assert len(reports) == 8 and all(r.startswith(f"Post {post_id} by @alice published to ") for r in reports), reports
    deliveries = {d.account_id: d for d in await Delivery.filter(post_id=post_id)}
    urls: dict[str, str] = {}
    for name, account in accounts.items():
        delivery = deliveries[account.id]
        assert delivery.state == DeliveryState.PUBLISHED, (name, delivery.last_error)
        label = PLATFORMS[name].label
        [line] = [r for r in reports if f"published to {account.handle} ({label})" in r]
        assert delivery.url and line.endswith(f": {delivery.url}"), (name, line)
        urls[name] = delivery.url
    link = f"{herald.public_url}/media/{ref}?"

    # X: one post with the chunk-uploaded image
    [tweet] = fakes.x.tweets
    assert tweet.text == TEXT and len(tweet.media_ids) == 1
    assert b"".join(fakes.x.uploads[tweet.media_ids[0]].segments.values()) == data
    assert urls["x"] == f"https://x.com/acme/status/{tweet.id}"
    # Facebook: one Page post carrying the photo Facebook fetched from Herald's signed link
    [fb] = fakes.meta.page_posts()
    assert fb.message == TEXT and len(fb.photo_ids) == 1
    assert fakes.meta.photos[fb.photo_ids[0]].url.startswith(link + "p=facebook&")
    assert fb.id in urls["facebook"]
    # Instagram: one media from a container whose image Instagram fetched (all of its bytes)
    [ig] = fakes.meta.published()
    container = fakes.meta.containers[ig.container_id]
    assert ig.caption == TEXT and container.fetched == len(data)
    assert (container.image_url or "").startswith(link + "p=instagram&")
    assert urls["instagram"] == ig.permalink
    # LinkedIn: one post with the uploaded image
    [li] = fakes.linkedin.posts
    [image] = [i for i in fakes.linkedin.images.values() if i.data is not None]
    assert image.data == data and li["content"]["media"]["id"] == image.urn
    assert urls["linkedin"] == f"https://www.linkedin.com/feed/update/{li['id']}/"
    # Threads: one post whose image Threads fetched from the link
    [th] = fakes.threads.published
    assert th.text == TEXT and th.media_type == "IMAGE"
    [url] = th.image_urls
    assert url.startswith(link + "p=threads&") and (url, 200) in fakes.threads.fetches
    assert urls["threads"] == th.permalink
    # Mastodon: one status with the uploaded attachment
    [status] = fakes.mastodon.statuses
    assert status.text == TEXT and len(status.media_ids) == 1
    assert fakes.mastodon.media[status.media_ids[0]].size == len(data)
    assert urls["mastodon"].endswith(f"/{status.id}")
    # Bluesky: one record with the uploaded blob and the link as a facet
    [bs] = fakes.bluesky.posts
    assert bs.record["text"] == TEXT
    [blob] = fakes.bluesky.blobs.values()
    assert blob.data == data and bs.record["embed"]["images"][0]["image"]["ref"]["$link"] in fakes.bluesky.blobs
    assert bs.record["facets"][0]["features"][0]["uri"] == "https://acme.example/roast"
    assert urls["bluesky"] == f"https://bsky.app/profile/acme.bsky.social/post/{bs.rkey}"
    # Telegram: one photo in the channel, its caption the text
    [sent] = fakes.telegram.messages
    assert sent.chat_id == fakes.channel and sent.method == "sendPhoto" and sent.text == TEXT
    assert [(kind, size) for kind, _, _, size in sent.media] == [("photo", len(data))]
    assert urls["telegram"] == f"https://t.me/acme/{sent.message_id}"
    # Herald's HTTP side served the by-URL platforms (Facebook, Instagram, Threads) and only them
    assert herald.served.fetched(ref).count(200) >= 3 and set(herald.served.fetched(ref)) == {200}
