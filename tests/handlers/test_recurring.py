"""Recurring posts: schedules and their words, DST, and series through the chat-neutral core.

The scenario tests set the frozen clock to a known instant and move it to each run's time: a run
goes out when the clock reaches it (not a minute earlier), the series is approved once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.timing import recurring
from handlers.timing.cronrules import describe, next_after, parse_every, runs_after
from models.approvals import ApprovalDecision
from models.errors import InvalidInput
from models.lifecycle import DeliveryState, PostState
from models.posts import Delivery, Post
from models.recurrence import Recurrence, SeriesRun
from models.timers import Timer
from tests.auxil.chat import Chat

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
UNREADABLE = 'Couldn\'t read the schedule "{}": use a cron line like "0 9 * * 1-5" or e.g. "every weekday 09:00".'


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


# --- schedules: presets, cron lines, words -------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "cron", "words"),
    [
        ("every weekday 09:00", "0 9 * * 1-5", "every weekday at 09:00"),
        ("every day 18:30", "30 18 * * *", "every day at 18:30"),
        ("Every day at 6:30 pm", "30 18 * * *", "every day at 18:30"),
        ("every monday 10:00", "0 10 * * 1", "every Monday at 10:00"),
        ("every monday,thursday 10:00", "0 10 * * 1,4", "every Monday and Thursday at 10:00"),
        ("every sat,sun 10:00", "0 10 * * 0,6", "every Saturday and Sunday at 10:00"),
        ("every hour", "0 * * * *", "every hour at :00"),
        ("every 2 hours", "0 */2 * * *", "every 2 hours at :00"),
        ("every 12 hours", "0 */12 * * *", "every 12 hours at :00"),
        ("0 9 * * 1-5", "0 9 * * 1-5", "every weekday at 09:00"),
        ("0 9,13 * * mon,thu", "0 9,13 * * mon,thu", "every Monday and Thursday at 09:00 and 13:00"),
        ("15 * * * 1-5", "15 * * * 1-5", "every hour at :15 on weekdays"),
        ("0 9 1 * *", "0 9 1 * *", 'cron "0 9 1 * *"'),
    ],
)
def test_presets_and_cron_lines_and_their_words(typed: str, cron: str, words: str) -> None:
    assert parse_every(typed) == cron
    assert describe(cron) == words


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("0 9 * *", UNREADABLE.format("0 9 * *")),
        ("every blursday 09:00", UNREADABLE.format("every blursday 09:00")),
        ("every weekday", UNREADABLE.format("every weekday")),
        ("@daily", UNREADABLE.format("@daily")),
        ("0 9 * * 1-5 2027", UNREADABLE.format("0 9 * * 1-5 2027")),
        ("0 25 * * *", UNREADABLE.format("0 25 * * *")),
        (
            "*/30 * * * *",
            'The schedule "*/30 * * * *" runs more than once an hour; a series posts at most hourly, '
            'so give one minute, e.g. "0 * * * *".',
        ),
        ("0 9 31 2 *", 'The schedule "0 9 31 2 *" never runs; check its day and month.'),
        (
            "every 5 hours",
            '"every 5 hours" isn\'t an interval Herald knows: use every hour or every 2, 3, 4, 6, 8 or 12 hours.',
        ),
    ],
)
def test_unreadable_schedules_get_one_sentence(typed: str, sentence: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_every(typed)
    assert str(info.value) == sentence


# --- DST --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "start", "expected"),
    [
        (  # spring forward 2027-03-28: 09:00 local stays 09:00 local, one hour earlier in UTC
            BERLIN,
            at(2027, 3, 26, 12),
            ["2027-03-27 09:00 CET", "2027-03-28 09:00 CEST", "2027-03-29 09:00 CEST"],
        ),
        (BERLIN, at(2027, 10, 29, 12), ["2027-10-30 09:00 CEST", "2027-10-31 09:00 CET", "2027-11-01 09:00 CET"]),
        (NEW_YORK, at(2027, 3, 13, 18), ["2027-03-14 09:00 EDT", "2027-03-15 09:00 EDT"]),
        (NEW_YORK, at(2027, 11, 6, 18), ["2027-11-07 09:00 EST", "2027-11-08 09:00 EST"]),
    ],
)
def test_a_daily_run_keeps_its_local_time_across_dst(tz: ZoneInfo, start: datetime, expected: list[str]) -> None:
    assert walls("0 9 * * *", tz, start, len(expected)) == expected


def walls(cron: str, tz: ZoneInfo, start: datetime, count: int) -> list[str]:
    return [local(r, tz) for r in runs_after(cron, tz, start, count)]


def test_spring_forward_runs_a_missing_wall_time_at_the_end_of_the_gap() -> None:
    assert walls("30 2 * * *", BERLIN, at(2027, 3, 26, 12), 3) == [
        "2027-03-27 02:30 CET",
        "2027-03-28 03:00 CEST",
        "2027-03-29 02:30 CEST",
    ]
    assert walls("30 2 * * *", NEW_YORK, at(2027, 3, 13, 12), 2) == ["2027-03-14 03:00 EDT", "2027-03-15 02:30 EDT"]
    # an hourly series doesn't run twice at 03:00 when 02:00 moves there
    assert walls("0 * * * *", BERLIN, at(2027, 3, 27, 23, 30), 3) == [
        "2027-03-28 01:00 CET",
        "2027-03-28 03:00 CEST",
        "2027-03-28 04:00 CEST",
    ]


def test_fall_back_runs_a_repeated_wall_time_once() -> None:
    assert walls("30 2 * * *", BERLIN, at(2027, 10, 29, 12), 3) == [
        "2027-10-30 02:30 CEST",
        "2027-10-31 02:30 CEST",
        "2027-11-01 02:30 CET",
    ]
    assert walls("30 1 * * *", NEW_YORK, at(2027, 11, 6, 12), 2) == ["2027-11-07 01:30 EDT", "2027-11-08 01:30 EST"]
    # asked from inside the repeated hour (its second pass), the run already made is not made again
    second_pass = datetime(2027, 10, 31, 2, 45, tzinfo=BERLIN, fold=1)
    assert local(next_after("30 2 * * *", BERLIN, second_pass), BERLIN) == "2027-11-01 02:30 CET"
    # an hourly series runs 02:00 once (CEST): the hour from 02:00 CET has no run of its own
    assert walls("0 * * * *", BERLIN, at(2027, 10, 30, 22, 30), 3) == [
        "2027-10-31 01:00 CEST",
        "2027-10-31 02:00 CEST",
        "2027-10-31 03:00 CET",
    ]


@settings(max_examples=150, deadline=None)
@given(
    cron=st.sampled_from(["30 2 * * *", "0 * * * *", "0 9 * * 1-5", "15 1,2,3 * * *", "0 */2 * * 0,6"]),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC"]),
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),
)
def test_runs_strictly_increase_and_no_wall_time_runs_twice(cron: str, zone: str, start: datetime) -> None:
    tz = ZoneInfo(zone)
    runs = runs_after(cron, tz, start, 30)
    assert runs[0] > start
    assert all(a < b for a, b in pairwise(runs))
    local_times = [r.astimezone(tz).replace(tzinfo=None, fold=0) for r in runs]
    assert len(set(local_times)) == len(local_times)


# --- series through the chat -------------------------------------------------------------------------------


async def team(chat: Chat, now: datetime) -> None:
    """alice (admin, author), bob (approver), carol (no role), one account; the clock at ``now``."""
    chat.clock.current = now
    await chat.say("/account add dryrun demo")
    for name in ("bob", "carol"):
        await chat.say("/whoami", as_=name)
    await chat.say("/role add bob approver")


async def published_at(chat: Chat, when: datetime) -> str:
    """Move the clock to a minute before ``when`` (nothing goes out), then to ``when``; return the reports."""
    chat.clock.current = when - timedelta(minutes=1)
    assert await chat.publish_due() == "", f"something went out before {when}"
    chat.clock.current = when
    return await chat.publish_due()


async def test_approved_once_then_each_run_goes_out_at_its_local_time_across_dst(chat: Chat) -> None:
    await team(chat, at(2027, 3, 26, 12))
    text = await chat.say('/draft --to demo --every "every day 09:00" --tz Europe/Berlin Guten Morgen!')
    assert chat.errors == []
    assert text.startswith(
        "Post 1 is waiting for approval (anyone with role approver); it goes to demo every day at "
        "09:00 (Europe/Berlin); next run Sat 27 Mar 2027 08:00 UTC."
    )
    assert await Post.all().count() == 1  # nothing is created for runs before approval
    assert "Post 1 by @alice approved by @bob; it goes to demo at Sat 27 Mar 2027 08:00 UTC." in await chat.say(
        "/approve 1", as_="bob"
    )
    assert (
        await published_at(chat, at(2027, 3, 27, 8))
        == "Post 2 by @alice published to demo (Dry run): https://dryrun.invalid/demo/dry-2"
    )
    assert "Post 3 by @alice published to demo" in await published_at(chat, at(2027, 3, 28, 7))  # 09:00 CEST
    assert "Post 4 by @alice published to demo" in await published_at(chat, at(2027, 3, 29, 7))
    assert await ApprovalDecision.all().count() == 1
    template = await Post.get(id=1)
    assert (template.state, template.due_at) == (PostState.SCHEDULED, at(2027, 3, 30, 7))
    assert set(await Delivery.filter(post_id=1).values_list("state", flat=True)) == {DeliveryState.CANCELLED.value}
    run = await Post.get(id=4)
    assert (run.text, run.author_id, run.origin) == ("Guten Morgen!", template.author_id, template.origin)  # type: ignore[attr-defined]
    assert await SeriesRun.filter(series__post_id=1).count() == 4  # three out, the next one ready
    assert "run of series 1 (approved as post 1 v1)" in await chat.say("/post 4")


async def test_the_fall_back_night_runs_a_0230_series_once(chat: Chat) -> None:
    await team(chat, at(2027, 10, 30, 12))
    await chat.say('/draft --to demo --every "30 2 * * *" --tz Europe/Berlin Night owl')
    await chat.say("/approve 1", as_="bob")
    assert "published" in await published_at(chat, at(2027, 10, 31, 0, 30))  # 02:30 CEST
    chat.clock.current = at(2027, 10, 31, 1, 30)  # 02:30 CET: the same wall time again
    assert await chat.publish_due() == ""
    assert "published" in await published_at(chat, at(2027, 11, 1, 1, 30))  # 02:30 CET next day
    assert await Delivery.filter(state=DeliveryState.PUBLISHED.value).count() == 2


async def test_the_spring_forward_night_runs_a_0230_series_at_0300(chat: Chat) -> None:
    await team(chat, at(2027, 3, 27, 12))
    await chat.say('/draft --to demo --every "30 2 * * *" --tz Europe/Berlin Night owl')
    await chat.say("/approve 1", as_="bob")
    assert "published" in await published_at(chat, at(2027, 3, 28, 1))  # 03:00 CEST: 02:30 didn't exist
    assert "published" in await published_at(chat, at(2027, 3, 29, 0, 30))  # 02:30 CEST


async def test_count_ends_the_series(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))
    text = await chat.say('/draft --to demo --every "every weekday 09:00" --count 2 Tip')
    assert "it goes to demo every weekday at 09:00 (UTC), 2 times; next run Mon 4 Jan 2027 09:00 UTC." in text
    await chat.say("/approve 1", as_="bob")
    assert "published" in await published_at(chat, at(2027, 1, 4, 9))
    assert "published" in await published_at(chat, at(2027, 1, 5, 9))
    chat.clock.current = at(2027, 1, 12, 9)
    assert await chat.publish_due() == ""
    assert await Post.all().count() == 3
    assert "#1 every weekday at 09:00 (UTC) → demo — finished" in await chat.say("/cron list")
    assert await Timer.filter(kind=recurring.KIND, fired_at__isnull=True).count() == 0


async def test_until_ends_the_series_after_that_day(chat: Chat) -> None:
    await team(chat, at(2027, 1, 29, 12))  # a Friday
    text = await chat.say('/draft --to demo --every "every day 18:30" --until 2027-01-31 Evening')
    assert "every day at 18:30 (UTC), until Sun 31 Jan 2027; next run Fri 29 Jan 2027 18:30 UTC." in text
    await chat.say("/approve 1", as_="bob")
    for day in (29, 30, 31):
        assert "published" in await published_at(chat, at(2027, 1, day, 18, 30))
    chat.clock.current = at(2027, 2, 2, 18, 30)
    assert await chat.publish_due() == ""
    assert "— finished" in await chat.say("/cron list")


async def test_pause_withdraws_the_next_run_and_resume_starts_after_now(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))
    await chat.say('/draft --to demo --every "every day 09:00" Tip')
    await chat.say("/approve 1", as_="bob")
    await chat.say("/cron pause 1", as_="carol")
    assert chat.errors == ["Only the author of series 1 or an admin can pause it."]
    assert await chat.say("/cron pause 1") == (
        "Series 1 is paused; post 2 (its run at Mon 4 Jan 2027 09:00 UTC) is withdrawn. /cron resume 1 starts it again."
    )
    assert (await Post.get(id=2)).state == PostState.CANCELLED
    await chat.say("/cron pause 1")
    assert chat.errors == ["Series 1 is already paused; /cron resume 1 starts it again."]
    assert "#1 every day at 09:00 (UTC) → demo — paused" in await chat.say("/cron list")
    chat.clock.current = at(2027, 1, 5, 10)
    assert await chat.publish_due() == ""
    assert await chat.say("/cron resume 1") == "Series 1 runs again; next run Wed 6 Jan 2027 09:00 UTC."
    await chat.say("/cron resume 1")
    assert chat.errors == ["Series 1 isn't paused."]
    assert "Post 3 by @alice published to demo" in await published_at(chat, at(2027, 1, 6, 9))


async def test_skip_says_which_run_and_the_next_one_goes_out(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))
    await chat.say('/draft --to demo --every "every day 09:00" --count 2 Tip')
    await chat.say("/approve 1", as_="bob")
    assert await chat.say("/cron skip 1") == (
        "Series 1 skips its run at Mon 4 Jan 2027 09:00 UTC (post 2 is withdrawn); next run Tue 5 Jan 2027 09:00 UTC."
    )
    chat.clock.current = at(2027, 1, 4, 9)
    assert await chat.publish_due() == ""
    assert "Post 3 by @alice published to demo" in await published_at(chat, at(2027, 1, 5, 9))
    # a skipped run doesn't count: two runs still go out
    assert "Post 4 by @alice published to demo" in await published_at(chat, at(2027, 1, 6, 9))
    await chat.say("/cron skip 1")
    assert chat.errors == ["Series 1 has no next run to skip."]


async def test_an_edit_after_approval_needs_approval_again_before_the_next_run(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))
    await chat.say('/draft --to demo --every "every day 09:00" Old text')
    await chat.say("/approve 1", as_="bob")
    assert "Approval starts again from level 1." in await chat.say("/edit 1 New text")
    assert (await Post.get(id=2)).state == PostState.CANCELLED  # the old text won't go out
    assert "awaiting approval, next run Mon 4 Jan 2027 09:00 UTC once approved" in await chat.say("/cron list")
    chat.clock.current = at(2027, 1, 4, 9)
    assert await chat.publish_due() == ""  # not approved in time: this run doesn't go out
    assert "it goes to demo at Tue 5 Jan 2027 09:00 UTC" in await chat.say("/approve 1", as_="bob")
    assert "published" in await published_at(chat, at(2027, 1, 5, 9))
    assert (await Post.filter(state=PostState.PUBLISHED.value).first()).text == "New text"  # type: ignore[union-attr]


@pytest.mark.parametrize(("command", "verb"), [("/cancel 1", "cancelled"), ("/withdraw 1", "withdrawn")])
async def test_withdrawing_or_cancelling_the_series_stops_its_future_runs(chat: Chat, command: str, verb: str) -> None:
    await team(chat, at(2027, 1, 4, 6))
    await chat.say('/draft --to demo --every "every day 09:00" Tip')
    await chat.say("/approve 1", as_="bob")
    assert f"Post 1 is {verb}; it will not be published." in await chat.say(command)
    assert (await Post.get(id=2)).state == PostState.CANCELLED
    chat.clock.current = at(2027, 1, 6, 9)
    assert await chat.publish_due() == ""
    assert "#1 every day at 09:00 (UTC) → demo — cancelled" in await chat.say("/cron list")
    await chat.say("/cron resume 1")
    assert chat.errors == ["Series 1 is cancelled, so it can't be resumed."]
    assert await Timer.filter(kind=recurring.KIND, fired_at__isnull=True).count() == 0


async def test_a_rejected_series_never_runs(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))
    await chat.say('/draft --to demo --every "every day 09:00" Tip')
    assert "Post 1 by @alice rejected by @bob: off-brand" in await chat.say("/reject 1 off-brand", as_="bob")
    chat.clock.current = at(2027, 1, 5, 9)
    assert await chat.publish_due() == ""
    assert await Post.all().count() == 1
    assert "#1 every day at 09:00 (UTC) → demo — rejected" in await chat.say("/cron list")


async def test_a_series_goes_to_every_target_and_a_direct_edit_replaces_the_waiting_run(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))
    await chat.say("/account add dryrun news")
    await chat.say("/policy set demo level1=@bob direct=@alice")
    await chat.say("/policy set news level1=@bob direct=@alice")
    await chat.say('/draft --to demo,news --every "every day 09:00" First text')
    assert "Post 1 is now version 2." in await chat.say("/edit 1 Second text")  # direct: no approval again
    assert (await Post.get(id=2)).state == PostState.CANCELLED
    reports = await published_at(chat, at(2027, 1, 4, 9))
    assert "Post 3 by @alice published to demo" in reports and "Post 3 by @alice published to news" in reports
    assert (await Post.get(id=3)).text == "Second text"


async def test_a_direct_publisher_starts_the_series_without_approval(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))
    await chat.say("/policy set demo level1=@bob direct=@alice")
    text = await chat.say('/draft --to demo --every "every monday,thursday 10:00" Weekly')
    assert text == (
        "Post 1 is scheduled without approval (you may publish directly to these accounts); it goes to demo "
        "every Monday and Thursday at 10:00 (UTC); next run Mon 4 Jan 2027 10:00 UTC."
    )
    assert "published" in await published_at(chat, at(2027, 1, 4, 10))
    assert "published" in await published_at(chat, at(2027, 1, 7, 10))


async def test_runs_missed_while_herald_was_down_are_skipped_and_reported(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))
    await chat.say('/draft --to demo --every "every day 09:00" Tip')
    await chat.say("/approve 1", as_="bob")
    chat.clock.current = at(2027, 1, 6, 12)  # Herald was down from before Monday's run until Wednesday noon
    reports = await chat.publish_due()
    assert "Post 2 by @alice was due" in reports  # the run already created: the delivery engine's missed report
    assert (
        "Series 1 missed its run at Tue 5 Jan 2027 09:00 UTC, Wed 6 Jan 2027 09:00 UTC because Herald wasn't "
        "running; the next run is Fri 8 Jan 2027 09:00 UTC." in reports
    )
    assert "Post 3 by @alice published" in await published_at(chat, at(2027, 1, 7, 9))


async def test_cron_status_counts_next_runs_and_missed_schedule(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))
    await chat.say('/draft --to demo --every "every day 09:00" A')
    await chat.say('/draft --to demo --every "every weekday 12:00" --tz Europe/Berlin B')
    await chat.say('/draft --to demo --every "every hour" C')
    await chat.say("/approve 1", as_="bob")
    await chat.say("/approve 2", as_="bob")
    await chat.say("/cron pause 2")
    assert await chat.say("/cron status") == "\n".join(
        [
            "Series: 1 active, 1 paused, 0 finished (and 1 awaiting approval).",
            "Next runs:",
            "Mon 4 Jan 2027 09:00 UTC — series 1 → demo",
            "Tue 5 Jan 2027 09:00 UTC — series 1 → demo",
            "Wed 6 Jan 2027 09:00 UTC — series 1 → demo",
            "Thu 7 Jan 2027 09:00 UTC — series 1 → demo",
            "Fri 8 Jan 2027 09:00 UTC — series 1 → demo",
            "Missed schedule: none.",
        ]
    )
    assert await chat.say("/cron list") == "\n".join(
        [
            "Recurring series:",
            "#1 every day at 09:00 (UTC) → demo — active, next run Mon 4 Jan 2027 09:00 UTC",
            "#2 every weekday at 12:00 (Europe/Berlin) → demo — paused",
            "#3 every hour at :00 (UTC) → demo — awaiting approval, next run Mon 4 Jan 2027 07:00 UTC once approved",
        ]
    )
    chat.clock.current = at(2027, 1, 4, 9, 5)  # the dispatcher hasn't run since before 09:00
    status = await chat.say("/cron status")
    assert (
        "Missed schedule: series 1 should have run at Mon 4 Jan 2027 09:00 UTC. /cron restart checks and "
        "repairs the series." in status
    )
    assert "Post 4 by @alice published" in await chat.publish_due()  # 5 minutes late, within the delivery grace
    assert "Missed schedule: none." in await chat.say("/cron status")


async def test_cron_restart_repairs_a_series_and_says_what_it_did(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))
    await chat.say('/draft --to demo --every "every day 09:00" A')
    await chat.say('/draft --to demo --every "every day 10:00" B')
    await chat.say("/approve 1", as_="bob")
    await chat.say("/approve 2", as_="bob")
    assert await chat.say("/cron restart") == "Checked 2 series, fixed 0."
    await Timer.filter(kind=recurring.KIND, post_id=1).delete()
    fixed = await chat.say("/cron restart")
    assert fixed == "Checked 2 series, fixed 1: series 1: re-armed its timer (it was missing)."
    await chat.say("/cron restart", as_="bob")
    assert chat.errors == ["Only members with the ops role or admins can run /cron restart."]
    # lose series 2's next run post, its next_run and its timer
    run = await SeriesRun.get(series__post_id=2)
    await Post.filter(id=run.post_id).update(state=PostState.CANCELLED.value)  # type: ignore[attr-defined]
    await SeriesRun.filter(id=run.id).delete()
    await Recurrence.filter(post_id=2).update(next_run=None)
    await Timer.filter(kind=recurring.KIND, post_id=2).delete()
    await chat.say("/role add carol ops")
    assert await chat.say("/cron restart", as_="carol") == (
        "Checked 2 series, fixed 1: series 2: created post 5 for Mon 4 Jan 2027 10:00 UTC."
    )
    assert await Timer.filter(kind=recurring.KIND, post_id=2, fired_at__isnull=True).count() == 1
    assert "Post 3 by @alice published" in await published_at(chat, at(2027, 1, 4, 9))
    assert "Post 5 by @alice published" in await published_at(chat, at(2027, 1, 4, 10))
    assert await chat.say("/cron restart") == "Checked 2 series, fixed 0."


@pytest.mark.parametrize(
    ("command", "sentence"),
    [
        ('/draft --to demo --every "0 9 * *" Hi', UNREADABLE.format("0 9 * *")),
        ("/draft --to demo --every 0 9 * * 1-5 Hi", UNREADABLE.format("0 9 *")),
        ('/draft --to demo --every "every day 09:00" --tz Mars/Olympus Hi', "'Mars/Olympus' is not a time zone I know"),
        ('/draft --to demo --every "every day 09:00" --until 2027-02-01 --count 3 Hi', "Use --until or --count"),
        ('/draft --to demo --every "every day 09:00" --count 0 Hi', "--count takes a whole number of runs"),
        ('/draft --to demo --every "every day 09:00" --until 2026-12-31 Hi', "--until 2026-12-31 is already past"),
        ('/draft --to demo --every "every day 09:00" --until 2027-02-30 Hi', '"2027-02-30" is not a date'),
        ("/draft --to demo --tz Europe/Berlin Hi", "--tz, --until and --count belong to a recurring post"),
        ('/draft --to demo --every "every day 09:00" --at tomorrow 10:00 Hi', "use --every or --at, not both"),
        (
            '/draft --to demo --every "0 9 * * 1" --until 2027-01-05 Hi',
            "The schedule every Monday at 09:00 has no run before --until 2027-01-05",
        ),
    ],
)
async def test_draft_option_errors_are_one_sentence_and_change_nothing(chat: Chat, command: str, sentence: str) -> None:
    await team(chat, at(2027, 1, 5, 6))  # a Tuesday
    await chat.say(command)
    assert len(chat.errors) == 1 and sentence in chat.errors[0], chat.errors
    assert "\n" not in chat.errors[0]
    assert await Post.all().count() == 0
    assert await Recurrence.all().count() == 0


async def test_cron_usage_and_unknown_series(chat: Chat) -> None:
    await team(chat, at(2027, 1, 4, 6))
    assert "There are no recurring series yet" in await chat.say("/cron")
    await chat.say("/draft --to demo One-off")
    for command, sentence in {
        "/cron frobnicate": "Usage: /cron list · /cron status",
        "/cron pause": "Which series? Usage: /cron pause ID",
        "/cron skip 7": "There is no series 7; /cron list shows them.",
        "/cron resume 1": "Post 1 is not a recurring series; /cron list shows them.",
    }.items():
        await chat.say(command)
        assert len(chat.errors) == 1 and sentence in chat.errors[0], (command, chat.errors)
