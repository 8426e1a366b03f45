"""People are named and told, chat-neutrally: mentions on replies, the ask once per level, the author told."""

from __future__ import annotations

import asyncio

from handlers.messages import Conversation, Incoming, Mention, Reply, Sender, render_mentions
from handlers.review import asking
from handlers.review.policy import policy_for
from models.audit import AuditEntry
from models.members import ChatIdentity, Member
from models.outbox import OutboxMessage
from models.posts import Post
from tests.auxil.chat import CONVERSATION, Chat


def slack(mention: Mention) -> str | None:
    user = mention.on("slack")
    return f"<@{user}>" if user else None


def test_only_whole_names_of_the_listed_members_are_mentions() -> None:
    bob = Mention("bob", (("shell", "bob"), ("slack", "U0BOB")))
    text = "@bob, (@bob) @bob. @bob.smith @bobby bob@example.com @carol @bob"
    assert render_mentions(text, (bob, Mention("carol")), slack) == (
        "<@U0BOB>, (<@U0BOB>) <@U0BOB>. @bob.smith @bobby bob@example.com @carol <@U0BOB>"
    )
    assert render_mentions(text, (), slack) == text


def test_mentions_survive_the_outbox() -> None:
    reply = Reply(text="Post 1 by @alice", mentions=(Mention("alice", (("slack", "U1"), ("shell", "alice"))),))
    assert Reply.from_json(reply.to_json()) == reply
    assert Reply.from_json({"text": "old row, stored before mentions"}).mentions == ()


async def two_levels(chat: Chat) -> None:
    await chat.say("/account add dryrun demo")
    for name in ("bob", "carol"):
        await chat.say("/whoami", as_=name)
    await chat.say("/policy set demo level1=@bob level2=@carol remind=1h before=0")
    await ChatIdentity.create(member=await Member.get(name="bob"), adapter="slack", external_id="U0BOB")


async def test_the_card_and_the_lines_carry_who_they_name(chat: Chat) -> None:
    await two_levels(chat)
    await chat.say("/draft --to demo Launch")
    card = chat.last[-1]
    fields = {f.label: f.value for f in card.fields}
    assert (fields["Author"], fields["Awaiting"]) == ("@alice", "@bob")
    assert {m.name: m.chats for m in card.mentions} == {
        "alice": (("shell", "alice"),),
        "bob": (("shell", "bob"), ("slack", "U0BOB")),
    }
    await chat.say("/approve 1", as_="bob")
    line, card = chat.last
    # bob decided where the draft was made: the line there names its author, alice
    assert line.text == "Post 1 by @alice: @bob approved; now at level 2 of 2 (@carol)."
    assert {m.name for m in line.mentions} == {"alice", "bob", "carol"}
    assert render_mentions(line.text, line.mentions, slack) == (
        "Post 1 by @alice: <@U0BOB> approved; now at level 2 of 2 (@carol)."
    )
    assert "@bob (level 1)" in {f.label: f.value for f in card.fields}["Approved by"]


async def test_the_decider_elsewhere_gets_the_line_and_the_author_is_told_where_she_drafted(chat: Chat) -> None:
    await two_levels(chat)
    await chat.say("/draft --to demo Launch")
    await chat.reports()
    bob = Sender("shell", "bob", "bob")
    replies = await chat.herald.handle(Incoming(bob, Conversation("shell", "approvals"), "/reject 1 off-brand"))
    assert replies[0].text == "Post 1 rejected by @bob: off-brand"
    assert (await chat.reports()).startswith(
        "Post 1 by @alice rejected by @bob: off-brand\nPost 1 by @alice — rejected"
    )


async def test_a_post_without_an_origin_tells_its_author_directly(chat: Chat) -> None:
    await two_levels(chat)
    await chat.say("/draft --to demo Launch")
    await Post.filter(id=1).update(origin={})  # made outside any chat
    await chat.dms("alice")
    await chat.say("/approve 1", as_="bob")
    assert [r.text for r in await chat.dms("alice")] == [
        "Post 1 by @alice: @bob approved; now at level 2 of 2 (@carol)."
    ]


async def test_each_awaited_member_is_asked_once_per_level_with_the_buttons(chat: Chat) -> None:
    await two_levels(chat)
    await chat.say("/draft --to demo Launch")
    (ask,) = await chat.dms("bob")
    assert ask.text.startswith("Post 1 by @alice needs your approval (level 1 of 2), going out as soon as approved.")
    assert [b.command for b in ask.buttons] == ["/approve 1", "/changes 1", "/reject 1"]
    assert [m.name for m in ask.mentions] == ["alice"]
    post = await Post.get(id=1)
    # told again (another process, a retried command): nobody is asked twice
    assert await asking.ask_awaited(chat.herald.services, post, await policy_for(post)) == []
    assert await chat.dms("bob") == []
    # the reminders nudge without the buttons
    chat.clock.advance(hours=1)
    await chat.publish_due()
    (reminder,) = await chat.dms("bob")
    assert reminder.text.startswith("Reminder: post 1 is waiting for your approval (level 1 of 2")
    assert reminder.buttons == ()
    # level 2 opens: carol is asked, once
    await chat.say("/approve 1", as_="bob")
    (ask,) = await chat.dms("carol")
    assert ask.text.startswith("Post 1 by @alice needs your approval (level 2 of 2)") and ask.buttons
    chat.clock.advance(hours=1)
    await chat.publish_due()
    assert [r.buttons for r in await chat.dms("carol")] == [()]
    asks = await AuditEntry.filter(post_id=1, action=asking.ASKED).order_by("id")
    members = {m.name: m.id for m in await Member.all()}
    assert [(a.detail["level"], a.detail["members"]) for a in asks] == [(1, [members["bob"]]), (2, [members["carol"]])]


async def test_a_member_who_could_decide_only_later_is_asked_by_the_reminder(chat: Chat) -> None:
    await chat.say("/account add dryrun demo")
    await chat.say("/role add bob approver")
    await chat.say("/whoami", as_="bob")
    await chat.say("/policy set default level1=role:approver remind=1h before=0")
    await chat.say("/draft --to demo Launch")
    assert len(await chat.dms("bob")) == 1
    await chat.say("/whoami", as_="erin")
    await chat.say("/role add erin approver")
    chat.clock.advance(hours=1)
    await chat.publish_due()
    (erin,) = await chat.dms("erin")
    assert erin.text.startswith("Post 1 by @alice needs your approval") and erin.buttons
    (bob,) = await chat.dms("bob")
    assert bob.text.startswith("Reminder:") and bob.buttons == ()


async def test_a_member_unknown_to_any_chat_is_asked_once_they_are_known(chat: Chat) -> None:
    await chat.say("/account add dryrun demo")
    await chat.say("/role add bob approver")  # by name: bob hasn't talked to Herald yet
    await chat.say("/policy set default level1=role:approver remind=1h before=0")
    await chat.say("/draft --to demo Launch")
    assert await AuditEntry.filter(action=asking.ASKED).count() == 0
    await chat.say("/whoami", as_="bob")
    chat.clock.advance(hours=1)
    await chat.publish_due()
    (ask,) = await chat.dms("bob")
    assert ask.text.startswith("Post 1 by @alice needs your approval") and ask.buttons


async def test_the_publish_report_names_the_author(chat: Chat) -> None:
    await chat.say("/account add dryrun demo")
    await chat.say("/whoami", as_="bob")
    await chat.say("/role add bob approver")
    await chat.say("/draft --to demo Launch")
    await chat.say("/approve 1", as_="bob")
    await chat.reports()
    await chat.publish_due()
    rows = await OutboxMessage.filter(channel=CONVERSATION.channel).order_by("id")
    (report,) = [r for r in map(Reply.from_json, (row.payload for row in rows)) if r.kind == "report"]
    assert report.text.startswith("Post 1 by @alice published to demo (Dry run): ")
    assert [(m.name, m.chats) for m in report.mentions] == [("alice", (("shell", "alice"),))]


async def test_asking_at_once_from_many_places_asks_once(pg_db: str) -> None:
    chat = Chat.build()
    await chat.say("/account add dryrun demo")
    await chat.say("/whoami", as_="bob")
    await chat.say("/role add bob approver")
    await chat.say("/draft --to demo Launch")
    await chat.dms("bob")
    await Post.filter(id=1).update(version=2)  # a new version: bob is to be asked again, once
    post = await Post.get(id=1)
    policy = await policy_for(post)
    asked = await asyncio.gather(*(asking.ask_awaited(chat.herald.services, post, policy) for _ in range(8)))
    assert sorted(len(a) for a in asked) == [0] * 7 + [1]
    (ask,) = await chat.dms("bob")
    assert ask.text.startswith("Post 1 by @alice (v2) needs your approval, going out")
