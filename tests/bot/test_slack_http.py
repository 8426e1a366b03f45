"""The Slack endpoint's own translation: a raw HTTP request becomes exactly the bolt request bolt builds
(except that a form is an interaction only when it has a ``payload`` field, and a body must be an object)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body as bolt_parse_body

from bot.http import bolt_request, parse_body
from bot.slack import payloads
from tests.bot.harness import harness
from tests.fakes import slack_requests as inbound
from tests.fakes.slack import FakeSlack

FORM = "application/x-www-form-urlencoded"
# what forms are made of, and what could trip a percent-decoder: escapes good and bad, backslashes, non-ASCII
PIECES = st.sampled_from(
    ["%", "%4", "%41", "%e2%9c%82", "%E2%9C", "%zz", "%25", "+", "&", "=", "\\", "\\x41", "é", "✂"]
)
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=12).map("".join)


def slack_parse_body(body: str, content_type: str | None) -> dict[str, Any]:
    """What a body means by Slack's documentation, in the slow plain way: JSON (the Events API), a form
    whose ``payload`` field is the JSON (interactions), or a plain form (slash commands)."""
    if not body:
        return {}
    if content_type == "application/json" or body.startswith("{"):
        value = json.loads(body)
    else:
        form = dict(parse_qsl(body, keep_blank_values=True))
        if "payload" not in form:
            return form
        value = json.loads(form["payload"])
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


@given(TEXT, st.sampled_from([FORM, "application/json", None]))
@example("payload=%7B%22a%22%3A%22%E2%9C%82%22%7D", FORM)
@example("a=%zz&a=%41%&b&=c&&payload=1", FORM)
@example("x=%C3%A9%C3", FORM)
@example("command=%2Fdraft&text=Our+new+payload+ships", FORM)
@example("payload=%5B1%2C2%5D", FORM)
def test_any_form_parses_as_slack_means_it(body: str, content_type: str | None) -> None:
    try:
        expected: Any = slack_parse_body(body, content_type)
    except ValueError as exc:  # bad JSON, or not an object: ours must fail the same way
        expected = type(exc)
    try:
        got: Any = parse_body(body, content_type)
    except ValueError as exc:
        got = type(exc)
    assert got == expected


def test_bolt_takes_a_command_mentioning_payload_for_an_interaction() -> None:
    """Why parse_body isn't bolt's: bolt looks for the word in the raw body."""
    body = urlencode({"command": "/draft", "text": "Our new payload ships Friday"})
    assert bolt_parse_body(body, FORM) == {}
    assert parse_body(body, FORM) == {"command": "/draft", "text": "Our new payload ships Friday"}


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=40), max_size=5))
def test_percent_encoded_json_round_trips(values: dict[str, str]) -> None:
    body = urlencode({"payload": json.dumps(values, ensure_ascii=False)}, quote_via=quote)
    assert parse_body(body, FORM) == values == bolt_parse_body(body, FORM)


def _requests() -> list[tuple[str, bytes, dict[str, str]]]:
    message = {
        "type": "message",
        "ts": "1.2",
        "text": "Post 1 by alice",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Fish* & <chips> ✂ \\o/ 100%"}}],
    }
    event = json.dumps(
        {
            "type": "event_callback",
            "team_id": inbound.TEAM_ID,
            "event": {"type": "app_home_opened", "user": "U1", "tab": "home"},
        }
    ).encode()
    challenge = json.dumps({"type": "url_verification", "challenge": "abc", "token": "t"}).encode()
    ssl_check = b"ssl_check=1&token=t"
    signed = {
        "command": inbound.slash_command("/herald", "draft Fish & chips 100% ✂ a+b=c", "U0ALICE001", "C1"),
        "click": inbound.block_action("herald.approve", "/approve 1", "U0BOB00001", "C1", "1.2", message=message),
        "submit": inbound.view_submission(
            "herald.draft", {"text": {"text": inbound.plain_text_input("é%41+")}}, "U1", "meta"
        ),
        "event": (event, inbound.sign(event, inbound.SIGNING_SECRET) | {"Content-Type": "application/json"}),
        "challenge": (
            challenge,
            inbound.sign(challenge, inbound.SIGNING_SECRET) | {"Content-Type": "application/json"},
        ),
        "ssl_check": (ssl_check, inbound.sign(ssl_check, inbound.SIGNING_SECRET)),
    }
    return [(name, body, headers) for name, (body, headers) in signed.items()]


def test_slack_requests_become_the_request_bolt_builds() -> None:
    for name, body, headers in _requests():
        normalized = {k.lower(): [v] for k, v in headers.items()}
        ours = bolt_request(body.decode(), "a=1&b=", normalized)
        bolts = AsyncBoltRequest(body=body.decode(), query="a=1&b=", headers=headers)  # type: ignore[arg-type]
        assert vars(ours).keys() == vars(bolts).keys(), name
        typed = ours.context.pop(payloads.CONTEXT_KEY, None)  # the one addition: what Herald reads, typed
        assert (typed is None) == (name in {"challenge", "ssl_check"}), name
        for field, value in vars(bolts).items():
            assert getattr(ours, field) == value, (name, field)
        assert ours.mode == "http" and ours.raw_body == body.decode(), name  # the signature is checked over it


@pytest.mark.usefixtures("pg_db")
async def test_the_event_url_takes_only_post(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        got = await h.http.get(h.events_url)
        health = await h.http.get(h.url + "/healthz")

    assert got.status_code == 405 and got.headers["allow"] == "POST"
    assert health.json() == {"status": "ok"}
