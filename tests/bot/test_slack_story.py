"""The whole story through Slack, with real processes: `herald serve` (FastAPI + bolt on uvicorn),
`herald worker` and `herald dispatcher` on PostgreSQL and the 6-node Redis Cluster, the fake Slack as Web API.

/draft → the modal → submit → approval card in the policy's channel (and where the draft was made) →
two levels approved by button clicks → published by the worker process → "published" with the link as
a thread reply under the card, where the draft was made and in the approvals channel, posted by the
worker's own Slack notifier, which then edits the card in both to say so.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auxil.processes import base_env, free_port, herald_command, http_ready, running, wait_for
from tests.bot.harness import APPROVALS, GENERAL, add_users, button, fields_of, has_buttons_or_fields, labels, user_id
from tests.fakes import slack_requests as inbound
from tests.fakes.slack import FakeSlack, PostedMessage
from tests.infra.postgres import create_database, drop_database
from tests.infra.redis_cluster import RedisClusterProcess

SECRET = "slack-story-secret-key-0123"
WAIT = 30.0
#: What a secret looks like in a log line: a Slack token's prefix, an HTTP bearer.
TOKEN_SHAPED = re.compile(r"xox[a-z]-|xapp-|Bearer ")


@pytest.fixture
def pg_database() -> Iterator[str]:
    url = create_database("herald_slack")
    try:
        yield url
    finally:
        drop_database(url)


class Slack:
    """Members acting in Slack: each call is one request, signed and sent as Slack sends it."""

    def __init__(self, fake: FakeSlack, url: str) -> None:
        self.fake, self.url = fake, url
        # a connection per request, as Slack's many servers do: with several serving processes, any may answer
        self.http = httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))
        self.sent = 0

    def send(self, signed: tuple[bytes, dict[str, str]]) -> httpx.Response:
        body, headers = signed
        self.sent += 1
        return self.http.post(self.url, content=body, headers=headers)

    def command(self, command: str, text: str, *, as_: str, channel: str = GENERAL) -> httpx.Response:
        response = self.send(inbound.slash_command(command, text, user_id(as_), channel, user_name=as_))
        assert (response.status_code, response.text) == (200, ""), response.text
        return response

    def click(self, message: PostedMessage, label: str, *, as_: str) -> httpx.Response:
        element = button(message, label)
        response = self.send(
            inbound.block_action(
                element["action_id"], element["value"], user_id(as_), message.channel, message.ts, user_name=as_
            )
        )
        assert response.status_code == 200
        return response

    def card(self, channel: str) -> PostedMessage:
        (card,) = [m for m in self.fake.messages_in(channel) if m.thread_ts is None and has_buttons_or_fields(m)]
        return card

    def until(self, what: str, predicate: Callable[[], Any], logs: Callable[[], str]) -> None:
        if not wait_for(predicate, WAIT, 0.05):
            seen = [(c.method, c.args.get("channel"), c.args.get("text")) for c in self.fake.calls()]
            raise AssertionError(f"timed out waiting for {what}; Slack saw {seen}\n{logs()}")


@pytest.mark.parametrize("web_processes", [1, 2])
def test_draft_modal_two_level_approval_publish_and_thread_reply(
    tmp_path: Path, pg_database: str, cluster: RedisClusterProcess, web_processes: int
) -> None:
    """With ``herald serve --workers 2`` the story is the same, whichever process each request reaches."""
    with FakeSlack() as fake:
        add_users(fake)
        env = base_env(
            DATABASE_URL=pg_database,
            HERALD_SECRET_KEY=SECRET,
            HERALD_QUEUE=f"{{herald-slack}}:{uuid.uuid4().hex[:8]}",
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_SIGNING_SECRET=inbound.SIGNING_SECRET,
            SLACK_API_URL=fake.base_url,
            HERALD_LOG_LEVEL="debug",  # every line bolt, slack-sdk and Herald write is scanned for secrets
            **cluster.env(),
        )
        upgrade = subprocess.run(
            herald_command("db", "upgrade"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert upgrade.returncode == 0, upgrade.stderr
        port = free_port()
        serve = ["serve", "--port", str(port), "--workers", str(web_processes)]
        specs = [("web", serve), ("worker", ["worker"]), ("dispatcher", ["dispatcher"])]
        with running(specs, env, tmp_path) as procs:

            def logs() -> str:
                return "\n".join(f"--- {p.name}\n{p.log()}" for p in procs)

            slack = Slack(fake, f"http://127.0.0.1:{port}/slack/events")
            assert wait_for(lambda: http_ready(port), WAIT), logs()

            # a forged and a replayed request change nothing
            forged = slack.send(inbound.slash_command("/herald", "whoami", user_id("dave"), forge=True))
            replayed = slack.send(inbound.slash_command("/herald", "whoami", user_id("dave"), replay=True))
            assert (forged.status_code, replayed.status_code) == (401, 401)

            # the team: alice is the first member (admin); bob edits at level 1, carol approves level 2
            slack.command("/herald", "whoami", as_="alice")
            slack.until("alice's whoami", lambda: fake.calls("chat.postEphemeral"), logs)
            for text in ("account add dryrun demo", "role add bob editor", "role add carol reviewer"):
                slack.command("/herald", text, as_="alice")
            # an admin's answers are for the admin only
            slack.until("the team set-up", lambda: len(fake.calls("chat.postEphemeral")) == 4, logs)
            slack.command(
                "/herald", f"policy set demo level1=role:editor level2=@carol channel=slack:{APPROVALS}", as_="alice"
            )
            slack.until("the policy", lambda: len(fake.calls("chat.postEphemeral")) == 5, logs)
            assert fake.messages_in(GENERAL) == []

            # /draft opens the modal; submitting it posts the approval card
            slack.command("/draft", "", as_="alice")
            slack.until("the modal", lambda: fake.calls("views.open"), logs)
            view = fake.last("views.open").args["view"]
            values = {
                "text": {"text": inbound.plain_text_input("Herald is live! 🎉")},
                "targets": {"targets": inbound.multi_static_select(["demo"])},
                "when_mode": {"when_mode": inbound.static_select("now")},
            }
            submitted = slack.send(
                inbound.view_submission(
                    "herald.draft", values, user_id("alice"), view["private_metadata"], user_name="alice"
                )
            )
            assert (submitted.status_code, submitted.text) == (200, ""), logs()
            slack.until(
                "the cards",
                lambda: (
                    len([m for m in fake.messages_in(APPROVALS) if m.thread_ts is None])
                    and len(fake.messages_in(GENERAL)) == 1
                ),
                logs,
            )
            card = slack.card(APPROVALS)
            assert fields_of(card)["Level"] == "1 of 2" and labels(card) == ["Approve", "Request changes", "Reject"]

            # dave may not decide; bob approves level 1, and clicks again: nothing more happens
            slack.click(card, "Approve", as_="dave")
            slack.until("the answer to dave", lambda: _ephemeral_to(fake, "dave"), logs)
            slack.click(card, "Approve", as_="bob")
            slack.until("level 2", lambda: fields_of(slack.card(APPROVALS))["Level"] == "2 of 2", logs)
            slack.click(card, "Approve", as_="bob")
            slack.until("the answer to bob's second click", lambda: len(_ephemeral_to(fake, "dave", "bob")) == 2, logs)
            assert _ephemeral_to(fake, "dave", "bob") == [
                "Level 1 of post 1 needs anyone with role editor.",
                "You already approved post 1; nothing changed.",
            ]

            # carol approves level 2: the post goes out now, from the worker process
            slack.click(slack.card(APPROVALS), "Approve", as_="carol")
            origin = slack.card(GENERAL)
            link = "Post 1 by <@U0ALICE001> published to demo (Dry run): https://dryrun.invalid/demo/dry-1"
            slack.until(
                "the published report",
                lambda: link in [m.text for m in fake.messages_in(GENERAL, thread_ts=origin.ts)],
                logs,
            )
            for channel in (APPROVALS, GENERAL):  # the worker edits the card where it is shown
                slack.until(
                    f"the published card in {channel}",
                    lambda channel=channel: slack.card(channel).text.startswith("Post 1 by <@U0ALICE001> — published"),
                    logs,
                )
            slack.until(
                "the decisions and the report",
                lambda: len(fake.messages_in(APPROVALS, thread_ts=card.ts)) == 3,
                logs,
            )
            # the web process said carol's decision after the worker's report: its card, rendered at her click,
            # did not undo the outcome
            final = slack.card(APPROVALS)
            assert final.ts == card.ts and final.edits >= 2
            assert fields_of(final)["Approved by"] == "<@U0BOB00001> (level 1), <@U0CAROL001> (level 2)"
            for shown in (final, slack.card(GENERAL)):
                assert shown.text.startswith("Post 1 by <@U0ALICE001> — published") and labels(shown) == []
                assert _sections(shown)[-1] == (
                    ":white_check_mark: *demo (Dry run)* — published: https://dryrun.invalid/demo/dry-1"
                )
            approvals_thread = [m.text for m in fake.messages_in(APPROVALS, thread_ts=card.ts)]
            assert approvals_thread[0] == "Post 1: <@U0BOB00001> approved; now at level 2 of 2 (@carol)."
            # the web process says carol's decision, the worker the outcome it caused: in that order, in every
            # thread (the pacer in Redis keeps the slot the decision booked before the commit)
            assert approvals_thread[1:] == ["Post 1 approved by <@U0CAROL001>; it goes to demo now.", link]
            assert [m.text for m in fake.messages_in(GENERAL, thread_ts=origin.ts)][-1] == link
            reports = [c for c in fake.calls("chat.postMessage") if c.args.get("text") == link]
            assert [(r.args["channel"], r.args["thread_ts"]) for r in reports] == [
                (GENERAL, origin.ts),
                (APPROVALS, card.ts),
            ]
            assert all(p.proc.poll() is None for p in procs), logs()
            # every request Slack sent was acked and counted, across all serving processes
            assert _metric(port, "herald_slack_ack_seconds_count") == slack.sent, logs()
        final_logs = "\n".join(f"--- {p.name}\n{p.log_path.read_text(errors='replace')}" for p in procs)
        assert [p.proc.returncode for p in procs] == [0, 0, 0], final_logs
        assert "Traceback" not in final_logs
        _assert_no_secrets(final_logs, fake.bot_token, inbound.SIGNING_SECRET, SECRET, "deprecated-verification-token")
        # bolt's and slack-sdk's lines are rendered as Herald's own: time, level, the line, the logger
        for logger in ("herald.slack.bolt", "herald.slack.sdk"):
            assert re.search(rf"^\S+Z \[debug\s*\] .+ \[{re.escape(logger)}\]$", final_logs, re.MULTILINE), logger


def _assert_no_secrets(logs: str, *secrets: str) -> None:
    """None of ``secrets`` (the bot token, the signing secret, the secret key, the verification token bolt
    logs with a refused request's body) and nothing token-shaped is in ``logs``."""
    assert [secret for secret in secrets if secret in logs] == []
    assert [line for line in logs.splitlines() if TOKEN_SHAPED.search(line)] == []


def _metric(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


def _sections(message: PostedMessage) -> list[str]:
    return [b["text"]["text"] for b in message.blocks or [] if b["type"] == "section" and "text" in b]


def _ephemeral_to(fake: FakeSlack, *names: str) -> list[str]:
    ids = {user_id(n) for n in names}
    return [str(c.args["text"]) for c in fake.calls("chat.postEphemeral") if c.args["user"] in ids]
