"""The fake Slack answers the real slack-sdk client and a real slack-bolt app as Slack would."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes import slack_requests as inbound
from tests.fakes.slack import FakeSlack, ServerThread


@pytest.fixture(scope="module")
def running_fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def fake(running_fake: FakeSlack) -> FakeSlack:
    running_fake.reset()
    return running_fake


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.base_url)


def test_starts_in_under_a_second_and_stops_cleanly() -> None:
    began = time.monotonic()
    fake = FakeSlack().start()
    started = time.monotonic() - began
    url = fake.base_url
    fake.stop()
    assert started < 1.0
    assert url.startswith("http://127.0.0.1:") and url.endswith("/")
    with pytest.raises(httpx.ConnectError):
        httpx.post(url + "auth.test")


async def test_auth_test_answers_the_bot_identity(fake: FakeSlack, client: AsyncWebClient) -> None:
    response = await client.auth_test()

    assert response["team_id"] == fake.team_id
    assert (response["user_id"], response["bot_id"]) == (fake.bot_user_id, fake.bot_id)
    assert response["is_enterprise_install"] is False
    assert response.headers["x-oauth-scopes"] == fake.scopes
    call = fake.last("auth.test")
    assert call.headers["authorization"] == f"Bearer {fake.bot_token}"
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "slackclient/" in call.headers["user-agent"]


async def test_post_then_update_shows_the_edit(fake: FakeSlack, client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Draft* 1"}}]
    first = await client.chat_postMessage(channel="C1", text="Draft 1", blocks=blocks)
    second = await client.chat_postMessage(channel="C1", text="Draft 2")
    await client.chat_update(channel="C1", ts=first["ts"], text="Draft 1 (approved)", blocks=[])

    assert first["channel"] == "C1" and first["message"]["text"] == "Draft 1"
    assert float(first["ts"]) < float(second["ts"])
    assert fake.last("chat.postMessage").headers["content-type"].startswith("application/json")
    assert fake.calls("chat.postMessage")[0].args["blocks"] == blocks
    edited, untouched = fake.messages_in("C1")
    assert (edited.ts, edited.text, edited.blocks, edited.edits) == (first["ts"], "Draft 1 (approved)", [], 1)
    assert (untouched.text, untouched.edits) == ("Draft 2", 0)


async def test_chat_update_of_an_unknown_message_fails(fake: FakeSlack, client: AsyncWebClient) -> None:
    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")

    with pytest.raises(SlackApiError) as raised:
        await client.chat_update(channel="C1", ts=ephemeral["message_ts"], text="edit")

    assert raised.value.response["error"] == "message_not_found"
    assert fake.messages_in("C1") == []


async def test_thread_reply_is_listed_under_its_parent(fake: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C1", text="Post #7 awaits approval")
    await client.chat_postMessage(channel="C1", text="approved by bob", thread_ts=parent["ts"])
    await client.chat_postMessage(channel="C1", text="unrelated")

    replies = fake.messages_in("C1", thread_ts=parent["ts"])

    assert [m.text for m in replies] == ["approved by bob"]
    assert [m.text for m in fake.messages_in("C1")] == ["Post #7 awaits approval", "approved by bob", "unrelated"]


async def test_an_ephemeral_in_a_thread_without_replies_is_seen_by_nobody(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    card = await client.chat_postMessage(channel="C1", text="Post #7 awaits approval")
    await client.chat_postEphemeral(channel="C1", user="U1", text="not yours", thread_ts=card["ts"])
    await client.chat_postMessage(channel="C1", text="approved by bob", thread_ts=card["ts"])
    await client.chat_postEphemeral(channel="C1", user="U1", text="in the pane", thread_ts=card["ts"])
    await client.chat_postEphemeral(channel="C1", user="U1", text="in the channel")

    assert [(e.text, e.shown) for e in fake.ephemerals("C1")] == [
        ("not yours", False),  # "only shown if there is already an active thread"
        ("in the pane", True),
        ("in the channel", True),
    ]
    assert fake.visible_ephemerals("U1", "C1") == ["in the channel"]
    assert fake.visible_ephemerals("U1", "C1", thread_ts=card["ts"]) == ["in the pane"]
    assert fake.seen_by("U2") == [] and fake.messages_in("C1", thread_ts=card["ts"])[0].text == "approved by bob"


async def test_a_response_url_answer_is_ephemeral_where_the_click_was(fake: FakeSlack, client: AsyncWebClient) -> None:
    card = await client.chat_postMessage(channel="C1", text="Post #7")
    reply = await client.chat_postMessage(channel="C1", text="Post #7, again", thread_ts=card["ts"])
    on_card = fake.response_url("r-1", channel="C1", message_ts=card["ts"], user="U1")
    on_reply = fake.response_url("r-2", channel="C1", message_ts=reply["ts"], user="U1")
    async with httpx.AsyncClient() as http:
        await http.post(on_card, json={"text": "default: ephemeral"})
        await http.post(on_card, json={"text": "kept", "response_type": "ephemeral", "replace_original": False})
        await http.post(on_reply, json={"text": "in the thread", "response_type": "ephemeral"})

    assert fake.visible_ephemerals("U1", "C1") == ["default: ephemeral", "kept"]
    assert fake.visible_ephemerals("U1", "C1", thread_ts=card["ts"]) == ["in the thread"]
    assert [e.via for e in fake.seen_by("U1")] == ["response_url"] * 3
    assert [(m.text, m.edits) for m in fake.messages_in("C1")] == [("Post #7", 0), ("Post #7, again", 0)]


async def test_form_encoded_blocks_and_deletes(fake: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.api_call(
        "chat.postMessage", data={"channel": "C2", "text": "x", "blocks": '[{"type": "divider"}]'}
    )
    await client.chat_delete(channel="C2", ts=posted["ts"])

    assert fake.calls("chat.postMessage")[0].args["blocks"] == [{"type": "divider"}]
    assert fake.messages_in("C2") == []
    with pytest.raises(SlackApiError) as raised:
        await client.api_call("chat.scheduleMessage")
    assert raised.value.response["error"] == "unknown_method"


@pytest.mark.parametrize("token", ["xoxb-wrong", None])
async def test_a_wrong_or_missing_token_is_invalid_auth(fake: FakeSlack, token: str | None) -> None:
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient(token=token, base_url=fake.base_url).chat_postMessage(channel="C1", text="hi")

    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] == "invalid_auth"
    assert fake.messages_in("C1") == []


async def test_fail_auth_rejects_even_the_right_token(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_auth = True

    with pytest.raises(SlackApiError) as raised:
        await client.auth_test()

    assert raised.value.response["error"] == "invalid_auth"


async def test_rate_limit_without_retry_handler_raises_429(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.rate_limit("chat.postMessage", times=1, retry_after=7)

    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="hi")
    after = await client.chat_postMessage(channel="C1", text="hi again")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    assert after["ok"] is True
    assert [c.status for c in fake.calls("chat.postMessage")] == [429, 200]


async def test_rate_limit_retry_handler_retries_once(fake: FakeSlack) -> None:
    # Retry-After 0: the SDK sleeps int(Retry-After) + random() seconds, so this keeps the test under 1 s.
    fake.rate_limit("chat.postMessage", times=1, retry_after=0)
    retry = AsyncRateLimitErrorRetryHandler(max_retry_count=1)
    retrying = AsyncWebClient(token=fake.bot_token, base_url=fake.base_url, retry_handlers=[retry])

    response = await retrying.chat_postMessage(channel="C1", text="hi")

    assert response["ok"] is True
    assert [c.status for c in fake.calls("chat.postMessage")] == [429, 200]
    assert [m.text for m in fake.messages_in("C1")] == ["hi"]


async def test_scripted_failure(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("views.open", "expired_trigger_id")

    modal = {"type": "modal", "title": {"type": "plain_text", "text": "x"}}

    with pytest.raises(SlackApiError) as raised:
        await client.views_open(trigger_id="1.2.abc", view=modal)

    assert raised.value.response["error"] == "expired_trigger_id"


async def test_scripted_failure_for_one_channel(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("chat.postMessage", "is_archived", channel="C0OLD")

    await client.chat_postMessage(channel="C1", text="fine")
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C0OLD", text="archived")
    await client.chat_postMessage(channel="C0OLD", text="only once")

    assert raised.value.response["error"] == "is_archived"
    assert [m.text for m in fake.messages_in("C1") + fake.messages_in("C0OLD")] == ["fine", "only once"]


async def test_views_open_update_publish(fake: FakeSlack, client: AsyncWebClient) -> None:
    modal = {"type": "modal", "callback_id": "schedule", "title": {"type": "plain_text", "text": "Schedule"}}
    opened = await client.views_open(trigger_id="1.2.abc", view=modal)
    updated = await client.views_update(view_id=opened["view"]["id"], view={**modal, "private_metadata": "7"})
    home = await client.views_publish(user_id="U1", view={"type": "home", "blocks": []})

    assert opened["view"]["id"] == updated["view"]["id"] != home["view"]["id"]
    assert updated["view"]["private_metadata"] == "7"
    with pytest.raises(SlackApiError) as raised:
        await client.views_update(view_id=opened["view"]["id"], hash="stale", view=modal)
    assert raised.value.response["error"] == "hash_conflict"


async def test_files_upload_v2_three_step_flow(fake: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C1", text="Post #7")

    result = await client.files_upload_v2(
        channel="C1",
        content=b"\x89PNG fake image",
        filename="chart.png",
        title="Chart",
        initial_comment="here is the chart",
        thread_ts=parent["ts"],
    )

    file = result["file"]
    steps = [c.method for c in fake.calls()][1:]
    assert steps == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    assert fake.last("files.getUploadURLExternal").args == {"filename": "chart.png", "length": "15"}
    assert fake.file_content(file["id"]) == b"\x89PNG fake image"
    (shared,) = fake.messages_in("C1", thread_ts=parent["ts"])
    assert (shared.text, shared.files[0]["title"]) == ("here is the chart", "Chart")
    info = await client.files_info(file=file["id"])
    assert (info["file"]["mimetype"], info["file"]["size"]) == ("image/png", 15)


async def test_url_private_needs_the_bot_token(fake: FakeSlack) -> None:
    file = fake.add_file("brief.txt", b"launch copy")

    async with httpx.AsyncClient() as http:
        allowed = await http.get(file["url_private"], headers={"Authorization": f"Bearer {fake.bot_token}"})
        anonymous = await http.get(file["url_private_download"])

    assert (allowed.status_code, allowed.content) == (200, b"launch copy")
    assert allowed.headers["content-type"].startswith("text/plain")
    assert anonymous.status_code == 200 and anonymous.headers["content-type"].startswith("text/html")
    assert [c.method for c in fake.calls()] == ["download", "download"]


async def test_users_info_returns_timezone(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_user("U0BOB00001", name="bob", real_name="Bob Builder", tz="Asia/Tokyo")

    user = (await client.users_info(user="U0BOB00001"))["user"]

    assert (user["tz"], user["tz_offset"]) == ("Asia/Tokyo", 32400)
    assert (user["real_name"], user["name"]) == ("Bob Builder", "bob")
    assert fake.last("users.info").http_method == "GET"
    with pytest.raises(SlackApiError) as raised:
        await client.users_info(user="U0NOBODY01")
    assert raised.value.response["error"] == "user_not_found"


async def test_conversations_info(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("C0LAUNCH01", name="launch", is_private=True)

    channel = (await client.conversations_info(channel="C0LAUNCH01"))["channel"]

    assert (channel["name"], channel["is_private"]) == ("launch", True)
    with pytest.raises(SlackApiError) as raised:
        await client.conversations_info(channel="C0MISSING1")
    assert raised.value.response["error"] == "channel_not_found"


async def test_wait_for_async_sees_calls_made_later(fake: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.raises(AssertionError, match=r"1 chat\.postMessage call"):
        await fake.wait_for_async("chat.postMessage", timeout=0.05)
    await client.chat_postMessage(channel="C1", text="hi")

    (call,) = await fake.wait_for_async("chat.postMessage")

    assert call.args["text"] == "hi"


# -- a real slack-bolt app, served by its FastAPI adapter on uvicorn, talking to the fake -----------------


@dataclass
class BoltUnderTest:
    url: str
    seen: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def bolt(fake: FakeSlack) -> Iterator[BoltUnderTest]:
    app = AsyncApp(
        signing_secret=inbound.SIGNING_SECRET, client=AsyncWebClient(token=fake.bot_token, base_url=fake.base_url)
    )
    seen: list[dict[str, Any]] = []

    @app.command("/herald")
    async def on_command(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack(f"on it: {command['text']}")
        await client.chat_postMessage(channel=command["channel_id"], text=f"scheduled: {command['text']}")

    @app.action("approve")
    async def on_approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await respond(replace_original=True, text=f"approved by <@{body['user']['id']}>")

    @app.view("schedule")
    async def on_submit(ack: AsyncAck, view: dict[str, Any]) -> None:
        seen.append(view)
        await ack(response_action="errors", errors={"when": "That time is in the past"})

    api = FastAPI()
    handler = AsyncSlackRequestHandler(app)

    @api.post("/slack/events")
    async def events(request: Request) -> Response:
        return await handler.handle(request)

    with ServerThread(api, name="bolt-under-test") as server:
        yield BoltUnderTest(f"{server.url}/slack/events", seen)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def test_bolt_acks_a_signed_slash_command_and_posts(
    fake: FakeSlack, bolt: BoltUnderTest, http: httpx.AsyncClient
) -> None:
    body, headers = inbound.slash_command("/herald", "launch tomorrow 9am", channel_id="C0GENERAL1")

    acked = await http.post(bolt.url, content=body, headers=headers)
    (posted,) = fake.wait_for("chat.postMessage")  # the listener runs on in the server thread after the ack
    again = await http.post(bolt.url, content=body, headers=headers)

    assert (acked.status_code, acked.text) == (200, "on it: launch tomorrow 9am")
    assert again.status_code == 200
    assert posted.args["text"] == "scheduled: launch tomorrow 9am"
    assert posted.args["team_id"] == inbound.TEAM_ID  # bolt's per-request client adds the team_id
    assert fake.messages_in("C0GENERAL1")[0].text == "scheduled: launch tomorrow 9am"
    (auth,) = fake.calls("auth.test")  # once, lazily, on the first request; cached afterwards
    assert auth.at < posted.at


@pytest.mark.parametrize("tamper", ["forge", "replay"])
async def test_bolt_rejects_forged_and_replayed_requests(
    fake: FakeSlack, bolt: BoltUnderTest, http: httpx.AsyncClient, tamper: str
) -> None:
    body, headers = inbound.slash_command("/herald", "x", forge=tamper == "forge", replay=tamper == "replay")

    rejected = await http.post(bolt.url, content=body, headers=headers)

    assert rejected.status_code == 401
    assert fake.calls() == []  # verification runs before authorization: not even auth.test


async def test_bolt_answers_unknown_commands_with_404(bolt: BoltUnderTest, http: httpx.AsyncClient) -> None:
    body, headers = inbound.slash_command("/unknown")

    assert (await http.post(bolt.url, content=body, headers=headers)).status_code == 404


async def test_block_action_respond_replaces_the_clicked_message(
    fake: FakeSlack, client: AsyncWebClient, bolt: BoltUnderTest, http: httpx.AsyncClient
) -> None:
    card = await client.chat_postMessage(channel="C1", text="Post #7: approve?")
    response_url = fake.response_url("click-1", channel="C1", message_ts=card["ts"])
    body, headers = inbound.block_action("approve", "7", "U0BOB00001", "C1", card["ts"], response_url=response_url)

    clicked = await http.post(bolt.url, content=body, headers=headers)
    fake.wait_for("response_url")

    assert clicked.status_code == 200
    assert fake.responses("click-1") == [{"replace_original": True, "text": "approved by <@U0BOB00001>"}]
    (message,) = fake.messages_in("C1")
    assert (message.text, message.edits) == ("approved by <@U0BOB00001>", 1)


async def test_view_submission_values_reach_the_listener(
    fake: FakeSlack, bolt: BoltUnderTest, http: httpx.AsyncClient
) -> None:
    attachment = fake.add_file("brief.pdf", b"%PDF-")
    when = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    values = {
        "text": {"text": inbound.plain_text_input("Launch day!")},
        "networks": {"networks": inbound.multi_static_select(["x", "linkedin"])},
        "when": {"when": inbound.datetimepicker(when)},
        "account": {"account": inbound.static_select("acme", "ACME Corp")},
        "media": {"media": inbound.file_input([attachment])},
    }
    body, headers = inbound.view_submission("schedule", values, private_metadata='{"post": 7}')

    submitted = await http.post(bolt.url, content=body, headers=headers)

    assert submitted.status_code == 200
    assert submitted.json() == {"response_action": "errors", "errors": {"when": "That time is in the past"}}
    (view,) = bolt.seen
    state = view["state"]["values"]
    assert view["private_metadata"] == '{"post": 7}'
    assert state["text"]["text"]["value"] == "Launch day!"
    assert [o["value"] for o in state["networks"]["networks"]["selected_options"]] == ["x", "linkedin"]
    assert state["when"]["when"]["selected_date_time"] == int(when.timestamp())
    assert state["account"]["account"]["selected_option"]["value"] == "acme"
    assert state["media"]["media"]["files"][0]["id"] == attachment["id"]
