"""/account connect in Slack: a platform connected with secrets asks with a modal (views.open with the command's
trigger), its submit connects the account, and the secret appears in no message Herald sends."""

from __future__ import annotations

import json

import pytest

from models.accounts import SocialAccount
from tests.auxil.connecting import connecting
from tests.bot.harness import GENERAL, harness
from tests.fakes import slack_requests as inbound
from tests.fakes.connectable import APP_PASSWORD
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("sqlite_db")


def values(handle: str, password: str) -> dict[str, dict[str, dict[str, object]]]:
    return {
        "handle": {"handle": inbound.plain_text_input(handle)},
        "app_password": {"app_password": inbound.plain_text_input(password)},
    }


async def test_the_modal_opens_and_its_submit_connects(fake: FakeSlack) -> None:
    async with connecting() as world, harness(fake, platforms=world.directory) as h:
        await h.command("/herald", "whoami")  # alice first: the admin
        await h.settle()
        fake.reset()
        acked = await h.command("/herald", "account connect testkey")
        await h.settle()
        assert (acked.status_code, acked.text) == (200, "")
        (opened,) = fake.calls("views.open")
        view = opened.args["view"]
        assert opened.args["trigger_id"]
        assert view["callback_id"] == "herald.form"
        blocks = {b["block_id"]: b["element"]["type"] for b in view["blocks"]}
        assert blocks == {"handle": "plain_text_input", "app_password": "plain_text_input"}
        metadata = str(view["private_metadata"])
        assert json.loads(metadata)["command"] == "/account connect testkey"

        refused = await h.submit("herald.form", values("acme.test", "wrong-pass-word"), metadata)
        assert refused.json()["response_action"] == "errors"
        assert "Invalid identifier or password" in refused.json()["errors"]["handle"]

        submitted = await h.submit("herald.form", values("acme.test", APP_PASSWORD), metadata)
        assert (submitted.status_code, submitted.text) == (200, "")
        await h.settle()
        await fake.wait_for_async("chat.postMessage")
    account = await SocialAccount.get(handle="acme.test")
    assert account.platform == "testkey"
    said = [m.text for m in fake.messages_in(GENERAL)]
    assert any("Connected @acme.test on Testkey as acme.test" in text for text in said)
    everything = json.dumps([c.args for c in fake.calls()])
    assert APP_PASSWORD not in everything and "wrong-pass-word" not in everything


async def test_an_empty_field_is_refused_in_the_modal(fake: FakeSlack) -> None:
    async with connecting() as world, harness(fake, platforms=world.directory) as h:
        await h.command("/herald", "whoami")
        await h.settle()
        await h.command("/herald", "account connect testkey")
        await h.settle()
        metadata = str(fake.last("views.open").args["view"]["private_metadata"])
        refused = await h.submit("herald.form", values("acme.test", ""), metadata)
        assert refused.json() == {"response_action": "errors", "errors": {"app_password": "Please fill this in."}}
    assert await SocialAccount.all().count() == 0
