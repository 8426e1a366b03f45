"""/home, the chat-neutral overview behind Slack's Home tab, through the in-process chat."""

from __future__ import annotations

from tests.auxil.chat import Chat


async def test_home_lists_open_posts_what_awaits_me_and_the_week(chat: Chat) -> None:
    await chat.say("/account add dryrun demo")
    await chat.say("/role add bob approver")
    await chat.say("/draft --to demo --at tomorrow 09:00 First")
    await chat.say("/draft --to demo --at in 30d Much later")

    alice = await chat.say("/home")
    bob = await chat.say("/home", as_="bob")

    assert alice.splitlines()[0] == "Your open posts:"
    assert "#2 [awaiting approval] → demo" in alice and "#1 [awaiting approval] → demo" in alice
    assert "Nothing is waiting for your approval." in alice
    assert "Waiting for your approval:" in bob
    assert [r.post_id for r in chat.last if r.buttons] == [1, 2]
    assert [b.command for b in chat.last[2].buttons] == ["/approve 1", "/changes 1", "/reject 1"]
    week = chat.last[-1].text
    assert week.startswith("The next 7 days:\n#1 [awaiting approval]") and "#2" not in week
    assert all(r.ephemeral for r in chat.last)
