"""Neutral value types at the seam between chat adapters and the application.

Adapters build an :class:`Incoming` from whatever their chat sends, call the core, and render the
:class:`Reply` objects they get back. Every :class:`Button` carries the text command that does the
same thing (its *twin*), so an adapter without buttons (the shell) shows the command instead.
"""

from __future__ import annotations

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
class Button:
    label: str
    command: str  # the text twin, e.g. "/approve 12"
    style: Literal["primary", "danger", "default"] = "default"
    ask: str | None = None  # the adapter asks the clicker for this (e.g. "reason") and appends it to the command

    @property
    def action_id(self) -> str:
        """Stable id for chat platforms' action ids: the command's verb, e.g. ``herald.approve``."""
        return "herald." + self.command.lstrip("/").split()[0]

    @property
    def value(self) -> str:
        return self.command


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class Reply:
    """A message for a chat.

    ``ref`` gives the message a stable identity (``post:12:approval``): an adapter that already
    showed a message with that ref edits it in place instead of posting a new one. ``ephemeral``
    replies are shown only to the person who caused them, where the chat can.
    """

    text: str
    fields: tuple[Field, ...] = ()
    buttons: tuple[Button, ...] = ()
    ephemeral: bool = False
    ref: str | None = None
    post_id: int | None = None
    kind: Literal["info", "error", "success", "approval", "report"] = "info"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "fields": [[f.label, f.value] for f in self.fields],
            "buttons": [[b.label, b.command, b.style, b.ask] for b in self.buttons],
            "ephemeral": self.ephemeral,
            "ref": self.ref,
            "post_id": self.post_id,
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=str(data["text"]),
            fields=tuple(Field(str(a), str(b)) for a, b in data.get("fields", [])),
            buttons=tuple(Button(str(a), str(b), c, d) for a, b, c, d in data.get("buttons", [])),
            ephemeral=bool(data.get("ephemeral", False)),
            ref=data.get("ref"),
            post_id=data.get("post_id"),
            kind=data.get("kind", "info"),
        )


def error(text: str, *, field: str | None = None) -> Reply:
    """A one-sentence error for the person who caused it; ``field`` names the input it is about."""
    return Reply(text=text, ephemeral=True, kind="error", extra={"field": field} if field else {})


def info(text: str, *, ephemeral: bool = False) -> Reply:
    return Reply(text=text, ephemeral=ephemeral)
