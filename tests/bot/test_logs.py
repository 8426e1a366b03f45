"""One log format and one scrubber for Herald's structlog events and every library's stdlib records."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import httpx
import pytest
import structlog

from bot import logs
from bot.notifiers import OutboxNotifier
from bot.slack import app as slack_app
from handlers.app import Herald
from handlers.context import Services
from handlers.ports import NullScheduler, SystemClock
from tests.bot.harness import settings_for
from tests.fakes import slack_requests as inbound
from tests.fakes.slack import FakeSlack

BOT_TOKEN = "xoxb-1234-5678-abcdefghijkl"
APP_TOKEN = "xapp-1-A0HERALD01-1234-abcdef"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SECRET_KEY = "herald-secret-key-0123456789"
VERIFICATION = "deprecated-verification-token"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, SECRET_KEY, VERIFICATION)


@pytest.fixture
def output(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., io.StringIO]]:
    """``output(fmt)``: logs configured as a process configures them, written to the returned buffer."""
    monkeypatch.setattr(logs, "_secrets", [])

    def configure(fmt: str = "console") -> io.StringIO:
        stream = io.StringIO()
        logs.configure("debug", fmt, stream, secrets=[SIGNING_SECRET, SECRET_KEY, None, "short"])
        return stream

    yield configure
    logs.configure("warning")  # as the suite runs


def assert_clean(text: str) -> None:
    assert [s for s in SECRETS if s in text] == [], text
    assert "Bearer " not in text and "xox" not in text and "xapp-" not in text, text


def test_a_librarys_record_is_rendered_like_herald_s_event(output: Callable[..., io.StringIO]) -> None:
    stream = output()
    structlog.get_logger("herald").info("slack.ack", post_id=7)
    logging.getLogger("slack_sdk.web").info("Sending a request - url: %s", "https://slack.com/api/auth.test")
    herald, sdk = stream.getvalue().splitlines()
    assert herald.endswith("[info     ] slack.ack                      post_id=7")
    assert sdk.endswith("[info     ] Sending a request - url: https://slack.com/api/auth.test [slack_sdk.web]")
    assert herald[:10] == sdk[:10] and herald[26:28] == sdk[26:28] == "Z "  # the same ISO timestamp, UTC


def test_a_records_arguments_are_scrubbed(output: Callable[..., io.StringIO]) -> None:
    stream = output()
    log = logging.getLogger("slack_sdk.web")
    log.debug("headers: %s", {"Authorization": f"Bearer {BOT_TOKEN}"})
    log.debug("Sending %s with %r", "apps.connections.open", {"token": APP_TOKEN, "channel": "C1"})
    log.warning("the signing secret is %s, the key %s", SIGNING_SECRET, SECRET_KEY)
    text = stream.getvalue()
    assert_clean(text)
    assert "'channel': 'C1'" in text and text.count("[redacted]") == 4


def test_bolts_refused_request_keeps_the_fact_not_the_verification_token(output: Callable[..., io.StringIO]) -> None:
    """bolt logs a refused request's whole body: the form of a slash command, the percent-encoded JSON of a
    click's ``payload`` field, the JSON of an event; each carries the app's verification token."""
    stream = output()
    bodies = [
        inbound.slash_command("/draft", "hello", "U1", "C1", forge=True)[0].decode(),
        inbound.block_action("herald.approve", "/approve 1", "U1", "C1", "1.2")[0].decode(),
        json.dumps({"token": VERIFICATION, "type": "event_callback", "event": {"type": "app_home_opened"}}),
    ]
    for body in bodies:
        assert VERIFICATION in body
        logging.getLogger("slack_bolt.AsyncRequestVerification").info(
            f"Invalid request signature detected (signature: v0=abc, timestamp: 1, body: {body})"
        )
    text = stream.getvalue()
    assert_clean(text)
    assert text.count("Invalid request signature detected") == 3
    assert "token=[redacted]&team_id=" in text and "%22token%22%3A+%22[redacted]%22" in text
    assert '"token": "[redacted]"' in text


def test_a_traceback_is_scrubbed(output: Callable[..., io.StringIO]) -> None:
    stream = output()
    try:
        raise ValueError(f"auth failed for {BOT_TOKEN} with {SIGNING_SECRET}")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        structlog.get_logger("herald").exception("slack.failed", post_id=3)
    text = stream.getvalue()
    assert_clean(text)
    assert text.count("ValueError: auth failed for [redacted] with [redacted]") == 2


def test_structlog_events_are_scrubbed_in_json_too(output: Callable[..., io.StringIO]) -> None:
    stream = output("json")
    log = structlog.get_logger("herald")
    log.info(
        "slack.call",
        bot_token=BOT_TOKEN,
        body=f"token={VERIFICATION}&text=hi",
        args={"auth": f"Bearer {SIGNING_SECRET}"},
    )
    log.info("config", url=f"redis://:{SECRET_KEY}@redis:6379", retries=3, ok=True)
    logging.getLogger("taskiq").error("broker %s", f"redis://:{SECRET_KEY}@redis:6379")
    text = stream.getvalue()
    assert_clean(text)
    call, config, taskiq = (json.loads(line) for line in text.splitlines())
    assert call["bot_token"] == "[redacted]" and call["body"] == "token=[redacted]&text=hi"
    assert call["args"] == "{'auth': '[redacted]'}"
    assert (config["url"], config["retries"], config["ok"]) == ("redis://:[redacted]@redis:6379", 3, True)
    assert (taskiq["event"], taskiq["logger"]) == ("broker redis://:[redacted]@redis:6379", "taskiq")


def test_ordinary_text_is_left_alone() -> None:
    text = "error=token_revoked; 12 tokens left; Post 1 published: https://x.invalid/1 at 12:30:00; short"
    assert logs.scrub_text(text) == text


async def test_building_the_slack_app_logs_nothing_about_tokens(
    output: Callable[..., io.StringIO], fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bolt reads SLACK_BOT_TOKEN from the environment and warns twice that it is unused: not in Herald's logs."""
    stream = output()
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake.bot_token)
    services = Services(notifier=OutboxNotifier(), scheduler=NullScheduler(), clock=SystemClock())
    async with httpx.AsyncClient() as http:
        slack = slack_app.build(settings_for(fake), Herald(services), http)
        await slack.adapter.notifier.aclose()
    assert "token" not in stream.getvalue().lower(), stream.getvalue()
