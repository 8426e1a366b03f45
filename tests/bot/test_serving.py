"""The HTTP side's one assembly: :class:`bot.serving.ServingApp`, as ``herald serve`` (one process or several) and
``herald run`` with Slack serve it, builds everything in its ASGI lifespan and takes it down again."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.serving import ServingApp
from tests.bot.harness import GENERAL, serving, settings_for
from tests.conftest import TEST_SECRET
from tests.fakes import slack_requests as inbound
from tests.fakes.slack import FakeSlack


@pytest.mark.parametrize("everything", [False, True], ids=["serve", "run"])
async def test_the_lifespan_assembles_the_process_and_takes_it_down(
    fake: FakeSlack, tmp_path: Path, everything: bool
) -> None:
    settings = settings_for(fake, DATABASE_URL=f"sqlite://{tmp_path}/herald.sqlite3", HERALD_SECRET_KEY=TEST_SECRET)
    app = ServingApp(settings, everything=everything)
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        assert (await http.get("/readyz")).json() == {"status": "ready"}  # the database connected
        assert fake.calls("auth.test")  # the Slack app started: its identity asked for before any request
        body, headers = inbound.slash_command("/herald", "whoami", "U0ALICE001", GENERAL)
        response = await http.post("/slack/events", content=body, headers=headers)
        assert (response.status_code, response.text) == (200, "")
        # the reply goes out after the ack; shutting down lets it reach Slack
    (reply,) = fake.calls("chat.postEphemeral")
    assert reply.args["text"].startswith("You are alice (admin")
