"""Slack's edge as a real workspace meets it: where a refusal is seen, forms that mention "payload", and
requests that are unsigned, malformed or of the wrong shape (answered, never a 500 or a traceback)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from models.members import Member
from models.posts import Post
from tests.bot.harness import APPROVALS, GENERAL, harness, user_id
from tests.bot.test_slack_approval import card_in, two_levels
from tests.fakes import slack_requests as inbound
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("pg_db")
Json = dict[str, Any]
REFUSAL = "Level 1 of post 1 needs anyone with role editor."
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def problems(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """Error records of the standard library's logging (uvicorn's "Exception in ASGI application", bolt's
    "Failed to run listener function"), checked empty by the tests that want none."""
    with caplog.at_level(logging.ERROR):
        yield caplog.records


# -- 1. a refusal is seen where the click was made ---------------------------------------------------------


async def test_a_refused_click_is_answered_where_it_was_made(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await two_levels(h)
        card = card_in(h, APPROVALS)
        assert fake.messages_in(APPROVALS, thread_ts=card.ts) == []  # nobody has replied to the card yet
        url = fake.response_url("dave-1", channel=APPROVALS, message_ts=card.ts, user=user_id("dave"))
        before = len(fake.calls())
        await h.click(card, "Approve", as_="dave", response_url=url)
        await h.settle()

    assert fake.visible_ephemerals(user_id("dave"), APPROVALS) == [REFUSAL]
    (response,) = fake.responses("dave-1")
    assert (response["response_type"], response["replace_original"]) == ("ephemeral", False)
    said = [c.method for c in fake.calls()[before:] if c.method.startswith("chat.") or c.method == "response_url"]
    assert said == ["response_url"]  # and nothing else: the card is as it was


async def test_without_a_response_url_the_refusal_goes_to_the_channel_not_the_cards_thread(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await two_levels(h)
        await h.click(card_in(h, APPROVALS), "Approve", as_="dave")  # its response_url refuses connections
        await h.settle()

    assert fake.visible_ephemerals(user_id("dave"), APPROVALS) == [REFUSAL]
    assert "thread_ts" not in fake.last("chat.postEphemeral").args


async def test_a_click_in_a_thread_is_answered_in_that_thread(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await two_levels(h)
        card = card_in(h, APPROVALS)
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.base_url)
        await client.chat_postMessage(channel=APPROVALS, text=card.text, blocks=card.blocks, thread_ts=card.ts)
        (in_thread,) = fake.messages_in(APPROVALS, thread_ts=card.ts)
        await h.click(in_thread, "Approve", as_="dave")
        url = fake.response_url("dave-2", channel=APPROVALS, message_ts=in_thread.ts, user=user_id("dave"))
        await h.click(in_thread, "Approve", as_="dave", response_url=url)
        await h.settle()

    assert fake.visible_ephemerals(user_id("dave"), APPROVALS, thread_ts=card.ts) == [REFUSAL, REFUSAL]
    assert fake.visible_ephemerals(user_id("dave"), APPROVALS) == []


# -- 2. the word "payload" in a slash command ---------------------------------------------------------------


async def test_a_draft_that_mentions_payload_is_a_draft(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await h.command("/herald", "whoami")
        await h.settle()
        await h.command("/herald", "account add dryrun demo")
        await h.command("/herald", "role add bob approver")
        await h.settle()
        acked = await h.command("/draft", "Our new payload ships Friday --to demo --at now")
        await h.settle()

    assert acked.status_code == 200
    assert await Post.filter(text="Our new payload ships Friday").count() == 1


@pytest.mark.parametrize(
    "where",
    [{"channel_name": "payload-ops"}, {"team_domain": "payload-co"}, {"user_name": "payload"}],
    ids=["channel", "team domain", "user name"],
)
async def test_a_command_from_a_place_named_payload_is_a_command(fake: FakeSlack, where: dict[str, str]) -> None:
    async with harness(fake) as h:
        acked = await h.send(inbound.slash_command("/herald", "whoami", user_id("carol"), GENERAL, **where))
        await h.settle()

    assert acked.status_code == 200
    assert fake.last("chat.postEphemeral").args["text"].startswith("You are ")


# -- 3. unsigned, malformed and wrong-shaped requests ------------------------------------------------------

MALFORMED_FORMS = {
    "payload not JSON": {"payload": "not-json"},
    "payload a list": {"payload": "[1,2,3]"},
    "payload a string": {"payload": '"hello"'},
}


@pytest.mark.parametrize("fields", MALFORMED_FORMS.values(), ids=MALFORMED_FORMS.keys())
async def test_malformed_bodies_unsigned_get_401_signed_400(
    fake: FakeSlack, fields: dict[str, str], problems: list[logging.LogRecord]
) -> None:
    async with harness(fake) as h:
        fake.reset()  # forget the start-up auth.test
        with structlog.testing.capture_logs() as logs:
            unsigned = await h.send(inbound.signed_form(fields, forge=True))
            signed = await h.send(inbound.signed_form(fields))

    assert (unsigned.status_code, signed.status_code) == (401, 400)
    assert [e["event"] for e in logs] == ["slack.bad_request"]  # one line, for the signed one
    assert problems == [] and fake.calls() == []


async def test_a_request_without_signature_headers_or_with_a_bad_timestamp_gets_401(fake: FakeSlack) -> None:
    body, headers = inbound.slash_command("/herald", "whoami")
    async with harness(fake) as h:
        bare = await h.http.post(h.events_url, content=body, headers={"Content-Type": headers["Content-Type"]})
        odd = await h.http.post(h.events_url, content=body, headers=headers | {"X-Slack-Request-Timestamp": "soon"})
        await h.settle()

    assert (bare.status_code, odd.status_code) == (401, 401)
    assert fake.calls("chat.postEphemeral") == []


async def test_slacks_certificate_check_is_answered_unsigned_and_runs_nothing(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        fake.reset()
        checked = await h.http.post(h.events_url, content=b"ssl_check=1&token=legacy-token", headers=FORM)
        forged = await h.http.post(h.events_url, content=b"ssl_check=1&command=%2Fherald&text=whoami", headers=FORM)
        await h.settle()

    assert (checked.status_code, checked.text) == (200, "")
    assert forged.status_code == 200 and fake.calls() == []  # a certificate check, whatever else it carries


async def test_a_signed_body_that_is_not_utf8_gets_400(fake: FakeSlack, problems: list[logging.LogRecord]) -> None:
    body = b"command=%2Fherald&text=\xff\xfe"
    timestamp = str(int(time.time()))
    signature = hmac.new(inbound.SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + signature.hexdigest()}
    async with harness(fake) as h:
        answered = await h.send((body, inbound.sign(b"", inbound.SIGNING_SECRET) | headers))

    assert answered.status_code == 400 and problems == []


def _click(**changes: Any) -> Json:
    body, _ = inbound.block_action("herald.approve", "/approve 1", user_id("bob"), GENERAL)
    payload: Json = json.loads(httpx.QueryParams(body.decode())["payload"])
    return {k: v for k, v in (payload | changes).items() if v is not None}


def _submission(callback: str, values: Json, metadata: str = "") -> Json:
    body, _ = inbound.view_submission(callback, values, user_id("alice"), metadata)
    payload: Json = json.loads(httpx.QueryParams(body.decode())["payload"])
    return payload


WRONG_SHAPES: dict[str, tuple[inbound.Signed, int]] = {
    "click, actions an object": (inbound.signed_payload(_click(actions={"action_id": "herald.approve"})), 400),
    "click, actions empty": (inbound.signed_payload(_click(actions=[])), 400),
    "click, no user": (inbound.signed_payload(_click(user=None)), 400),
    "click, user a string": (inbound.signed_payload(_click(user=user_id("bob"))), 400),
    "click, user an int": (inbound.signed_payload(_click(user=7)), 400),
    "click, channel a list": (inbound.signed_payload(_click(channel=["C1"])), 400),
    "command without user_id": (
        inbound.signed_form({"command": "/herald", "text": "whoami", "channel_id": GENERAL}),
        400,
    ),
    "draft submit, text a number": (
        inbound.signed_payload(_submission("herald.draft", {"text": {"text": {"value": 5}}})),
        400,
    ),
    "draft submit, targets a string": (
        inbound.signed_payload(_submission("herald.draft", {"targets": {"targets": {"selected_options": "x"}}})),
        400,
    ),
    "draft submit, time a word": (
        inbound.signed_payload(_submission("herald.draft", {"when": {"when": {"selected_date_time": "soon"}}})),
        400,
    ),
    "draft submit, values a list": (
        inbound.signed_payload(
            _submission("herald.draft", {}) | {"view": {"callback_id": "herald.draft", "state": {"values": []}}}
        ),
        400,
    ),
    "answer submit, metadata of the wrong types": (
        inbound.signed_payload(
            _submission("herald.ask", {"answer": {"answer": {"value": "typo"}}}, '{"channel": ["C1"], "home": "x"}')
        ),
        400,
    ),
    "events body a list": (inbound.signed_event([1, 2, 3]), 200),
    "event not an object": (inbound.signed_event({"type": "event_callback", "event": "app_home_opened"}), 200),
    "app_home_opened without user": (
        inbound.signed_event({"type": "event_callback", "event": {"type": "app_home_opened", "tab": "home"}}),
        200,
    ),
    "app_home_opened, user an object": (
        inbound.signed_event({"type": "event_callback", "event": {"type": "app_home_opened", "user": {"id": "U1"}}}),
        200,
    ),
}


@pytest.mark.parametrize("signed, status", WRONG_SHAPES.values(), ids=WRONG_SHAPES.keys())
async def test_signed_bodies_of_the_wrong_shape_are_answered_with_one_log_line(
    fake: FakeSlack, signed: inbound.Signed, status: int, problems: list[logging.LogRecord]
) -> None:
    async with harness(fake) as h:
        fake.reset()  # forget the start-up auth.test
        with structlog.testing.capture_logs() as logs:
            answered = await h.send(signed)
            await h.settle()

    assert answered.status_code == status
    assert [e["event"] for e in logs] == ["slack.bad_request"]
    assert "exc_info" not in logs[0]
    assert problems == []  # no traceback from uvicorn or bolt
    assert fake.calls() == []  # nothing ran: no reply, no view, no lookup
    assert await Member.all().count() == 0


# -- what Slack really sends passes ------------------------------------------------------------------------


def _slack_shaped() -> dict[str, inbound.Signed]:
    """Requests in the shapes Slack documents, with the variations a workspace produces (org installs,
    ephemeral and modal containers, selects, empty state, response_urls, shared channels): each a kind
    Herald answers, or one it has no listener for."""
    team = {"id": inbound.TEAM_ID, "domain": "acme", "enterprise_id": "E0ACME0001", "enterprise_name": "Acme"}
    user = {"id": user_id("carol"), "username": "carol", "name": "carol", "team_id": inbound.TEAM_ID}
    button = {
        "action_id": "other.button",
        "block_id": "b1",
        "type": "button",
        "value": "v",
        "text": {"type": "plain_text", "text": "Go", "emoji": True},
        "action_ts": "1733200000.000100",
    }
    select = {
        "action_id": "other.select",
        "block_id": "b2",
        "type": "static_select",
        "action_ts": "1733200000.2",
        "selected_option": {"text": {"type": "plain_text", "text": "One"}, "value": "1"},
    }
    view = {
        "id": "V0MODAL001",
        "team_id": inbound.TEAM_ID,
        "type": "modal",
        "blocks": [],
        "callback_id": "other.view",
        "private_metadata": "",
        "state": {},
        "hash": "1733200000.abc",
        "app_installed_team_id": inbound.TEAM_ID,
    }
    common = {"api_app_id": inbound.API_APP_ID, "token": "legacy-token", "trigger_id": "1.2.abc", "team": team}
    event_common = {
        "token": "legacy-token",
        "team_id": inbound.TEAM_ID,
        "api_app_id": inbound.API_APP_ID,
        "type": "event_callback",
        "event_id": "Ev0001",
        "event_time": 1733200000,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": inbound.TEAM_ID,
                "user_id": "U0HERALDBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
    }
    return {
        "click on an ephemeral message (no message in the payload)": inbound.signed_payload(
            common
            | {
                "type": "block_actions",
                "user": user,
                "actions": [button],
                "channel": {"id": "C0X", "name": "x"},
                "container": {"type": "message", "message_ts": "1.2", "channel_id": "C0X", "is_ephemeral": True},
                "response_url": "https://hooks.slack.com/actions/T/1/x",
            }
        ),
        "a choice in a modal's select": inbound.signed_payload(
            common
            | {
                "type": "block_actions",
                "user": user,
                "actions": [select],
                "view": view,
                "container": {"type": "view", "view_id": "V0MODAL001"},
                "enterprise": None,
                "is_enterprise_install": False,
            }
        ),
        "a Herald button clicked in App Home": inbound.signed_payload(
            common
            | {
                "type": "block_actions",
                "user": user,
                "view": view | {"type": "home"},
                "container": {"type": "view", "view_id": "V0MODAL001"},
                "actions": [button | {"action_id": "herald.queue", "value": "/queue"}],
            }
        ),
        "a modal submitted with empty state and response_urls": inbound.signed_payload(
            common
            | {
                "type": "view_submission",
                "user": user,
                "view": view,
                "response_urls": [
                    {
                        "block_id": "b",
                        "action_id": "a",
                        "channel_id": "C0X",
                        "response_url": "https://hooks.slack.com/app/T/1/x",
                    }
                ],
            }
        ),
        "a modal submitted from a shared channel's other workspace": inbound.signed_payload(
            common
            | {
                "type": "view_submission",
                "user": user,
                "enterprise": {"id": "E0OTHER001", "name": "Other"},
                "view": view | {"app_installed_team_id": "T0INSTALLED"},
            }
        ),
        "a modal closed": inbound.signed_payload(
            common | {"type": "view_closed", "user": user, "view": view, "is_cleared": False}
        ),
        "a global shortcut": inbound.signed_payload(
            common | {"type": "shortcut", "user": user, "callback_id": "other.shortcut", "action_ts": "1.2"}
        ),
        "a message shortcut": inbound.signed_payload(
            common
            | {
                "type": "message_action",
                "user": user,
                "callback_id": "other.action",
                "action_ts": "1.2",
                "channel": {"id": "C0X", "name": "x"},
                "message": {"type": "message", "ts": "1.2", "text": "hi"},
                "response_url": "https://hooks.slack.com/app/T/1/x",
                "message_ts": "1.2",
            }
        ),
        "options for an external select": inbound.signed_payload(
            common
            | {
                "type": "block_suggestion",
                "user": user,
                "action_id": "other.ext",
                "block_id": "b",
                "value": "ab",
                "container": {"type": "view", "view_id": "V0MODAL001"},
                "view": view,
            }
        ),
        "a slash command from an org install": inbound.signed_form(
            {
                "token": "legacy-token",
                "team_id": inbound.TEAM_ID,
                "team_domain": "acme",
                "enterprise_id": "E0ACME0001",
                "enterprise_name": "Acme",
                "channel_id": GENERAL,
                "channel_name": "general",
                "user_id": user_id("carol"),
                "user_name": "carol",
                "command": "/herald",
                "text": "whoami",
                "api_app_id": inbound.API_APP_ID,
                "is_enterprise_install": "false",
                "response_url": "http://127.0.0.1:9/response/org",
                "trigger_id": "1.2.abc",
            }
        ),
        "an app mention": inbound.signed_event(
            event_common
            | {
                "event": {
                    "type": "app_mention",
                    "user": "U0X",
                    "text": "<@U0HERALDBOT> hi",
                    "ts": "1.2",
                    "channel": "C0X",
                    "event_ts": "1.2",
                }
            }
        ),
        "a message in a channel": inbound.signed_event(
            event_common
            | {
                "event": {
                    "type": "message",
                    "user": "U0X",
                    "text": "hello",
                    "ts": "1.2",
                    "channel": "C0X",
                    "channel_type": "channel",
                    "event_ts": "1.2",
                }
            }
        ),
        "a reaction": inbound.signed_event(
            event_common
            | {
                "event": {
                    "type": "reaction_added",
                    "user": "U0X",
                    "reaction": "eyes",
                    "item": {"type": "message", "channel": "C0X", "ts": "1.2"},
                    "item_user": "U0Y",
                    "event_ts": "1.3",
                }
            }
        ),
        "App Home's messages tab opened": inbound.signed_event(
            event_common
            | {
                "event": {
                    "type": "app_home_opened",
                    "user": "U0X",
                    "channel": "D0X",
                    "tab": "messages",
                    "event_ts": "1.2",
                }
            }
        ),
        "the URL verification": inbound.signed_event(
            {
                "token": "legacy-token",
                "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                "type": "url_verification",
            }
        ),
    }


SLACK_SHAPED = _slack_shaped()


@pytest.mark.parametrize("signed", SLACK_SHAPED.values(), ids=SLACK_SHAPED.keys())
async def test_what_slack_sends_is_never_refused_as_malformed(
    fake: FakeSlack, signed: inbound.Signed, problems: list[logging.LogRecord]
) -> None:
    async with harness(fake) as h:
        with structlog.testing.capture_logs() as logs:
            answered = await h.send(signed)
            await h.settle()

    event = signed[1]["Content-Type"] == "application/json"
    assert answered.status_code == 200 if event else answered.status_code in (200, 404)
    assert [e for e in logs if e["log_level"] in ("warning", "error")] == []
    assert problems == []


async def test_events_herald_has_no_listener_for_are_acked_quietly(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        with structlog.testing.capture_logs() as logs:
            answered = await h.send(SLACK_SHAPED["a reaction"])

    assert (answered.status_code, answered.text) == (200, "")
    assert [e["event"] for e in logs if e["log_level"] != "debug"] == []


async def test_the_url_verification_challenge_is_answered(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        answered = await h.send(SLACK_SHAPED["the URL verification"])

    assert answered.status_code == 200
    assert answered.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


async def test_a_home_opened_without_the_edge_is_read_by_the_listener(fake: FakeSlack) -> None:
    """Socket Mode's envelopes skip the HTTP edge: the listener reads the payload itself."""
    async with harness(fake) as h:
        good = {
            "type": "event_callback",
            "team_id": inbound.TEAM_ID,
            "event": {"type": "app_home_opened", "user": user_id("carol"), "tab": "home"},
        }
        bad = {"type": "event_callback", "team_id": inbound.TEAM_ID, "event": {"type": "app_home_opened"}}
        with structlog.testing.capture_logs() as logs:
            for body in (good, bad):
                await h.slack.bolt.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
            await h.settle()

    assert [c.args["user_id"] for c in fake.calls("views.publish")] == [user_id("carol")]
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["slack.bad_request"]
