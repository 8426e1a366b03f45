"""One member in two chats, end to end: Slack (the fake Slack server behind Herald's real HTTP side) and the
shell adapter, on one Herald and one database. bob links his shell self to his Slack self with ``/link``; a post
drafted in one chat is decided in the other, every card showing it (in both chats) follows the decision and
the outcome, and the reports reach both chats.
"""

from __future__ import annotations

import io
import re

import pytest

from bot.notifiers import OutboxNotifier, RoutingNotifier
from bot.shell import ShellAdapter
from handlers.admin.linking import ALPHABET
from handlers.ports import SystemClock
from models.approvals import ApprovalDecision
from models.members import Member
from models.posts import Post
from tasks.dispatcher import Dispatcher
from tasks.platforms import DryRunPublisher, Publishers
from tasks.publish import run_deliveries
from tasks.reports import ReportRelay
from tasks.runtime import Runtime
from tests.bot.harness import APPROVALS, GENERAL, SlackHarness, fields_of, harness, labels, user_id
from tests.fakes.slack import FakeSlack, PostedMessage

pytestmark = pytest.mark.usefixtures("pg_db")

CODE = re.compile(rf"\b([{ALPHABET}]{{8}})\b")


class Shell:
    """The shell adapter on the harness's Herald, its output kept."""

    def __init__(self, h: SlackHarness, user: str) -> None:
        self.out = io.StringIO()
        self.adapter = ShellAdapter(h.slack.adapter.herald, user=user, out=self.out)

    async def say(self, text: str) -> str:
        start = self.out.tell()
        await self.adapter.say(text)
        return self.out.getvalue()[start:]

    async def drain(self) -> str:
        start = self.out.tell()
        await self.adapter.drain_outbox()
        return self.out.getvalue()[start:]


async def team(h: SlackHarness) -> None:
    """alice (admin), bob and carol (approvers) on Slack; demo's cards also go to the approvals channel."""
    await h.command("/herald", "whoami")
    await h.settle()
    for text in ("account add dryrun demo", "role add bob approver", "role add carol approver"):
        await h.command("/herald", text)
    await h.settle()
    await h.command("/herald", f"policy set demo level1=role:approver channel=slack:{APPROVALS}")
    await h.command("/herald", "whoami", as_="bob")
    await h.settle()


async def link_bob(h: SlackHarness, fake: FakeSlack) -> Shell:
    """bob asks for a code in Slack (only he sees it) and sends it from the shell."""
    shell = Shell(h, "bob")
    assert (await shell.say("/whoami")).startswith("herald> (only you) You are bob-shell (no roles;")
    await h.command("/herald", "link", as_="bob")
    await h.settle()
    (said,) = [c for c in fake.calls("chat.postEphemeral") if "link code" in str(c.args["text"])]
    assert said.args["user"] == user_id("bob")
    found = CODE.search(str(said.args["text"]))
    assert found is not None
    answer = await shell.say(f"/link {found.group(1)}")
    assert "Linked. You are @bob in shell (bob), slack (U0BOB00001)." in answer
    return shell


def card_in(h: SlackHarness, channel: str) -> PostedMessage:
    (card,) = h.cards(channel)
    return card


def thread(fake: FakeSlack, card: PostedMessage) -> list[str]:
    return [m.text for m in fake.messages_in(card.channel, thread_ts=card.ts)]


async def publish_due(h: SlackHarness) -> None:
    """The dispatcher hands out what is due; a worker publishes it and tells the chats through its relay."""
    queued: list[int] = []

    async def enqueue(chunk: list[tuple[int, object]]) -> None:
        queued.extend(delivery_id for delivery_id, _ in chunk)

    await Dispatcher(enqueue, lead=0).tick()
    notifier = RoutingNotifier({"slack": h.slack.adapter.notifier, "shell": OutboxNotifier()})
    relay = ReportRelay(notifier, SystemClock())
    runtime = Runtime(publishers=Publishers({}, fallback=DryRunPublisher()), notifier=notifier, reports=relay)
    assert await run_deliveries(runtime, [(delivery_id, None) for delivery_id in queued])
    await relay.drain(within=10)


async def test_drafted_in_slack_approved_from_the_shell_cards_and_reports_in_both(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await team(h)
        shell = await link_bob(h, fake)
        await h.command("/draft", "--to demo --at now Big launch!")
        await h.settle()
        assert labels(card_in(h, GENERAL)) == labels(card_in(h, APPROVALS)) == ["Approve", "Request changes", "Reject"]

        said = await shell.say("/approve 1")
        await h.settle()
        assert said.startswith("herald> Post 1 approved by @bob; it goes to demo now.")
        assert "Post 1 by @alice — approved and scheduled" in said  # the card, shown in the shell too
        bob = await Member.get(name="bob")
        assert (await Post.get(id=1)).state == "scheduled"
        for channel in (GENERAL, APPROVALS):  # both Slack cards follow the decision made in the shell
            card = card_in(h, channel)
            assert card.edits >= 1 and labels(card) == [] and fields_of(card)["Approved by"] == "<@U0BOB00001>"
        told = "Post 1 by <@U0ALICE001> approved by <@U0BOB00001>; it goes to demo now."
        assert told in thread(fake, card_in(h, GENERAL))  # told where alice drafted

        await publish_due(h)
        report = "Post 1 by <@U0ALICE001> published to demo (Dry run): https://dryrun.invalid/demo/dry-1"
        for channel in (GENERAL, APPROVALS):
            card = card_in(h, channel)
            assert thread(fake, card)[-1] == report
            assert card.text.startswith("Post 1 by <@U0ALICE001> — published")
        later = await shell.drain()
        assert "herald> Post 1 by @alice published to demo (Dry run): https://dryrun.invalid/demo/dry-1" in later
        assert "herald> (updated) Post 1 by @alice — published" in later  # the shell's card says how it went
    assert (await ApprovalDecision.get(post_id=1)).approver_id == bob.id  # type: ignore[attr-defined]


async def test_drafted_in_the_shell_refused_to_its_author_in_slack_approved_by_another(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await team(h)
        shell = await link_bob(h, fake)
        drafted = await shell.say("/draft --to demo --at now From the shell")
        await h.settle()
        assert "Post 1 is waiting for approval" in drafted
        card = card_in(h, APPROVALS)  # the policy's channel shows the shell's draft

        await h.click(card, "Approve", as_="bob")  # bob, on Slack, is the author
        await h.settle()
        assert "You can't approve your own post." in [e.text for e in fake.seen_by(user_id("bob"))]
        assert (await Post.get(id=1)).state == "pending_approval"

        await h.click(card_in(h, APPROVALS), "Approve", as_="carol")
        await h.settle()
        assert (await Post.get(id=1)).state == "scheduled"
        shown = await shell.drain()
        assert "Post 1 by @bob approved by @carol; it goes to demo now." in shown  # told where bob drafted
        assert "herald> (updated) Post 1 by @bob — approved and scheduled" in shown

        await publish_due(h)
        report = "Post 1 by <@U0BOB00001> published to demo (Dry run): https://dryrun.invalid/demo/dry-1"
        assert thread(fake, card_in(h, APPROVALS))[-1] == report  # the other chat showing the card
        assert card_in(h, APPROVALS).text.startswith("Post 1 by <@U0BOB00001> — published")
        later = await shell.drain()
        assert "herald> Post 1 by @bob published to demo (Dry run): https://dryrun.invalid/demo/dry-1" in later
        assert "herald> (updated) Post 1 by @bob — published" in later


async def test_a_card_shown_in_the_other_chat_follows_each_decision(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await team(h)
        await h.command("/herald", f"policy set demo level1=role:approver level2=@carol channel=slack:{APPROVALS}")
        shell = await link_bob(h, fake)
        await h.command("/draft", "--to demo --at tomorrow 09:00 Big launch!")
        await h.settle()
        said = await shell.say("/approve 1")  # level 1, from the shell: the shell shows the card from now on
        assert "Post 1 by @alice — awaiting approval" in said and "[Approve: /approve 1]" in said

        await h.command("/herald", "approve 1", as_="carol", channel=APPROVALS)  # level 2, in Slack
        await h.settle()
        assert (await Post.get(id=1)).state == "scheduled"
        shown = await shell.drain()
        assert "herald> (updated) Post 1 by @alice — approved and scheduled" in shown
        assert "[Approve: /approve 1]" not in shown
        for channel in (GENERAL, APPROVALS):
            assert labels(card_in(h, channel)) == []
