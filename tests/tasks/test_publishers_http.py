"""The shared HTTP error mapping (tasks/platforms/http.py), on canned answers through ``httpx.MockTransport``."""

from __future__ import annotations

import json
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from tasks.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    Permanent,
    PlatformDown,
    PlatformError,
    RateLimited,
    Rejected,
    Transient,
)
from tasks.platforms.http import DEFAULT_TIMEOUT, Classify, PlatformHTTP, platform_reason, retry_after

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z: the mapping's clock, so reset timestamps give exact waits
URL = "https://mastodon.example/api/v1/statuses"
Handler = Callable[[httpx.Request], httpx.Response]


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str | bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def failing(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


async def post(handler: Handler, classify: Classify | None = None, url: str = URL) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        http = PlatformHTTP(client, "Mastodon", classify=classify, clock=lambda: NOW)
        return await http.request("POST", url, data={"status": "hello"})


async def error_for(handler: Handler, classify: Classify | None = None) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        await post(handler, classify)
    return caught.value


async def test_a_2xx_answer_is_returned_and_every_call_carries_the_explicit_timeout() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "1"})

    response = await post(handler)

    assert response.json() == {"id": "1"}
    assert seen[0].extensions["timeout"] == DEFAULT_TIMEOUT.as_dict()
    assert seen[0].content == b"status=hello"


# -- 429 -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "30"}, 30.0),
        ({"Retry-After": formatdate(NOW + 90, usegmt=True)}, 90.0),
        ({"X-RateLimit-Reset": "2027-01-15T08:00:45.000Z"}, 45.0),  # Mastodon: ISO 8601
        ({"x-rate-limit-reset": str(int(NOW) + 600)}, 600.0),  # X: unix seconds
        ({"RateLimit-Reset": "12"}, 12.0),  # IETF draft: seconds from now
        ({"Retry-After": "soon", "X-RateLimit-Reset": str(int(NOW) + 5)}, 5.0),  # unreadable → next header
        ({"Retry-After": formatdate(NOW - 60, usegmt=True)}, 0.0),  # in the past: don't wait, never negative
    ],
)
async def test_429_is_rate_limited_with_retry_after_from_the_headers(headers: dict[str, str], expected: float) -> None:
    err = await error_for(answer(429, {"error": "Too many requests"}, headers))

    assert isinstance(err, RateLimited)
    assert err.retry_after == pytest.approx(expected)


async def test_429_message_quotes_the_platform_and_says_when_to_retry() -> None:
    err = await error_for(answer(429, {"error": "Too many requests"}, {"Retry-After": "30"}))
    assert str(err) == "Mastodon said: Too many requests. Retry in 30 seconds."


async def test_429_without_body_or_headers_still_explains_itself() -> None:
    err = await error_for(answer(429, b""))
    assert isinstance(err, RateLimited)
    assert err.retry_after is None
    assert str(err) == "Mastodon is rate limiting Herald."


# -- 5xx, 401/403, other 4xx -------------------------------------------------------------------------------------


async def test_503_is_platform_down_and_keeps_retry_after() -> None:
    err = await error_for(answer(503, {"error": "Service unavailable"}, {"Retry-After": "120"}))
    assert isinstance(err, PlatformDown)
    assert err.retry_after == 120.0
    assert str(err) == "Mastodon said: Service unavailable."


async def test_an_html_error_page_is_not_pasted_into_the_chat() -> None:
    page = "<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
    err = await error_for(answer(502, page, {"content-type": "text/html"}))
    assert isinstance(err, PlatformDown)
    assert err.retry_after is None
    assert str(err) == "Mastodon is unavailable (HTTP 502)."


async def test_401_is_auth_expired_with_the_platform_reason_and_what_to_do() -> None:
    err = await error_for(answer(401, {"error": "The access token is invalid"}))
    assert isinstance(err, AuthExpired)
    assert str(err) == "Mastodon said: The access token is invalid. Reconnect the account."


async def test_403_saying_duplicate_is_rejected_not_auth_expired() -> None:
    body = {
        "title": "Forbidden",
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank",
        "status": 403,
    }
    err = await error_for(answer(403, body, {"content-type": "application/problem+json"}))
    assert type(err) is Rejected
    assert str(err) == "Mastodon said: You are not allowed to create a Tweet with duplicate content."


async def test_422_is_rejected_with_the_platform_reason() -> None:
    err = await error_for(answer(422, {"error": "Validation failed: Text can't be blank"}))
    assert type(err) is Rejected
    assert str(err) == "Mastodon said: Validation failed: Text can't be blank."


async def test_a_4xx_without_reason_names_the_status() -> None:
    err = await error_for(answer(400, b""))
    assert type(err) is Rejected
    assert str(err) == "Mastodon rejected the post (HTTP 400)."


async def test_408_is_transient_and_a_redirect_is_permanent_but_not_a_rejection() -> None:
    assert isinstance(await error_for(answer(408, b"")), PlatformDown)
    err = await error_for(answer(301, b"", {"location": "https://elsewhere.example/"}))
    assert type(err) is Permanent
    assert str(err) == "Mastodon gave an unexpected answer (HTTP 301)."


async def test_the_publishers_classify_hook_goes_first() -> None:
    def facebook(response: httpx.Response) -> PlatformError | None:
        code = response.json().get("error", {}).get("code")
        return RateLimited("Facebook is throttling Herald.", retry_after=60) if code in (4, 17, 32, 613) else None

    throttled = await error_for(
        answer(403, {"error": {"message": "Application request limit reached", "code": 4}}), facebook
    )
    assert isinstance(throttled, RateLimited)
    assert throttled.retry_after == 60
    expired = await error_for(answer(403, {"error": {"message": "Session has expired", "code": 190}}), facebook)
    assert isinstance(expired, AuthExpired)  # the hook said None: standard mapping


# -- the platform's reason ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"error": "Validation failed: Text can't be blank"}, "Validation failed: Text can't be blank."),  # Mastodon
        (
            {"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}},
            "Error validating access token.",
        ),  # Facebook
        ({"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401}, "Invalid access token."),
        ({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, "Rate Limit Exceeded."),  # Bluesky
        ({"error": "ExpiredToken"}, "ExpiredToken."),  # a bare code is better than nothing
        ({"error": "invalid_token", "error_description": "The access token expired"}, "The access token expired."),
        ({"errors": [{"message": "Text is too long", "code": 186}]}, "Text is too long."),  # X v1.1
        ({"title": "Unsupported Authentication"}, "Unsupported Authentication."),
        ({"detail": "  Spread\n over   lines!  "}, "Spread over lines!"),
        ({"status": 400}, None),
        ([1, 2], None),
    ],
)
def test_platform_reason_reads_the_common_error_shapes(body: Any, reason: str | None) -> None:
    assert platform_reason(httpx.Response(400, json=body)) == reason


def test_platform_reason_reads_short_plain_text_but_not_html_and_cuts_long_reasons() -> None:
    assert platform_reason(httpx.Response(400, text="Bad token")) == "Bad token."
    assert platform_reason(httpx.Response(400, html="<p>oops</p>")) is None
    long = platform_reason(httpx.Response(400, json={"error": "word " * 100}))
    assert long is not None
    assert len(long) <= 200
    assert long.endswith("…")
    assert "{" not in long


def test_retry_after_is_none_when_no_header_says() -> None:
    assert retry_after(httpx.Headers({"x-ratelimit-remaining": "0"}), NOW) is None
    # A 5xx only trusts Retry-After: a reset header there is about quota, not the outage.
    assert retry_after(httpx.Headers({"x-ratelimit-reset": "30"}), NOW, reset_headers=False) is None


# -- transport failures --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind", "message"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), PlatformDown, "Mastodon can't be reached right now."),
        (httpx.ConnectTimeout("timed out"), PlatformDown, "Mastodon can't be reached right now."),
        (httpx.PoolTimeout("pool"), PlatformDown, "Mastodon couldn't be called: every connection to it is busy."),
        (httpx.WriteTimeout("w"), PlatformDown, "Mastodon stopped taking the request before it was fully sent."),
        (
            httpx.ReadTimeout("r"),
            OutcomeUnknown,
            "Mastodon didn't answer in time, so Herald can't tell whether it was published.",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            OutcomeUnknown,
            "Mastodon dropped the connection before answering, so Herald can't tell whether it was published.",
        ),
        (httpx.ReadError("reset"), OutcomeUnknown, None),
        (httpx.UnsupportedProtocol("ftp"), Permanent, None),
    ],
)
async def test_transport_errors_map_by_whether_the_request_went_out(
    exc: Exception, kind: type[PlatformError], message: str | None
) -> None:
    err = await error_for(failing(exc))

    assert type(err) is kind
    assert err.__cause__ is exc
    if message is not None:
        assert str(err) == message
    assert not isinstance(err, Transient) or err.retry_after is None


async def test_an_invalid_url_is_a_permanent_configuration_error() -> None:
    with pytest.raises(Permanent, match=r"^Mastodon can't be called with this account's settings"):
        await post(answer(200, {}), url="http://mastodon\x00.example/api")


async def test_json_object_refuses_an_unreadable_success() -> None:
    async with httpx.AsyncClient() as client:
        http = PlatformHTTP(client, "Mastodon")
        assert http.json_object(httpx.Response(200, json={"id": "9"})) == {"id": "9"}
        for bad in (httpx.Response(200, text="<html>ok</html>"), httpx.Response(200, json=["id"])):
            with pytest.raises(OutcomeUnknown, match=r"^Mastodon accepted the request but its answer was unreadable"):
                http.json_object(bad)


def test_messages_never_contain_raw_json() -> None:
    body = {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100, "fbtrace_id": "Ab1"}}
    reason = platform_reason(httpx.Response(400, content=json.dumps(body).encode()))
    assert reason == "Invalid parameter."
