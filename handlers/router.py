"""The command registry: every text command, its usage line, the rules it declares and the use case behind it.

A command declares who may run it (``role=``: members with that role; admins may do everything) and
whether its answers are for the sender only (``ephemeral=True``). The core checks and applies both in
one place (:meth:`handlers.app.Herald.handle`), so every adapter gets the same rules and the same
:class:`~models.errors.PermissionDenied` sentence; handlers keep only the rules that depend on the data
(only the post's author or an admin…).

A command made of subcommands (``/queue status``, ``/cron pause 3``) is a :class:`Group`: each
subcommand registers with its own declarations, inheriting the group's where it declares none::

    queue = router.group("queue", USAGE, "the delivery queue", role=OPS_ROLE, ephemeral=True, default="status")

    @queue.command("status")
    async def status(ctx: Context, args: str) -> list[Reply]: ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from handlers.context import Context
from handlers.messages import Reply
from models.errors import InvalidInput

Handler = Callable[[Context, str], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Command:
    """One command (or one subcommand: then ``name`` is ``"cron status"``) and what it declares."""

    name: str
    usage: str
    summary: str
    handler: Handler
    role: str | None = None  # a role the member needs (admins may do everything)
    ephemeral: bool = False  # every answer is shown only to the sender
    subcommands: dict[str, Command] = field(default_factory=dict, compare=False)  # a group's, by verb
    default: str | None = None  # the verb a group's bare command stands for


class Group:
    """The subcommands of one command; see the module docstring."""

    def __init__(self, command: Command) -> None:
        self._command = command

    @property
    def name(self) -> str:
        return self._command.name

    def command(
        self, verb: str, *, role: str | None = None, ephemeral: bool | None = None
    ) -> Callable[[Handler], Handler]:
        """Register ``/NAME VERB``; ``role`` and ``ephemeral`` default to the group's."""
        group = self._command

        def register(fn: Handler) -> Handler:
            if verb in group.subcommands:
                raise ValueError(f"command /{group.name} {verb} registered twice")
            group.subcommands[verb] = Command(
                name=f"{group.name} {verb}",
                usage=group.usage,
                summary=group.summary,
                handler=fn,
                role=role or group.role,
                ephemeral=group.ephemeral if ephemeral is None else ephemeral,
            )
            return fn

        return register


class Router:
    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def command(
        self, name: str, usage: str, summary: str, *, role: str | None = None, ephemeral: bool = False
    ) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self._add(Command(name, usage, summary, fn, role, ephemeral))
            return fn

        return register

    def group(
        self,
        name: str,
        usage: str,
        summary: str,
        *,
        role: str | None = None,
        ephemeral: bool = False,
        default: str | None = None,
    ) -> Group:
        """A command made of subcommands; ``default`` is the verb a bare ``/NAME`` stands for (else: usage)."""

        async def usage_of(ctx: Context, args: str) -> list[Reply]:
            raise InvalidInput(f"Usage: {usage}")

        command = Command(name, usage, summary, usage_of, role, ephemeral, default=default)
        self._add(command)
        return Group(command)

    def _add(self, command: Command) -> None:
        if command.name in self._commands:
            raise ValueError(f"command /{command.name} registered twice")
        self._commands[command.name] = command

    def include(self, other: Router) -> None:
        for cmd in other._commands.values():
            self._add(cmd)

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def all(self) -> list[Command]:
        return sorted(self._commands.values(), key=lambda c: c.name)

    def every(self) -> list[Command]:
        """Every command and subcommand, each with the rules it ends up with."""
        return [c for cmd in self.all() for c in [cmd, *cmd.subcommands.values()]]

    def resolve(self, text: str) -> tuple[Command, str]:
        """Split ``/approve 12`` into the command and its arguments, ``/cron pause 3`` into the subcommand
        and ``3``; unknown commands are InvalidInput. An unknown subcommand resolves to its group, with the
        group's role, whose handler answers with the usage."""
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
        if not cmd.subcommands:
            return cmd, rest.strip()
        words = rest.split(None, 1)
        verb = words[0].lower() if words else cmd.default
        sub = cmd.subcommands.get(verb or "")
        if sub is None:
            return cmd, rest.strip()
        return sub, words[1].strip() if len(words) > 1 else ""
