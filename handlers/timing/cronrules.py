"""Schedules for recurring posts: readable presets, cron lines, their words, and their runs in time.

Contract:

* :func:`parse_every` turns what a member types after ``--every`` into a five-field cron line. It
  takes a cron line (``0 9 * * 1-5``) or one of the presets, which compile to cron:

  ======================================  ===================
  ``every day 18:30``                     ``30 18 * * *``
  ``every weekday 09:00``                 ``0 9 * * 1-5``
  ``every monday 10:00``                  ``0 10 * * 1``
  ``every monday,thursday 10:00``         ``0 10 * * 1,4``
  ``every hour``                          ``0 * * * *``
  ``every 2 hours`` (2, 3, 4, 6, 8, 12)   ``0 */2 * * *``
  ======================================  ===================

  (``at`` before the time is fine, ``9am`` too.) A series runs at most once an hour, so the minute
  field must be one number. Anything else raises :class:`InvalidInput` with one sentence.
* :func:`next_after` reads the rule in wall-clock time of the series' zone, so a 09:00 series runs
  at 09:00 local on both sides of a DST change. A wall time that doesn't exist that day (02:30 on
  the spring-forward night) runs at the end of the gap (03:00), unless another run is already
  there; a wall time that happens twice (02:30 on the fall-back night) runs once, the first time.
  Runs are strictly increasing instants, so nothing runs twice.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from handlers.timing.timeparse import _localize as localize  # the wall-time rules /draft --at uses
from models.errors import InvalidInput

__all__ = [
    "DAY_NAMES",
    "describe",
    "localize",
    "next_after",
    "parse_clock",
    "parse_days",
    "parse_every",
    "parse_zone",
    "runs_after",
]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = Python weekday
_FULL_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_WORDS = {
    **{name: i for i, name in enumerate(DAY_NAMES)},
    **{name.lower(): i for i, name in enumerate(_FULL_DAYS)},
    "tues": 1,
    "weds": 2,
    "thur": 3,
    "thurs": 3,
}
_DAY_GROUPS = {"daily": list(range(7)), "weekdays": list(range(5)), "weekends": [5, 6], "weekend": [5, 6]}
HOUR_STEPS = (2, 3, 4, 6, 8, 12)
_CLOCK = re.compile(r"(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s?(?P<ap>am|pm)?", re.ASCII)
_PRESET = re.compile(r"every (?P<days>[a-z,]+) (?:at )?(?P<clock>\S+(?: ?[ap]m)?)", re.ASCII)
_HOURS = re.compile(r"every (?:(?P<n>\d+) hours|hour)", re.ASCII)
_FIELD = re.compile(r"[0-9a-z*,/\-]+", re.ASCII)
EXAMPLE = '"0 9 * * 1-5" or e.g. "every weekday 09:00"'
_MAX_INPUT = 100


def _unreadable(text: str) -> InvalidInput:
    return InvalidInput(f'Couldn\'t read the schedule "{_shown(text)}": use a cron line like {EXAMPLE}.')


def _shown(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 60 else flat[:57] + "…"


def parse_zone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"{raw!r} is not a time zone I know; use a name like Europe/Berlin.") from None


def parse_clock(raw: str) -> tuple[int, int]:
    """``09:00``, ``9:30``, ``9am``, ``6:30 pm`` → (hour, minute); None-free: raises InvalidInput."""
    m = _CLOCK.fullmatch(raw.strip().lower())
    if m is None or (m["m"] is None and m["ap"] is None):
        raise InvalidInput(f'"{raw}" is not a time of day: write it as HH:MM, e.g. 09:00 or 18:30.')
    hour, minute = int(m["h"]), int(m["m"] or 0)
    if m["ap"]:
        if not 1 <= hour <= 12:
            raise InvalidInput(f'"{raw}" is not a time of day: with am/pm use 1 to 12.')
        hour = hour % 12 + (12 if m["ap"] == "pm" else 0)
    if hour > 23 or minute > 59:
        raise InvalidInput(f'"{raw}" is not a time of day: use 00:00 to 23:59.')
    return hour, minute


def parse_days(raw: str) -> list[int]:
    """``mon-fri,sat``, ``monday,thursday``, ``daily``, ``weekdays`` → sorted weekdays (0 = Monday)."""
    days: set[int] = set()
    for item in raw.strip().lower().split(","):
        if item in _DAY_GROUPS:
            days.update(_DAY_GROUPS[item])
            continue
        first, dash, last = item.partition("-")
        if first not in _DAY_WORDS or (dash and last not in _DAY_WORDS):
            raise InvalidInput(f'"{item}" is not a day: use mon, tue, wed, thu, fri, sat or sun (or a range: mon-fri).')
        start, end = _DAY_WORDS[first], _DAY_WORDS[last] if dash else _DAY_WORDS[first]
        days.update((start + i) % 7 for i in range((end - start) % 7 + 1))
    return sorted(days)


def _cron_days(days: list[int]) -> str:
    """Weekdays (0 = Monday) as a cron day-of-week field (0 = Sunday)."""
    if days == list(range(7)):
        return "*"
    if days == list(range(5)):
        return "1-5"
    return ",".join(str((d + 1) % 7) for d in sorted(days, key=lambda d: (d + 1) % 7))


def _preset(norm: str) -> str | None:
    if m := _HOURS.fullmatch(norm):
        step = int(m["n"] or 1)
        if step == 1:
            return "0 * * * *"
        if step not in HOUR_STEPS:
            steps = ", ".join(str(s) for s in HOUR_STEPS[:-1])
            raise InvalidInput(
                f'"{norm}" isn\'t an interval Herald knows: use every hour or every {steps} or {HOUR_STEPS[-1]} hours.'
            )
        return f"0 */{step} * * *"
    if m := _PRESET.fullmatch(norm):
        word = m["days"]
        days = {"day": list(range(7)), "weekday": list(range(5))}.get(word)
        if days is None:
            try:
                days = parse_days(word)
            except InvalidInput:
                return None
        try:
            hour, minute = parse_clock(m["clock"])
        except InvalidInput:
            return None
        return f"{minute} {hour} * * {_cron_days(days)}"
    return None


def parse_every(text: str) -> str:
    """A cron line or preset → a checked five-field cron line (see the module docstring)."""
    norm = " ".join(text.split()).lower()
    if not norm or len(norm) > _MAX_INPUT:
        raise _unreadable(text)
    if norm.startswith("every"):
        cron = _preset(norm)
        if cron is None:
            raise _unreadable(text)
        return cron
    fields = norm.split(" ")
    if len(fields) != 5 or not all(_FIELD.fullmatch(f) for f in fields) or not croniter.is_valid(norm):
        raise _unreadable(text)
    minutes = croniter.expand(norm)[0][0]
    if len(minutes) != 1 or minutes[0] == "*":
        raise InvalidInput(
            f'The schedule "{_shown(text)}" runs more than once an hour; a series posts at most hourly, '
            'so give one minute, e.g. "0 * * * *".'
        )
    try:
        croniter(norm, datetime(2000, 1, 1)).get_next(datetime)
    except (CroniterBadDateError, CroniterBadCronError):
        raise InvalidInput(f'The schedule "{_shown(text)}" never runs; check its day and month.') from None
    return norm


def next_after(cron: str, tz: ZoneInfo, after: datetime) -> datetime:
    """The first run strictly after the instant ``after``, as an aware UTC datetime."""
    wall = after.astimezone(tz).replace(tzinfo=None, microsecond=0)
    it = croniter(cron, wall)
    for _ in range(100):  # more than one step only around a fall-back (wall times already run)
        candidate = localize(it.get_next(datetime), tz)
        if candidate > after:
            return candidate
    raise AssertionError(f"no run of {cron!r} after {after.isoformat()}")  # pragma: no cover


def runs_after(cron: str, tz: ZoneInfo, after: datetime, count: int) -> list[datetime]:
    out: list[datetime] = []
    while len(out) < count:
        after = next_after(cron, tz, after)
        out.append(after)
    return out


def _clock_text(hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def describe(cron: str) -> str:
    """The rule in words: ``every weekday at 09:00``, ``every 2 hours at :00``; else ``cron "…"``."""
    (minutes, hours, doms, months, dows), _ = croniter.expand(cron)
    minute = int(minutes[0])
    if doms != ["*"] or months != ["*"]:
        return f'cron "{cron}"'
    if dows == ["*"]:
        days, on = "every day", ""
    else:
        weekdays = sorted({(int(d) - 1) % 7 for d in dows})  # cron 0 = Sunday → 6
        if weekdays == list(range(5)):
            days, on = "every weekday", " on weekdays"
        else:
            names = [_FULL_DAYS[d] for d in weekdays]
            days, on = "every " + _and(names), " on " + _and([n + "s" for n in names])
    if hours == ["*"]:
        return f"every hour at :{minute:02d}{on}"
    hour_list = [int(h) for h in hours]
    for step in HOUR_STEPS:
        if hour_list == list(range(0, 24, step)):
            return f"every {step} hours at :{minute:02d}{on}"
    return f"{days} at {_and([_clock_text(h, minute) for h in hour_list])}"
