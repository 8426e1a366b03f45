"""Multi-level approval scenarios through the chat-neutral core, including the sentences shown."""

from __future__ import annotations

from models.approvals import ApprovalDecision
from models.lifecycle import DeliveryState, PostState
from models.outbox import OutboxMessage
from models.posts import Delivery, Post
from tests.auxil.chat import Chat


async def team(chat: Chat) -> None:
    """alice (admin, first), bob + erin (editors), carol + dan (named approvers), one account."""
    await chat.say("/account add dryrun demo")
    for name in ("bob", "erin", "carol", "dan", "frank"):
        await chat.say("/whoami", as_=name)
    await chat.say("/role add bob editor")
    await chat.say("/role add erin editor")


async def two_levels(chat: Chat) -> None:
    await team(chat)
    text = await chat.say("/policy set demo level1=role:editor level2=@carol,@dan:all")
    assert chat.errors == []
    assert "level 1 of 2: anyone with role editor (now: bob, erin)" in text
    assert "level 2 of 2: all of @carol and @dan (now: carol, dan)" in text


async def test_the_issue_example_two_levels(chat: Chat) -> None:
    await two_levels(chat)
    assert "level 1 of 2: anyone with role editor" in await chat.say("/draft --to demo Launch day!", as_="frank")
    await chat.say("/approve 1", as_="carol")
    assert chat.errors == ["Level 1 of post 1 needs anyone with role editor."]
    assert "now at level 2 of 2 (all of @carol and @dan)" in await chat.say("/approve 1", as_="bob")
    await chat.say("/approve 1", as_="erin")
    assert chat.errors == [
        "Level 1 of post 1 was already approved by bob. Level 2 of post 1 needs all of @carol and @dan."
    ]
    assert "level 2 still waits for @dan" in await chat.say("/approve 1", as_="carol")
    assert (await Post.get(id=1)).state == PostState.PENDING_APPROVAL
    assert "Post 1 by @frank approved by @dan; it goes to demo now." in await chat.say("/approve 1", as_="dan")
    card = chat.last[-1]
    assert card.buttons == ()
    assert (
        dict((f.label, f.value) for f in card.fields)["Approved by"]
        == "@bob (level 1), @carol (level 2), @dan (level 2)"
    )
    assert "published to demo" in await chat.publish_due()


async def test_card_shows_level_progress_and_who_is_awaited(chat: Chat) -> None:
    await two_levels(chat)
    await chat.say("/draft --to demo Hi", as_="frank")
    fields = dict((f.label, f.value) for f in chat.last[-1].fields)
    assert (fields["Level"], fields["Awaiting"], fields["Approved by"]) == ("1 of 2", "@bob, @erin", "nobody yet")
    await chat.say("/approve 1", as_="bob")
    fields = dict((f.label, f.value) for f in chat.last[-1].fields)
    assert (fields["Level"], fields["Awaiting"]) == ("2 of 2", "@carol, @dan")
    assert chat.last[-1].ref == "post:1:approval"  # same identity: the adapter edits it in place


async def test_policy_validation_says_exactly_what_is_wrong(chat: Chat) -> None:
    await team(chat)
    cases = {
        "/policy set demo": "A policy needs at least level1=…",
        "/policy set demo level1=": "level1 is empty: list @members and/or role:NAME, e.g. level1=role:editor.",
        "/policy set demo level1=role:editor level3=@carol": (
            "Levels must be numbered from level1 without gaps; got level1, level3."
        ),
        "/policy set demo level4=@carol": "A policy has 1 to 3 levels; level4 is out of range.",
        "/policy set demo level1=@zed": "level1 names @zed, but there is no member called zed.",
        "/policy set demo level1=carol": (
            "level1: 'carol' is neither @member nor role:NAME (e.g. @carol or role:editor)."
        ),
        "/policy set demo level1=@carol:some": "level1: '@carol:some' has an unknown mode; end the list with :all",
        "/policy set demo lvl1=@carol": (
            "Unknown setting 'lvl1': use level1=…, level2=…, level3=…, direct=…, remind=…, before=… or channel=…."
        ),
        "/policy set demo level1=@carol remind=soon": "remind=soon is not a duration; use e.g. remind=4h, 30m or off.",
        "/policy set nowhere level1=@carol": "There is no account called nowhere",
    }
    for command, expected in cases.items():
        await chat.say(command)
        assert len(chat.errors) == 1 and expected in chat.errors[0], (command, chat.errors)
    await chat.say("/policy set demo level1=@carol", as_="bob")
    assert chat.errors == ["Only admins can run /policy set."]
    assert "approved by: anyone with role approver" in await chat.say("/policy show demo")


async def test_policy_show_and_clear(chat: Chat) -> None:
    await team(chat)
    text = await chat.say("/policy set demo level1=@carol,@dan remind=2h before=30m")
    assert "as a command: /policy set demo level1=@carol,@dan remind=2h before=30m" in text
    await chat.say("/policy set default level1=role:editor")
    shown = await chat.say("/policy show")
    assert "Approval policy for default:" in shown and "Approval policy for demo:" in shown
    assert "demo now follows the default policy." in await chat.say("/policy clear demo")
    assert "anyone with role editor" in await chat.say("/policy show demo")
    assert "Note: role reviewers is held by nobody yet." in await chat.say("/policy set demo level1=role:reviewers")


async def test_no_self_approval_and_one_level_per_member(chat: Chat) -> None:
    await team(chat)
    await chat.say("/role add carol editor")
    await chat.say("/policy set demo level1=role:editor level2=role:editor")
    await chat.say("/draft --to demo Mine", as_="bob")
    await chat.say("/approve 1", as_="bob")
    assert chat.errors == ["You can't approve your own post."]
    await chat.say("/approve 1", as_="carol")
    await chat.say("/approve 1", as_="carol")
    assert chat.last[0].text == "You already approved post 1; nothing changed."
    post = await Post.get(id=1)
    assert post.approval_level == 2
    await chat.say("/reject 1 no", as_="carol")
    assert chat.errors == [
        "You already approved post 1 at level 1; level 2 needs someone else (anyone with role editor)."
    ]
    assert "approved by @erin" in await chat.say("/approve 1", as_="erin")
    assert await ApprovalDecision.filter(post_id=1).count() == 2


async def test_all_level_counts_earlier_level_approvers_as_approved(chat: Chat) -> None:
    await team(chat)
    await chat.say("/role add carol editor")
    await chat.say("/policy set demo level1=role:editor level2=@carol,@dan:all")
    await chat.say("/draft --to demo Hi", as_="frank")
    await chat.say("/approve 1", as_="carol")  # carol approves level 1 as an editor
    fields = dict((f.label, f.value) for f in chat.last[-1].fields)
    assert fields["Awaiting"] == "@dan"  # she already signed this version
    assert "approved by @dan" in await chat.say("/approve 1", as_="dan")


async def test_request_changes_and_reject_need_a_reason_and_tell_the_author(chat: Chat) -> None:
    await two_levels(chat)
    await chat.say("/draft --to demo Helo", as_="frank")
    await chat.say("/changes 1", as_="bob")
    assert chat.errors == ["Please say why: /changes 1 REASON."]
    assert "Post 1 by @frank sent back for changes by @bob: typo in the first word" in await chat.say(
        "/changes 1 typo in the first word", as_="bob"
    )
    await chat.say("/approve 1", as_="erin")
    assert chat.errors == ["Post 1 was sent back for changes by bob, so it can't be approved."]
    await chat.say("/edit 1 Hello", as_="frank")
    assert (await Post.get(id=1)).state == PostState.PENDING_APPROVAL
    await chat.say("/reject 1", as_="erin")
    assert chat.errors == ["Please say why: /reject 1 REASON."]
    assert "Post 1 by @frank rejected by @erin: off-brand" in await chat.say("/reject 1 off-brand", as_="erin")
    for command in ("/approve 1", "/edit 1 Again", "/withdraw 1"):
        await chat.say(command, as_="frank" if command != "/approve 1" else "bob")
        assert len(chat.errors) == 1 and "rejected" in chat.errors[0], (command, chat.errors)


async def test_author_edit_after_approval_restarts_and_tells_approvers(chat: Chat) -> None:
    await two_levels(chat)
    await chat.say("/draft --to demo Version one", as_="frank")
    await chat.say("/approve 1", as_="bob")
    await chat.say("/approve 1", as_="carol")
    await chat.dms("bob")
    assert "Approval starts again from level 1." in await chat.say("/edit 1 Version two", as_="frank")
    post = await Post.get(id=1)
    assert (post.state, post.version, post.approval_level) == (PostState.PENDING_APPROVAL, 2, 1)
    for name in ("bob", "carol"):
        texts = [r.text for r in await chat.dms(name)]
        assert any("Post 1 changed after you approved version 1 (frank edited it to v2)" in t for t in texts), texts
    await chat.say("/approve 1", as_="bob")  # bob may approve the new version
    assert chat.errors == []
    history = await chat.say("/post 1")
    assert "-Version one" in history and "+Version two" in history


async def test_approver_edits_and_approves_in_one_step(chat: Chat) -> None:
    await two_levels(chat)
    await chat.say("/draft --to demo Helo world", as_="frank")
    text = await chat.say("/approve 1 --text Hello world", as_="bob")
    assert "@bob approved (after editing it to v2); now at level 2 of 2" in text
    post = await Post.get(id=1)
    assert (post.text, post.version, post.approval_level) == ("Hello world", 2, 2)
    notes = [r.text for r in await chat.dms("frank")]
    assert any("@bob edited your post 1 (now v2)" in t and "+Hello world" in t for t in notes), notes
    # at level 2 the edit goes back to level 1, with the editor's level-2 approval kept
    await chat.say("/approve 1 --text Hello, world", as_="carol")
    post = await Post.get(id=1)
    assert (post.version, post.approval_level) == (3, 1)
    assert "now at level 2 of 2" in await chat.say("/approve 1", as_="erin")
    fields = dict((f.label, f.value) for f in chat.last[-1].fields)
    assert fields["Awaiting"] == "@dan"  # carol's approval of v3 at level 2 counts
    await chat.say("/approve 1", as_="dan")
    assert (await Post.get(id=1)).state == PostState.SCHEDULED


async def test_direct_publishing_only_where_the_policy_says(chat: Chat) -> None:
    await team(chat)
    await chat.say("/account add dryrun other")
    await chat.say("/policy set demo level1=role:editor direct=@frank")
    assert "scheduled without approval" in await chat.say("/draft --to demo Quick note", as_="frank")
    assert "published to demo" in await chat.publish_due()
    assert "waiting for approval" in await chat.say("/draft --to demo,other Both", as_="frank")  # other: no permission
    assert "waiting for approval" in await chat.say("/draft --to demo --review Please check", as_="frank")
    assert "waiting for approval" in await chat.say("/draft --to demo Not me", as_="bob")


async def test_strictest_policy_of_the_targets_applies(chat: Chat) -> None:
    await team(chat)
    await chat.say("/account add dryrun other")
    await chat.say("/policy set demo level1=role:editor")
    await chat.say("/policy set other level1=role:editor level2=@carol")
    assert "level 1 of 2" in await chat.say("/draft --to demo,other Both", as_="frank")
    one = await chat.say("/draft --to demo One", as_="frank")
    assert "waiting for approval (anyone with role editor)" in one and "level 1 of" not in one  # one level: no jargon


async def test_nobody_to_approve_is_refused_before_anything_is_saved(chat: Chat) -> None:
    await team(chat)
    await chat.say("/policy set demo level1=@carol")
    await chat.say("/draft --to demo Self", as_="carol")
    assert chat.errors == [
        "Nobody but you can approve level 1 of the demo policy (@carol); ask an admin to give "
        "someone that role or change it with /policy set demo …."
    ]
    assert await Post.all().count() == 0


async def test_unapproved_post_expires_at_its_time_and_can_be_rescheduled(chat: Chat) -> None:
    await two_levels(chat)
    await chat.say("/draft --to demo --at in 2h Timely", as_="frank")
    await chat.say("/approve 1", as_="bob")
    chat.clock.advance(hours=2)
    report = await chat.publish_due()
    assert "Post 1 was due" in report and "approval wasn't complete (level 2 of 2), so it did not go out." in report
    assert (await Post.get(id=1)).state == PostState.EXPIRED
    assert (await Delivery.get(post_id=1)).state == DeliveryState.WAITING
    assert any("expired before it was approved" in r.text for r in await chat.dms("carol"))
    await chat.say("/approve 1", as_="carol")
    assert chat.errors == ["Post 1 is expired, so it can't be approved."]
    assert "It is waiting for approval again." in await chat.say("/schedule 1 in 1h", as_="frank")
    post = await Post.get(id=1)
    assert (post.state, post.approval_level) == (PostState.PENDING_APPROVAL, 2)  # bob's level-1 approval stands
    await chat.say("/approve 1", as_="carol")
    await chat.say("/approve 1", as_="dan")
    chat.clock.advance(hours=1)
    assert "published to demo" in await chat.publish_due()


async def test_reminders_twice_per_level_then_escalation(chat: Chat) -> None:
    await two_levels(chat)
    await chat.say("/draft --to demo --at in 10h Remind me", as_="frank")
    await chat.dms("bob")
    chat.clock.advance(hours=4)
    await chat.publish_due()
    first = [r.text for r in await chat.dms("bob")]
    assert len(first) == 1 and first[0].startswith("Reminder: post 1 is waiting for your approval (level 1 of 2")
    assert await chat.dms("alice") == []  # no escalation yet
    chat.clock.advance(hours=4)
    await chat.publish_due()
    assert len(await chat.dms("bob")) == 1
    escalation = [r.text for r in await chat.dms("alice")]
    assert escalation == [
        "Escalation: post 1 still needs level 1 of 2 (anyone with role editor); waiting for @bob, @erin."
    ]
    chat.clock.advance(hours=1)  # the 1h-before-due reminder: already two at this level
    await chat.publish_due()
    assert await chat.dms("bob") == []


async def test_reminders_restart_for_the_next_level(chat: Chat) -> None:
    await two_levels(chat)
    await chat.say("/draft --to demo No hurry", as_="frank")
    await chat.say("/approve 1", as_="bob")
    await chat.dms("carol")
    await chat.dms("bob")
    chat.clock.advance(hours=4)
    await chat.publish_due()
    texts = [r.text for r in await chat.dms("carol")]
    assert len(texts) == 1 and "level 2 of 2" in texts[0]
    assert await chat.dms("bob") == []  # level 1 is done: no reminders for it


async def test_pending_and_mine(chat: Chat) -> None:
    await two_levels(chat)
    await chat.say("/draft --to demo A", as_="frank")
    await chat.say("/draft --to demo B", as_="frank")
    await chat.say("/approve 1", as_="bob")
    assert "#1" not in await chat.say("/pending", as_="bob") and "#2" in chat.last[0].text
    assert "#1" in await chat.say("/pending", as_="carol") and "#2" not in chat.last[0].text
    mine = await chat.say("/mine", as_="frank")
    assert "#1 [awaiting approval]" in mine and "#2 [awaiting approval]" in mine


async def test_approval_requests_go_to_the_policys_channel(chat: Chat) -> None:
    await team(chat)
    text = await chat.say("/policy set demo level1=role:editor channel=shell:approvals")
    assert "approval requests go to: shell:approvals" in text
    await chat.say("/policy set demo level1=role:editor channel=approvals")
    assert chat.errors == ["channel=approvals should be CHAT:ID, e.g. channel=slack:C0123ABCD."]
    await chat.say("/draft --to demo For the channel", as_="frank")
    rows = await OutboxMessage.filter(channel="approvals").order_by("id")
    assert [r.payload["ref"] for r in rows] == ["post:1:approval"]
    await chat.say("/approve 1", as_="bob")
    rows = await OutboxMessage.filter(channel="approvals").order_by("id")
    assert [r.payload["ref"] for r in rows] == ["post:1:approval", "post:1:approval"]  # the same card, updated
    assert rows[-1].payload["buttons"] == []
