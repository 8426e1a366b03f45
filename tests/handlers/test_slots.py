"""Posting slots (/slots) and /draft --at next taking the next free one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.timing.slots import parse_weekly, spec_text
from models.errors import InvalidInput
from models.posts import Post
from models.slots import PostingSlots
from tests.auxil.chat import Chat


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("typed", "normal", "words"),
    [
        ("mon-fri 09:00,13:00 sat 10:00", "mon-fri 09:00,13:00 sat 10:00", "mon-fri at 09:00 and 13:00; sat at 10:00"),
        ("sat 10:00 mon-fri 13:00 09:00", "mon-fri 09:00,13:00 sat 10:00", "mon-fri at 09:00 and 13:00; sat at 10:00"),
        ("Monday,Wednesday 9am", "mon,wed 09:00", "mon,wed at 09:00"),
        ("daily 18:30", "mon-sun 18:30", "mon-sun at 18:30"),
        ("fri-mon 08:00", "mon,fri-sun 08:00", "mon,fri-sun at 08:00"),
        ("mon,tue,thu 07:15", "mon,tue,thu 07:15", "mon,tue,thu at 07:15"),
    ],
)
def test_slot_specs_read_and_print_back(typed: str, normal: str, words: str) -> None:
    weekly = parse_weekly(typed)
    assert spec_text(weekly) == normal
    assert spec_text(weekly, words=True) == words
    assert parse_weekly(normal) == weekly


UNREADABLE = 'Couldn\'t read the slots "{}": write days and times like "mon-fri 09:00,13:00 sat 10:00".'


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("", UNREADABLE.format("")),
        ("09:00 mon", UNREADABLE.format("09:00 mon")),
        ("mon-fri", UNREADABLE.format("mon-fri")),
        ("mon tue 09:00", UNREADABLE.format("mon tue 09:00")),
        ("blursday 09:00", '"blursday" is not a day: use mon, tue, wed, thu, fri, sat or sun (or a range: mon-fri).'),
        ("mon 25:00", '"25:00" is not a time of day: use 00:00 to 23:59.'),
        ("mon 9", '"9" is not a time of day: write it as HH:MM, e.g. 09:00 or 18:30.'),
    ],
)
def test_unreadable_slots_get_one_sentence(typed: str, sentence: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_weekly(typed)
    assert str(info.value) == sentence


async def team(chat: Chat, now: datetime) -> None:
    chat.clock.current = now
    await chat.say("/account add dryrun demo")
    await chat.say("/account add dryrun news")
    for name in ("bob", "carol"):
        await chat.say("/whoami", as_=name)
    await chat.say("/role add bob approver")


async def test_set_show_and_clear_slots(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))  # Monday 06:00 UTC
    text = await chat.say("/slots set demo mon-fri 09:00,13:00 sat 10:00")
    assert chat.errors == []
    assert text == (
        "Posting slots for demo (UTC): mon-fri at 09:00 and 13:00; sat at 10:00; next free slot Mon 4 Jan 2027 "
        "09:00 UTC.\nAs a command: /slots set demo --tz UTC mon-fri 09:00,13:00 sat 10:00"
    )
    assert await chat.say("/slots show demo") == text
    assert await chat.say("/slots show") == text
    assert await chat.say("/slots show news") == (
        "news has no posting slots; set them with /slots set news mon-fri 09:00,13:00."
    )
    await chat.say("/slots set demo mon 09:00", as_="carol")
    assert chat.errors == ["Only members with the ops role or admins can run /slots set."]
    await chat.say("/role add carol ops")
    assert "Posting slots for demo (Europe/Berlin): mon at 09:00;" in await chat.say(
        "/slots set demo --tz Europe/Berlin mon 09:00", as_="carol"
    )
    assert await chat.say("/slots clear demo") == (
        "Cleared the posting slots of demo; /draft --at next no longer picks for it."
    )
    assert await chat.say("/slots clear demo") == "demo had no posting slots; nothing changed."
    assert await PostingSlots.all().count() == 0
    for command, sentence in {
        "/slots set demo": 'Couldn\'t read the slots "": write days and times like',
        "/slots set demo mon 9": '"9" is not a time of day',
        "/slots set nowhere mon 09:00": "There is no account called nowhere",
        "/slots set demo --tz Mars/Base mon 09:00": "'Mars/Base' is not a time zone I know",
        "/slots frob demo": "Usage: /slots set ACCOUNT",
    }.items():
        await chat.say(command)
        assert len(chat.errors) == 1 and sentence in chat.errors[0], (command, chat.errors)


async def test_at_next_takes_the_next_free_slot(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 9, 30))  # Monday 09:30 UTC: today's 09:00 slot is gone
    await chat.say("/slots set demo mon-fri 09:00,13:00")
    text = await chat.say("/draft --to demo --at next First")
    assert "it goes to demo at Mon 4 Jan 2027 13:00 UTC (the next free slot)." in text
    assert (await Post.get(id=1)).text == "First"
    assert "at Tue 5 Jan 2027 09:00 UTC (the next free slot)" in await chat.say("/draft --to demo --at next Second")
    await chat.say("/draft --to demo --at 2027-01-05 13:00 Taken by hand")
    assert "at Wed 6 Jan 2027 09:00 UTC" in await chat.say("/draft --to demo --at next Third")
    # cancelled or rejected posts free their slot again
    await chat.say("/withdraw 2")
    assert "at Tue 5 Jan 2027 09:00 UTC" in await chat.say("/draft --to demo --at next Fourth")
    # `--at next monday 10:00` is still a time, `--at next blursday` still a mistyped one
    assert "at Mon 11 Jan 2027 10:00 UTC." in await chat.say("/draft --to demo --at next monday 10:00 Fifth")
    await chat.say("/draft --to demo --at next blursday Sixth")
    assert len(chat.errors) == 1 and '"next blursday Sixth"' in chat.errors[0]


async def test_at_next_with_several_targets_uses_the_first_ones_slots_free_on_all(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))
    await chat.say("/slots set demo mon-fri 09:00")
    await chat.say("/draft --to news --at 2027-01-04 09:00 Busy on news")
    assert "it goes to demo, news at Tue 5 Jan 2027 09:00 UTC (the next free slot)." in await chat.say(
        "/draft --to demo,news --at next Both"
    )
    await chat.say("/draft --to news,demo --at next Both")
    assert chat.errors == [
        "news has no posting slots, so --at next has nothing to pick: set them with /slots set news mon-fri 09:00, "
        "or give a time (--at tomorrow 09:00)."
    ]


async def test_at_next_reads_slots_in_their_zone_across_dst_and_skips_series_runs(chat: Chat) -> None:
    await team(chat, at(2027, 3, 27, 9))  # Saturday 10:00 CET
    await chat.say("/slots set demo --tz Europe/Berlin daily 09:00")
    # Sunday 09:00 is CEST now: 07:00 UTC
    await chat.say('/draft --to demo --every "every sunday 09:00" --tz Europe/Berlin --count 1 Weekly')
    await chat.say("/approve 1", as_="bob")  # its run takes Sunday's slot
    assert "at Mon 29 Mar 2027 07:00 UTC (the next free slot)" in await chat.say("/draft --to demo --at next Hi")
    await chat.say("/tz Europe/Berlin")
    assert "next free slot Tue 30 Mar 2027 09:00 CEST" in await chat.say("/slots show demo")
