"""Herald publishing for real: the platforms' own clients (``tasks.platforms.live``) against every fake platform
server over real HTTP, on PostgreSQL, with Herald driven in-process as a chat would (draft, approve, publish due).

Accounts are connected from chat: ``/account connect PLATFORM``, its login link followed through Herald's login
pages, the fake's consent and Herald's callback (the secret platforms with the form's values). Herald's HTTP side
(``bot.http.create_app``: login pages and signed media links, ``HERALD_PUBLIC_URL``) is served on 127.0.0.1 in the
test's event loop, so it reads the media store (PostgreSQL) through the test's database connection; Facebook,
Instagram and Threads fetch the post's image from it.

Scenarios and platforms: one post with an image to all eight; an expired token refreshed (X, rotating refresh token,
after a refusal and ahead of expiry; Bluesky's session); a revoked account held, told with a Reconnect button, and
published after reconnecting (X, Facebook, Mastodon, LinkedIn, Threads); a duplicate (X); a rate limit with its
reset (Mastodon); an Instagram container IN_PROGRESS then FINISHED, and one in ERROR; an unanswered post settled by
verification (X, Facebook, Threads), and one the platform can't show asking a human once (Telegram, a LinkedIn
member).
"""

from __future__ import annotations

import io
import threading
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.http import create_app
from bot.notifiers import OutboxNotifier
from bot.oauth import LoginPages
from bot.wiring import build_media
from handlers.app import Herald as HeraldApp
from handlers.context import Services
from handlers.drafting import media as drafting_media
from handlers.messages import Reply
from handlers.ports import NullScheduler
from handlers.publishing import holds
from handlers.settings import Settings
from handlers.text.platforms import PLATFORMS
from handlers.timing import recurring
from models.accounts import AccountStatus, SocialAccount
from models.lifecycle import DeliveryState
from models.media import MediaBlob
from models.outbox import OutboxMessage
from models.posts import Delivery, Post
from tasks.platforms import Publishers, live
from tasks.platforms.base import Client, Credentials
from tasks.platforms.directory import Directory
from tasks.platforms.media import Media
from tasks.runtime import Runtime
from tests.auxil.chat import CONVERSATION, Chat, FrozenClock
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
        threads.hang_seconds = 1.5  # a held answer outlasts Herald's 1 s read timeout, and no more
        threads.url = stack.enter_context(ServedApp(threads.app, name="fake-threads")).url
        mastodon = stack.enter_context(FakeMastodon())
        bluesky = stack.enter_context(FakeBluesky(app_password=BLUESKY_PASSWORD))
        telegram = stack.enter_context(FakeTelegram())
        telegram.hang_seconds = 1.5
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

    async def connect(self, platform: str, command: str | None = None) -> SocialAccount:
        """``/account connect PLATFORM`` as an admin: the login link followed in a browser (Herald's login pages,
        the fake's consent, Herald's callback and code exchange), or the secret form's values; the first account
        when the login gives several. Herald says "Connected …" in the chat; the account it saved. ``command``:
        what to say instead of ``/account connect PLATFORM`` (a Reconnect button's command)."""
        chat = self.chat
        if platform == "bluesky":
            await chat.say(f"/account connect bluesky handle=acme.bsky.social app_password={BLUESKY_PASSWORD}")
        elif platform == "telegram":
            await chat.say("/account connect telegram channel=@acme")
        else:
            server = f" {self.fakes.mastodon.url}" if platform == "mastodon" else ""
            await chat.say(command or f"/account connect {platform}{server}")
            assert not chat.errors, chat.errors
            [link] = chat.last[0].buttons
            assert link.url and link.url.startswith(f"{self.public_url}/oauth/{platform}/start?state=")
            async with httpx.AsyncClient(timeout=10) as browser:
                page = await browser.get(link.url, follow_redirects=True)
            assert page.status_code == 200 and str(page.url).startswith(self.public_url), page.text
            if "pick the one to connect in chat" in page.text:
                [offer] = [r for r in await self.outbox() if r.buttons and "/account pick" in r.buttons[0].command]
                await chat.say(offer.buttons[0].command)
        assert not chat.errors, chat.errors
        said = [r.text for r in await self.outbox() if r.text.startswith("Connected ")]
        assert len(said) == 1, said
        handle = said[0].split(" as ", 1)[1].split(". Draft to it", 1)[0]
        return await SocialAccount.get(handle=handle)

    async def outbox(self) -> list[Reply]:
        """What Herald said in the conversation since the last look."""
        rows = await OutboxMessage.filter(delivered_at__isnull=True, channel=CONVERSATION.channel).order_by("id")
        await OutboxMessage.filter(id__in=[r.id for r in rows]).update(delivered_at=self.chat.clock.now())
        return [Reply.from_json(r.payload) for r in rows]

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


def chat_with(media: Media, publishers: Publishers, public_url: str) -> Chat:
    """:meth:`Chat.build` with what ``bot.wiring`` gives a live Herald: the media store, the platforms' clients
    for ``/account connect`` and the public address of the login pages."""
    recurring.install()
    clock = FrozenClock()
    notifier = OutboxNotifier()
    services = Services(
        notifier=notifier,
        scheduler=NullScheduler(),
        clock=clock,
        media=media.store,
        platforms=Directory(publishers),
        public_url=public_url,
    )
    runtime = Runtime(publishers=publishers, notifier=notifier, clock=clock, media=media)
    return Chat(HeraldApp(services), runtime, clock)


@pytest.fixture
async def herald(pg_db: str, fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Herald]:
    recorder = Recorder()
    # in this event loop (not ServedApp's thread): the media store and the login pages use the test's database
    # connection, as Herald's HTTP side uses its process's
    async with serving(recorder) as public_url, httpx.AsyncClient() as http:
        monkeypatch.setenv("HERALD_PUBLIC_URL", public_url)
        monkeypatch.setenv("DATABASE_URL", pg_db)
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        media = build_media(settings)  # PostgreSQL: the media live in the database
        chat = chat_with(media, live(http, TIMEOUT), public_url)
        services = chat.herald.services
        login = LoginPages(Directory(chat.runtime.publishers), services, public_url)
        recorder.app = create_app(settings, media=media, login=login, lifespan=False)
        drafting_media.install(media.store)
        await chat.say("/role add bob approver")
        try:
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


# --- 2. an expired token is refreshed and the post goes out


async def test_an_expired_x_token_is_refreshed_with_its_rotating_refresh_token_and_the_post_goes_out(
    herald: Herald,
) -> None:
    x = herald.fakes.x
    account = await herald.connect("x")
    before, _ = await stored(account)
    x.expire(before.access_token or "")  # X's 2-hour token ran out

    post_id = await herald.post([account.handle])
    report = await herald.chat.publish_due()

    [tweet] = x.tweets
    assert report == f"Post {post_id} by @alice published to acme (X): https://x.com/acme/status/{tweet.id}"
    after, fresh = await stored(account)
    assert after.access_token != before.access_token and after.refresh_token != before.refresh_token
    assert after.refresh_token in x.refresh and before.refresh_token not in x.refresh  # rotated: the old one is dead
    assert after.expires_at and after.expires_at > herald.chat.clock.now() + timedelta(minutes=110)
    assert fresh.credentials_rev == account.credentials_rev + 1 and fresh.status == AccountStatus.OK.value
    assert x.hits("/2/oauth2/token") == 2  # the login's code exchange, then one refresh
    assert x.hits("/2/tweets") == 2  # refused with the expired token, then sent with the new one


async def test_an_x_token_about_to_expire_is_refreshed_before_the_call(herald: Herald) -> None:
    x = herald.fakes.x
    account = await herald.connect("x")
    before, _ = await stored(account)
    soon = herald.chat.clock.now() + timedelta(minutes=3)  # inside Herald's five minutes ahead
    await SocialAccount.filter(id=account.id).update(
        credentials=before.model_copy(update={"expires_at": soon}).to_json(), token_expires_at=soon
    )

    await herald.post([account.handle])
    assert "published to acme (X)" in await herald.chat.publish_due()

    after, _ = await stored(account)
    assert after.refresh_token != before.refresh_token and before.refresh_token not in x.refresh
    assert x.hits("/2/tweets") == 1  # refreshed first: no call refused
    assert [t.text for t in x.tweets] == [TEXT]


async def test_a_bluesky_session_is_refreshed_not_logged_into_again(herald: Herald) -> None:
    bluesky = herald.fakes.bluesky
    account = await herald.connect("bluesky")
    before, _ = await stored(account)
    bluesky.expire_access_tokens()

    await herald.post([account.handle])
    assert "published to acme.bsky.social (Bluesky)" in await herald.chat.publish_due()

    after, _ = await stored(account)
    assert after.refresh_token != before.refresh_token
    assert len(bluesky.posts) == 1
    assert bluesky.calls["com.atproto.server.refreshSession"] == 1
    assert bluesky.calls["com.atproto.server.createSession"] == 1  # the connect's only: sessions are rate-limited


# --- 3. a revoked token holds the post, tells with a Reconnect button, and the post goes out after reconnecting


def revoke_x(fakes: Fakes, creds: Credentials) -> None:
    fakes.x.revoke(creds.access_token or "")
    fakes.x.revoke(creds.refresh_token or "")


def revoke_facebook(fakes: Fakes, creds: Credentials) -> None:
    fakes.meta.invalidate(creds.access_token or "")


def revoke_mastodon(fakes: Fakes, creds: Credentials) -> None:
    fakes.mastodon.revoke(creds.access_token or "")


def revoke_linkedin(fakes: Fakes, creds: Credentials) -> None:
    fakes.linkedin.expire(creds.access_token or "")  # a 60-day token without a refresh token (not a partner app)


def revoke_threads(fakes: Fakes, creds: Credentials) -> None:
    fakes.threads.revoke_token(creds.access_token or "")


def published_x(fakes: Fakes) -> list[str]:
    return [t.text for t in fakes.x.tweets]


def published_facebook(fakes: Fakes) -> list[str]:
    return [p.message for p in fakes.meta.page_posts()]


def published_mastodon(fakes: Fakes) -> list[str]:
    return [s.text for s in fakes.mastodon.statuses]


def published_linkedin(fakes: Fakes) -> list[str]:
    return [str(p["commentary"]) for p in fakes.linkedin.posts]


def published_threads(fakes: Fakes) -> list[str]:
    return [p.text for p in fakes.threads.published]


REVOKED = {
    "x": (revoke_x, published_x),
    "facebook": (revoke_facebook, published_facebook),
    "mastodon": (revoke_mastodon, published_mastodon),
    "linkedin": (revoke_linkedin, published_linkedin),
    "threads": (revoke_threads, published_threads),
}


@pytest.mark.parametrize("platform", list(REVOKED))
async def test_a_revoked_account_holds_the_post_tells_and_publishes_after_reconnecting(
    herald: Herald, platform: str
) -> None:
    revoke, published = REVOKED[platform]
    account = await herald.connect(platform)
    old, _ = await stored(account)
    revoke(herald.fakes, old)

    post_id = await herald.post([account.handle])
    report = await herald.chat.publish_due()

    assert f"Post {post_id} by @alice is held for {account.handle}" in report, report
    assert f"It goes out as soon as an admin reconnects {account.handle}." in report
    delivery = await Delivery.get(post_id=post_id)
    assert delivery.state == DeliveryState.HELD
    _, held = await stored(account)
    assert held.status == AccountStatus.RECONNECT and held.status_reason
    told = [r for r in await herald.chat.dms("alice") if "needs reconnecting" in r.text]
    assert told and told[0].buttons[0].label == "Reconnect", told
    assert published(herald.fakes) == []

    # five minutes later the admin clicks Reconnect and logs in again: new credentials for the same account, and
    # its held post goes out (late, within the grace window)
    herald.chat.clock.advance(minutes=5)
    reconnected = await herald.connect(platform, told[0].buttons[0].command)
    assert reconnected.id == account.id
    new, fresh = await stored(account)
    assert new.access_token != old.access_token and fresh.status == AccountStatus.OK.value
    assert fresh.credentials_rev > held.credentials_rev
    assert (await Delivery.get(post_id=post_id)).state == DeliveryState.SCHEDULED  # released by the reconnect
    assert await holds.release(account.id, herald.chat.herald.services) == (0, 0)  # nothing left held
    report = await herald.chat.publish_due()

    assert f"Post {post_id} by @alice published to {account.handle}" in report, report
    assert published(herald.fakes) == [TEXT]
    assert (await Delivery.get(post_id=post_id)).state == DeliveryState.PUBLISHED


# --- 4. a duplicate is reported with X's sentence and not retried


async def test_a_duplicate_on_x_is_reported_failed_with_xs_sentence_and_not_retried(herald: Herald) -> None:
    x = herald.fakes.x
    account = await herald.connect("x")
    x.add_tweet(TEXT)  # posted by hand earlier

    post_id = await herald.post([account.handle])
    report = await herald.chat.publish_due()

    assert report.startswith(f"Post {post_id} by @alice failed"), report
    assert "You are not allowed to create a Tweet with duplicate content." in report
    delivery = await Delivery.get(post_id=post_id)
    assert delivery.state == DeliveryState.FAILED
    herald.chat.clock.advance(hours=1)
    assert await herald.chat.publish_due() == ""
    assert x.hits("/2/tweets") == 1 and len(x.tweets) == 1  # the one from before; Herald asked once


# --- 5. a rate limit with a reset postpones to the reset, tells when, then publishes once


async def test_a_mastodon_rate_limit_postpones_to_its_reset_tells_when_and_publishes_once(herald: Herald) -> None:
    mastodon = herald.fakes.mastodon
    account = await herald.connect("mastodon")
    ref, data = await herald.image()
    mastodon.fail("statuses", "rate_limit")  # 429 with X-RateLimit-Reset two minutes ahead

    post_id = await herald.post([account.handle], media=(ref,))
    report = await herald.chat.publish_due()

    assert f"Post {post_id} by @alice goes to {account.handle} at" in report and "instead: " in report, report
    delivery = await Delivery.get(post_id=post_id)
    assert delivery.state == DeliveryState.SCHEDULED and delivery.attempts == 0  # a reset is no failed attempt
    assert delivery.due_at is not None
    wait = (delivery.due_at - herald.chat.clock.now()).total_seconds()
    assert 100 <= wait <= 125, wait
    assert delivery.due_at.strftime("%H:%M") in report
    assert await herald.chat.publish_due() == "" and mastodon.statuses == []  # not before the reset

    herald.chat.clock.advance(seconds=wait + 1)
    report = await herald.chat.publish_due()

    [status] = mastodon.statuses
    delivery = await Delivery.get(post_id=post_id)
    assert delivery.state == DeliveryState.PUBLISHED and (delivery.url or "").endswith(f"/{status.id}")
    assert report == f"Post {post_id} by @alice published to {account.handle} (Mastodon): {delivery.url}"
    assert mastodon.count("POST", "/api/v1/statuses") == 2  # the refused one and the one that went out
    assert mastodon.count("POST", "/api/v2/media") == 1  # the attachment wasn't uploaded again
    assert mastodon.media[status.media_ids[0]].size == len(data)


# --- 6. Instagram: a container still IN_PROGRESS then FINISHED; a container in ERROR


async def test_an_instagram_container_in_progress_is_waited_for_then_published(herald: Herald) -> None:
    meta = herald.fakes.meta
    account = await herald.connect("instagram")
    ref, _ = await herald.image()
    meta.set_in_progress(3)

    post_id = await herald.post([account.handle], media=(ref,))
    report = await herald.chat.publish_due()

    [media] = meta.published()
    assert report == f"Post {post_id} by @alice published to acmecoffee (Instagram): {media.permalink}"
    assert meta.count("GET", media.container_id) >= 4  # three looks IN_PROGRESS, then FINISHED
    assert meta.count("POST", "/media_publish") == 1


async def test_an_instagram_container_in_error_is_reported_failed_with_the_reason(herald: Herald) -> None:
    meta = herald.fakes.meta
    account = await herald.connect("instagram")
    wide, _ = await herald.image(jpeg(1500, 500))
    await herald.chat.say(f"/draft --to {account.handle} --media {wide} {TEXT}")
    assert herald.chat.errors == [
        "Instagram takes images with an aspect ratio from 4:5 to 1.91:1; this one is 3:1 (1500×500)."
    ]  # an image Instagram can't take is refused when drafting, before Instagram is asked
    ref, _ = await herald.image()
    post_id = await herald.post([account.handle], media=(ref,))
    await MediaBlob.filter(key=ref).delete()  # then the file goes missing: Instagram can't download it

    report = await herald.chat.publish_due()

    assert report == (
        f"Post {post_id} by @alice failed on acmecoffee (Instagram): Instagram couldn't use the image: Error: Media "
        "download has failed. The media URI doesn't meet our requirements (HTTP 404)."
    ), report
    assert (await Delivery.get(post_id=post_id)).state == DeliveryState.FAILED
    [container] = meta.containers.values()
    assert container.status_code == "ERROR" and herald.served.fetched(ref) == [404]
    assert meta.published() == [] and meta.count("POST", "media_publish") == 0


# --- 7. an unknown outcome that verification settles on its own


def hang_x(fakes: Fakes) -> None:
    fakes.x.fail("hang")


def hang_facebook(fakes: Fakes) -> None:
    fakes.meta.fail("feed", "hang")


def hang_linkedin(fakes: Fakes) -> None:
    fakes.linkedin.hang_posts()


def hang_threads(fakes: Fakes) -> None:
    fakes.threads.fail("publish", "hang")


HANGS = {
    "x": (hang_x, published_x),
    "facebook": (hang_facebook, published_facebook),
    "threads": (hang_threads, published_threads),
}


@pytest.mark.parametrize("platform", list(HANGS))
async def test_an_unanswered_post_is_verified_and_reported_published_once(herald: Herald, platform: str) -> None:
    hang, published = HANGS[platform]
    account = await herald.connect(platform)
    hang(herald.fakes)  # the platform publishes, then never answers: Herald's call times out

    post_id = await herald.post([account.handle])
    report = await herald.chat.publish_due()

    delivery = await Delivery.get(post_id=post_id)
    assert delivery.state == DeliveryState.PUBLISHED, (delivery.state, delivery.last_error, report)
    assert report == f"Post {post_id} by @alice published to {account.handle} ({PLATFORMS[platform].label}): " + (
        delivery.url or ""
    )
    assert published(herald.fakes) == [TEXT]
    herald.chat.clock.advance(hours=1)
    assert await herald.chat.publish_due() == ""
    assert published(herald.fakes) == [TEXT]


def hang_telegram(fakes: Fakes) -> None:
    fakes.telegram.hang("sendMessage")


def published_telegram(fakes: Fakes) -> list[str]:
    return [m.text or "" for m in fakes.telegram.messages]


#: Platforms that can't show Herald the account's posts: the Bot API can't read a channel's history; a LinkedIn
#: member's posts need r_member_social, which LinkedIn keeps for its partners.
BLIND = {"telegram": (hang_telegram, published_telegram), "linkedin": (hang_linkedin, published_linkedin)}


@pytest.mark.parametrize("platform", list(BLIND))
async def test_an_unanswered_post_the_platform_cant_check_asks_a_human_once_and_is_never_resent(
    herald: Herald, platform: str
) -> None:
    hang, published = BLIND[platform]
    account = await herald.connect(platform)
    hang(herald.fakes)

    post_id = await herald.post([account.handle])
    report = await herald.chat.publish_due()

    label = PLATFORMS[platform].label
    assert report.startswith(f"Post {post_id} by @alice may or may not have reached {account.handle} ({label})")
    assert (await Delivery.get(post_id=post_id)).state == DeliveryState.UNKNOWN
    herald.chat.clock.advance(hours=1)
    assert await herald.chat.publish_due() == ""
    assert published(herald.fakes) == [TEXT]  # it did go out, once; /verify or /republish is a human's call
