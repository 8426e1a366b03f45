"""FacebookClient against the fake Graph API (tests/fakes/meta.py) over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client

from models.errors import ConfigError
from tasks.platforms.base import ABSENT, Credentials, MemoryProgress, Publication, Published
from tasks.platforms.errors import (
    AuthExpired,
    Duplicate,
    OutcomeUnknown,
    PlatformDown,
    RateLimited,
    Rejected,
)
from tasks.platforms.facebook import PLATFORM, FacebookClient, FacebookSettings
from tasks.platforms.facebook.graph import slug
from tests.fakes.meta import ImageHost, MetaGraph, Page, image

TIMEOUT = httpx.Timeout(connect=2.0, read=1.0, write=2.0, pool=2.0)


@pytest.fixture(scope="module")
def graph() -> Iterator[MetaGraph]:
    with MetaGraph() as served:
        yield served


@pytest.fixture(scope="module")
def images() -> Iterator[ImageHost]:
    with ImageHost() as host:
        yield host


def settings_for(graph: MetaGraph, **overrides: str) -> FacebookSettings:
    values = {
        "app_id": graph.app_id,
        "app_secret": graph.app_secret,
        "api_url": graph.url,
        "graph_version": graph.version,
        "authorize_url": graph.url + "/{version}/dialog/oauth",
        **overrides,
    }
    return FacebookSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def client(graph: MetaGraph) -> AsyncIterator[FacebookClient]:
    async with httpx.AsyncClient() as http:
        yield FacebookClient(settings_for(graph), http, TIMEOUT)


@dataclass
class World:
    user: str
    page: Page
    credentials: Credentials


@pytest.fixture
def world(graph: MetaGraph) -> World:
    user = graph.add_user("Ada")
    page = graph.add_page(user, "Acme Coffee!")
    token = graph.issue(user, page_id=page.id, lifetime=None)
    return World(user, page, Credentials(access_token=token, extra={"page_id": page.id}))


def publication(
    world: World, text: str, media: tuple[str, ...] = (), images: ImageHost | None = None, **kw: object
) -> Publication:
    return Publication(
        post_id=1,
        delivery_id=1,
        handle="acme-coffee",
        text=text,
        media=media,
        credentials=world.credentials,
        idempotency_key="k1",
        media_source=images,
        **kw,  # type: ignore[arg-type]
    )


async def test_registered_with_rules() -> None:
    from tasks.platforms import by_name

    assert by_name("facebook") is PLATFORM
    assert PLATFORM.rules.media.by_url and PLATFORM.rules.connect == "oauth"


async def test_publishes_text_with_link(client: FacebookClient, graph: MetaGraph, world: World) -> None:
    done = await client.publish(publication(world, "New beans today https://acme.example/beans"))

    [post] = graph.page_posts(world.page.id)
    assert post.message == "New beans today https://acme.example/beans"
    assert post.link == "https://acme.example/beans"
    assert done == Published(external_id=post.id, url=f"https://www.facebook.com/{post.id}")
    assert post.id.startswith(world.page.id + "_")


async def test_publishes_one_photo_fetched_by_url(
    client: FacebookClient, graph: MetaGraph, world: World, images: ImageHost
) -> None:
    ref = images.add(image(300, 200, "PNG"), "image/png")
    done = await client.publish(publication(world, "Latte art", (ref,), images))

    [post] = graph.page_posts(world.page.id)
    assert post.message == "Latte art" and len(post.photo_ids) == 1
    assert graph.photos[post.photo_ids[0]].published
    assert images.fetches[ref] == 1  # Facebook fetched the signed link itself
    assert done.external_id == post.id


async def test_publishes_several_photos_as_one_post(
    client: FacebookClient, graph: MetaGraph, world: World, images: ImageHost
) -> None:
    refs = (images.add(image()), images.add(image()), images.add(image()))
    progress = MemoryProgress()
    done = await client.publish(publication(world, "Three cups", refs, images, progress=progress))

    [post] = graph.page_posts(world.page.id)
    assert post.message == "Three cups" and len(post.photo_ids) == 3
    assert all(not graph.photos[p].published and graph.photos[p].attached_to == post.id for p in post.photo_ids)
    assert [progress.steps[f"media:{i}"] for i in range(3)] == post.photo_ids
    assert progress.steps["sent"] and done.external_id == post.id


async def test_resumes_without_uploading_again(
    client: FacebookClient, graph: MetaGraph, world: World, images: ImageHost
) -> None:
    refs = (images.add(image()), images.add(image()))
    progress = MemoryProgress()
    before = graph.count("POST", f"{world.page.id}/photos")
    graph.fail("feed", "transient")
    with pytest.raises(PlatformDown):
        await client.publish(publication(world, "Two cups", refs, images, progress=progress))
    assert graph.count("POST", f"{world.page.id}/photos") == before + 2
    assert graph.page_posts(world.page.id) == []

    # a restarted worker: same progress, "sent" recorded, nothing on the Page → verify says ABSENT, publish once
    done = await client.publish(publication(world, "Two cups", refs, images, progress=progress))

    assert graph.count("POST", f"{world.page.id}/photos") == before + 2  # no second upload
    [post] = graph.page_posts(world.page.id)
    assert post.photo_ids == [progress.steps["media:0"], progress.steps["media:1"]]
    assert done.external_id == post.id


@pytest.mark.parametrize(
    ("error", "expected", "retry_after"),
    [
        ("expired_token", AuthExpired, None),
        ("invalid_token", AuthExpired, None),
        ("app_limit", RateLimited, None),
        ("user_limit", RateLimited, None),
        ("custom_limit", RateLimited, None),
        ("page_limit", RateLimited, 420.0),  # X-Business-Use-Case-Usage: 7 minutes
        ("policy", Rejected, None),
        ("duplicate", Duplicate, None),
        ("transient", PlatformDown, None),
    ],
)
async def test_graph_errors_are_classified(
    client: FacebookClient,
    graph: MetaGraph,
    world: World,
    error: str,
    expected: type[Exception],
    retry_after: float | None,
) -> None:
    graph.fail("feed", error)
    with pytest.raises(expected) as caught:
        await client.publish(publication(world, f"Hello {error}"))
    assert type(caught.value) is expected
    assert graph.page_posts(world.page.id) == []
    if expected is RateLimited:
        assert caught.value.retry_after == retry_after  # type: ignore[attr-defined]
    if expected is Rejected:
        assert "misusing this feature" in str(caught.value)


async def test_an_expired_page_token_asks_to_reconnect(client: FacebookClient, graph: MetaGraph, world: World) -> None:
    assert world.credentials.access_token
    graph.expire(world.credentials.access_token)
    with pytest.raises(AuthExpired, match="Session has expired"):
        await client.publish(publication(world, "Hi"))
    with pytest.raises(AuthExpired):
        await client.refresh(world.credentials)


async def test_verify_settles_an_unknown_outcome(client: FacebookClient, graph: MetaGraph, world: World) -> None:
    progress = MemoryProgress()
    graph.fail("feed", "hang")
    with pytest.raises(OutcomeUnknown):
        await client.publish(publication(world, "Did it go?", progress=progress))
    [post] = graph.page_posts(world.page.id)  # it did

    found = await client.verify(publication(world, "Did it go?"))
    assert found == Published(external_id=post.id, url=f"https://www.facebook.com/{post.id}")
    # a retry of the delivery doesn't post it again
    assert await client.publish(publication(world, "Did it go?", progress=progress)) == found
    assert len(graph.page_posts(world.page.id)) == 1
    assert await client.verify(publication(world, "Never sent")) == ABSENT


async def test_check(client: FacebookClient, world: World) -> None:
    choice = await client.check(world.credentials)
    assert choice.handle == "acme-coffee"
    assert choice.label == "Acme Coffee! (Facebook Page)"
    assert choice.url == f"https://www.facebook.com/{world.page.id}"


async def test_accounts_after_the_authorization_code_exchange(client: FacebookClient, graph: MetaGraph) -> None:
    user = graph.add_user("Bea")
    graph.login_as = user
    first = graph.add_page(user, "Bea's Bakery")
    second = graph.add_page(user, "Bea Catering")
    spec = await client.oauth()
    assert spec.scopes == ("pages_show_list", "pages_read_engagement", "pages_manage_posts")

    async with AsyncOAuth2Client(
        client_id=spec.client_id,
        client_secret=spec.client_secret,
        scope=spec.scope_separator.join(spec.scopes),
        redirect_uri="https://herald.example/oauth/facebook/callback",
        token_endpoint_auth_method=spec.token_auth,
        timeout=5,
    ) as oauth:
        url, state = oauth.create_authorization_url(spec.authorize_url)
        async with httpx.AsyncClient() as browser:
            answer = await browser.get(url, follow_redirects=False)
        assert answer.status_code == 302
        location = httpx.URL(answer.headers["location"])
        assert location.params["state"] == state
        token = await oauth.fetch_token(spec.token_url, code=location.params["code"])
    assert graph.codes.authorize_requests[-1]["scope"] == "pages_show_list,pages_read_engagement,pages_manage_posts"

    choices = await client.accounts(token)

    assert [c.handle for c in choices] == ["bea-s-bakery", "bea-catering"]
    assert [c.credentials.get("page_id") for c in choices] == [first.id, second.id]
    page_token = choices[0].credentials.access_token
    assert page_token and page_token != token["access_token"]
    assert choices[0].credentials.expires_at is None
    assert graph.tokens[page_token].expires_at is None  # from the long-lived user token: doesn't expire
    # the code can't be used twice
    with pytest.raises(Exception, match=r"already used|invalid"):
        async with AsyncOAuth2Client(
            spec.client_id, spec.client_secret, token_endpoint_auth_method=spec.token_auth, timeout=5
        ) as again:
            await again.fetch_token(
                spec.token_url,
                code=location.params["code"],
                redirect_uri="https://herald.example/oauth/facebook/callback",
            )
    # and the Page token publishes
    world = World(user, first, choices[0].credentials)
    await client.publish(publication(world, "Fresh bread"))
    assert [p.message for p in graph.page_posts(first.id)] == ["Fresh bread"]


async def test_oauth_needs_the_app(graph: MetaGraph) -> None:
    async with httpx.AsyncClient() as http:
        unconfigured = FacebookClient(settings_for(graph, app_id="", app_secret=""), http, TIMEOUT)
        with pytest.raises(ConfigError, match="FACEBOOK_APP_ID and FACEBOOK_APP_SECRET"):
            await unconfigured.oauth()


def test_settings_and_slug() -> None:
    settings = FacebookSettings(FACEBOOK_APP_ID="1", FACEBOOK_APP_SECRET="s3cret")  # type: ignore[call-arg]
    assert settings.dialog_url == "https://www.facebook.com/v23.0/dialog/oauth"
    assert settings.secret_values == ("s3cret",)
    assert slug("Café  Ünïcode — Ltd.", "123") == "caf-n-code-ltd"
    assert slug("☕", "123") == "123"


async def test_calls_carry_the_appsecret_proof(graph: MetaGraph, world: World) -> None:
    async with httpx.AsyncClient() as http:
        wrong = FacebookClient(settings_for(graph, app_secret="not-the-secret"), http, TIMEOUT)
        with pytest.raises(Rejected, match="appsecret_proof"):
            await wrong.check(world.credentials)
    assert graph.page_posts(world.page.id) == []
