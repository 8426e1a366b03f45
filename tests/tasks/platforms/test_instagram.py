"""InstagramClient against the fake Graph API (tests/fakes/meta.py) over real HTTP; the fake fetches the images."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client

from tasks.platforms.base import ABSENT, Credentials, MemoryProgress, Publication, Published
from tasks.platforms.errors import AuthExpired, OutcomeUnknown, PlatformDown, RateLimited, Rejected, Transient
from tasks.platforms.instagram import PLATFORM, InstagramClient, InstagramSettings
from tests.fakes.meta import ImageHost, MetaGraph, image

TIMEOUT = httpx.Timeout(connect=2.0, read=1.0, write=2.0, pool=2.0)


@pytest.fixture(scope="module")
def graph() -> Iterator[MetaGraph]:
    with MetaGraph() as served:
        yield served


@pytest.fixture(scope="module")
def images() -> Iterator[ImageHost]:
    with ImageHost() as host:
        yield host


@pytest.fixture(autouse=True)
def fresh_knobs(graph: MetaGraph) -> Iterator[None]:
    yield
    graph.set_in_progress(0)
    graph.set_quota(50)


def settings_for(graph: MetaGraph, **overrides: object) -> InstagramSettings:
    values: dict[str, object] = {
        "app_id": graph.app_id,
        "app_secret": graph.app_secret,
        "api_url": graph.url,
        "graph_version": graph.version,
        "authorize_url": graph.url + "/{version}/dialog/oauth",
        "poll_seconds": 0.01,
        "max_polls": 5,
        **overrides,
    }
    return InstagramSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def client(graph: MetaGraph) -> AsyncIterator[InstagramClient]:
    async with httpx.AsyncClient() as http:
        yield InstagramClient(settings_for(graph), http, TIMEOUT)


@dataclass
class World:
    user: str
    ig_user: str
    credentials: Credentials


@pytest.fixture
def world(graph: MetaGraph) -> World:
    user = graph.add_user("Ada")
    page = graph.add_page(user, "Acme Coffee", instagram="acmecoffee")
    assert page.ig_user_id
    token = graph.issue(user)
    credentials = Credentials(
        access_token=token,
        expires_at=datetime.now(UTC) + timedelta(days=60),
        extra={"ig_user_id": page.ig_user_id, "username": "acmecoffee", "page_id": page.id},
    )
    return World(user, page.ig_user_id, credentials)


def publication(world: World, text: str, media: tuple[str, ...], images: ImageHost, **kw: object) -> Publication:
    return Publication(
        post_id=7,
        delivery_id=7,
        handle="acmecoffee",
        text=text,
        media=media,
        credentials=world.credentials,
        idempotency_key="k7",
        media_source=images,
        **kw,  # type: ignore[arg-type]
    )


def jpeg(images: ImageHost, width: int = 400, height: int = 400) -> str:
    return images.add(image(width, height))


async def test_registered_with_rules() -> None:
    from tasks.platforms import by_name

    rules = PLATFORM.rules
    assert by_name("instagram") is PLATFORM
    assert rules.needs_media and rules.media.by_url and rules.media.convert_to == "image/jpeg"
    assert (rules.text_limit, rules.max_hashtags, rules.max_mentions, rules.media.max_items) == (2200, 30, 20, 10)
    assert rules.media.aspect_ratio == (0.8, 1.91)


async def test_publishes_one_image(client: InstagramClient, graph: MetaGraph, world: World, images: ImageHost) -> None:
    ref = jpeg(images)
    progress = MemoryProgress()
    done = await client.publish(publication(world, "Morning brew #coffee", (ref,), images, progress=progress))

    [media] = graph.published(world.ig_user)
    assert media.caption == "Morning brew #coffee"
    container = graph.containers[media.container_id]
    assert container.fetched == len(images.files[ref][0])  # Instagram fetched the signed link itself
    assert done == Published(external_id=media.id, url=media.permalink)
    assert progress.steps == {"container": container.id, "sent": container.id}


async def test_needs_an_image(client: InstagramClient, world: World, images: ImageHost) -> None:
    with pytest.raises(Rejected, match="at least one image"):
        await client.publish(publication(world, "Just text", (), images))


async def test_publishes_a_carousel(client: InstagramClient, graph: MetaGraph, world: World, images: ImageHost) -> None:
    refs = tuple(jpeg(images) for _ in range(3))
    progress = MemoryProgress()
    await client.publish(publication(world, "Three roasts", refs, images, progress=progress))

    [media] = graph.published(world.ig_user)
    parent = graph.containers[media.container_id]
    assert parent.caption == "Three roasts" and len(parent.children) == 3
    assert all(graph.containers[c].carousel_item for c in parent.children)
    assert [progress.steps[f"media:{i}"] for i in range(3)] == parent.children


async def test_waits_while_the_container_is_in_progress(
    client: InstagramClient, graph: MetaGraph, world: World, images: ImageHost
) -> None:
    graph.set_in_progress(2)
    await client.publish(publication(world, "Patience", (jpeg(images),), images))
    [media] = graph.published(world.ig_user)
    assert graph.containers[media.container_id].status_code == "PUBLISHED"
    assert graph.count("GET", media.container_id) == 3  # IN_PROGRESS, IN_PROGRESS, FINISHED


async def test_still_in_progress_resumes_without_a_new_container(
    client: InstagramClient, graph: MetaGraph, world: World, images: ImageHost
) -> None:
    graph.set_in_progress(7)  # more than max_polls (5)
    progress = MemoryProgress()
    with pytest.raises(PlatformDown, match="still processing"):
        await client.publish(publication(world, "Slow one", (jpeg(images),), images, progress=progress))
    assert graph.published(world.ig_user) == []
    created = graph.count("POST", f"{world.ig_user}/media")

    await client.publish(publication(world, "Slow one", (jpeg(images),), images, progress=progress))

    assert graph.count("POST", f"{world.ig_user}/media") == created  # the recorded container was used
    [media] = graph.published(world.ig_user)
    assert media.container_id == progress.steps["container"]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "Media download has failed"),
        ("png", "Only JPEG"),
        ("wide", "aspect ratio"),
        ("text", "Media download has failed"),
    ],
)
async def test_container_error_is_rejected_with_the_reason(
    client: InstagramClient, graph: MetaGraph, world: World, images: ImageHost, kind: str, reason: str
) -> None:
    if kind == "missing":
        ref = "gone-from-the-store"
    elif kind == "png":
        ref = images.add(image(400, 400, "PNG"), "image/png")
    elif kind == "wide":
        ref = images.add(image(800, 200))
    else:
        ref = images.add(b"<html>not an image</html>", "text/html")
    with pytest.raises(Rejected, match=reason):
        await client.publish(publication(world, "Bad image", (ref,), images))
    assert graph.published(world.ig_user) == []


async def test_resumes_after_a_restart_without_uploading_again(
    client: InstagramClient, graph: MetaGraph, world: World, images: ImageHost
) -> None:
    refs = (jpeg(images), jpeg(images))
    progress = MemoryProgress()
    graph.fail("status", "transient")  # the worker dies while looking at the container
    with pytest.raises(PlatformDown):
        await client.publish(publication(world, "Two mugs", refs, images, progress=progress))
    created = graph.count("POST", f"{world.ig_user}/media")
    fetched = sum(images.fetches[r] for r in refs)
    assert created >= 3 and "container" in progress.steps

    await client.publish(publication(world, "Two mugs", refs, images, progress=progress))

    assert graph.count("POST", f"{world.ig_user}/media") == created
    assert sum(images.fetches[r] for r in refs) == fetched  # nothing fetched again
    assert len(graph.published(world.ig_user)) == 1


async def test_an_expired_container_is_made_again(
    client: InstagramClient, graph: MetaGraph, world: World, images: ImageHost
) -> None:
    progress = MemoryProgress()
    graph.fail("media_publish", "transient")
    with pytest.raises(PlatformDown):
        await client.publish(publication(world, "A day late", (jpeg(images),), images, progress=progress))
    old = progress.steps["container"]
    graph.expire_container(old)

    await client.publish(publication(world, "A day late", (jpeg(images),), images, progress=progress))

    [media] = graph.published(world.ig_user)
    assert media.container_id != old and progress.steps["container"] == media.container_id


async def test_expired_at_publish_time_2207020_is_made_again(
    client: InstagramClient, graph: MetaGraph, world: World, images: ImageHost
) -> None:
    graph.fail("media_publish", "container_expired")
    await client.publish(publication(world, "Just in time", (jpeg(images),), images))
    [media] = graph.published(world.ig_user)
    assert media.caption == "Just in time"
    assert graph.count("POST", f"{world.ig_user}/media") >= 2


async def test_verify_settles_an_unknown_outcome(
    client: InstagramClient, graph: MetaGraph, world: World, images: ImageHost
) -> None:
    progress = MemoryProgress()
    graph.fail("media_publish", "hang")
    with pytest.raises(OutcomeUnknown):
        await client.publish(publication(world, "Did it post?", (jpeg(images),), images, progress=progress))
    [media] = graph.published(world.ig_user)

    found = await client.verify(publication(world, "Did it post?", (), images))
    assert found == Published(external_id=media.id, url=media.permalink)
    assert await client.publish(publication(world, "Did it post?", (jpeg(images),), images, progress=progress)) == found
    assert len(graph.published(world.ig_user)) == 1
    assert await client.verify(publication(world, "Something else", (), images)) == ABSENT


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("expired_token", AuthExpired),
        ("invalid_token", AuthExpired),
        ("app_limit", RateLimited),
        ("custom_limit", RateLimited),
        ("transient", PlatformDown),
        ("policy", Rejected),
    ],
)
async def test_graph_errors_are_classified(
    client: InstagramClient,
    graph: MetaGraph,
    world: World,
    images: ImageHost,
    error: str,
    expected: type[Exception],
) -> None:
    graph.fail("media", error)
    with pytest.raises(expected) as caught:
        await client.publish(publication(world, "Oops", (jpeg(images),), images))
    assert type(caught.value) is expected
    assert graph.published(world.ig_user) == []


async def test_an_expired_user_token(
    client: InstagramClient, graph: MetaGraph, world: World, images: ImageHost
) -> None:
    assert world.credentials.access_token
    graph.expire(world.credentials.access_token)
    with pytest.raises(AuthExpired, match="Session has expired"):
        await client.publish(publication(world, "Hi", (jpeg(images),), images))
    with pytest.raises(AuthExpired):  # Meta won't exchange an expired token: someone must log in again
        await client.refresh(world.credentials)


async def test_refresh_exchanges_for_a_new_long_lived_token(
    client: InstagramClient, graph: MetaGraph, world: World, images: ImageHost
) -> None:
    fresh = await client.refresh(world.credentials)
    assert fresh.access_token and fresh.access_token != world.credentials.access_token
    assert fresh.expires_at and fresh.expires_at > datetime.now(UTC) + timedelta(days=59)
    assert fresh.extra == world.credentials.extra
    assert graph.tokens[fresh.access_token].expires_at
    # a 5xx during refresh is transient: never a reason to disconnect the account
    graph.fail("token", "transient")
    with pytest.raises(Transient):
        await client.refresh(fresh)


async def test_daily_limit_waits_for_the_quota(
    client: InstagramClient, graph: MetaGraph, world: World, images: ImageHost
) -> None:
    graph.set_quota(2)
    for text in ("one", "two"):
        assert await client.wait_before(publication(world, text, (), images)) is None
        await client.publish(publication(world, text, (jpeg(images),), images))
    graph.age(3600)  # both went out an hour ago

    wait = await client.wait_before(publication(world, "three", (), images))
    assert wait is not None and 82_700 <= wait <= 82_800  # the oldest leaves the 24 h window in 23 hours

    # publishing anyway: Instagram's 2207042 → RateLimited until the quota frees
    with pytest.raises(RateLimited) as caught:
        await client.publish(publication(world, "three", (jpeg(images),), images))
    assert caught.value.retry_after is not None and 82_700 <= caught.value.retry_after <= 82_800
    assert len(graph.published(world.ig_user)) == 2


async def test_quota_without_config_uses_the_setting(graph: MetaGraph, world: World, images: ImageHost) -> None:
    graph.set_quota(None, extra_usage=3)  # config absent: INSTAGRAM_QUOTA_TOTAL decides
    async with httpx.AsyncClient() as http:
        small = InstagramClient(settings_for(graph, quota_total=3), http, TIMEOUT)
        large = InstagramClient(settings_for(graph, quota_total=100), http, TIMEOUT)
        assert await large.wait_before(publication(world, "x", (), images)) is None
        # full, and no media to date the window by: look again in an hour
        assert await small.wait_before(publication(world, "x", (), images)) == 3600.0


async def test_check(client: InstagramClient, world: World) -> None:
    choice = await client.check(world.credentials)
    assert (choice.handle, choice.label) == ("acmecoffee", "@acmecoffee on Instagram")
    assert choice.url == "https://www.instagram.com/acmecoffee/"


async def test_accounts_after_the_authorization_code_exchange(client: InstagramClient, graph: MetaGraph) -> None:
    user = graph.add_user("Cy")
    graph.login_as = user
    graph.add_page(user, "No Instagram here")
    linked = graph.add_page(user, "Cy Roasters", instagram="cyroasters")
    spec = await client.oauth()
    assert spec.scopes == ("instagram_basic", "instagram_content_publish", "pages_show_list", "business_management")
    redirect = "https://herald.example/oauth/instagram/callback"

    async with AsyncOAuth2Client(
        client_id=spec.client_id,
        client_secret=spec.client_secret,
        scope=spec.scope_separator.join(spec.scopes),
        redirect_uri=redirect,
        token_endpoint_auth_method=spec.token_auth,
        timeout=5,
    ) as oauth:
        url, _ = oauth.create_authorization_url(spec.authorize_url)
        async with httpx.AsyncClient() as browser:
            answer = await browser.get(url, follow_redirects=False)
        code = httpx.URL(answer.headers["location"]).params["code"]
        token = await oauth.fetch_token(spec.token_url, code=code)
    short = graph.tokens[token["access_token"]]
    assert short.expires_at and short.expires_at < time.time() + 3 * 3600

    [choice] = await client.accounts(token)

    assert choice.handle == "cyroasters"
    assert choice.credentials.extra == {"ig_user_id": linked.ig_user_id, "username": "cyroasters", "page_id": linked.id}
    long_lived = choice.credentials.access_token
    assert long_lived and long_lived != token["access_token"]
    assert choice.credentials.expires_at and choice.credentials.expires_at > datetime.now(UTC) + timedelta(days=59)
    assert "instagram_content_publish" in graph.tokens[long_lived].scopes
