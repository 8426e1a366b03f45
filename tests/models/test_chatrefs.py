"""Looking up where a message is shown, on both databases."""

from __future__ import annotations

from models.chatrefs import ChatMessageRef, Shown, shown


async def test_shown_lists_every_conversation_with_the_ref_oldest_first(any_db: str) -> None:
    await ChatMessageRef.create(adapter="slack", channel="C2", ref="post:1:approval", message_id="2.0")
    await ChatMessageRef.create(adapter="slack", channel="C1", ref="post:1:approval", message_id="C9:1.0")
    await ChatMessageRef.create(adapter="slack", channel="C1", ref="post:2:approval", message_id="3.0")
    await ChatMessageRef.create(adapter="telegram", channel="T1", ref="post:1:approval", message_id="4")

    assert await shown("slack", ["post:1:approval"]) == [[Shown("C2", "2.0"), Shown("C1", "C9:1.0")]]
    assert await shown("telegram", ["post:1:approval"]) == [[Shown("T1", "4")]]
    assert await shown("slack", ["post:3:approval"]) == [[]]


async def test_shown_answers_many_refs_in_their_order(any_db: str) -> None:
    await ChatMessageRef.create(adapter="slack", channel="C1", ref="post:1:approval", message_id="1.0")
    await ChatMessageRef.create(adapter="slack", channel="C2", ref="post:2:approval", message_id="2.0")
    await ChatMessageRef.create(adapter="slack", channel="C3", ref="post:1:approval", message_id="3.0")

    refs = ["post:2:approval", "post:9:approval", "post:1:approval", "post:2:approval"]
    assert await shown("slack", refs) == [
        [Shown("C2", "2.0")],
        [],
        [Shown("C1", "1.0"), Shown("C3", "3.0")],
        [Shown("C2", "2.0")],
    ]
    assert await shown("slack", []) == []
