"""Tests for handlers.timing.timeparse: concrete instants, DST edges, error sentences and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.timing.timeparse import MAX_DURATION, ensure_future, format_local, parse_duration, parse_when
from models.errors import InvalidInput

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "Pacific/Apia",  # skipped 2011-12-30 entirely
]
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# Monday 30 Nov 2026, 13:00 CET in Berlin.
NOW = utc(2026, 11, 30, 12, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("2026-12-01T09:30", utc(2026, 12, 1, 8, 30)),
        ("2026-12-01 09:30", utc(2026, 12, 1, 8, 30)),
        ("2026-12-01   09:30", utc(2026, 12, 1, 8, 30)),
        ("2026-12-01T09:30:00+02:00", utc(2026, 12, 1, 7, 30)),
        ("2026-12-01T09:30:00-0500", utc(2026, 12, 1, 14, 30)),
        ("2026-12-01T09:30Z", utc(2026, 12, 1, 9, 30)),
        ("2026-12-01t09:30:15.250z", datetime(2026, 12, 1, 9, 30, 15, 250000, tzinfo=UTC)),
        ("2026-12-01", utc(2026, 12, 1, 8, 0)),
        ("2026-07-01", utc(2026, 7, 1, 7, 0)),  # 09:00 CEST
        ("in 10m", NOW + timedelta(minutes=10)),
        ("in 10 min", NOW + timedelta(minutes=10)),
        ("In  10  Minutes", NOW + timedelta(minutes=10)),
        ("in 2h", NOW + timedelta(hours=2)),
        ("in 1h30m", NOW + timedelta(hours=1, minutes=30)),
        ("in 1h 30m", NOW + timedelta(hours=1, minutes=30)),
        ("in 1 hour and 30 minutes", NOW + timedelta(hours=1, minutes=30)),
        ("in 45s", NOW + timedelta(seconds=45)),
        ("in 3d", NOW + timedelta(days=3)),
        ("in 2 hours", NOW + timedelta(hours=2)),
        ("in 1 week", NOW + timedelta(weeks=1)),
        ("+10m", NOW + timedelta(minutes=10)),
        ("+ 10m", NOW + timedelta(minutes=10)),
        ("today 17:30", utc(2026, 11, 30, 16, 30)),
        ("today 08:00", utc(2026, 11, 30, 7, 0)),  # in the past: parse_when does not judge
        ("tomorrow 09:00", utc(2026, 12, 1, 8, 0)),
        ("tomorrow at 09:00", utc(2026, 12, 1, 8, 0)),
        ("tomorrow 9am", utc(2026, 12, 1, 8, 0)),
        ("  TOMORROW   9 AM ", utc(2026, 12, 1, 8, 0)),
        ("tomorrow 9:15pm", utc(2026, 12, 1, 20, 15)),
        ("tomorrow 12am", utc(2026, 11, 30, 23, 0)),  # midnight starting Tuesday
        ("tomorrow 12pm", utc(2026, 12, 1, 11, 0)),
        ("tomorrow", utc(2026, 12, 1, 8, 0)),
        ("monday 10:00", utc(2026, 12, 7, 9, 0)),  # today is Monday but 10:00 has passed
        ("mon 10:00", utc(2026, 12, 7, 9, 0)),
        ("monday 15:00", utc(2026, 11, 30, 14, 0)),  # today, still ahead
        ("next monday 15:00", utc(2026, 12, 7, 14, 0)),  # "next" is strictly after today
        ("next monday 10:00", utc(2026, 12, 7, 9, 0)),
        ("tuesday 10:00", utc(2026, 12, 1, 9, 0)),
        ("next tue 10:00", utc(2026, 12, 1, 9, 0)),
        ("Sunday", utc(2026, 12, 6, 8, 0)),
        ("thurs 6pm", utc(2026, 12, 3, 17, 0)),
        ("17:30", utc(2026, 11, 30, 16, 30)),  # today, still ahead
        ("at 17:30", utc(2026, 11, 30, 16, 30)),
        ("5pm", utc(2026, 11, 30, 16, 0)),
        ("12:59", utc(2026, 12, 1, 11, 59)),  # already past today -> tomorrow
        ("13:00", utc(2026, 12, 1, 12, 0)),  # exactly now is not "ahead" -> tomorrow
        ("13:01", utc(2026, 11, 30, 12, 1)),
    ],
)
def test_accepted_forms_in_berlin(text: str, expected: datetime) -> None:
    result = parse_when(text, now=NOW, tz=BERLIN)
    assert result == expected
    assert result.tzinfo is UTC


def test_now_in_another_zone_is_returned_as_utc() -> None:
    now = datetime(2026, 6, 1, 9, 0, tzinfo=TOKYO)
    result = parse_when("now", now=now, tz=BERLIN)
    assert result == utc(2026, 6, 1, 0, 0)
    assert result.tzinfo is UTC


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_when("now", now=datetime(2026, 1, 1), tz=BERLIN)


@pytest.mark.parametrize(
    ("text", "tz", "expected", "shown"),
    [
        # Berlin spring forward: 02:00 CET -> 03:00 CEST on 2026-03-29 (01:00 UTC).
        ("2026-03-29 01:59", BERLIN, utc(2026, 3, 29, 0, 59), "Sun 29 Mar 2026 01:59 CET"),
        ("2026-03-29 02:00", BERLIN, utc(2026, 3, 29, 1, 0), "Sun 29 Mar 2026 03:00 CEST"),
        ("2026-03-29 02:30", BERLIN, utc(2026, 3, 29, 1, 0), "Sun 29 Mar 2026 03:00 CEST"),
        ("2026-03-29 02:59:59", BERLIN, utc(2026, 3, 29, 1, 0), "Sun 29 Mar 2026 03:00 CEST"),
        ("2026-03-29 03:00", BERLIN, utc(2026, 3, 29, 1, 0), "Sun 29 Mar 2026 03:00 CEST"),
        ("2026-03-29 03:30", BERLIN, utc(2026, 3, 29, 1, 30), "Sun 29 Mar 2026 03:30 CEST"),
        # Berlin fall back: 03:00 CEST -> 02:00 CET on 2026-10-25; 02:xx happens twice, take the first.
        ("2026-10-25 02:00", BERLIN, utc(2026, 10, 25, 0, 0), "Sun 25 Oct 2026 02:00 CEST"),
        ("2026-10-25 02:30", BERLIN, utc(2026, 10, 25, 0, 30), "Sun 25 Oct 2026 02:30 CEST"),
        ("2026-10-25 03:00", BERLIN, utc(2026, 10, 25, 2, 0), "Sun 25 Oct 2026 03:00 CET"),
        ("2026-10-25 02:30+01:00", BERLIN, utc(2026, 10, 25, 1, 30), "Sun 25 Oct 2026 02:30 CET"),
        # New York spring forward: 02:00 EST -> 03:00 EDT on 2026-03-08 (07:00 UTC).
        ("2026-03-08 01:59", NEW_YORK, utc(2026, 3, 8, 6, 59), "Sun 8 Mar 2026 01:59 EST"),
        ("2026-03-08 02:00", NEW_YORK, utc(2026, 3, 8, 7, 0), "Sun 8 Mar 2026 03:00 EDT"),
        ("2026-03-08 2:30am", NEW_YORK, utc(2026, 3, 8, 7, 0), "Sun 8 Mar 2026 03:00 EDT"),
        ("2026-03-08 03:00", NEW_YORK, utc(2026, 3, 8, 7, 0), "Sun 8 Mar 2026 03:00 EDT"),
        # New York fall back: 02:00 EDT -> 01:00 EST on 2026-11-01; 01:xx happens twice, take the first.
        ("2026-11-01 00:59", NEW_YORK, utc(2026, 11, 1, 4, 59), "Sun 1 Nov 2026 00:59 EDT"),
        ("2026-11-01 01:30", NEW_YORK, utc(2026, 11, 1, 5, 30), "Sun 1 Nov 2026 01:30 EDT"),
        ("2026-11-01 01:30-05:00", NEW_YORK, utc(2026, 11, 1, 6, 30), "Sun 1 Nov 2026 01:30 EST"),
        ("2026-11-01 02:00", NEW_YORK, utc(2026, 11, 1, 7, 0), "Sun 1 Nov 2026 02:00 EST"),
    ],
)
def test_dst_transitions(text: str, tz: ZoneInfo, expected: datetime, shown: str) -> None:
    result = parse_when(text, now=NOW, tz=tz)
    assert result == expected
    assert format_local(result, tz) == shown


def test_tomorrow_into_the_berlin_gap() -> None:
    now = utc(2026, 3, 28, 20, 0)  # Sat 21:00 CET
    assert parse_when("tomorrow 02:30", now=now, tz=BERLIN) == utc(2026, 3, 29, 1, 0)
    assert parse_when("tomorrow 09:00", now=now, tz=BERLIN) == utc(2026, 3, 29, 7, 0)  # 09:00 CEST


def test_bare_time_in_todays_gap_is_still_today() -> None:
    now = utc(2026, 3, 29, 0, 15)  # 01:15 CET; 02:30 does not exist today, 03:00 CEST is still ahead
    assert parse_when("02:30", now=now, tz=BERLIN) == utc(2026, 3, 29, 1, 0)


def test_tomorrow_in_the_new_york_fold_takes_the_first_occurrence() -> None:
    now = utc(2026, 10, 31, 16, 0)  # Sat 12:00 EDT
    assert parse_when("tomorrow 1:30am", now=now, tz=NEW_YORK) == utc(2026, 11, 1, 5, 30)


def test_now_carrying_a_dst_zone_still_means_elapsed_time() -> None:
    now = datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN)  # 01:30 CET, half an hour before the gap
    assert parse_when("in 1h", now=now, tz=BERLIN) == utc(2026, 3, 29, 1, 30)  # 03:30 CEST
    ensure_future(utc(2026, 3, 29, 0, 29), now=now, tz=BERLIN)
    with pytest.raises(InvalidInput):
        ensure_future(utc(2026, 3, 29, 0, 28, 59), now=now, tz=BERLIN)


def test_relative_days_are_elapsed_time_across_dst() -> None:
    now = utc(2026, 3, 28, 11, 0)  # Sat 12:00 CET
    result = parse_when("in 1d", now=now, tz=BERLIN)
    assert result == utc(2026, 3, 29, 11, 0)
    assert format_local(result, BERLIN) == "Sun 29 Mar 2026 13:00 CEST"


def test_tomorrow_uses_the_members_date_not_utc() -> None:
    now = utc(2026, 6, 1, 22, 0)  # Mon 22:00 UTC, but already Tue 2 Jun 07:00 in Tokyo
    assert parse_when("tomorrow 09:00", now=now, tz=TOKYO) == utc(2026, 6, 3, 0, 0)
    assert parse_when("today 09:00", now=now, tz=TOKYO) == utc(2026, 6, 2, 0, 0)
    assert parse_when("08:00", now=now, tz=TOKYO) == utc(2026, 6, 1, 23, 0)
    assert parse_when("06:00", now=now, tz=TOKYO) == utc(2026, 6, 2, 21, 0)
    assert parse_when("tue 10:00", now=now, tz=TOKYO) == utc(2026, 6, 2, 1, 0)  # today in Tokyo
    # ...and the other way round: still the previous day in New York.
    now = utc(2026, 6, 2, 2, 0)  # Mon 1 Jun 22:00 EDT
    assert parse_when("tomorrow 09:00", now=now, tz=NEW_YORK) == utc(2026, 6, 2, 13, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fri 10:00", utc(2027, 1, 1, 9, 0)),  # into the next year
        ("wed 10:00", utc(2027, 1, 6, 9, 0)),  # wraps past the end of the week
        ("thu 10:00", utc(2027, 1, 7, 9, 0)),  # today's 10:00 has passed: a week later
        ("thu 18:00", utc(2026, 12, 31, 17, 0)),  # today, still ahead
        ("next thu 18:00", utc(2027, 1, 7, 17, 0)),
        ("next fri 10:00", utc(2027, 1, 1, 9, 0)),
        ("sunday 9am", utc(2027, 1, 3, 8, 0)),
    ],
)
def test_weekday_wraparound(text: str, expected: datetime) -> None:
    now = utc(2026, 12, 31, 11, 0)  # Thu 31 Dec 2026, 12:00 CET
    assert parse_when(text, now=now, tz=BERLIN) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("next blursday", "use now, in 10m, tomorrow 09:00 or 2026-12-01 09:30"),
        ("yesterday", "use now, in 10m"),
        ("next tomorrow", "use now, in 10m"),
        ("tomorrow 9.30", "use now, in 10m"),
        ("-10m", "use now, in 10m"),
        ("25:00", "has no hour 25: use 00 to 23, or 1 to 12 with am/pm"),
        ("tomorrow 24:00", "has no hour 24"),
        ("17:60", "has no minute 60: minutes go from 00 to 59"),
        ("2026-12-01 09:30:61", "has no second 61"),
        ("13pm", "has no hour 13: with am/pm use 1 to 12"),
        ("tomorrow 0am", "has no hour 0: with am/pm use 1 to 12"),
        ("tomorrow 9", "needs minutes or am/pm after the hour: write e.g. 9:00, 9am or 9pm"),
        ("17", "write e.g. 17:00"),
        ("2026-13-01", "has no month 13: months go from 01 to 12"),
        ("2026-02-30 10:00", "has no day 30: Feb 2026 has 28 days"),
        ("2028-02-30", "Feb 2028 has 29 days"),
        ("2026-12-01T09:30+25:00", "invalid UTC offset: use -23:59 to +23:59"),
        ("0000-01-01", "is out of range"),
        ("in 10", "use a whole number with s, m, h, d or w, such as in 10m"),
        ("in 10 parsecs", "use a whole number with s, m, h, d or w"),
        ("in 1.5h", "use a whole number"),
        ("in 0m", "adds up to zero"),
        ("in -5m", "has a negative amount"),
        ("in 99999d", f"the longest accepted is {MAX_DURATION.days} days"),
    ],
)
def test_invalid_input_says_what_and_what_is_accepted(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_when(text, now=NOW, tz=BERLIN)
    message = str(excinfo.value)
    assert f'"{text}"' in message
    assert fragment in message
    assert message.endswith(".") and "\n" not in message


def test_invalid_input_exact_sentence() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_when("next blursday", now=NOW, tz=BERLIN)
    assert str(excinfo.value) == (
        'Couldn\'t understand the time "next blursday": use now, in 10m, tomorrow 09:00 or 2026-12-01 09:30.'
    )


def test_empty_long_and_overflowing_inputs() -> None:
    with pytest.raises(InvalidInput, match=r"^The time is empty: use now"):
        parse_when("   ", now=NOW, tz=BERLIN)
    with pytest.raises(InvalidInput, match=r'^The time "x{57}…" is too long: use now') as excinfo:
        parse_when("x" * 5000, now=NOW, tz=BERLIN)
    assert len(str(excinfo.value)) < 200
    with pytest.raises(InvalidInput, match="out of range"):
        parse_when("9999-12-31 23:00", now=NOW, tz=NEW_YORK)
    with pytest.raises(InvalidInput, match="out of range"):
        parse_when("tomorrow", now=utc(9999, 12, 31, 12, 0), tz=BERLIN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", timedelta(minutes=10)),
        ("10 min", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1H 30M", timedelta(hours=1, minutes=30)),
        ("1 hour, 30 minutes", timedelta(hours=1, minutes=30)),
        ("2 hours", timedelta(hours=2)),
        ("2 hrs", timedelta(hours=2)),
        ("45s", timedelta(seconds=45)),
        ("45 secs", timedelta(seconds=45)),
        ("3d", timedelta(days=3)),
        ("1 day", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("2 weeks 1d", timedelta(days=15)),
        ("90m", timedelta(minutes=90)),
        ("3650d", MAX_DURATION),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Couldn't understand the duration"),
        ("junk", "Couldn't understand the duration"),
        ("10", "use a whole number with s, m, h, d or w, such as 10m, 1h30m or 2 days"),
        ("1.5h", "use a whole number"),
        ("10 parsecs", "use a whole number"),
        ("10mx", "use a whole number"),
        ("0m", "adds up to zero: use a positive amount"),
        ("0h 0m", "adds up to zero"),
        ("-5m", "has a negative amount"),
        ("3651d", "is too long"),
    ],
)
def test_parse_duration_rejects(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_duration(text)
    message = str(excinfo.value)
    assert f'"{text}"' in message
    assert fragment in message
    assert message[0].isupper() and message.endswith(".")


def test_ensure_future() -> None:
    now = utc(2026, 11, 30, 12, 0)
    ensure_future(now, now=now, tz=BERLIN)
    ensure_future(now + timedelta(days=1), now=now, tz=BERLIN)
    ensure_future(now - timedelta(seconds=60), now=now, tz=BERLIN)  # within the default grace
    with pytest.raises(InvalidInput):
        ensure_future(now - timedelta(seconds=61), now=now, tz=BERLIN)
    with pytest.raises(InvalidInput):
        ensure_future(now - timedelta(seconds=1), now=now, tz=BERLIN, grace=timedelta(0))
    with pytest.raises(InvalidInput) as excinfo:
        ensure_future(utc(2026, 11, 30, 8, 0), now=now, tz=BERLIN)
    assert str(excinfo.value) == (
        "That time (Mon 30 Nov 2026 09:00 CET) is in the past: it is now Mon 30 Nov 2026 13:00 CET"
        " (Europe/Berlin), so pick a later time."
    )


@pytest.mark.parametrize(
    ("when", "tz", "expected"),
    [
        (utc(2026, 12, 1, 8, 30), BERLIN, "Tue 1 Dec 2026 09:30 CET"),
        (utc(2026, 7, 14, 22, 5), BERLIN, "Wed 15 Jul 2026 00:05 CEST"),
        (utc(2026, 12, 31, 23, 59, 59), TOKYO, "Fri 1 Jan 2027 08:59 JST"),
        (utc(2026, 3, 8, 7, 0), NEW_YORK, "Sun 8 Mar 2026 03:00 EDT"),
        (utc(2026, 1, 1, 0, 0), ZoneInfo("UTC"), "Thu 1 Jan 2026 00:00 UTC"),
        (datetime(2026, 6, 1, 12, 0, tzinfo=TOKYO), BERLIN, "Mon 1 Jun 2026 05:00 CEST"),
    ],
)
def test_format_local(when: datetime, tz: ZoneInfo, expected: str) -> None:
    assert format_local(when, tz) == expected


def test_format_local_rejects_naive() -> None:
    with pytest.raises(ValueError):
        format_local(datetime(2026, 1, 1), BERLIN)


# --- properties -----------------------------------------------------------------------------------

UNITS = {
    "m": ["m", "min", "mins", "minute", "minutes"],
    "h": ["h", "hr", "hrs", "hour", "hours"],
    "d": ["d", "day", "days"],
}
UNIT_DELTA = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


@given(
    now=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([ZoneInfo(z) for z in ZONES]),
        allow_imaginary=False,
    ),
    n=st.integers(min_value=1, max_value=3650),
    kind=st.sampled_from(sorted(UNITS)),
    data=st.data(),
)
def test_relative_is_exactly_now_plus_delta(now: datetime, n: int, kind: str, data: st.DataObject) -> None:
    unit = data.draw(st.sampled_from(UNITS[kind]))
    template = data.draw(st.sampled_from(["in {n}{u}", "in {n} {u}", "+{n}{u}", "IN  {n} {u} "]))
    result = parse_when(template.format(n=n, u=unit), now=now, tz=BERLIN)
    delta = n * UNIT_DELTA[kind]
    assert result - now == delta  # exact elapsed time, whatever zone ``now`` carries
    assert result == now.astimezone(UTC) + delta
    assert result.tzinfo is UTC


def _check_wall_time(wall: datetime, zone: str, sep: str) -> None:
    """parse_when of a naive wall time shows that wall time, or the end of the gap it falls in."""
    tz = ZoneInfo(zone)
    result = parse_when(f"{wall:%Y-%m-%d}{sep}{wall:%H:%M}", now=NOW, tz=tz)
    assert result.tzinfo is UTC
    # Independent of fold semantics: the instants (if any) whose local clock reads ``wall``.
    candidates = {wall.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1)}
    real = sorted(c for c in candidates if c.astimezone(tz).replace(tzinfo=None) == wall)
    shown = format_local(result, tz)
    if real:
        assert result == real[0]  # the first occurrence when ambiguous
        local = result.astimezone(tz)
        expected = f"{DAYS[wall.weekday()]} {wall.day} {MONTHS[wall.month - 1]} {wall.year} {wall:%H:%M} "
        assert shown == expected + str(local.tzname())
    else:  # spring-forward gap: the first valid instant, i.e. just before it the clock was earlier
        assert result.astimezone(tz).replace(tzinfo=None) > wall
        assert (result - timedelta(microseconds=1)).astimezone(tz).replace(tzinfo=None) < wall


@given(
    wall=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
    zone=st.sampled_from(ZONES),
    sep=st.sampled_from([" ", "T", "  "]),
)
def test_wall_time_round_trips(wall: datetime, zone: str, sep: str) -> None:
    _check_wall_time(wall, zone, sep)


TRANSITION_DAYS = [
    ("Europe/Berlin", date(2026, 3, 29)),
    ("Europe/Berlin", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("Australia/Lord_Howe", date(2026, 4, 5)),
    ("Australia/Lord_Howe", date(2026, 10, 4)),
    ("Australia/Sydney", date(2026, 10, 4)),
    ("Pacific/Chatham", date(2026, 9, 27)),
    ("America/Sao_Paulo", date(2018, 11, 4)),  # gap at midnight
    ("Pacific/Apia", date(2011, 12, 30)),  # the whole day does not exist
]


@settings(max_examples=300)
@given(day=st.sampled_from(TRANSITION_DAYS), minute=st.integers(min_value=0, max_value=24 * 60 - 1))
def test_wall_time_on_transition_days(day: tuple[str, date], minute: int) -> None:
    zone, d = day
    wall = datetime(d.year, d.month, d.day) + timedelta(minutes=minute)
    _check_wall_time(wall, zone, " ")
