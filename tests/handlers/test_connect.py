"""/account connect, pick, list, check and remove, against the test platforms of tests/fakes/connectable.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tortoise import connections

from bot.notifiers import OutboxNotifier
from handlers.admin import connect
from handlers.app import Herald
from handlers.context import Services
from handlers.messages import Conversation
from handlers.ports import ConnectedAccount, NullScheduler
from handlers.text import platforms as catalogue
from models.accounts import AccountStatus, SocialAccount
from models.audit import AuditEntry
from models.connections import Connection
from models.lifecycle import DeliveryState
from models.members import Member
from models.posts import Delivery, Post
from tasks.platforms import Publishers, bluesky, dry_run, facebook
from tasks.platforms.bluesky.settings import BlueskySettings
from tasks.platforms.directory import Directory
from tasks.platforms.facebook.settings import FacebookSettings
from tasks.runtime import Runtime
from tests.auxil.chat import CONVERSATION, Chat, FrozenClock
from tests.auxil.connecting import PUBLIC_URL, Connecting, connecting
from tests.fakes.bluesky import FakeBluesky
from tests.fakes.connectable import APP_PASSWORD


@pytest.fixture
async def world(sqlite_db: str) -> AsyncIterator[Connecting]:
    async with connecting() as world:
        await world.chat.say("/help")  # alice: the first member, an admin
        await world.chat.say("/help", as_="bob")
        yield world


async def raw_credentials(handle: str) -> str:
    rows = await connections.get("default").execute_query_dict(
        "SELECT credentials FROM social_accounts WHERE handle = ?", [handle]
    )
    return str(rows[0]["credentials"])


async def test_connect_answers_privately_with_a_single_use_login_link(world: Connecting) -> None:
    chat = world.chat
    await chat.say("/account connect testnet")
    assert chat.errors == []
    [reply] = chat.last
    assert reply.ephemeral and "Log in to Testnet" in reply.text
    [link] = reply.buttons
    assert link.url is not None and link.url.startswith(f"{PUBLIC_URL}/oauth/testnet/start?state=")
    state = parse_qs(urlsplit(link.url).query)["state"][0]
    connection = await Connection.get(state=state).prefetch_related("member")
    assert len(state) >= 40
    assert connection.platform == "testnet" and connection.member.name == "alice"
    assert connection.conversation == CONVERSATION.to_json()
    assert connection.used_at is None
    assert connection.expires_at == chat.clock.now() + timedelta(minutes=15)


async def test_connect_without_a_public_url_says_to_set_it(sqlite_db: str) -> None:
    async with connecting(public_url=None) as world:
        await world.chat.say("/account connect testnet")
        [problem] = world.chat.errors
        assert "HERALD_PUBLIC_URL" in problem and "/oauth/testnet/callback" in problem
        assert await Connection.all().count() == 0


@pytest.mark.parametrize(
    "command",
    ["/account connect testnet", "/account connect testkey", "/account pick abc 1", "/account check acme"],
)
async def test_non_admins_are_refused(world: Connecting, command: str) -> None:
    await world.chat.say(command, as_="bob")
    assert world.chat.errors == [f"Only admins can run /{' '.join(command.split()[:2]).lstrip('/')}."]
    assert await Connection.all().count() == 0


async def test_a_secret_platform_asks_with_a_form_then_saves_encrypted(world: Connecting) -> None:
    chat = world.chat
    await chat.say("/account connect testkey")
    [reply] = chat.last
    assert reply.form is not None and reply.ephemeral
    assert [(f.name, f.secret) for f in reply.form.fields] == [("handle", False), ("app_password", True)]
    assert reply.form.command == "/account connect testkey"

    said = await chat.say(f"/account connect testkey handle=acme.test app_password={APP_PASSWORD}")
    assert chat.errors == [] and said == ""
    reports = await chat.reports()
    assert "Connected @acme.test on Testkey as acme.test" in reports
    account = await SocialAccount.get(handle="acme.test")
    assert account.platform == "testkey" and account.status == "ok" and account.remote_id == "did:test:acme.test"
    assert json.loads(account.credentials or "")["extra"]["did"] == "did:test:acme.test"
    raw = await raw_credentials("acme.test")
    assert "accessJwt" not in raw and "at-" not in raw and "did:test" not in raw  # encrypted at rest
    entry = await AuditEntry.get(action="account.connected")
    assert APP_PASSWORD not in json.dumps(entry.detail) and entry.detail["handle"] == "acme.test"


async def test_a_refused_secret_gives_the_platforms_reason_and_never_the_secret(world: Connecting) -> None:
    await world.chat.say("/account connect testkey handle=acme.test app_password=wrong-pass-word")
    [problem] = world.chat.errors
    assert "Invalid identifier or password" in problem and "wrong-pass-word" not in problem
    await world.chat.say("/account connect testkey handle=acme.test")
    assert world.chat.errors == ["App password is missing."]
    assert world.chat.last[0].extra == {"field": "app_password"}
    await world.chat.say("/account connect testkey acme.test hunter2")
    [problem] = world.chat.errors
    assert "hunter2" not in problem and "handle=…" in problem
    assert await SocialAccount.all().count() == 0


async def save(world: Connecting, account: ConnectedAccount, platform: str = "testnet") -> SocialAccount:
    alice = await Member.get(name="alice")
    return await connect.save(
        account, platform_name=platform, member=alice, conversation=CONVERSATION, services=world.services
    )


def account(token: str, *, refresh: str | None = None, remote_id: str = "u-acme") -> ConnectedAccount:
    document = {"access_token": token, "extra": {"user_id": remote_id}}
    if refresh:
        document["refresh_token"] = refresh
    return ConnectedAccount("acme", "@acme on Testnet", None, remote_id, json.dumps(document), None)


async def test_a_reconnect_updates_the_account_and_keeps_its_refresh_token(world: Connecting) -> None:
    first = await save(world, account("at-1", refresh="rt-1"))
    await SocialAccount.filter(id=first.id).update(status="reconnect", status_reason="Testnet refused the token.")
    again = await save(world, account("at-2"))  # this login gave no refresh token
    assert again.id == first.id and await SocialAccount.all().count() == 1
    stored = json.loads(again.credentials or "")
    assert stored["access_token"] == "at-2" and stored["refresh_token"] == "rt-1"
    assert again.credentials_rev == first.credentials_rev + 1
    assert again.status == "ok" and again.status_reason is None
    # the same handle on another platform is another account
    other = await save(world, account("k-1", remote_id="did:x"), platform="testkey")
    assert other.handle == "acme.testkey" and other.id != first.id


async def test_list_shows_each_accounts_state(world: Connecting) -> None:
    now = world.chat.clock.now()
    await SocialAccount.create(platform="testnet", handle="fine", label="@fine on Testnet", credentials="{}")
    await SocialAccount.create(
        platform="testnet", handle="soon", credentials='{"access_token": "a"}', token_expires_at=now + timedelta(days=3)
    )
    await SocialAccount.create(
        platform="testnet",
        handle="later",
        credentials='{"access_token": "a"}',
        token_expires_at=now + timedelta(days=40),
    )
    await SocialAccount.create(  # renewed by Herald: its short access token is no worry
        platform="testnet",
        handle="renews",
        credentials='{"access_token": "a", "refresh_token": "r"}',
        token_expires_at=now + timedelta(hours=2),
    )
    await SocialAccount.create(
        platform="testnet", handle="held", status=AccountStatus.RECONNECT.value, status_reason="Testnet said: revoked."
    )
    text = await world.chat.say("/account list", as_="bob")
    lines = dict(line.split(" — ", 1) for line in text.splitlines()[1:])
    assert lines["fine"] == "@fine on Testnet: ok"
    assert lines["soon"] == "Testnet: ⚠ token expires in 3 days: reconnect it before then"
    assert lines["later"] == "Testnet: ok, token expires in 40 days"
    assert lines["renews"] == "Testnet: ok"
    assert lines["held"] == "Testnet: needs reconnecting (Testnet said: revoked.)"


async def test_check_says_who_it_is_or_marks_it_for_reconnecting(world: Connecting) -> None:
    token = world.fake.issue("acme")
    await save(world, account(token))
    said = await world.chat.say("/account check acme")
    assert said == "acme works: Testnet says it is @acme on Testnet."
    world.fake.expire_all()
    said = await world.chat.say("/account check acme")
    assert said.startswith("acme needs reconnecting: Testnet") and "/account connect testnet" in said
    held = await SocialAccount.get(handle="acme")
    assert held.status == "reconnect" and held.status_reason and "expired" in held.status_reason


async def test_remove_revokes_where_the_platform_can(world: Connecting) -> None:
    token = world.fake.issue("acme")
    await save(world, account(token))
    said = await world.chat.say("/account remove acme")
    assert "its token was revoked at Testnet" in said
    assert world.fake.revoked == [token]
    assert not (await SocialAccount.get(handle="acme")).enabled
    await save(world, account("k", remote_id="did:k"), platform="testkey")
    said = await world.chat.say("/account remove acme.testkey")
    assert "couldn't revoke its token at Testkey" in said


async def test_several_accounts_are_picked_with_buttons_once(world: Connecting) -> None:
    alice = await Member.get(name="alice")
    connection = await Connection.create(
        state="s" * 43,
        platform="testnet",
        member=alice,
        conversation=CONVERSATION.to_json(),
        expires_at=world.chat.clock.now() + timedelta(minutes=15),
        used_at=world.chat.clock.now(),
    )
    pages = [
        ConnectedAccount("acme-coffee", "Acme Coffee (Testnet page)", None, "p1", '{"access_token": "p1"}'),
        ConnectedAccount("acme-tea", "Acme Tea (Testnet page)", None, "p2", '{"access_token": "p2"}'),
    ]
    reply = await connect.offer(connection, pages, world.services)
    assert [(b.label, b.command) for b in reply.buttons] == [
        ("Acme Coffee (Testnet page)", f"/account pick {'s' * 43} 1"),
        ("Acme Tea (Testnet page)", f"/account pick {'s' * 43} 2"),
    ]
    assert (
        "p1"
        not in (await connections.get("default").execute_query_dict("SELECT choices FROM connections"))[0]["choices"]
    )
    await world.chat.reports()
    await world.chat.say("/role add bob admin")
    await world.chat.say(reply.buttons[1].command, as_="bob")  # another admin: not their login
    assert world.chat.errors == ["That choice is no longer open; connect again with /account connect PLATFORM."]
    await world.chat.say(reply.buttons[1].command)
    assert world.chat.errors == []
    assert "Connected Acme Tea (Testnet page) as acme-tea" in await world.chat.reports()
    await world.chat.say(reply.buttons[0].command)
    assert world.chat.errors == ["That choice is no longer open; connect again with /account connect PLATFORM."]
    assert [a.handle for a in await SocialAccount.all()] == ["acme-tea"]


async def test_pick_after_expiry_is_refused(world: Connecting) -> None:
    alice = await Member.get(name="alice")
    connection = await Connection.create(
        state="t" * 43,
        platform="testnet",
        member=alice,
        conversation=Conversation("shell", "test").to_json(),
        expires_at=world.chat.clock.now(),
        used_at=world.chat.clock.now(),
    )
    await connect.offer(connection, [account("a"), account("b", remote_id="u-b")], world.services)
    world.chat.clock.advance(minutes=16)
    await world.chat.say(f"/account pick {'t' * 43} 1")
    assert world.chat.errors == ["That choice is no longer open; connect again with /account connect PLATFORM."]


async def test_another_account_with_a_taken_name_gets_a_name_of_its_own(world: Connecting) -> None:
    first = await save(world, account("at-1", remote_id="u-1"))
    second = await save(world, account("at-2", remote_id="u-2"))  # also called acme on Testnet: not the same one
    assert (first.handle, second.handle) == ("acme", "acme.testnet")
    assert json.loads((await SocialAccount.get(id=first.id)).credentials or "")["access_token"] == "at-1"


async def test_reconnecting_a_held_account_sends_its_held_posts(world: Connecting) -> None:
    chat = world.chat
    first = await save(world, account("at-1", refresh="rt-1"))
    await chat.say("/role add bob approver")
    await chat.say("/draft --to acme Hello")
    post = await Post.all().order_by("-id").first()
    assert post is not None and chat.errors == []
    await chat.say(f"/approve {post.id}", as_="bob")
    await Delivery.filter(post_id=post.id).update(state=DeliveryState.HELD.value)
    await SocialAccount.filter(id=first.id).update(status="reconnect", status_reason="Testnet refused the token.")

    chat.clock.advance(minutes=2)
    await save(world, account("at-2"))
    delivery = await Delivery.get(post_id=post.id)
    assert delivery.state == DeliveryState.SCHEDULED and delivery.due_at == chat.clock.now()


async def test_bluesky_connects_from_chat_with_its_app_password(sqlite_db: str) -> None:
    """The same flow with a real platform client: Bluesky against its fake PDS."""
    catalogue.register(bluesky.PLATFORM.rules)
    with FakeBluesky(app_password=APP_PASSWORD) as pds:
        async with httpx.AsyncClient(timeout=10) as http:
            settings = BlueskySettings(BLUESKY_PDS_URL=pds.url, BLUESKY_WEB_URL="https://bsky.app")  # type: ignore[call-arg]
            directory = Directory(Publishers({"bluesky": bluesky.PLATFORM.build(http, httpx.Timeout(5), settings)}))
            clock = FrozenClock()
            services = Services(notifier=OutboxNotifier(), scheduler=NullScheduler(), clock=clock, platforms=directory)
            chat = Chat(Herald(services), Runtime(publishers=dry_run(), notifier=services.notifier, clock=clock), clock)
            await chat.say("/account connect bluesky")
            assert chat.last[0].form is not None
            await chat.say(f"/account connect bluesky handle=acme.bsky.social app_password={APP_PASSWORD}")
            assert chat.errors == []
            assert "Connected" in await chat.reports()
            account = await SocialAccount.get(platform="bluesky")
            assert account.remote_id == "did:plc:acmeacmeacmeacmeacme2345"
            said = await chat.say(f"/account check {account.handle}")
            assert said.startswith(f"{account.handle} works: Bluesky says it is")


async def test_a_platform_without_its_app_configured_names_what_to_set(sqlite_db: str) -> None:
    catalogue.register(facebook.PLATFORM.rules)
    async with httpx.AsyncClient() as http:
        settings = FacebookSettings(FACEBOOK_APP_ID="", FACEBOOK_APP_SECRET="")  # type: ignore[call-arg]
        directory = Directory(Publishers({"facebook": facebook.PLATFORM.build(http, httpx.Timeout(5), settings)}))
        clock = FrozenClock()
        services = Services(
            notifier=OutboxNotifier(),
            scheduler=NullScheduler(),
            clock=clock,
            platforms=directory,
            public_url="https://herald.example.com",
        )
        chat = Chat(Herald(services), Runtime(publishers=dry_run(), notifier=services.notifier, clock=clock), clock)
        await chat.say("/account connect facebook")
    [problem] = chat.errors
    assert "FACEBOOK_APP_ID" in problem
    assert await Connection.all().count() == 0
