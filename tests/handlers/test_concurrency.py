"""Decisions are atomic in PostgreSQL: concurrent approvers can't both win (no in-memory locks)."""

from __future__ import annotations

import asyncio

from models.approvals import ApprovalDecision
from models.audit import AuditEntry
from models.lifecycle import DeliveryState, PostState
from models.posts import Delivery, Post
from tests.auxil.chat import Chat


async def test_fifty_concurrent_approvals_advance_once(pg_db: str) -> None:
    chat = Chat.build()
    await chat.say("/account add dryrun demo")
    approvers = [f"ap{i:02d}" for i in range(50)]
    for name in approvers:
        await chat.say(f"/role add {name} approver")
        await chat.say("/whoami", as_=name)  # register the identity before the race
    await chat.say("/draft --to demo Race")

    async def approve(name: str) -> str:
        other = Chat(chat.herald, chat.runtime, chat.clock)
        return await other.say("/approve 1", as_=name)

    answers = await asyncio.gather(*(approve(n) for n in approvers))
    winners = [a for a in answers if "approved by" in a and "already" not in a]
    assert len(winners) == 1, answers
    winner = winners[0].split("approved by @")[1].split(";")[0]
    losers = [a for a in answers if a not in winners]
    assert len(losers) == 49
    assert all(a == f"Post 1 was already approved by {winner}." for a in losers), set(losers)

    assert await ApprovalDecision.filter(post_id=1).count() == 1
    assert (await Post.get(id=1)).state == PostState.SCHEDULED
    assert await Delivery.filter(post_id=1, state=DeliveryState.SCHEDULED.value).count() == 1
    assert await AuditEntry.filter(post_id=1, action="decision.approve").count() == 1
    assert "published" in await chat.publish_due()
    assert await chat.publish_due() == ""


async def test_concurrent_approve_and_reject_one_wins(pg_db: str) -> None:
    chat = Chat.build()
    await chat.say("/account add dryrun demo")
    for name in ("bob", "dan"):
        await chat.say(f"/role add {name} approver")
        await chat.say("/whoami", as_=name)
    for i in range(10):
        await chat.say(f"/draft --to demo Post {i}")
    outcomes = []
    for post_id in range(1, 11):
        a, b = Chat(chat.herald, chat.runtime, chat.clock), Chat(chat.herald, chat.runtime, chat.clock)
        await asyncio.gather(a.say(f"/approve {post_id}", as_="bob"), b.say(f"/reject {post_id} no", as_="dan"))
        outcomes.append((await Post.get(id=post_id)).state)
        assert await ApprovalDecision.filter(post_id=post_id).count() == 1
    assert set(outcomes) <= {PostState.SCHEDULED, PostState.REJECTED}


async def test_fifty_editors_race_on_level_one_of_two(pg_db: str) -> None:
    chat = Chat.build()
    await chat.say("/account add dryrun demo")
    editors = [f"ed{i:02d}" for i in range(50)]
    for name in [*editors, "carol"]:
        await chat.say("/whoami", as_=name)
    for name in editors:
        await chat.say(f"/role add {name} editor")
    await chat.say("/policy set demo level1=role:editor level2=@carol")
    await chat.say("/draft --to demo Two levels")

    async def approve(name: str) -> str:
        return await Chat(chat.herald, chat.runtime, chat.clock).say("/approve 1", as_=name)

    answers = await asyncio.gather(*(approve(n) for n in editors))
    advanced = [a for a in answers if "now at level 2 of 2" in a]
    assert len(advanced) == 1, answers
    winner = advanced[0].split(": @")[1].split(" approved")[0]
    expected = f"Level 1 of post 1 was already approved by {winner}. Level 2 of post 1 needs @carol."
    assert [a for a in answers if a not in advanced] == [expected] * 49
    post = await Post.get(id=1)
    assert (post.state, post.approval_level) == (PostState.PENDING_APPROVAL, 2)
    assert await ApprovalDecision.filter(post_id=1).count() == 1
