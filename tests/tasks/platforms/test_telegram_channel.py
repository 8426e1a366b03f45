"""The Telegram channel client against the fake Bot API (tests/fakes/telegram.py) over real HTTP: no mocks."""

from __future__ import annotations

import io
import json
import socket
import traceback
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from PIL import Image

from models.errors import ConfigError, InvalidInput
from tasks.platforms.base import Credentials, MediaFile, MemoryProgress, Publication
from tasks.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    PlatformDown,
    PlatformError,
    RateLimited,
    Rejected,
)
from tasks.platforms.telegram import PLATFORM
from tasks.platforms.telegram.client import TelegramClient, channel_ref
from tasks.platforms.telegram.rules import utf16_length
from tasks.platforms.telegram.settings import TelegramSettings
from tests.fakes.telegram import BOT_ID, BOT_TOKEN, FakeTelegram

TIMEOUT = httpx.Timeout(connect=2.0, read=0.5, write=2.0, pool=2.0)
ADD_BOT = "Add @HeraldBot to @acme as an administrator who can post messages, then connect again."


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 20), "blue").save(out, "JPEG")
    return out.getvalue()


class Images:
    async def read(self, ref: str) -> MediaFile:
        return MediaFile(ref=ref, data=jpeg(), content_type="image/jpeg", filename=f"{ref}.jpg")

    def public_url(self, ref: str, ttl: timedelta = timedelta(hours=24)) -> str:
        raise Rejected("not used")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def client(fake: FakeTelegram, http: httpx.AsyncClient) -> TelegramClient:
    return TelegramClient(TelegramSettings(bot_token=BOT_TOKEN, api_url=fake.url), http, TIMEOUT)


async def connect(client: TelegramClient, channel: str = "@acme") -> Credentials:
    [choice] = await client.connect_secret({"channel": channel})
    return choice.credentials


def publication(
    creds: Credentials, text: str = "Hello channel", media: tuple[str, ...] = (), **kw: object
) -> Publication:
    values: dict[str, object] = {
        "post_id": 5,
        "delivery_id": 50,
        "handle": "acme",
        "text": text,
        "media": media,
        "credentials": creds,
        "idempotency_key": "delivery-50",
        "media_source": Images(),
    }
    return Publication(**(values | kw))  # type: ignore[arg-type]


async def test_connecting_checks_the_bot_is_an_admin_who_can_post(fake: FakeTelegram, client: TelegramClient) -> None:
    chat_id = fake.add_channel("acme", "Acme News")

    [choice] = await client.connect_secret({"channel": "@acme"})

    assert choice.handle == "acme"
    assert choice.label == "Acme News (@acme) on Telegram"
    assert choice.url == "https://t.me/acme"
    assert choice.credentials.extra == {
        "chat_id": str(chat_id),
        "username": "acme",
        "title": "Acme News",
        "bot_username": "HeraldBot",
    }
    assert choice.credentials.access_token is None  # the bot token is Herald's, never stored per account
    assert [c.method for c in fake.calls] == ["getMe", "getChat", "getChatMember"]
    assert fake.calls[1].params["chat_id"] == "@acme"
    assert fake.calls[2].params == {"chat_id": str(chat_id), "user_id": str(BOT_ID)}
    assert {c.token for c in fake.calls} == {BOT_TOKEN}


@pytest.mark.parametrize(
    ("status", "can_post"), [("member", True), ("administrator", False), ("left", True), ("kicked", True)]
)
async def test_connecting_without_posting_rights_says_what_to_do(
    fake: FakeTelegram, client: TelegramClient, status: str, can_post: bool
) -> None:
    fake.add_channel("acme", bot=status)
    fake.set_bot(next(iter(fake.channels)), status, can_post=can_post)
    with pytest.raises(InvalidInput) as caught:
        await client.connect_secret({"channel": "https://t.me/acme"})
    assert str(caught.value) == ADD_BOT


async def test_connecting_to_what_is_not_a_reachable_channel_is_refused(
    fake: FakeTelegram, client: TelegramClient
) -> None:
    fake.add_channel("acmechat", kind="supergroup")
    with pytest.raises(InvalidInput, match="is a supergroup, not a channel"):
        await client.connect_secret({"channel": "acmechat"})
    with pytest.raises(InvalidInput, match=r"can't show Herald @nowhere \(Bad Request: chat not found\)"):
        await client.connect_secret({"channel": "@nowhere"})
    with pytest.raises(InvalidInput):
        await client.connect_secret({"channel": "not a channel!"})


async def test_publishes_text_with_send_message(fake: FakeTelegram, client: TelegramClient) -> None:
    fake.add_channel("acme")
    creds, progress = await connect(client), MemoryProgress()

    published = await client.publish(publication(creds, "Hello https://example.com", progress=progress))

    [sent] = fake.messages
    assert (sent.method, sent.text) == ("sendMessage", "Hello https://example.com")
    assert published.external_id == str(sent.message_id) == "1"
    assert published.url == "https://t.me/acme/1"
    assert progress.steps["sent"]  # recorded before the call


async def test_publishes_one_photo_with_its_caption(fake: FakeTelegram, client: TelegramClient) -> None:
    fake.add_channel("acme")
    published = await client.publish(publication(await connect(client), "Look", media=("a",)))

    [sent] = fake.messages
    assert (sent.method, sent.text) == ("sendPhoto", "Look")
    [(kind, filename, content_type, size)] = sent.media
    assert (kind, filename, content_type) == ("photo", "a.jpg", "image/jpeg") and size == len(jpeg())
    assert published.url == f"https://t.me/acme/{sent.message_id}"


async def test_publishes_an_album_with_the_caption_on_the_first_item(
    fake: FakeTelegram, client: TelegramClient
) -> None:
    fake.add_channel("acme")
    published = await client.publish(publication(await connect(client), "Album", media=("a", "b", "c")))

    assert fake.count("sendMediaGroup") == 1
    assert [m.text for m in fake.messages] == ["Album", None, None]
    assert len({m.media_group_id for m in fake.messages}) == 1
    assert [m.media[0][0] for m in fake.messages] == ["photo"] * 3
    [call] = [c for c in fake.calls if c.method == "sendMediaGroup"]
    assert [item["media"] for item in json.loads(call.params["media"])] == [f"attach://file{i}" for i in range(3)]
    assert published.url == f"https://t.me/acme/{fake.messages[0].message_id}"


async def test_a_private_channel_links_by_its_id(fake: FakeTelegram, client: TelegramClient) -> None:
    chat_id = fake.add_channel(None, "Secret")
    [choice] = await client.connect_secret({"channel": str(chat_id)})
    short = str(chat_id).removeprefix("-100")
    assert choice.handle == f"c{short}" and choice.url is None

    published = await client.publish(publication(choice.credentials))
    assert published.url == f"https://t.me/c/{short}/1"


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        ("rate_limit", RateLimited, "Telegram said: Too Many Requests: retry after 5."),
        ("too_long", Rejected, "Telegram said: Bad Request: message is too long."),
        ("server_error", PlatformDown, "Telegram said: Internal Server Error."),
        (
            "kicked",
            AuthExpired,
            "Telegram said: Forbidden: bot was kicked from the channel chat. Add @HeraldBot back to @acme as an "
            "administrator who can post messages.",
        ),
        (
            "not_member",
            AuthExpired,
            "Telegram said: Forbidden: bot is not a member of the channel chat. Add @HeraldBot back to @acme",
        ),
        ("unauthorized", AuthExpired, "Telegram said: Unauthorized. Herald's bot token (TELEGRAM_BOT_TOKEN)"),
    ],
)
async def test_errors_from_the_real_bodies(
    fake: FakeTelegram, client: TelegramClient, error: str, kind: type[PlatformError], message: str
) -> None:
    fake.add_channel("acme")
    creds, progress = await connect(client), MemoryProgress()
    fake.fail("sendMessage", error)

    with pytest.raises(PlatformError) as caught:
        await client.publish(publication(creds, progress=progress))

    assert type(caught.value) is kind
    assert str(caught.value).startswith(message)
    if error == "rate_limit":
        assert caught.value.retry_after == 5  # type: ignore[attr-defined]
    assert fake.messages == []
    # a definite refusal clears "sent": the retry publishes, once
    assert progress.steps["sent"] == ""
    await client.publish(publication(creds, progress=progress))
    assert len(fake.messages) == 1


async def test_a_200_with_ok_false_is_an_error(fake: FakeTelegram, client: TelegramClient) -> None:
    fake.add_channel("acme")
    creds = await connect(client)
    fake.fail("sendMessage", 400, "Bad Request: message text is empty", http_status=200)
    with pytest.raises(Rejected, match=r"Telegram said: Bad Request: message text is empty\."):
        await client.publish(publication(creds))


async def test_a_bot_removed_from_the_channel_needs_it_back(fake: FakeTelegram, client: TelegramClient) -> None:
    chat_id = fake.add_channel("acme")
    creds = await connect(client)
    fake.set_bot(chat_id, "kicked")

    with pytest.raises(AuthExpired, match=r"bot was kicked from the channel chat\. Add @HeraldBot back to @acme"):
        await client.publish(publication(creds))
    with pytest.raises(AuthExpired, match="Add @HeraldBot to @acme as an administrator"):
        await client.check(creds)

    fake.set_bot(chat_id, "administrator")
    assert (await client.check(creds)).handle == "acme"


async def test_limits_are_checked_before_sending(fake: FakeTelegram, client: TelegramClient) -> None:
    fake.add_channel("acme")
    creds = await connect(client)
    with pytest.raises(Rejected, match="allows 4096 characters, this is 4098"):
        await client.publish(publication(creds, "x" * 4096 + "😀"))  # an emoji is 2 UTF-16 code units
    with pytest.raises(Rejected, match="1024 characters in a caption"):
        await client.publish(publication(creds, "x" * 1025, media=("a",)))
    with pytest.raises(Rejected, match="at most 10"):
        await client.publish(publication(creds, media=tuple("abcdefghijk")))
    assert fake.count("sendMessage") + fake.count("sendPhoto") + fake.count("sendMediaGroup") == 0

    await client.publish(publication(creds, "x" * 4094 + "😀"))
    assert len(fake.messages) == 1


async def test_an_unknown_outcome_is_never_repeated(fake: FakeTelegram, client: TelegramClient) -> None:
    fake.add_channel("acme")
    creds, progress = await connect(client), MemoryProgress()
    fake.hang_seconds = 1.5
    fake.hang("sendMessage")

    with pytest.raises(OutcomeUnknown):
        await client.publish(publication(creds, progress=progress))
    assert len(fake.messages) == 1  # it did go out
    assert await client.verify(publication(creds, progress=progress)) is None  # the Bot API can't tell

    with pytest.raises(OutcomeUnknown, match="/verify or /republish"):
        await client.publish(publication(creds, progress=progress))
    assert fake.count("sendMessage") == 1 and client.idempotent is False


async def test_the_bot_token_is_required_and_never_shown(fake: FakeTelegram, http: httpx.AsyncClient) -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        await TelegramClient(TelegramSettings(api_url=fake.url), http, TIMEOUT).connect_secret({"channel": "@acme"})

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    down = TelegramClient(TelegramSettings(bot_token=BOT_TOKEN, api_url=closed), http, TIMEOUT)
    with pytest.raises(PlatformDown) as caught:
        await down.publish(publication(Credentials(extra={"chat_id": "-100123", "username": "acme"})))
    assert BOT_TOKEN not in "".join(traceback.format_exception(caught.value))
    assert TelegramSettings(bot_token=BOT_TOKEN).secret_values == (BOT_TOKEN,)


@pytest.mark.parametrize(
    ("given", "ref"),
    [("@acme", "@acme"), ("acme", "@acme"), ("https://t.me/acme", "@acme"), ("-1001234567890", "-1001234567890")],
)
def test_channel_references(given: str, ref: str) -> None:
    assert channel_ref(given) == ref


def test_the_platform_is_registered() -> None:
    from tasks import platforms

    assert platforms.by_name("telegram") is PLATFORM
    assert PLATFORM.rules.connect == "secret" and PLATFORM.rules.text_limit == 4096
    assert PLATFORM.rules.media.max_items == 10
    assert utf16_length("héllo 😀") == 8
