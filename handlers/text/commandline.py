"""Splitting a typed command into its options and free text.

``/draft --to x,linkedin --at tomorrow 09:00 Big news!`` and ``/draft Big news! --to x --at "in 2h"``
both give ``{"to": "x,linkedin", "at": …}`` and the text ``Big news!``. An unquoted multi-word value
(``--at tomorrow 09:00``) takes the longest run of up to three words that its acceptor accepts; the
rest stays in the text, with the text's own spacing and line breaks untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet

from models.errors import InvalidInput, NotFound

_OPTION = re.compile(r"(?:(?<=\s)|^)--([a-z][a-z-]*)(?=\s|$)")
_QUOTED = re.compile(r"\s*(\"[^\"]*\"|'[^']*'|“[^”]*”)")
_WORD = re.compile(r"\s*(\S+)")
MAX_WORDS = 3
_POST_ID = re.compile(r"[0-9]{1,12}")
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database


def split_options(
    body: str,
    *,
    known: AbstractSet[str],
    multiword: Mapping[str, Callable[[str], bool]] | None = None,
    flags: frozenset[str] = frozenset(),
    command: str = "",
) -> tuple[dict[str, str], str]:
    """Return ``(options, remaining text)``; an unknown ``--name`` is an InvalidInput.

    ``flags`` take no value; a flag that is present maps to ``""`` in the options.
    """
    multiword = multiword or {}
    options: dict[str, str] = {}
    pieces: list[str] = []
    pos = 0
    while True:
        match = _OPTION.search(body, pos)
        if match is None:
            pieces.append(body[pos:])
            break
        name = match.group(1)
        if name in flags:
            pieces.append(body[pos : match.start()])
            options[name] = ""
            pos = match.end()
            continue
        if name not in known:
            allowed = ", ".join(f"--{k}" for k in sorted(known | flags)) or "none"
            raise InvalidInput(f"{command} has no option --{name} (options: {allowed}).".lstrip())
        pieces.append(body[pos : match.start()])
        value, end = _take_value(body, match.end(), multiword.get(name))
        if value is None:
            raise InvalidInput(f"--{name} needs a value.")
        options[name] = value
        pos = end
    return options, _join(pieces)


def _join(pieces: list[str]) -> str:
    """Glue the text around removed options: one space inside a line, nothing extra at line breaks."""
    text = ""
    for piece in pieces:
        left, right = text.rstrip(" \t"), piece.lstrip(" \t")
        if not right.strip():
            text = left
            continue
        sep = "" if not left or left.endswith("\n") or right.startswith("\n") else " "
        text = left + sep + right
    return text.strip()


def _take_value(body: str, start: int, accept: Callable[[str], bool] | None) -> tuple[str | None, int]:
    quoted = _QUOTED.match(body, start)
    if quoted:
        return quoted.group(1)[1:-1].strip(), quoted.end()
    words: list[tuple[str, int]] = []
    pos = start
    while len(words) < (MAX_WORDS if accept else 1):
        word = _WORD.match(body, pos)
        if word is None or word.group(1).startswith("--"):
            break
        words.append((word.group(1), word.end()))
        pos = word.end()
    if not words:
        return None, start
    if accept:
        for n in range(len(words), 0, -1):
            candidate = " ".join(w for w, _ in words[:n])
            if accept(candidate):
                return candidate, words[n - 1][1]
        # nothing fits: hand on the longest run, so the error quotes what the user meant
        return " ".join(w for w, _ in words), words[-1][1]
    return words[0][0], words[0][1]


def parse_post_id(token: str | None, usage: str) -> int:
    """``12`` or ``#12`` → 12; anything else is an InvalidInput quoting the usage."""
    if token is None:
        raise InvalidInput(f"Which post? Usage: {usage}")
    cleaned = token.lstrip("#")
    if not _POST_ID.fullmatch(cleaned):
        raise InvalidInput(f"{token!r} is not a post number. Usage: {usage}")
    number = int(cleaned)
    if number > MAX_ID:
        raise NotFound(f"There is no post {number}.")
    return number
