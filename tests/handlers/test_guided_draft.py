"""The guided ``/draft`` through the chat-neutral core: text → accounts (ticks) → when → preview → submit, kept in
the database, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from handlers.drafting import guided
from handlers.messages import Conversation, Incoming, Reply, Sender
from models.dialogs import Dialog
from models.posts import Delivery, Post
from tests.auxil.chat import CONVERSATION, Chat

LONG = "Big news from the team. " * 14  # 335 characters: too long for X (280), fine for the dry run


async def setup_team(chat: Chat) -> None:
    await chat.say("/account add dryrun demo")
    await chat.say("/account add x acme")  # ids: demo 1, acme 2; shown by handle: acme, demo
    await chat.say("/role add bob approver")
    await chat.say("/role add carol approver")


def buttons(chat: Chat) -> list[tuple[str, str]]:
    return [(b.label, b.command) for r in chat.last for b in r.buttons]


def step_message(chat: Chat) -> Reply:
    """The message asking for the step the draft is at (the last reply)."""
    return chat.last[-1]


async def dialog_of(name: str) -> Dialog | None:
    return await Dialog.filter(member__name=name).first()


async def post_facts(post_id: int) -> tuple[object, ...]:
    post = await Post.get(id=post_id)
    targets = [d.account_id for d in await Delivery.filter(post_id=post_id).order_by("id")]  # type: ignore[attr-defined]
    return (post.text, list(post.media), post.due_at, post.origin, post.state, post.author_id, targets)  # type: ignore[attr-defined]


async def test_the_whole_flow_makes_the_post_the_one_line_form_makes(chat: Chat) -> None:
    await setup_team(chat)
    assert "Send its text" in await chat.say("/draft")
    assert buttons(chat) == [("Cancel", "/cancel")]
    assert (await dialog_of("alice")) is not None

    text = await chat.say("Hello from the guided draft")
    assert "Where should it go?" in text and "Chosen: none yet" in text
    assert buttons(chat) == [
        ("acme (X)", "/draft pick 2"),
        ("demo (Dry run)", "/draft pick 1"),
        ("Next", "/draft next"),
        ("Change text", "/draft text"),
        ("Cancel", "/cancel"),
    ]
    await chat.say("/draft pick 1")
    await chat.say("/draft pick acme")  # typed by handle too
    assert "Chosen: demo, acme" in step_message(chat).text
    await chat.say("/draft next")
    assert "When should it go out?" in step_message(chat).text
    assert [label for label, _ in buttons(chat)] == ["Now", "Tomorrow 09:00", "Type a time", "Cancel"]

    text = await chat.say("/draft when tomorrow")
    card = step_message(chat)
    assert card.text.startswith("Here is your post") and "> Hello from the guided draft" in card.text
    tomorrow = (chat.clock.now() + timedelta(days=1)).strftime("%a %-d %b %Y 09:00 UTC")
    assert [(f.label, f.value) for f in card.fields] == [("Targets", "demo, acme"), ("When", tomorrow)]
    assert [p.target for p in card.previews] == ["Dry run · demo", "X · acme"]
    assert buttons(chat)[0] == ("Submit", "/draft submit")

    text = await chat.say("/draft submit")
    assert "Post 1 is waiting for approval (anyone with role approver); it goes to demo, acme at " in text
    assert chat.last[-1].ref == "post:1:approval"
    assert await dialog_of("alice") is None
    guided_replies = [r.text for r in chat.last]

    await chat.say('/draft --to demo,acme --at "tomorrow 09:00" Hello from the guided draft')
    one_line = [r.text.replace("Post 2", "Post 1") for r in chat.last]
    assert guided_replies == one_line
    assert await post_facts(1) == await post_facts(2)


async def test_ticks_toggle_one_account_at_a_time_in_one_message(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/draft")
    await chat.say("Ticks")
    ref = step_message(chat).ref
    assert ref is not None and ref.startswith("draft:")
    seen = []
    for pick in ("2", "1", "2", "2"):
        text = await chat.say(f"/draft pick {pick}")
        assert step_message(chat).ref == ref  # the same message, edited in place where the chat can
        seen.append((text.splitlines()[-1], [label for label, _ in buttons(chat)][:2]))
    assert seen == [
        ("Chosen: acme", ["✓ acme (X)", "demo (Dry run)"]),
        ("Chosen: acme, demo", ["✓ acme (X)", "✓ demo (Dry run)"]),
        ("Chosen: demo", ["acme (X)", "✓ demo (Dry run)"]),
        ("Chosen: demo, acme", ["✓ acme (X)", "✓ demo (Dry run)"]),
    ]
    dialog = await dialog_of("alice")
    assert dialog is not None and dialog.data["targets"] == [1, 2]


async def test_a_restarted_herald_goes_on_with_the_draft(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/draft")
    await chat.say("Survives a restart")
    await chat.say("/draft pick demo")

    later = Chat.build()  # a new process: a new Herald over the same database, nothing in memory
    later.clock.current = chat.clock.current
    text = await later.say("/draft next")
    assert "When should it go out?" in text
    await later.say("in 2h")  # a plain message answers the step
    assert "Here is your post" in step_message(later).text
    await Chat.build().say("/draft submit")
    post = await Post.get(id=1)
    assert post.text == "Survives a restart" and post.due_at is not None


async def test_two_members_drafting_in_the_same_chat_dont_mix(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/draft", as_="alice")
    await chat.say("/draft", as_="bob")
    await chat.say("Alice's post", as_="alice")
    await chat.say("Bob's post", as_="bob")
    await chat.say("acme", as_="bob")  # bob types his accounts
    assert "When should it go out?" in step_message(chat).text
    await chat.say("/draft pick demo", as_="alice")
    assert "Chosen: demo" in step_message(chat).text
    await chat.say("now", as_="bob")
    await chat.say("/draft next", as_="alice")
    await chat.say("/draft when now", as_="alice")
    await chat.say("/draft submit", as_="bob")
    await chat.say("/draft submit", as_="alice")
    posts = {p.text: p for p in await Post.all().prefetch_related("author")}
    assert {t: p.author.name for t, p in posts.items()} == {"Bob's post": "bob", "Alice's post": "alice"}
    handles = {
        t: [d.account.handle for d in await Delivery.filter(post_id=p.id).prefetch_related("account")]
        for t, p in posts.items()
    }
    assert handles == {"Bob's post": ["acme"], "Alice's post": ["demo"]}
    assert await Dialog.all().count() == 0


async def test_a_draft_in_another_chat_is_another_draft(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/draft")
    elsewhere = Conversation("telegram", "dm:42")
    sender = Sender("shell", "alice", "alice")
    replies = await chat.herald.handle(Incoming(sender, elsewhere, "Not the answer here"))
    assert [r.text for r in replies] == ["Commands start with / — try /help to see them all."]
    assert (await dialog_of("alice")).step == guided.TEXT  # type: ignore[union-attr]


async def test_cancel_leaves_at_any_step(chat: Chat) -> None:
    await setup_team(chat)
    steps = [[], ["Text"], ["Text", "/draft pick demo", "/draft next"], ["Text", "demo", "/draft when type"]]
    steps.append(["Text", "demo", "now"])
    for answers in steps:
        await chat.say("/draft")
        for line in answers:
            await chat.say(line)
        assert await chat.say("/cancel") == "Left the draft; nothing was sent."
        assert await Dialog.all().count() == 0
        assert await chat.say("Stray text") == "Commands start with / — try /help to see them all."
    await chat.say("/draft")
    assert await chat.say("/cancel@HeraldBot") == "Left the draft; nothing was sent."  # Telegram, in a group
    assert await chat.say("/cancel") == "Which post? Usage: /cancel ID"  # no draft: /cancel ID as before
    await chat.say("/draft --to demo Going out")
    await chat.say("/draft")
    assert "is cancelled" in await chat.say("/cancel 1")  # a post's cancel is unchanged
    assert await dialog_of("alice") is not None  # and leaves the draft under way alone
    assert await Post.all().count() == 1


async def test_every_wrong_answer_gets_one_sentence_and_the_same_step(chat: Chat) -> None:
    await setup_team(chat)

    async def wrong(line: str, sentence: str, step: str) -> None:
        await chat.say(line)
        assert len(chat.errors) == 1 and sentence in chat.errors[0], (line, chat.errors)
        assert "\n" not in chat.errors[0]
        assert chat.last[0].kind == "error" and len(chat.last) == 2  # the sentence, then the step again
        dialog = await dialog_of("alice")
        assert dialog is not None and dialog.step == step, line

    await chat.say("/draft")
    await wrong("   ", "A post needs some text: send it as a message.", guided.TEXT)
    await wrong("/draft --media photo.png", "A post needs some text: send it as a message (the 1 image", guided.TEXT)
    assert "Herald takes at most 10000" in (await chat.say("x" * 10_001)) and chat.errors
    await chat.say(LONG)
    assert (await dialog_of("alice")).data["media"] == ["photo.png"]  # type: ignore[union-attr]  # nothing lost

    await wrong("/draft next", "Choose at least one account, then Next.", guided.TARGETS)
    await wrong("nowhere", "There is no account called nowhere; /account list shows them.", guided.TARGETS)
    await wrong("/draft pick 99", "There is no account called 99", guided.TARGETS)
    await chat.say("/draft pick acme")
    await chat.say("/draft pick demo")
    await wrong(
        "/draft next", f"X allows 280 characters, this is {len(LONG.strip())}.", guided.TARGETS
    )  # the card's sentence
    assert "Chosen: acme, demo" in step_message(chat).text  # the choice is kept
    await chat.say("/draft pick acme")
    assert "When should it go out?" in await chat.say("/draft next")

    await wrong("blursday", "blursday", guided.WHEN)
    await wrong("/draft when slot", "demo has no posting slots", guided.WHEN)
    await chat.say("/draft when type")
    assert "Type when it should go out" in step_message(chat).text
    await wrong("2020-01-01 09:00", "is in the past", guided.TIME)
    await wrong("soonish", "soonish", guided.TIME)
    await chat.say("in 1h")
    assert "Here is your post" in step_message(chat).text

    chat.clock.advance(hours=2)  # the chosen time passed while the preview waited
    await wrong("/draft submit", "is in the past", guided.WHEN)
    await chat.say("now")
    await chat.say("/draft submit")
    post = await Post.get(id=1)
    assert (post.text, post.media, post.due_at) == (LONG.strip(), ["photo.png"], None)


async def test_buttons_of_another_step_or_of_no_draft(chat: Chat) -> None:
    await setup_team(chat)
    for button in ("/draft submit", "/draft next", "/draft pick 1", "/draft when now", "/draft targets"):
        await chat.say(button)
        assert chat.errors == ["You have no draft under way here (it was sent or cancelled); /draft starts one."]
    await chat.say("/draft")
    await chat.say("/draft submit")
    assert chat.last[0].text == "That isn't this step of your draft; this is where it is." and not chat.errors
    assert "Send its text" in step_message(chat).text
    await chat.say("Text first")
    await chat.say("/draft submit")
    assert "Where should it go?" in step_message(chat).text
    assert "You have a draft under way here" in await chat.say("/draft")  # bare /draft doesn't drop it
    assert (await dialog_of("alice")).data["text"] == "Text first"  # type: ignore[union-attr]


async def test_going_back_keeps_the_answers(chat: Chat) -> None:
    await setup_team(chat)
    for line in ("/draft", "First words", "demo", "/draft when tomorrow", "/draft text"):
        await chat.say(line)
    assert "Now it says:\n> First words" in step_message(chat).text
    await chat.say("Better words")
    assert "Chosen: demo" in step_message(chat).text  # the accounts are still chosen
    await chat.say("/draft next")
    card = step_message(chat)  # the time was given: straight to the preview
    assert "> Better words" in card.text and card.fields[1].value.endswith("09:00 UTC")
    await chat.say("/draft targets")
    ref = step_message(chat).ref
    await chat.say("/draft pick acme")
    assert step_message(chat).ref == ref
    await chat.say("/draft when")
    assert "When should it go out?" in step_message(chat).text
    await chat.say("/draft when now")
    assert [(f.label, f.value) for f in step_message(chat).fields] == [
        ("Targets", "demo, acme"),
        ("When", "as soon as approved"),
    ]


async def test_a_photo_with_its_caption_answers_the_text(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/draft")
    await chat.say("/draft --media one.jpg,two.jpg Our album")  # as an adapter passes an album
    await chat.say("demo")
    await chat.say("now")
    card = step_message(chat)
    assert ("Media", "2 images") in [(f.label, f.value) for f in card.fields]
    await chat.say("/draft submit")
    await chat.say("/draft --to demo --at now --media one.jpg,two.jpg Our album")
    assert await post_facts(1) == await post_facts(2)


async def test_a_photo_without_a_caption_starts_a_guided_draft_with_it(chat: Chat) -> None:
    await setup_team(chat)
    text = await chat.say("/draft --media one.jpg")  # nothing else: no one-line post to make
    assert text == "Let's write a post with the 1 image you sent. Send its text. /cancel leaves." and not chat.errors
    await chat.say("Its caption")
    dialog = await dialog_of("alice")
    assert dialog is not None and (dialog.step, dialog.data["text"], dialog.data["media"]) == (
        guided.TARGETS,
        "Its caption",
        ["one.jpg"],
    )
    await chat.say("/cancel")
    await chat.say('/draft --media ""')  # no media either: the one-line form's answer, as before
    assert chat.errors[0].startswith("A post needs some text. Usage: /draft")
    assert await Dialog.all().count() == 0


async def test_next_free_slot(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say("/slots set demo --tz UTC mon-sun 09:00,17:00")
    await chat.say("/draft")
    await chat.say("Into a slot")
    await chat.say("demo")
    labels = [label for label, _ in buttons(chat)]
    assert labels[1].startswith("Next free slot (") and buttons(chat)[1][1] == "/draft when slot"
    await chat.say("/draft when slot")
    assert step_message(chat).fields[1].value.endswith("(the next free slot)")
    await chat.say("/draft submit")
    assert "(the next free slot)" in chat.last[0].text
    await chat.say("/draft --to demo --at next Into a slot")
    first, second = await Post.get(id=1), await Post.get(id=2)
    assert first.due_at is not None and second.due_at is not None and second.due_at > first.due_at  # each its own


async def test_one_line_form_is_unchanged_while_a_draft_is_under_way(chat: Chat) -> None:
    await setup_team(chat)
    await chat.say('/draft text --to demo --at "in 2h"')
    post = await Post.get(id=1)
    assert post.text == "text" and post.due_at is not None
    assert abs(post.due_at - (chat.clock.now() + timedelta(hours=2))) < timedelta(seconds=1)
    await chat.say("/draft")
    await chat.say("Guided")
    await chat.say("/draft --to acme --at now One line")  # options: the one-line form, the draft stays
    assert (await Post.get(id=2)).text == "One line"
    assert (await dialog_of("alice")).step == guided.TARGETS  # type: ignore[union-attr]


async def test_a_double_submit_makes_one_post(chat: Chat) -> None:
    await setup_team(chat)
    for line in ("/draft", "Once", "demo", "now"):
        await chat.say(line)
    other = Chat.build()
    sender = Sender("shell", "alice", "alice", "alice")
    results = await asyncio.gather(
        chat.herald.handle(Incoming(sender, CONVERSATION, "/draft submit")),
        other.herald.handle(Incoming(sender, CONVERSATION, "/draft submit")),
    )
    assert await Post.all().count() == 1
    texts = sorted(r[0].text for r in results)
    assert texts[0].startswith("Post 1 is waiting for approval"), texts
    assert await Dialog.all().count() == 0


async def test_the_dialog_is_a_row_with_its_answers(chat: Chat) -> None:
    await setup_team(chat)
    for line in ("/draft", "Stored", "/draft pick demo", "/draft next", "tomorrow 10:00"):
        await chat.say(line)
    dialog = await Dialog.get(member__name="alice")
    assert (dialog.adapter, dialog.channel, dialog.kind, dialog.step) == ("shell", "test", "draft", "preview")
    when = datetime.fromisoformat(dialog.data["when"]["at"])
    assert dialog.data["text"] == "Stored" and dialog.data["targets"] == [1] and when.tzinfo is not None
    assert when.astimezone(UTC).hour == 10


async def test_an_account_removed_while_the_draft_waits(chat: Chat) -> None:
    await setup_team(chat)
    for line in ("/draft", "Gone soon", "/draft pick demo", "/draft next", "/draft when now"):
        await chat.say(line)
    await chat.say("/account remove demo")
    assert "Targets: " in " ".join(f"{f.label}: {f.value}" for f in (await _preview_again(chat)).fields)
    await chat.say("/draft submit")
    assert chat.errors == ["Choose at least one account, then Next."]
    assert "Where should it go?" in step_message(chat).text and "Chosen: none yet" in step_message(chat).text
    await chat.say(" , ")  # nothing named: the choice stays as it was
    assert chat.errors == ["Choose at least one account, then Next."]
    await chat.say("acme")
    await chat.say("/draft submit")
    assert (await Post.get(id=1)).text == "Gone soon"


async def _preview_again(chat: Chat) -> Reply:
    await chat.say("Show me")  # a plain message at the preview: the preview again
    assert chat.last[0].text == "Your draft is ready: Submit it, change it, or /cancel."
    return step_message(chat)
