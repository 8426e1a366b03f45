"""One member in two chats: ``/link`` codes, merging two members, and the rules holding across chats.

The second chat is played through the core as any adapter calls it (``Herald.handle`` with a ``Sender`` of
another adapter), next to the shell conversation of :class:`~tests.auxil.chat.Chat`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

from handlers.admin.linking import ALPHABET, CODE_LENGTH
from handlers.drafting.views import approval_card
from handlers.messages import Conversation, Incoming, Reply, Sender
from handlers.notices import tell_card, tell_origin
from models.approvals import ApprovalDecision
from models.audit import AuditEntry
from models.chatrefs import ChatMessageRef
from models.dialogs import Dialog, LinkCode
from models.lifecycle import PostState
from models.members import ChatIdentity, Member, MemberRole
from models.policies import ApprovalPolicy
from models.posts import Post
from tests.auxil.chat import Chat

TELEGRAM = Conversation("telegram", "tg-chat")
CODE = re.compile(rf"\b([{ALPHABET}]{{{CODE_LENGTH}}})\b")


async def tg(chat: Chat, text: str, *, user: str = "bob", uid: str | None = None) -> list[Reply]:
    """``text`` said on the other chat (a Telegram user called ``user``)."""
    sender = Sender(adapter="telegram", external_id=uid or f"T-{user}", name=user, display_name=user.title())
    return await chat.herald.handle(Incoming(sender, TELEGRAM, text))


def code_in(replies: list[Reply]) -> str:
    (reply,) = replies
    assert reply.ephemeral, "a link code is for its member alone"
    found = CODE.search(reply.text)
    assert found is not None, reply.text
    return found.group(1)


async def identities() -> list[tuple[str, str, str]]:
    rows = await ChatIdentity.all().order_by("id").prefetch_related("member")
    return [(i.member.name, i.adapter, i.external_id) for i in rows]


async def team(chat: Chat) -> None:
    """alice (admin) and bob (approver) on the shell; bob also writes to Herald on the other chat."""
    await chat.say("/account add dryrun demo")
    await chat.say("/role add bob approver")
    await chat.say("/whoami", as_="bob")


async def linked(chat: Chat) -> None:
    await team(chat)
    code = code_in(await tg(chat, "/link"))
    await chat.say(f"/link {code}", as_="bob")
    assert chat.last[0].text.startswith("Linked."), chat.last[0].text


async def test_a_name_is_no_proof_across_chats_until_linked(chat: Chat) -> None:
    await team(chat)
    (who,) = await tg(chat, "/whoami", user="alice")
    assert who.text.startswith("You are alice-telegram (no roles;"), "a Telegram 'alice' is not the shell's admin"
    (who,) = await tg(chat, "/whoami")
    assert who.text.startswith("You are bob-telegram (no roles;")

    code = code_in(await tg(chat, "/link"))
    assert len(code) == 8 and set(code) <= set(ALPHABET)
    row = await LinkCode.get(code=code)
    assert (row.adapter, round((row.expires_at - row.created_at).total_seconds() / 60)) == ("telegram", 10)

    await chat.say(f"/link {code}", as_="bob")
    (done,) = chat.last
    assert done.ephemeral
    assert done.text == (
        "Linked. You are @bob in shell (bob), telegram (T-bob). "
        "Roles, approvals and posts are shared across these chats."
    )
    (who,) = await tg(chat, "/whoami")
    assert who.text.startswith("You are bob (approver;")
    await tg(chat, "/tz Europe/Berlin")
    assert "time zone Europe/Berlin" in await chat.say("/whoami", as_="bob")
    (listed,) = await tg(chat, "/link")
    assert listed.text == (
        "You are linked in 2 chats: shell (bob), telegram (T-bob). "
        "/link new gives a code to link one more; /unlink CHAT parts one."
    )
    # the member Telegram first made stays only for the audit log's sake: no chats, no roles
    husk = await Member.get(name="bob-telegram")
    assert not await ChatIdentity.exists(member_id=husk.id) and not await MemberRole.exists(member_id=husk.id)
    entry = await AuditEntry.filter(action="member.linked").get()
    assert entry.detail["merged"] == "bob-telegram" and entry.detail["member"] == "bob"


async def test_approvals_and_no_self_approval_hold_across_chats(chat: Chat) -> None:
    await linked(chat)
    await chat.say("/draft --to demo --at now From the shell")
    replies = await tg(chat, "/approve 1")
    assert replies[0].text == "Post 1 approved by @bob; it goes to demo now."
    assert "Post 1 by @alice approved by @bob; it goes to demo now." in await chat.reports()  # told where drafted
    decision = await ApprovalDecision.get(post_id=1)
    assert decision.approver_id == (await Member.get(name="bob")).id  # type: ignore[attr-defined]
    assert {m.name: m.chats for m in replies[0].mentions}["bob"] == (("shell", "bob"), ("telegram", "T-bob"))

    await chat.say("/role add carol approver")
    (drafted, *_) = await tg(chat, "/draft --to demo --at now From Telegram")
    assert "Post 2 is waiting for approval" in drafted.text
    assert (await Post.get(id=2)).author_id == decision.approver_id  # type: ignore[attr-defined]
    await chat.say("/approve 2", as_="bob")
    assert chat.errors == ["You can't approve your own post."]
    assert (await Post.get(id=2)).state == PostState.PENDING_APPROVAL
    assert "#2 " in await chat.say("/mine", as_="bob")


async def test_wrong_used_expired_or_same_chat_codes_change_nothing(chat: Chat) -> None:
    await team(chat)
    code = code_in(await tg(chat, "/link"))
    await tg(chat, "/whoami", user="carol")
    before = await identities()

    await chat.say("/link ZZZZ2222", as_="bob")
    assert chat.errors == ["That is not a link code I gave; send /link in your other chat for a new one."]
    (same,) = await tg(chat, f"/link {code}")
    assert same.kind == "error"
    assert same.text == f"That code is for your other chat: send /link {code} there, not in telegram."
    chat.clock.advance(minutes=10)
    await chat.say(f"/link {code}", as_="bob")
    assert chat.errors == [
        "That link code has expired (codes last 10 minutes); send /link in your other chat for a new one."
    ]
    assert await identities() == before

    fresh = code_in(await tg(chat, "/link"))
    await chat.say(f"/link {fresh.lower()}", as_="bob")  # typed in lower case: the same code
    assert chat.last[0].text.startswith("Linked.")
    await chat.say("/whoami", as_="dave")
    after = await identities()
    await chat.say(f"/link {fresh}", as_="dave")
    assert chat.errors == ["That link code was already used; send /link in your other chat for a new one."]
    assert await identities() == after


async def test_merging_two_members_who_both_have_posts_roles_and_policies(chat: Chat) -> None:
    await team(chat)
    await chat.say("/whoami", as_="carol")
    await chat.say("/draft --to demo --at tomorrow 09:00 Carol on the shell", as_="carol")
    await tg(chat, "/draft --to demo --at tomorrow 10:00 Carol on Telegram", user="carol")
    await chat.say("/role add carol-telegram ops")
    await chat.say("/policy set demo level1=@carol-telegram,@bob")
    await chat.say("/approve 2", as_="bob")  # a decision by bob on carol-telegram's post: no conflict with carol
    assert "approved by @bob" in chat.last[0].text

    code = code_in(await tg(chat, "/link", user="carol"))
    await chat.say(f"/link {code}", as_="carol")
    assert chat.last[0].text.startswith("Linked. You are @carol in shell (carol), telegram (T-carol).")

    carol = await Member.get(name="carol")
    assert sorted(await Post.filter(author_id=carol.id).values_list("id", flat=True)) == [1, 2]
    assert set(await MemberRole.filter(member_id=carol.id).values_list("role", flat=True)) == {"ops"}
    policy = await ApprovalPolicy.get(account__handle="demo")
    assert policy.levels[0]["members"] == ["bob", "carol"]
    mine = await chat.say("/mine", as_="carol")
    assert "#1 " in mine and "#2 " in mine
    (mine_tg,) = await tg(chat, "/mine", user="carol")
    assert mine_tg.text == mine
    # the audit log still names who did what then; the husk keeps those rows' actor
    husk = await Member.get(name="carol-telegram")
    assert await AuditEntry.filter(actor_id=husk.id).exists()
    assert not await Post.filter(author_id=husk.id).exists()


async def test_members_who_decided_on_each_others_posts_are_not_merged(chat: Chat) -> None:
    await team(chat)
    await tg(chat, "/draft --to demo --at tomorrow 09:00 Written on Telegram")
    await chat.say("/approve 1", as_="bob")  # bob (shell) approves bob-telegram's post
    code = code_in(await tg(chat, "/link"))
    before = await identities()
    await chat.say(f"/link {code}", as_="bob")
    assert chat.errors == [
        "@bob decided on post 1 by @bob-telegram; linked, that would be someone deciding on their own post, "
        "so they can't be linked."
    ]
    assert await identities() == before
    assert (await LinkCode.get(code=code)).used_at is None


async def test_two_members_known_on_the_same_chat_are_not_merged(chat: Chat) -> None:
    await linked(chat)  # bob: shell and telegram
    await tg(chat, "/whoami", user="dave", uid="T-dave")
    code = code_in(await tg(chat, "/link", user="dave", uid="T-dave"))
    await chat.say(f"/link {code}", as_="bob")
    assert chat.errors == [
        "@bob and @dave are both known on telegram; one member has one identity per chat, so they can't be linked."
    ]


async def test_unlink_parts_a_chat_and_it_becomes_a_new_member(chat: Chat) -> None:
    await linked(chat)
    await chat.say("/unlink shell", as_="bob")
    assert chat.errors == ["You are talking from shell: send /unlink shell from the chat you keep."]
    await chat.say("/unlink slack", as_="bob")
    assert chat.errors == ["You aren't linked on slack; /link shows your chats."]
    bob = await Member.get(name="bob")
    await Dialog.create(adapter="telegram", channel="tg-chat", member=bob, kind="draft", step="text")
    await Dialog.create(adapter="shell", channel="test", member=bob, kind="draft", step="text")
    await chat.say("/unlink telegram", as_="bob")
    assert chat.last[0].text.startswith("telegram is no longer linked to you")
    assert await Dialog.filter(member_id=bob.id).values_list("adapter", flat=True) == ["shell"]
    (who,) = await tg(chat, "/whoami")
    assert who.text.startswith("You are bob-telegram-2 (no roles;")


class Recorder:
    def __init__(self) -> None:
        self.told: list[tuple[str, str, str]] = []

    async def notify(self, conversation: Conversation, reply: Reply) -> None:
        self.told.append((conversation.adapter, conversation.channel, reply.text))


async def test_a_report_told_where_drafted_also_reaches_each_other_chat_showing_the_card(chat: Chat) -> None:
    await linked(chat)
    await chat.say("/draft --to demo --at tomorrow 09:00 Hello")
    for adapter, channel in (("telegram", "dm:T-bob"), ("telegram", "group"), ("slack", "C1"), ("shell", "test")):
        await ChatMessageRef.create(adapter=adapter, channel=channel, ref="post:1:approval", message_id="1")
    recorder = Recorder()
    services = replace(chat.herald.services, notifier=recorder)
    post = await Post.get(id=1)

    await tell_origin(services, post, Reply(text="Post 1 expired.", post_id=1, kind="report"))
    # the origin, then one conversation per other chat (its adapter threads it under each card there)
    assert recorder.told == [
        ("shell", "test", "Post 1 expired."),
        ("telegram", "dm:T-bob", "Post 1 expired."),
        ("slack", "C1", "Post 1 expired."),
    ]
    recorder.told.clear()
    await tell_origin(services, post, Reply(text="Post 1: @bob approved.", post_id=1))
    assert recorder.told == [("shell", "test", "Post 1: @bob approved.")]  # a decision line: where drafted

    recorder.told.clear()
    card = await approval_card(post)
    await tell_card(services, post, card, skip=Conversation("telegram", "group", thread="7"))
    # every conversation showing the card but the one the decision was made in (which shows the answer)
    assert [(a, c) for a, c, _ in recorder.told] == [("shell", "test"), ("telegram", "dm:T-bob"), ("slack", "C1")]


async def test_a_code_sent_twice_at_once_links_once(pg_db: str) -> None:
    chat = Chat.build()
    await team(chat)
    await chat.say("/whoami", as_="carol")
    code = code_in(await tg(chat, "/link"))

    def shell(name: str) -> Incoming:
        return Incoming(Sender("shell", name, name), Conversation("shell", "test"), f"/link {code}")

    answers = await asyncio.gather(chat.herald.handle(shell("bob")), chat.herald.handle(shell("carol")))
    texts = sorted(replies[0].text.split(".")[0] for replies in answers)
    assert texts == ["Linked", "That link code was already used; send /link in your other chat for a new one"]
    assert await ChatIdentity.filter(adapter="telegram").count() == 1
    telegram = await ChatIdentity.get(adapter="telegram").prefetch_related("member")
    assert telegram.member.name in {"bob", "carol"}
