"""Inbound Slack requests (slash commands, block actions, view submissions) exactly as Slack sends them.

Each builder returns ``(body, headers)`` for ``httpx.AsyncClient.post(url, content=body, headers=headers)``:
a form-encoded body (interactions carry one ``payload=<JSON>`` field) and headers signed with the real v0
scheme (``X-Slack-Request-Timestamp``, ``X-Slack-Signature``). ``forge=True`` signs with a wrong secret;
``replay=True`` dates the request 6 minutes back (bolt refuses both with 401).

``response_url`` defaults to ``http://127.0.0.1:9/response/<id>`` (refused at once) so nothing reaches the
real Slack; pass ``fake.response_url(key)`` to record delayed responses on a ``FakeSlack``.

View state values are built with ``plain_text_input``, ``static_select``, ``multi_static_select``,
``datetimepicker`` and ``file_input``: ``values={"block": {"action": plain_text_input("hi")}}``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

Json = dict[str, Any]
Signed = tuple[bytes, dict[str, str]]

SIGNING_SECRET = "herald-test-signing-secret"
TEAM_ID = "T0HERALD01"
TEAM_DOMAIN = "herald-test"
API_APP_ID = "A0HERALD01"
REPLAY_AGE_SECONDS = 360
_ids = itertools.count(1)


def sign(
    body: bytes, secret: str, timestamp: int | None = None, *, forge: bool = False, replay: bool = False
) -> dict[str, str]:
    """Slack's request headers for ``body``: content type, user agent and the v0 signature.

    ``timestamp`` defaults to now (6 minutes ago with ``replay``); ``forge`` signs with a different secret.
    """
    when = timestamp if timestamp is not None else int(time.time()) - (REPLAY_AGE_SECONDS if replay else 0)
    key = f"{secret}-forged" if forge else secret
    signature = SignatureVerifier(key).generate_signature(timestamp=str(when), body=body)
    assert signature is not None  # only None when the timestamp is None
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "Accept": "application/json,*/*",
        "X-Slack-Request-Timestamp": str(when),
        "X-Slack-Signature": signature,
    }


def slash_command(
    command: str,
    text: str = "",
    user_id: str = "U0ALICE001",
    channel_id: str = "C0GENERAL1",
    *,
    user_name: str = "alice",
    channel_name: str = "general",
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    response_url: str | None = None,
    trigger_id: str | None = None,
    api_app_id: str = API_APP_ID,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    forge: bool = False,
    replay: bool = False,
) -> Signed:
    """A slash command: plain form fields, as Slack posts them to the request URL."""
    fields = {
        "token": "deprecated-verification-token",
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url or _default_response_url(),
        "trigger_id": trigger_id or new_trigger_id(),
    }
    body = urlencode(fields).encode()
    return body, sign(body, secret, timestamp, forge=forge, replay=replay)


def block_action(
    action_id: str,
    value: str,
    user_id: str = "U0ALICE001",
    channel_id: str | None = "C0GENERAL1",
    message_ts: str | None = "1732800000.000100",
    *,
    block_id: str = "actions",
    action_type: str = "button",
    view: Json | None = None,
    message: Json | None = None,
    user_name: str = "alice",
    team_id: str = TEAM_ID,
    response_url: str | None = None,
    trigger_id: str | None = None,
    api_app_id: str = API_APP_ID,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    forge: bool = False,
    replay: bool = False,
) -> Signed:
    """A click on a button (``action_type="button"``, ``value``) or a choice in a ``static_select``.

    From a message by default (``container.type == "message"``, ``message`` defaults to a bot message with
    that ts; a ``message`` that is a thread reply puts its ``thread_ts`` in the container too); with ``view``
    (a view object with an ``id``) from that modal, with no channel or message.
    """
    action: Json = {"action_id": action_id, "block_id": block_id, "type": action_type, "action_ts": _action_ts()}
    if action_type == "static_select":
        action["selected_option"] = _option(value)
    else:
        action.update(value=value, text={"type": "plain_text", "text": value, "emoji": True})
    payload: Json = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "deprecated-verification-token",
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [action],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "")}
        payload["view"] = view
    else:
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["message"] = message or {"type": "message", "ts": message_ts, "text": "", "bot_id": "B0HERALDBOT"}
        if payload["message"].get("thread_ts"):
            payload["container"]["thread_ts"] = payload["message"]["thread_ts"]
        payload["response_url"] = response_url or _default_response_url()
        payload["state"] = {"values": {}}
    if channel_id is not None:
        payload["channel"] = {"id": channel_id, "name": "general"}
    return _signed_payload(payload, secret, timestamp, forge, replay)


def view_submission(
    callback_id: str,
    values: Mapping[str, Mapping[str, Json]],
    user_id: str = "U0ALICE001",
    private_metadata: str = "",
    *,
    view_id: str | None = None,
    user_name: str = "alice",
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    api_app_id: str = API_APP_ID,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    forge: bool = False,
    replay: bool = False,
) -> Signed:
    """The Submit of a modal: ``values`` is ``{block_id: {action_id: <element state>}}`` (see the helpers)."""
    view_id = view_id or f"V{next(_ids):010d}"
    view = {
        "id": view_id,
        "team_id": team_id,
        "type": "modal",
        "blocks": [],
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": {b: dict(a) for b, a in values.items()}},
        "hash": f"{int(time.time())}.{view_id}",
        "title": {"type": "plain_text", "text": "Herald", "emoji": True},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": api_app_id,
        "external_id": "",
        "app_installed_team_id": team_id,
        "bot_id": "B0HERALDBOT",
    }
    payload: Json = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "deprecated-verification-token",
        "trigger_id": trigger_id or new_trigger_id(),
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _signed_payload(payload, secret, timestamp, forge, replay)


# -- view state values, in the shape Slack puts in view.state.values ---------------------------------------


def plain_text_input(value: str | None) -> Json:
    return {"type": "plain_text_input", "value": value}


def static_select(value: str | None, text: str | None = None) -> Json:
    return {"type": "static_select", "selected_option": None if value is None else _option(value, text)}


def multi_static_select(values: Sequence[str]) -> Json:
    return {"type": "multi_static_select", "selected_options": [_option(v) for v in values]}


def datetimepicker(when: datetime | int | None) -> Json:
    """``selected_date_time`` is a Unix timestamp in seconds (None when left empty)."""
    seconds = int(when.timestamp()) if isinstance(when, datetime) else when
    return {"type": "datetimepicker", "selected_date_time": seconds}


def file_input(files: Sequence[Json]) -> Json:
    """``files`` are Slack file objects, e.g. the ones ``FakeSlack.add_file`` returns."""
    return {"type": "file_input", "files": [dict(f) for f in files]}


# -- helpers ------------------------------------------------------------------------------------------------


def new_trigger_id() -> str:
    """A fresh trigger id in Slack's shape (``<digits>.<digits>.<hex>``)."""
    n = next(_ids)
    return f"{1_000_000_000 + n}.{7_000_000_000 + n}.{n:032x}"


def _default_response_url() -> str:
    return f"http://127.0.0.1:9/response/{next(_ids)}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _option(value: str, text: str | None = None) -> Json:
    return {"text": {"type": "plain_text", "text": text or value, "emoji": True}, "value": value}


def _signed_payload(payload: object, secret: str, timestamp: int | None, forge: bool, replay: bool) -> Signed:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return body, sign(body, secret, timestamp, forge=forge, replay=replay)


def signed_payload(payload: object, *, secret: str = SIGNING_SECRET, forge: bool = False) -> Signed:
    """An interaction with any ``payload`` at all (for bodies of the wrong shape), signed."""
    return _signed_payload(payload, secret, None, forge, False)


def signed_event(body: object, *, secret: str = SIGNING_SECRET, forge: bool = False) -> Signed:
    """An Events API delivery: ``body`` as JSON (any JSON, for bodies of the wrong shape), signed."""
    raw = json.dumps(body).encode()
    return raw, sign(raw, secret, forge=forge) | {"Content-Type": "application/json"}


def signed_form(fields: Mapping[str, str] | bytes, *, secret: str = SIGNING_SECRET, forge: bool = False) -> Signed:
    """A form body as given (fields, or raw bytes), signed."""
    raw = fields if isinstance(fields, bytes) else urlencode(fields).encode()
    return raw, sign(raw, secret, forge=forge)
