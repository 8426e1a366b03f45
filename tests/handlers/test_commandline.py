"""Splitting typed commands into options and text, and reading post numbers."""

from __future__ import annotations

import pytest

from handlers.text.commandline import parse_post_id, split_options
from models.errors import InvalidInput

KNOWN = {"to", "at"}
WHENS = {"tomorrow 09:00", "in 10m", "now", "in 2h"}
MULTI = {"at": WHENS.__contains__}


def split(body: str) -> tuple[dict[str, str], str]:
    return split_options(body, known=KNOWN, multiword=MULTI, command="/draft")


@pytest.mark.parametrize(
    ("body", "options", "text"),
    [
        # options before the text
        ("--to x,linkedin --at tomorrow 09:00 Big news!", {"to": "x,linkedin", "at": "tomorrow 09:00"}, "Big news!"),
        # options after the text
        ('Big news! --to x --at "in 2h"', {"to": "x", "at": "in 2h"}, "Big news!"),
        ("Big news! --at now --to x", {"to": "x", "at": "now"}, "Big news!"),
        # options around the text
        ("--to x Big news! --at in 10m", {"to": "x", "at": "in 10m"}, "Big news!"),
        # quoted values, double and single, spaces inside kept, surrounding ones trimmed
        ('--to "x, linkedin" Hi', {"to": "x, linkedin"}, "Hi"),
        ("--at 'in 10m' Hi", {"at": "in 10m"}, "Hi"),
        ("--at ' in 10m ' Hi", {"at": "in 10m"}, "Hi"),
        ("Hi --at “tomorrow 09:00”", {"at": "tomorrow 09:00"}, "Hi"),
        # multiword value: the longest run (up to three words) the acceptor accepts
        ("--at tomorrow 09:00 Coffee at nine", {"at": "tomorrow 09:00"}, "Coffee at nine"),
        ("--at in 10m hello there", {"at": "in 10m"}, "hello there"),
        ("--at now now is the time", {"at": "now"}, "now is the time"),
        # nothing accepted: the longest run goes on, so the caller's error quotes what was meant
        ("--at next blursday Hi", {"at": "next blursday Hi"}, ""),
        # a single-word option takes exactly one word
        ("--to x tomorrow 09:00", {"to": "x"}, "tomorrow 09:00"),
        # no options at all
        ("Just text", {}, "Just text"),
        ("", {}, ""),
        # "--" inside words or not followed by a name is text, not an option
        ("well--done --to x", {"to": "x"}, "well--done"),
        ("A--B and C-- D -- E", {}, "A--B and C-- D -- E"),
        ("use --to=x literally", {}, "use --to=x literally"),
        ("--TO x", {}, "--TO x"),
    ],
)
def test_split_options(body: str, options: dict[str, str], text: str) -> None:
    assert split(body) == (options, text)


def test_text_spacing_and_newlines_are_kept() -> None:
    body = "--to x Line one\n\n  indented  two\tand a tab\n- bullet --at now"
    options, text = split(body)
    assert options == {"to": "x", "at": "now"}
    assert text == "Line one\n\n  indented  two\tand a tab\n- bullet"

    options, text = split("First  para\n\nSecond para --to x --at tomorrow 09:00")
    assert (options, text) == ({"to": "x", "at": "tomorrow 09:00"}, "First  para\n\nSecond para")


def test_text_on_both_sides_of_an_option_is_joined_with_one_space() -> None:
    assert split("a  b --to x  c   d") == ({"to": "x"}, "a  b c   d")


def test_option_on_its_own_line_leaves_no_stray_space() -> None:
    options, text = split("hi\n--to x\nbye")
    assert options == {"to": "x"}
    assert " \n" not in text and "\n " not in text


@pytest.mark.parametrize("body", ["--colour red Hi", "Hi --colour red", "--to x --colour red Hi"])
def test_unknown_option_is_named_with_the_known_ones(body: str) -> None:
    with pytest.raises(InvalidInput) as info:
        split(body)
    assert str(info.value) == "/draft has no option --colour (options: --at, --to)."


def test_unknown_option_without_command_or_options() -> None:
    with pytest.raises(InvalidInput, match=r"no option --at \(options: none\)\.$"):
        split_options("--at now Hi", known=set())


@pytest.mark.parametrize(
    ("body", "name"),
    [("Hi --to", "to"), ("--to", "to"), ("--to --at now Hi", "to"), ("Hi --at", "at"), ("--at\n", "at")],
)
def test_missing_value(body: str, name: str) -> None:
    with pytest.raises(InvalidInput) as info:
        split(body)
    assert str(info.value) == f"--{name} needs a value."


def test_without_acceptor_multiword_option_takes_one_word() -> None:
    assert split_options("--at tomorrow 09:00 Hi", known=KNOWN) == ({"at": "tomorrow"}, "09:00 Hi")


def test_acceptor_is_asked_longest_first() -> None:
    asked: list[str] = []

    def accept(value: str) -> bool:
        asked.append(value)
        return value == "in"

    options, text = split_options("--at in 10m sharp and more", known=KNOWN, multiword={"at": accept})
    assert asked == ["in 10m sharp", "in 10m", "in"]
    assert (options, text) == ({"at": "in"}, "10m sharp and more")


def test_multiword_value_stops_at_the_next_option() -> None:
    assert split("--at in 10m --to x Hi") == ({"at": "in 10m", "to": "x"}, "Hi")


@pytest.mark.parametrize(("token", "expected"), [("12", 12), ("#12", 12), ("007", 7), ("1", 1)])
def test_parse_post_id(token: str, expected: int) -> None:
    assert parse_post_id(token, "/approve ID") == expected


@pytest.mark.parametrize("token", ["abc", "12a", "-1", "1.5", "", "#", "# 12", " 12"])
def test_parse_post_id_junk(token: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_post_id(token, "/approve ID")
    assert str(info.value) == f"{token!r} is not a post number. Usage: /approve ID"


def test_parse_post_id_missing() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_post_id(None, "/approve ID")
    assert str(info.value) == "Which post? Usage: /approve ID"


def test_parse_post_id_superscript_digit() -> None:
    with pytest.raises(InvalidInput):
        parse_post_id("²", "/approve ID")
