"""Messages to Herald in Telegram: commands in private chats and groups (``/cmd@HeraldBot``), a photo with a
``/draft`` caption carried with the post, what isn't a command, and 429s waited out."""

from __future__ import annotations

import io
import time

import pytest
import structlog
from PIL import Image

from handlers.messages import Conversation
from models.posts import Post
from tests.bot.telegram_harness import USERS, harness
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.usefixtures("pg_db")
ALICE = USERS["alice"]


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1280, 853), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [str(m.text) for m in fake.messages_in(chat)]


async def test_commands_for_herald_in_a_group_and_none_for_other_bots() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await h.say("alice", "/whoami")
            await h.say("bob", "/whoami@HeraldBot", chat=h.group)
            await h.say("bob", "/whoami@OtherBot", chat=h.group)
            await h.say("bob", "just chatting", chat=h.group)
            await h.say("alice", "/start")

        assert texts(fake, h.group) == ["You are bob (no roles; time zone UTC)."]
        assert fake.messages_in(h.group)[0].reply_to is not None  # an answer for bob alone: a reply to him
        assert "/draft" in texts(fake, ALICE)[-1]  # /start is /help


async def test_the_one_line_draft_and_a_photo_with_a_draft_caption_carried_with_the_post() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await h.say("alice", "/whoami")
            await h.say("alice", "/account add dryrun demo")
            await h.say("alice", "/role add bob approver")
            photo = fake.add_file(jpeg(), name="launch.jpg")
            await h.say("alice", None, photo=photo, caption='/draft Our launch --to demo --at "in 2h"')
            post = await Post.get(id=1)
            assert post.text == "Our launch" and len(post.media) == 1
            assert (await h.media.get(post.media[0])).data == fake.files[photo][1]
        assert [c.params["file_id"] for c in fake.calls if c.method == "getFile"] == [photo]  # the largest size


async def test_edits_stickers_and_plain_words_get_a_log_line_or_a_sentence() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await h.say("alice", "/whoami")
            with structlog.testing.capture_logs() as logs:
                await h.say("alice", "/whoami", edited=True)
            await h.say("alice", None, sticker=True)
            await h.say("alice", "hello there")
            await h.say("alice", "x" * 4000)  # a long message is just words too

        said = texts(fake, ALICE)
        assert said[1:] == [
            "I don't read stickers or files without a command; send /draft with a caption to draft a post.",
            "⚠️ Commands start with / — try /help to see them all.",  # plain words go to the core, which says so
            "⚠️ Commands start with / — try /help to see them all.",
        ]
        del logs  # the edit is logged at info (below the tests' log level): nothing was answered, nothing failed


async def test_a_429_is_waited_out_and_the_message_still_arrives() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            fake.fail("sendMessage", "rate_limit", retry_after=1)
            began = time.monotonic()
            await h.say("alice", "/whoami")
            took = time.monotonic() - began

        assert texts(fake, ALICE) == ["You are alice (admin; time zone UTC)."]
        assert took >= 1.0 and fake.count("sendMessage") == 2


async def test_an_album_with_a_draft_caption_is_one_post_with_every_photo() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await h.say("alice", "/whoami")
            await h.say("alice", "/account add dryrun demo")
            await h.say("alice", "/role add bob approver")
            photos = [fake.add_file(jpeg(), name=f"p{n}.jpg") for n in range(3)]
            caption = '/draft Three of them --to demo --at "in 2h"'
            for n, photo in enumerate(photos):
                update = fake.message_update(
                    ALICE, None, photo=photo, caption=caption if n == 0 else None, media_group_id="13579"
                )
                assert (await h.send(update)).status_code == 200
            await h.settle()
            post = await Post.get(id=1)
            assert post.text == "Three of them" and len(post.media) == 3


async def test_the_worker_side_routes_telegram_conversations_to_a_telegram_notifier() -> None:
    from bot.telegram.notifier import TelegramNotifier
    from bot.wiring import build_notifier
    from tests.bot.telegram_harness import settings_for

    with FakeTelegram() as fake:
        notifier = build_notifier(settings_for(fake))
        assert isinstance(notifier._route(Conversation("telegram", "1")), TelegramNotifier)


async def test_a_guided_draft_in_a_private_chat_takes_plain_words_as_its_answers() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            await h.say("alice", "/account add dryrun acme")
            await h.say("alice", "/draft")
            await h.say("alice", "Launch day at Acme")  # the answer to the guided draft's first step (the text)
        said = texts(fake, ALICE)
        assert said[-1].startswith("Where should it go?"), said  # the text was taken: on to the accounts
        assert not any("Commands start with /" in text for text in said)
