"""`herald run` with Slack configured: HTTP on the embedded default (SQLite, in-process queue), the
dispatcher and worker in the same process; the draft's card gets the published link in its thread."""

from __future__ import annotations

from pathlib import Path

from tests.auxil.processes import base_env, free_port, http_ready, running, wait_for
from tests.bot.harness import GENERAL, add_users
from tests.bot.test_slack_story import WAIT, Slack
from tests.fakes import slack_requests as inbound
from tests.fakes.slack import FakeSlack


def test_herald_run_serves_slack_and_publishes_in_process(tmp_path: Path) -> None:
    with FakeSlack() as fake:
        add_users(fake)
        env = base_env(
            SLACK_BOT_TOKEN=fake.bot_token, SLACK_SIGNING_SECRET=inbound.SIGNING_SECRET, SLACK_API_URL=fake.base_url
        )
        port = free_port()
        with running([("run", ["run", "--port", str(port)])], env, tmp_path) as (proc,):
            slack = Slack(fake, f"http://127.0.0.1:{port}/slack/events")
            assert wait_for(lambda: http_ready(port), WAIT), proc.log()
            slack.command("/herald", "whoami", as_="alice")
            slack.until("alice", lambda: fake.calls("chat.postEphemeral"), proc.log)
            slack.command("/herald", "account add dryrun demo", as_="alice")
            slack.command("/herald", "role add bob approver", as_="alice")
            slack.until("the set-up", lambda: len(fake.calls("chat.postEphemeral")) == 3, proc.log)
            slack.command("/draft", "--to demo --at now Hello from Slack", as_="alice")
            slack.until("the card", lambda: len(fake.messages_in(GENERAL)) == 1, proc.log)
            card = slack.card(GENERAL)
            slack.click(card, "Approve", as_="bob")
            link = "Post 1 by <@U0ALICE001> published to demo (Dry run): https://dryrun.invalid/demo/dry-1"
            slack.until(
                "the link", lambda: link in [m.text for m in fake.messages_in(GENERAL, thread_ts=card.ts)], proc.log
            )
            assert proc.proc.poll() is None, proc.log()
        log = proc.log_path.read_text(errors="replace")
        assert proc.proc.returncode == 0, log
        assert "Traceback" not in log and "Unclosed" not in log
        assert (tmp_path / "data" / "herald.sqlite3").exists()
