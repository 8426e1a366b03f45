"""Guided conversations: a member answering one step at a time, in one chat, kept in the database.

A guided command (``/draft`` with nothing after it) opens a :class:`~models.dialogs.Dialog` for the member in
that conversation (adapter and channel): its kind, its current step and the answers so far. While it is open,
the member's next plain message there (one that isn't a command) answers the current step, and ``/cancel``
alone leaves it: :meth:`handlers.app.Herald.handle` asks :func:`route` before it looks for a command. The state
is a row, not a process's memory, so a restart or another replica goes on where the member was; each member has
their own, so two people drafting in the same chat don't mix.

A kind of dialog registers what answers its steps with :func:`register`; its own commands (the typed twins of
its buttons) read and change the row with :func:`current` and :func:`change`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers.context import Context
from handlers.messages import Reply, info
from models.dialogs import Dialog

log = structlog.get_logger(__name__)

Answer = Callable[[Context, Dialog, str], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Kind:
    """What a kind of dialog does with a plain message (``answer``) and what it says when it is left."""

    answer: Answer
    left: str  # "Left the draft; nothing was sent."


_kinds: dict[str, Kind] = {}
_CANCEL = re.compile(r"/cancel(?:@\S+)?", re.IGNORECASE)  # Telegram appends @botname in groups


def register(kind: str, answer: Answer, *, left: str) -> None:
    _kinds[kind] = Kind(answer, left)


def _where(ctx: Context) -> dict[str, Any]:
    return {"adapter": ctx.conversation.adapter, "channel": ctx.conversation.channel, "member_id": ctx.member.id}


async def current(ctx: Context, kind: str | None = None) -> Dialog | None:
    """The member's open dialog in this conversation (of ``kind``, when given)."""
    query = Dialog.filter(**_where(ctx))
    if kind is not None:
        query = query.filter(kind=kind)
    return await query.first()


async def open_dialog(ctx: Context, kind: str, step: str, data: dict[str, Any]) -> Dialog:
    """Start a dialog for the member here, in place of any they had open in this conversation."""
    values: dict[str, Any] = {"kind": kind, "step": step, "data": data, "updated_at": datetime.now(UTC)}
    if not await Dialog.filter(**_where(ctx)).update(**values):
        try:
            await Dialog.create(**_where(ctx), **values)
        except IntegrityError:  # another process opened one a moment ago: this one replaces it
            await Dialog.filter(**_where(ctx)).update(**values)
    log.info("dialog.opened", kind=kind, adapter=ctx.conversation.adapter, member=ctx.member.name)
    return await Dialog.get(**_where(ctx))


async def change(dialog_id: int, apply: Callable[[Dialog], None]) -> Dialog | None:
    """Apply ``apply`` to the dialog's row under a lock and save it (None: it was closed meanwhile), so two
    clicks at once, in two processes, both count."""
    async with in_transaction():
        row = await Dialog.select_for_update().filter(id=dialog_id).first()
        if row is None:
            return None
        apply(row)
        row.data = dict(row.data)  # a fresh object, so the JSON field is written
        await row.save()
        return row


async def claim(dialog: Dialog, step: str, to: str) -> bool:
    """Move the dialog from ``step`` to ``to`` if it is still there: only one of two simultaneous clicks wins."""
    return bool(await Dialog.filter(id=dialog.id, step=step).update(step=to, updated_at=datetime.now(UTC)))


async def close(dialog: Dialog) -> None:
    await Dialog.filter(id=dialog.id).delete()


async def route(ctx: Context, text: str) -> list[Reply] | None:
    """The answer when ``text`` is for the member's open dialog here: a plain message answers its current step,
    ``/cancel`` alone leaves it. None: it isn't (no dialog open, or a command), so the router answers as usual."""
    stripped = text.strip()
    if stripped.startswith("/"):
        if not _CANCEL.fullmatch(stripped):
            return None
        dialog = await current(ctx)
        if dialog is None:
            return None  # /cancel alone without a dialog: /cancel ID's usage answers
        await close(dialog)
        kind = _kinds.get(dialog.kind)
        return [info(kind.left if kind else "Left it; nothing was saved.")]
    dialog = await current(ctx)
    if dialog is None:
        return None
    kind = _kinds.get(dialog.kind)
    if kind is None:  # a kind this version doesn't know (an older or newer replica's): drop it
        log.warning("dialog.unknown_kind", kind=dialog.kind, dialog=dialog.id)
        await close(dialog)
        return None
    return await kind.answer(ctx, dialog, stripped)
