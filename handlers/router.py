"""The command registry: every text command, its usage line and the use case behind it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.context import Context
from handlers.messages import Reply
from models.errors import InvalidInput

Handler = Callable[[Context, str], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    handler: Handler
    role: str | None = None  # a role the member needs (admins may do everything)


class Router:
    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def command(self, name: str, usage: str, summary: str, *, role: str | None = None) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            if name in self._commands:
                raise ValueError(f"command /{name} registered twice")
            self._commands[name] = Command(name, usage, summary, fn, role)
            return fn

        return register

    def include(self, other: Router) -> None:
        for cmd in other._commands.values():
            if cmd.name in self._commands:
                raise ValueError(f"command /{cmd.name} registered twice")
            self._commands[cmd.name] = cmd

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def all(self) -> list[Command]:
        return sorted(self._commands.values(), key=lambda c: c.name)

    def resolve(self, text: str) -> tuple[Command, str]:
        """Split ``/approve 12`` into the command and its arguments; unknown commands are InvalidInput."""
        stripped = text.strip()
        if not stripped.startswith("/"):
            raise InvalidInput("Commands start with / — try /help to see them all.")
        head, _, rest = stripped[1:].partition(" ")
        name = head.split("@", 1)[0].lower()  # Telegram appends @botname in groups
        if "\n" in name:
            name, _, more = name.partition("\n")
            rest = more + " " + rest
        cmd = self._commands.get(name)
        if cmd is None:
            raise InvalidInput(f"I don't know the command /{name}. Try /help to see what I can do.")
        return cmd, rest.strip()
