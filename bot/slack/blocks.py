"""Neutral replies as Block Kit.

A :class:`~handlers.messages.Reply` becomes a message: its text in mrkdwn sections (escaped, split at
Slack's 3,000-character section limit), its fields as a two-column section, each platform preview as a
small-print context block (with its warnings in a section under it), each target's outcome as a section
(with that target's buttons in an actions block under it), its buttons as an actions block.
A button's ``value`` is its text twin (``/approve 12``), so a click runs exactly what typing it would;
its ``action_id`` is the button's (``herald.approve``), with ``.ask.<what>`` appended when the clicker
must be asked something first (``herald.reject.ask.reason``). A member the reply names (``@bob``) becomes
a Slack mention (``<@U123>``) when Slack knows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.messages import Button, Mention, Preview, Reply, TargetStatus, render_mentions

Json = dict[str, Any]

SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
FIELDS_PER_SECTION = 10
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
BUTTONS_PER_BLOCK = 25
MESSAGE_BLOCKS = 50
TEXT_LIMIT = 3000  # any text object, e.g. a context block's element
PREVIEWS_SHOWN = 10  # platform previews rendered in full; the rest share one line (blocks are capped)
HOME_BLOCKS = 100
FALLBACK_LIMIT = 3000  # notification text; Slack accepts more, but nobody reads a 40k notification
ACTIONS_BLOCK = "herald.actions"
ASK_MARK = ".ask."
ADAPTER = "slack"
KIND_PREFIX = {"error": ":warning: ", "success": ":white_check_mark: "}
STATUS_ICON = {"published": ":white_check_mark:", "failed": ":x:", "unknown": ":grey_question:", "missed": ":warning:"}


def escape(text: str) -> str:
    """Slack's three control characters; blockquotes (``> …``) still render, as Slack stores them so."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_mention(mention: Mention) -> str | None:
    user = mention.on(ADAPTER)
    return f"<@{user}>" if user else None


def mentioned(text: str, mentions: tuple[Mention, ...]) -> str:
    """Escaped ``text`` with the members it names as Slack mentions (where Slack knows them)."""
    return render_mentions(escape(text), mentions, _slack_mention)


def unescape(text: str) -> str:
    """What a slash command's ``text`` looked like before Slack escaped it."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _chunks(text: str, limit: int) -> list[str]:
    """Split at line breaks where possible, so no piece exceeds ``limit``."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current or not pieces:
        pieces.append(current)
    return pieces


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_sections(text: str, *, prefix: str = "", mentions: tuple[Mention, ...] = ()) -> list[Json]:
    escaped = prefix + mentioned(text, mentions)
    pieces = _chunks(escaped, SECTION_LIMIT)
    return [{"type": "section", "text": {"type": "mrkdwn", "text": piece or " "}} for piece in pieces]


def _context(text: str) -> Json:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _truncate(text, TEXT_LIMIT)}]}


def preview_blocks(previews: tuple[Preview, ...]) -> list[Json]:
    """Per platform: ``*X · acme* · 120/280`` and the text in small print; warnings in a section under it."""
    blocks: list[Json] = []
    for preview in previews[:PREVIEWS_SHOWN]:
        mark = ":warning: " if preview.warnings else ""
        blocks.append(_context(f"{mark}*{escape(preview.target)}* · {preview.count}\n{escape(preview.text)}"))
        if preview.warnings:
            said = "\n".join(f":warning: {escape(w)}" for w in preview.warnings)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _truncate(said, SECTION_LIMIT)}})
    rest = previews[PREVIEWS_SHOWN:]
    if rest:
        line = " · ".join(f"{':warning: ' if p.warnings else ''}{escape(p.target)} {p.count}" for p in rest)
        blocks.append(_context(f"…and {len(rest)} more: {line}"))
    return blocks


def status_blocks(statuses: tuple[TargetStatus, ...], *, block_prefix: str = "") -> list[Json]:
    """Per target: ``:white_check_mark: *acme (X)* — published: https://…``, its buttons under it."""
    blocks: list[Json] = []
    for n, status in enumerate(statuses, start=1):
        icon = STATUS_ICON.get(status.state, ":hourglass_flowing_sand:")
        said = f"{icon} *{escape(status.target)}* — {escape(status.text)}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _truncate(said, SECTION_LIMIT)}})
        if status.buttons:
            used: set[str] = set()
            elements = [button_element(b, used) for b in status.buttons[:BUTTONS_PER_BLOCK]]
            block_id = f"{block_prefix}{ACTIONS_BLOCK}.target.{n}"
            blocks.append({"type": "actions", "block_id": block_id, "elements": elements})
    return blocks


def action_id(button: Button) -> str:
    return button.action_id + (ASK_MARK + button.ask if button.ask else "")


@dataclass(frozen=True)
class Click:
    """What a clicked button asks for: its text twin, and what to ask the clicker first (if anything)."""

    command: str
    ask: str | None


def read_click(action: Json) -> Click:
    return click_of(str(action.get("action_id", "")), str(action.get("value", "")))


def click_of(action_id: str, value: str) -> Click:
    """What the button with ``action_id`` and ``value`` asks for."""
    ask = action_id.split(ASK_MARK, 1)[1] or None if ASK_MARK in action_id else None
    return Click(command=value, ask=ask)


def button_element(button: Button, used: set[str]) -> Json:
    ident = action_id(button)
    unique, n = ident, 1
    while unique in used:  # action ids must be unique within a block
        n += 1
        unique = f"{ident}.{n}" if button.ask is None else f"{button.action_id}.{n}{ASK_MARK}{button.ask}"
    used.add(unique)
    element: Json = {
        "type": "button",
        "text": {"type": "plain_text", "text": _truncate(button.label, BUTTON_TEXT_LIMIT), "emoji": True},
        "action_id": unique,
        "value": button.command[:BUTTON_VALUE_LIMIT],
    }
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    if button.url:  # Slack opens it and still sends the click, which has no command to run
        element["url"] = button.url
    return element


def reply_blocks(reply: Reply, *, block_prefix: str = "") -> list[Json]:
    """The blocks of one reply (without the 50-block cap; see :func:`message`)."""
    blocks = text_sections(reply.text, prefix=KIND_PREFIX.get(reply.kind, ""), mentions=reply.mentions)
    fields = [
        {
            "type": "mrkdwn",
            "text": _truncate(f"*{escape(f.label)}*\n{mentioned(f.value, reply.mentions) or '–'}", FIELD_LIMIT),
        }
        for f in reply.fields
    ]
    for start in range(0, len(fields), FIELDS_PER_SECTION):
        blocks.append({"type": "section", "fields": fields[start : start + FIELDS_PER_SECTION]})
    blocks.extend(preview_blocks(reply.previews))
    blocks.extend(status_blocks(reply.statuses, block_prefix=block_prefix))
    used: set[str] = set()
    elements = [button_element(b, used) for b in reply.buttons]
    for n, start in enumerate(range(0, len(elements), BUTTONS_PER_BLOCK)):
        suffix = "" if n == 0 else f".{n + 1}"
        blocks.append(
            {
                "type": "actions",
                "block_id": f"{block_prefix}{ACTIONS_BLOCK}{suffix}",
                "elements": elements[start : start + BUTTONS_PER_BLOCK],
            }
        )
    return blocks


@dataclass(frozen=True)
class Message:
    """What ``chat.postMessage`` / ``chat.update`` / ``chat.postEphemeral`` take: fallback text and blocks."""

    text: str
    blocks: list[Json]


def message(reply: Reply) -> Message:
    blocks = reply_blocks(reply)
    if len(blocks) > MESSAGE_BLOCKS:
        # keep the buttons (last) and as much text as fits
        actions = [b for b in blocks if b["type"] == "actions"]
        rest = [b for b in blocks if b["type"] != "actions"]
        blocks = rest[: MESSAGE_BLOCKS - len(actions)] + actions
    text = render_mentions(reply.text, reply.mentions, _slack_mention)
    return Message(text=_truncate(text, FALLBACK_LIMIT), blocks=blocks)


def home_view(replies: list[Reply], *, empty: str) -> Json:
    """The App Home tab: the replies one after another, separated by dividers."""
    blocks: list[Json] = []
    for n, reply in enumerate(replies):
        if blocks:
            blocks.append({"type": "divider"})
        blocks.extend(reply_blocks(reply, block_prefix=f"{n}."))
    if not blocks:
        blocks = text_sections(empty)
    return {"type": "home", "blocks": blocks[:HOME_BLOCKS]}
