"""Turn what a member types after ``--at`` (or as a duration) into exact instants.

Contract:

* :func:`parse_when` returns an aware UTC datetime; naive wall times are read in the member's zone.
* Wall times that fall in a spring-forward gap move forward to the first valid instant (the end of
  the gap, e.g. 02:30 on 2026-03-29 in Europe/Berlin becomes 03:00 CEST); ambiguous fall-back wall
  times take the first occurrence (``fold=0``).
* Relative times (``in 1d``) are exact elapsed time added to ``now``; use ``tomorrow 09:00`` for a
  wall-clock time.
* Anything not understood raises :class:`InvalidInput` whose message is one sentence that quotes the
  offending text and says what is accepted. Past times are not rejected here: see :func:`ensure_future`.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from models.errors import InvalidInput

__all__ = [
    "DEFAULT_TIME",
    "MAX_DURATION",
    "ensure_future",
    "format_age",
    "format_local",
    "parse_duration",
    "parse_when",
]

DEFAULT_TIME = time(9, 0)
"""Wall time used when a day is given without a time (``tomorrow``, ``2026-12-01``, ``monday``)."""
MAX_DURATION = timedelta(days=3650)
"""Longest duration :func:`parse_duration` (and ``in …``) accepts."""
_MAX_INPUT = 100
_ACCEPTED = "use now, in 10m, tomorrow 09:00 or 2026-12-01 09:30"
_DURATION_HINT = "use a whole number with s, m, h, d or w"

_UNIT = r"(?:weeks?|wks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)(?![a-z])"
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}  # keyed by the unit's first letter
_DURATION_RE = re.compile(rf"\d+ ?{_UNIT}(?:(?:, ?| and | )?\d+ ?{_UNIT})*", re.ASCII)
_DURATION_PART_RE = re.compile(rf"(\d+) ?({_UNIT})", re.ASCII)
_RELATIVE_RE = re.compile(r"(?:in |\+ ?)(?P<spec>.+)", re.ASCII)

_TIME = r"(?P<h>\d{1,2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<frac>\d{1,6}))?)?)?(?: ?(?P<ap>am|pm))?"
_OFFSET = r"(?: ?(?P<off>z|utc|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?))?"
_ISO_RE = re.compile(rf"(?P<y>\d{{4}})-(?P<mo>\d{{1,2}})-(?P<d>\d{{1,2}})(?:[t ]{_TIME}{_OFFSET})?", re.ASCII)
_WEEKDAYS = {
    **dict.fromkeys(("monday", "mon"), 0),
    **dict.fromkeys(("tuesday", "tues", "tue"), 1),
    **dict.fromkeys(("wednesday", "weds", "wed"), 2),
    **dict.fromkeys(("thursday", "thurs", "thur", "thu"), 3),
    **dict.fromkeys(("friday", "fri"), 4),
    **dict.fromkeys(("saturday", "sat"), 5),
    **dict.fromkeys(("sunday", "sun"), 6),
}
_DAY_WORDS = "|".join(sorted([*_WEEKDAYS, "today", "tomorrow"], key=len, reverse=True))
_DAY_RE = re.compile(rf"(?:(?P<next>next) )?(?P<day>{_DAY_WORDS})(?: (?:at )?{_TIME})?", re.ASCII)
_BARE_TIME_RE = re.compile(rf"(?:at )?{_TIME}", re.ASCII)

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_when(text: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """Parse a user's time expression into an aware UTC datetime.

    Accepted (case-insensitive, extra spaces ignored): ``now``; ISO 8601 such as ``2026-12-01 09:30``,
    ``2026-12-01T09:30:00+02:00``, ``2026-12-01T09:30Z`` or a bare date ``2026-12-01`` (09:00 in ``tz``);
    relative ``in 10m`` / ``in 1h30m`` / ``in 2 hours`` / ``+10m``; ``today 17:30``, ``tomorrow 9am``,
    ``tomorrow`` (09:00); weekdays ``mon 10:00`` (today if that time is still ahead, else next week)
    and ``next monday 10:00`` (strictly after today); a bare time ``17:30`` / ``5pm`` (today if still
    ahead, else tomorrow). ``now`` must be aware. Raises :class:`InvalidInput` for anything else.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(UTC)  # so that ``now + delta`` is elapsed time, not wall-clock arithmetic
    shown = _shown(text)
    norm = " ".join(text.split()).lower()
    if not norm:
        raise InvalidInput(f"The time is empty: {_ACCEPTED}.")
    if len(norm) > _MAX_INPUT:
        raise InvalidInput(f'The time "{shown}" is too long: {_ACCEPTED}.')
    try:
        if norm == "now":
            return now
        if m := _RELATIVE_RE.fullmatch(norm):
            delta = _duration(m["spec"], f'the time "{shown}"', "such as in 10m, in 1h30m or in 2 days")
            return now + delta
        if m := _ISO_RE.fullmatch(norm):
            return _resolve_iso(m, shown, tz)
        if m := _DAY_RE.fullmatch(norm):
            return _resolve_day(m, shown, now, tz)
        if m := _BARE_TIME_RE.fullmatch(norm):
            clock = _clock(m, shown)
            if clock is not None:
                today = now.astimezone(tz).date()
                candidate = _localize(datetime.combine(today, clock), tz)
                if candidate > now:
                    return candidate
                return _localize(datetime.combine(_add_days(today, 1), clock), tz)
    except OverflowError:
        raise InvalidInput(f'The time "{shown}" is out of range: use a date in the years 1 to 9999.') from None
    raise InvalidInput(f'Couldn\'t understand the time "{shown}": {_ACCEPTED}.')


def ensure_future(when: datetime, *, now: datetime, tz: ZoneInfo, grace: timedelta = timedelta(seconds=60)) -> None:
    """Raise :class:`InvalidInput` if ``when`` is before ``now - grace``; ``now`` itself is fine.

    The message shows both instants in ``tz`` so the member can see which clock was used.
    """
    if when < now.astimezone(UTC) - grace:
        raise InvalidInput(
            f"That time ({format_local(when, tz)}) is in the past: it is now {format_local(now, tz)}"
            f" ({tz.key}), so pick a later time."
        )


def format_local(when: datetime, tz: ZoneInfo) -> str:
    """Format an aware instant in ``tz`` as e.g. ``Tue 1 Dec 2026 09:30 CET``.

    Always English (not locale-dependent), always with the year, minutes precision, zone abbreviation.
    """
    if when.tzinfo is None:
        raise ValueError("when must be an aware datetime")
    local = when.astimezone(tz)
    weekday, month = _DAY_NAMES[local.weekday()], _MONTH_NAMES[local.month - 1]
    return f"{weekday} {local.day} {month} {local.year} {local:%H:%M} {local.tzname() or tz.key}"


def format_age(delta: timedelta) -> str:
    """How long, roughly: ``40 s``, ``2 min 5 s``, ``25 min``, ``3 h 10 min``, ``2 d 4 h``."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 10:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def parse_duration(text: str) -> timedelta:
    """Parse a positive duration such as ``10m``, ``1h30m``, ``2 hours``, ``45s``, ``3d`` or ``1w``.

    Units: s/sec/second, m/min/minute, h/hr/hour, d/day, w/wk/week (plurals ok), whole numbers only,
    parts may be separated by spaces, commas or ``and``. Raises :class:`InvalidInput` on junk, zero,
    negative values or anything longer than :data:`MAX_DURATION`.
    """
    norm = " ".join(text.split()).lower()
    return _duration(norm, f'the duration "{_shown(text)}"', "such as 10m, 1h30m or 2 days")


def _shown(text: str) -> str:
    """The user's text as quoted back in messages: whitespace collapsed, long input truncated."""
    flat = " ".join(text.split())
    return flat if len(flat) <= 60 else flat[:57] + "…"


def _duration(spec: str, what: str, examples: str) -> timedelta:
    """Validate and convert a normalised duration; ``what`` names the input in error messages."""
    what_cap = what[0].upper() + what[1:]
    if spec.startswith("-"):
        raise InvalidInput(f"{what_cap} has a negative amount: {_DURATION_HINT}, {examples}.")
    if len(spec) > _MAX_INPUT or not _DURATION_RE.fullmatch(spec):
        raise InvalidInput(f"Couldn't understand {what}: {_DURATION_HINT}, {examples}.")
    seconds = sum(int(n) * _UNIT_SECONDS[unit[0]] for n, unit in _DURATION_PART_RE.findall(spec))
    if seconds == 0:
        raise InvalidInput(f"{what_cap} adds up to zero: use a positive amount, {examples}.")
    if seconds > MAX_DURATION.total_seconds():
        raise InvalidInput(f"{what_cap} is too long: the longest accepted is {MAX_DURATION.days} days.")
    return timedelta(seconds=seconds)


def _clock(m: re.Match[str], shown: str) -> time | None:
    """The wall time in a match (None if it has none); a bare hour needs ``:MM`` or am/pm."""
    if m["h"] is None:
        return None
    if m["mi"] is None and m["ap"] is None:
        h = int(m["h"])
        fix = f"{h}:00, {h}am or {h}pm" if 1 <= h <= 12 else f"{h}:00"
        raise InvalidInput(f'The time "{shown}" needs minutes or am/pm after the hour: write e.g. {fix}.')
    hour, minute, second = int(m["h"]), int(m["mi"] or 0), int(m["s"] or 0)
    if m["ap"] is not None:
        if not 1 <= hour <= 12:
            raise InvalidInput(f'The time "{shown}" has no hour {hour}: with am/pm use 1 to 12.')
        hour = hour % 12 + (12 if m["ap"] == "pm" else 0)
    elif hour > 23:
        raise InvalidInput(f'The time "{shown}" has no hour {hour}: use 00 to 23, or 1 to 12 with am/pm.')
    if minute > 59:
        raise InvalidInput(f'The time "{shown}" has no minute {minute}: minutes go from 00 to 59.')
    if second > 59:
        raise InvalidInput(f'The time "{shown}" has no second {second}: seconds go from 00 to 59.')
    return time(hour, minute, second, int((m["frac"] or "").ljust(6, "0")))


def _resolve_iso(m: re.Match[str], shown: str, tz: ZoneInfo) -> datetime:
    year, month, day = int(m["y"]), int(m["mo"]), int(m["d"])
    if year < 1:
        raise OverflowError
    if not 1 <= month <= 12:
        raise InvalidInput(f'The date "{shown}" has no month {month}: months go from 01 to 12.')
    days_in_month = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days_in_month:
        month_name = _MONTH_NAMES[month - 1]
        raise InvalidInput(f'The date "{shown}" has no day {day}: {month_name} {year} has {days_in_month} days.')
    wall = datetime.combine(date(year, month, day), _clock(m, shown) or DEFAULT_TIME)
    if m["off"] is None:
        return _localize(wall, tz)
    offset = timedelta(0)
    if m["sign"] is not None:
        hours, minutes = int(m["oh"]), int(m["om"] or 0)
        if hours > 23 or minutes > 59:
            raise InvalidInput(f'The time "{shown}" has an invalid UTC offset: use -23:59 to +23:59.')
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if m["sign"] == "-" else 1)
    return wall.replace(tzinfo=timezone(offset)).astimezone(UTC)


def _resolve_day(m: re.Match[str], shown: str, now: datetime, tz: ZoneInfo) -> datetime:
    clock = _clock(m, shown) or DEFAULT_TIME
    today = now.astimezone(tz).date()
    word, is_next = m["day"], m["next"] is not None
    if word in ("today", "tomorrow"):
        if is_next:
            raise InvalidInput(f'Couldn\'t understand the time "{shown}": {_ACCEPTED}.')
        return _localize(datetime.combine(_add_days(today, int(word == "tomorrow")), clock), tz)
    ahead = (_WEEKDAYS[word] - today.weekday()) % 7
    if ahead == 0 and (is_next or _localize(datetime.combine(today, clock), tz) <= now):
        ahead = 7
    return _localize(datetime.combine(_add_days(today, ahead), clock), tz)


def _add_days(day: date, n: int) -> date:
    return day + timedelta(days=n)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """UTC instant of a naive wall time in ``tz``: gap → first instant after the gap, ambiguous → fold=0."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == wall:
        return first
    # Non-existent: fold=1 lands before the transition, fold=0 after it. Bisect for the transition instant,
    # the first instant whose wall clock is at or past ``wall``.
    lo, hi = sorted((wall.replace(tzinfo=tz, fold=1).astimezone(UTC), first))
    while hi - lo > timedelta(microseconds=1):
        mid = lo + (hi - lo) // 2
        if _wall(mid, tz) < wall:
            lo = mid
        else:
            hi = mid
    return hi
