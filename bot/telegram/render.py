"""Neutral replies as Telegram messages: HTML text and an inline keyboard.

A :class:`~handlers.messages.Reply` becomes one message in HTML parse mode (everything escaped): its text, its
fields as ``<b>Label:</b> value`` lines, each platform preview (target, count, the text in italics, warnings),
each target's outcome with an icon; its buttons, and each target's own, become inline keyboard rows. A member
the reply names (``@bob``) becomes a link to their Telegram account (``tg://user?id=…``) when Telegram knows
them. A message is at most 4,096 characters (counted in UTF-16, as Telegram counts): previews are shortened
first, then the text.

Callback data is not decided here: :func:`keyboard` takes the tokens (``callbacks``) for the buttons it lays out.
"""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.messages import Button, Mention, Preview, Reply, TargetStatus, render_mentions

ADAPTER = "telegram"
MESSAGE_LIMIT = 4096
ANSWER_LIMIT = 200  # answerCallbackQuery's text
BUTTON_TEXT_LIMIT = 64
BUTTONS_PER_ROW = 3
PREVIEW_TEXT = 600  # a preview's text on the card; the full text is the post's
KIND_PREFIX = {"error": "⚠️ ", "success": "✅ "}
STATUS_ICON = {"published": "✅", "failed": "❌", "unknown": "❔", "missed": "⚠️"}


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _link(mention: Mention) -> str | None:
    user = mention.on(ADAPTER)
    return f'<a href="tg://user?id={escape(user)}">@{escape(mention.name)}</a>' if user else None


def mentioned(text: str, mentions: tuple[Mention, ...]) -> str:
    """Escaped ``text`` with the members it names as links to their Telegram accounts (where Telegram knows them)."""
    return render_mentions(escape(text), mentions, _link)


def plain(reply: Reply) -> str:
    """The reply as one plain sentence (a callback answer: no markup there), mentions as ``@name``."""
    return KIND_PREFIX.get(reply.kind, "") + reply.text


def _preview(preview: Preview, *, short: bool) -> str:
    mark = "⚠️ " if preview.warnings else ""
    head = f"{mark}<b>{escape(preview.target)}</b> · {escape(preview.count)}"
    lines = [head] if short else [head, f"<i>{escape(_truncate(preview.text, PREVIEW_TEXT))}</i>"]
    lines += [f"⚠️ {escape(w)}" for w in preview.warnings]
    return "\n".join(lines)


def _status(status: TargetStatus) -> str:
    icon = STATUS_ICON.get(status.state, "⏳")
    return f"{icon} <b>{escape(status.target)}</b> — {escape(status.text)}"


def _compose(reply: Reply, text: str, *, short_previews: bool) -> str:
    parts = [KIND_PREFIX.get(reply.kind, "") + mentioned(text, reply.mentions)]
    if reply.fields:
        parts.append(
            "\n".join(f"<b>{escape(f.label)}:</b> {mentioned(f.value, reply.mentions) or '–'}" for f in reply.fields)
        )
    parts += [_preview(p, short=short_previews) for p in reply.previews]
    if reply.statuses:
        parts.append("\n".join(_status(s) for s in reply.statuses))
    return "\n\n".join(p for p in parts if p)


def text(reply: Reply) -> str:
    """The message's HTML, within Telegram's 4,096 characters."""
    composed = _compose(reply, reply.text, short_previews=False)
    if utf16_length(composed) <= MESSAGE_LIMIT:
        return composed
    composed = _compose(reply, reply.text, short_previews=True)
    over = utf16_length(composed) - MESSAGE_LIMIT
    if over <= 0:
        return composed
    keep = max(0, len(reply.text) - over - 32)  # escaping may lengthen what is kept; leave room
    while True:
        composed = _compose(reply, _truncate(reply.text, keep), short_previews=True)
        if utf16_length(composed) <= MESSAGE_LIMIT or keep == 0:
            return composed if utf16_length(composed) <= MESSAGE_LIMIT else composed[: MESSAGE_LIMIT // 2]
        keep = max(0, keep - 200)


def rows(reply: Reply) -> list[list[Button]]:
    """The keyboard's layout: each target's buttons on a row of their own, then the reply's, a few per row."""
    laid: list[list[Button]] = [list(s.buttons) for s in reply.statuses if s.buttons]
    buttons = list(reply.buttons)
    laid += [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    return laid


def callback_buttons(layout: list[list[Button]]) -> list[Button]:
    """The buttons that need callback data (not the links), in layout order."""
    return [b for row in layout for b in row if not b.url]


def keyboard(layout: list[list[Button]], tokens: list[str]) -> InlineKeyboardMarkup | None:
    """The inline keyboard for ``layout``, with ``tokens`` (one per button of :func:`callback_buttons`)."""
    if not layout:
        return None
    given = iter(tokens)
    markup: list[list[InlineKeyboardButton]] = []
    for row in layout:
        line = []
        for button in row:
            label = _truncate(button.label, BUTTON_TEXT_LIMIT)
            if button.url:
                line.append(InlineKeyboardButton(label, url=button.url))
            else:
                line.append(InlineKeyboardButton(label, callback_data=next(given)))
        markup.append(line)
    return InlineKeyboardMarkup(markup)
