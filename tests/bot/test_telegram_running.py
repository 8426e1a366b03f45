"""Running the Telegram side: the webhook's secret, bad bodies, registering the webhook, and polling."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from bot.telegram import app as telegram_app
from models.members import Member
from tests.auxil.processes import base_env, free_port, herald_command, running, wait_for
from tests.bot.telegram_harness import SECRET, USERS, harness, settings_for
from tests.fakes.telegram import BOT_TOKEN, FakeTelegram

pytestmark = pytest.mark.usefixtures("pg_db")
ALICE = USERS["alice"]


async def test_a_missing_or_wrong_secret_is_403_and_nothing_happens() -> None:
    with FakeTelegram() as fake:
        async with harness(fake) as h:
            update = fake.message_update(ALICE, None, "/whoami")
            calls = len(fake.calls)
            missing = await h.send(update, secret=None)
            wrong = await h.send(update, secret=SECRET[:-1] + "x")
            await h.settle()
            assert (missing.status_code, wrong.status_code) == (403, 403)
            assert len(fake.calls) == calls and fake.messages == []
            assert await Member.all().count() == 0

            not_json = await h.http.post(
                h.webhook, content=b"{nope", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            not_update = await h.send({"hello": "world"})
            assert (not_json.status_code, not_update.status_code) == (400, 400)

            assert (await h.send(update)).status_code == 200
            await h.settle()
        assert [m.text for m in fake.messages] == ["You are alice (admin; time zone UTC)."]


async def test_without_a_secret_configured_the_webhook_refuses_everything() -> None:
    with FakeTelegram() as fake:
        async with harness(fake, polling=False, TELEGRAM_WEBHOOK_SECRET="") as h:
            response = await h.send(fake.message_update(ALICE, None, "/whoami"), secret="")
            assert response.status_code == 403


async def test_set_and_delete_webhook_register_the_secret_and_the_update_types() -> None:
    with FakeTelegram() as fake:
        settings = settings_for(fake, HERALD_PUBLIC_URL="https://herald.example.com")
        url = telegram_app.webhook_url(settings)
        assert url == "https://herald.example.com/telegram/webhook"
        assert await telegram_app.set_webhook(settings, url)
        assert fake.webhook == {
            "url": url,
            "secret_token": SECRET,
            "allowed_updates": ["message", "edited_message", "callback_query"],
        }
        assert await telegram_app.delete_webhook(settings)
        assert fake.webhook is None


async def test_polling_reads_get_updates_and_answers() -> None:
    with FakeTelegram() as fake:
        async with harness(fake, polling=True, TELEGRAM_WEBHOOK_SECRET="") as h:
            assert h.telegram.polling
            update = fake.message_update(ALICE, None, "/whoami")
            fake.push(update)
            for _ in range(200):  # the next long poll picks it up
                if fake.messages:
                    break
                await asyncio.sleep(0.05)
            await h.settle()
        assert [m.text for m in fake.messages] == ["You are alice (admin; time zone UTC)."]
        polls = [c for c in fake.calls if c.method == "getUpdates"]
        assert polls and polls[0].params["allowed_updates"] == '["message", "edited_message", "callback_query"]'
        assert any(c.method == "deleteWebhook" for c in fake.calls)  # polling takes over from a webhook
        # the update is confirmed (a later getUpdates asks from the next id) and dropped
        assert any(int(p.params.get("offset") or 0) > update["update_id"] for p in polls) and fake.updates == []


def test_herald_telegram_set_webhook_and_delete_webhook_from_the_command_line(tmp_path: Path) -> None:
    with FakeTelegram() as fake:
        env = base_env(
            TELEGRAM_BOT_TOKEN=BOT_TOKEN,
            TELEGRAM_API_URL=fake.url,
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            HERALD_PUBLIC_URL="https://herald.example.com",
        )
        done = subprocess.run(
            herald_command("telegram", "set-webhook"), env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert fake.webhook is not None and fake.webhook["url"] == "https://herald.example.com/telegram/webhook"
        assert fake.webhook["secret_token"] == SECRET
        done = subprocess.run(
            herald_command("telegram", "delete-webhook"), env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0 and fake.webhook is None


def test_herald_run_with_only_the_bot_token_polls_and_answers(tmp_path: Path) -> None:
    """The embedded default (SQLite, in-process queue) and nothing but TELEGRAM_BOT_TOKEN: Herald polls."""
    with FakeTelegram() as fake:
        fake.add_user(ALICE, "Alice", "alice")
        env = base_env(TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_API_URL=fake.url)
        port = free_port()
        with running([("run", ["run", "--port", str(port)])], env, tmp_path) as (proc,):
            assert wait_for(lambda: fake.count("getUpdates") > 0, 60), proc.log()
            fake.push(fake.message_update(ALICE, None, "/whoami"))
            assert wait_for(lambda: fake.messages, 30), proc.log()
        assert [m.text for m in fake.messages] == ["You are alice (admin; time zone UTC)."]
