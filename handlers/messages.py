"""Neutral value types at the seam between chat adapters and the application.

Adapters build an :class:`Incoming` from whatever their chat sends, call the core, and render the
:class:`Reply` objects they get back. Every :class:`Button` carries the text command that does the
same thing (its *twin*), so an adapter without buttons (the shell) shows the command instead.

A reply names members as ``@name`` and lists them in ``mentions`` with who they are on each chat, so
each adapter can turn ``@name`` into its own mention (Slack's ``<@U123>``) or leave it as it is (the
shell); :func:`render_mentions` does the replacing for every adapter.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Conversation:
    """Where a message was said: adapter, channel and optional thread (Slack ts, Telegram message)."""

    adapter: str
    channel: str
    thread: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"adapter": self.adapter, "channel": self.channel, "thread": self.thread}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conversation:
        return cls(adapter=str(data["adapter"]), channel=str(data["channel"]), thread=data.get("thread"))


@dataclass(frozen=True)
class Sender:
    """Who said it, as the adapter knows them."""

    adapter: str
    external_id: str
    name: str
    display_name: str = ""
    timezone: str | None = None


@dataclass(frozen=True)
class Incoming:
    """One text command typed (or one button clicked, as its twin command)."""

    sender: Sender
    conversation: Conversation
    text: str


@dataclass(frozen=True)
class Mention:
    """A member a reply names as ``@name``; ``chats`` are who they are on each chat: (adapter, id) pairs."""

    name: str
    chats: tuple[tuple[str, str], ...] = ()

    @property
    def token(self) -> str:
        return "@" + self.name

    def on(self, adapter: str) -> str | None:
        """Their id on ``adapter``, if that chat knows them."""
        return next((ident for chat, ident in self.chats if chat == adapter), None)


def render_mentions(text: str, mentions: tuple[Mention, ...], render: Callable[[Mention], str | None]) -> str:
    """``text`` with each ``@name`` of ``mentions`` replaced by ``render(mention)`` (left as it is for None).

    Only whole names count: ``@bob`` in ``@bob.smith`` or ``bob@example.com`` is not a mention of bob.
    """
    by_name = {m.name: m for m in mentions}
    if not by_name:
        return text
    names = "|".join(re.escape(n) for n in sorted(by_name, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w@.-])@({names})(?![\w-]|\.\w)")

    def replace(match: re.Match[str]) -> str:
        return render(by_name[match.group(1)]) or match.group(0)

    return pattern.sub(replace, text)


@dataclass(frozen=True)
class Button:
    label: str
    command: str  # the text twin, e.g. "/approve 12"
    style: Literal["primary", "danger", "default"] = "default"
    ask: str | None = None  # the adapter asks the clicker for this (e.g. "reason") and appends it to the command
    url: str | None = None  # a link button: opens ``url`` in the browser (``command`` is empty, nothing runs)

    @property
    def action_id(self) -> str:
        """Stable id for chat platforms' action ids: the command's verb, e.g. ``herald.approve``."""
        words = self.command.lstrip("/").split()
        return "herald." + (words[0] if words else "link")

    @property
    def value(self) -> str:
        return self.command


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class FormField:
    """One value a :class:`Form` asks for. A ``secret`` one is never shown back (a password input, no echo)."""

    name: str
    label: str
    secret: bool = False
    hint: str = ""


@dataclass(frozen=True)
class Form:
    """Values to ask for before running ``command``: the adapter asks for ``fields`` (Slack: a modal; the shell:
    one prompt each) and runs ``command name=value …`` with each value quoted as :func:`form_command` does."""

    title: str
    command: str
    fields: tuple[FormField, ...]
    submit: str = "Send"


def form_command(form: Form, values: dict[str, str]) -> str:
    """The command a filled-in form stands for (values quoted for :func:`shlex.split`)."""
    pairs = [f"{f.name}={shlex.quote(values.get(f.name, '').strip())}" for f in form.fields]
    return " ".join([form.command, *pairs])


@dataclass(frozen=True)
class Preview:
    """How a post looks on one target platform, for the approval card.

    ``target`` names the platform and the accounts there (``X · acme, acme_eu``); ``length`` is the
    text's length as that platform counts it, against its ``limit`` (None: no limit); ``text`` is the
    text as it goes out there, shortened (a ``✂`` marks where the platform's limit cuts it); each of
    ``warnings`` is a sentence saying why it can't go out as it is ("X allows 280 characters, this is 312.").
    """

    target: str
    length: int
    limit: int | None
    text: str
    warnings: tuple[str, ...] = ()

    @property
    def count(self) -> str:
        """``312/280 characters``, or ``312 characters`` without a limit."""
        return f"{self.length}/{self.limit} characters" if self.limit is not None else f"{self.length} characters"


@dataclass(frozen=True)
class TargetStatus:
    """How a post fared on one target account, for the approval card once publishing started.

    ``target`` names the account and its platform (``acme (X)``); ``state`` is the delivery's state
    (``published``, ``failed``, ``unknown`` …), for an adapter's icon; ``text`` says it in words, with the
    link or the reason (``published: https://…``); ``buttons`` are what can be done about this target alone
    (Verify / Republish of an unknown outcome).
    """

    target: str
    state: str
    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class Reply:
    """A message for a chat.

    ``ref`` gives the message a stable identity (``post:12:approval``): an adapter that already
    showed a message with that ref edits it in place instead of posting a new one. ``ephemeral``
    replies are shown only to the person who caused them, where the chat can. ``previews`` show the
    post per target platform (the approval card); an adapter renders them after the fields, then
    ``statuses``, the outcome per target account once publishing started, each with its own buttons.
    ``mentions`` are the members the text and fields name as ``@name`` (see :func:`render_mentions`).
    """

    text: str
    fields: tuple[Field, ...] = ()
    buttons: tuple[Button, ...] = ()
    ephemeral: bool = False
    ref: str | None = None
    post_id: int | None = None
    kind: Literal["info", "error", "success", "approval", "report"] = "info"
    previews: tuple[Preview, ...] = ()
    statuses: tuple[TargetStatus, ...] = ()
    mentions: tuple[Mention, ...] = ()
    form: Form | None = None  # values to ask the member for (an answer to their own command: never stored)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "fields": [[f.label, f.value] for f in self.fields],
            "buttons": [_button_json(b) for b in self.buttons],
            "ephemeral": self.ephemeral,
            "ref": self.ref,
            "post_id": self.post_id,
            "kind": self.kind,
            "previews": [[p.target, p.length, p.limit, p.text, list(p.warnings)] for p in self.previews],
            "statuses": [[s.target, s.state, s.text, [_button_json(b) for b in s.buttons]] for s in self.statuses],
            "mentions": [[m.name, [list(c) for c in m.chats]] for m in self.mentions],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=str(data["text"]),
            fields=tuple(Field(str(a), str(b)) for a, b in data.get("fields", [])),
            buttons=tuple(_button(b) for b in data.get("buttons", [])),
            ephemeral=bool(data.get("ephemeral", False)),
            ref=data.get("ref"),
            post_id=data.get("post_id"),
            kind=data.get("kind", "info"),
            previews=tuple(
                Preview(str(t), int(n), None if lim is None else int(lim), str(x), tuple(str(w) for w in ws))
                for t, n, lim, x, ws in data.get("previews", [])
            ),
            statuses=tuple(
                TargetStatus(str(t), str(st), str(x), tuple(_button(b) for b in bs))
                for t, st, x, bs in data.get("statuses", [])
            ),
            mentions=tuple(
                Mention(str(name), tuple((str(a), str(i)) for a, i in chats))
                for name, chats in data.get("mentions", [])
            ),
        )


def _button_json(button: Button) -> list[Any]:
    fields = [button.label, button.command, button.style, button.ask]
    return [*fields, button.url] if button.url else fields


def _button(data: list[Any]) -> Button:
    label, command, style, ask, *url = data
    return Button(str(label), str(command), style, ask, url[0] if url else None)


def error(text: str, *, field: str | None = None) -> Reply:
    """A one-sentence error for the person who caused it; ``field`` names the input it is about."""
    return Reply(text=text, ephemeral=True, kind="error", extra={"field": field} if field else {})


def info(text: str, *, ephemeral: bool = False) -> Reply:
    return Reply(text=text, ephemeral=ephemeral)
