"""People in Slack are named as Slack mentions and told: a role given by mention, the approver's DM with the
buttons once per level, the author named in the thread where she drafted."""

from __future__ import annotations

import pytest

from bot.shell import render
from bot.slack import blocks
from bot.slack.adapter import USER_MENTION, typed_command
from handlers.messages import Field, Mention, Reply
from handlers.review import timers
from models.members import ChatIdentity, Member, MemberRole
from models.policies import ApprovalPolicy
from models.timers import Timer
from tests.bot.harness import APPROVALS, GENERAL, SlackHarness, fields_of, harness, labels, user_id
from tests.fakes.slack import FakeSlack, PostedMessage

ALICE, BOB, CAROL, DAVE = (f"<@{user_id(n)}>" for n in ("alice", "bob", "carol", "dave"))


BOB_IN_SLACK = Mention("bob", (("shell", "bob"), ("slack", "U0BOB00001")))
SHELL_ONLY = Mention("carol", (("shell", "carol"),))
NAMED = Reply(
    text="Post 1 by @bob & <co>: @carol approved",
    fields=(Field("Awaiting", "@bob, @carol"),),
    mentions=(BOB_IN_SLACK, SHELL_ONLY),
)


def test_slack_mentions_whom_it_knows_in_text_fields_and_notification() -> None:
    msg = blocks.message(NAMED)
    section, fields = msg.blocks
    assert section["text"]["text"] == "Post 1 by <@U0BOB00001> &amp; &lt;co&gt;: @carol approved"
    assert fields["fields"][0]["text"] == "*Awaiting*\n<@U0BOB00001>, @carol"
    assert msg.text == "Post 1 by <@U0BOB00001> & <co>: @carol approved"


def test_the_shell_says_at_name() -> None:
    assert render(NAMED).splitlines() == ["Post 1 by @bob & <co>: @carol approved", "  Awaiting: @bob, @carol"]


def test_what_slack_sends_for_a_mention_in_a_slash_command() -> None:
    text = "role add <@U0BOB00001|bob> approver, <@W0ENT00001> and &lt;@U0NOT00001&gt;"
    assert [m.groups() for m in USER_MENTION.finditer(text)] == [("U0BOB00001", "bob"), ("W0ENT00001", None)]


def test_links_slack_escaped_are_typed_as_they_were() -> None:
    text = "draft Read <https://example.com/a?b=1&amp;c=2|example.com/a> or write <mailto:hi@x.io|hi@x.io> &lt;3"
    assert typed_command("/herald", text) == "/draft Read https://example.com/a?b=1&c=2 or write hi@x.io <3"


def said(fake: FakeSlack) -> list[str]:
    """Every text Herald sent, in a channel or to one person."""
    return [str(c.args.get("text", "")) for c in fake.calls() if c.method in {"chat.postMessage", "chat.postEphemeral"}]


def dms(fake: FakeSlack, name: str) -> list[PostedMessage]:
    return fake.messages_in(user_id(name))


async def team(h: SlackHarness) -> None:
    """alice (admin) gives bob and carol their part by mentioning them: neither has used Herald yet."""
    await h.command("/herald", "whoami")
    await h.settle()
    await h.command("/herald", "account add dryrun demo")
    await h.command("/herald", f"role add <@{user_id('bob')}|bob> editor")
    await h.settle()
    policy = f"policy set demo level1=role:editor level2=<@{user_id('carol')}|carol> channel=slack:{APPROVALS}"
    await h.command("/herald", policy)
    await h.settle()


@pytest.mark.usefixtures("pg_db")
async def test_a_role_is_given_by_mention_before_the_person_used_herald(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await h.command("/herald", "whoami")
        await h.settle()
        await h.command("/herald", f"role add <@{user_id('bob')}|bob> approver")
        await h.command("/herald", f"role add <@{user_id('dave')}> ops")  # Slack may leave the name out
        await h.settle()

    assert f"{BOB} is now approver." in said(fake) and f"{DAVE} is now ops." in said(fake)
    bob = await Member.get(name="bob")
    assert bob.timezone == "America/New_York"  # from users.info
    identities = await ChatIdentity.filter(adapter="slack").values_list("member__name", "external_id")
    assert sorted(identities) == [("alice", user_id("alice")), ("bob", user_id("bob")), ("dave", user_id("dave"))]
    roles = await MemberRole.filter(member_id=bob.id).values_list("role", flat=True)
    assert roles == ["approver"]  # and nothing more: alice stays the only admin
    assert {c.args["user"] for c in fake.calls("users.info")} >= {user_id("bob"), user_id("dave")}


@pytest.mark.usefixtures("pg_db")
async def test_a_policy_names_its_approvers_by_mention(fake: FakeSlack) -> None:
    async with harness(fake) as h:
        await team(h)

    policy = await ApprovalPolicy.get(account__handle="demo")
    assert policy.levels[1]["members"] == ["carol"]
    assert await ChatIdentity.exists(adapter="slack", external_id=user_id("carol"), member__name="carol")


@pytest.mark.usefixtures("pg_db")
async def test_card_and_lines_mention_people_and_each_approver_gets_the_buttons_once_per_level(
    fake: FakeSlack,
) -> None:
    async with harness(fake) as h:
        await team(h)
        await h.command("/draft", "--to demo --at tomorrow 09:00 Big launch!")
        await h.settle()
        card = h.cards(APPROVALS)[0]
        (ask,) = dms(fake, "bob")
        assert dms(fake, "carol") == []  # level 2 isn't open yet

        await h.click(ask, "Approve", as_="bob")  # from the direct message
        await h.settle()
        await h.click(ask, "Approve", as_="bob")  # again: nothing new to tell
        await h.settle()
        services = h.slack.adapter.herald.services
        for timer in await Timer.filter(kind=timers.REMIND).order_by("run_at"):  # the reminders, early
            await timers.fire(timer, services)
        await h.settle()

    fields = fields_of(card)
    assert (fields["Author"], fields["Awaiting"]) == (ALICE, BOB)
    assert card.text.startswith(f"Post 1 by {ALICE} — awaiting approval")
    assert ask.text.startswith(f"Post 1 by {ALICE} needs your approval (level 1 of 2)")
    assert labels(ask) == ["Approve", "Request changes", "Reject"]
    # carol: asked once, with the buttons, when level 2 opened; the reminders after it come without them
    carol = dms(fake, "carol")
    assert [bool(labels(m)) for m in carol] == [True, False, False]
    assert carol[0].text.startswith(f"Post 1 by {ALICE} needs your approval (level 2 of 2)")
    assert all(m.text.startswith("Reminder: post 1 is waiting for your approval") for m in carol[1:])
    bob = dms(fake, "bob")
    assert [m.text for m in bob if "needs your approval" in m.text] == [ask.text]  # bob: asked once
    assert not any("Reminder" in m.text for m in bob)  # his level is done
    after = fields_of(h.cards(APPROVALS)[0])
    assert (after["Approved by"], after["Awaiting"]) == (f"{BOB} (level 1)", CAROL)
    # alice is told of the decision where she drafted, under her card
    origin = h.cards(GENERAL)[0]
    told = [m.text for m in fake.messages_in(GENERAL, thread_ts=origin.ts)]
    assert told == [f"Post 1 by {ALICE}: {BOB} approved; now at level 2 of 2 ({CAROL})."]
