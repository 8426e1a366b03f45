"""Button callbacks as short ids of server-side state (:class:`~models.dialogs.CallbackToken`).

Telegram gives a button at most 64 bytes of ``callback_data``, and python-telegram-bot's arbitrary callback data
lives in one process's memory. A button here carries a token of 24 characters derived from what it stands for
(its typed twin, what to ask first, its label): rendering the same card again gives the same tokens, so a card
edited ten times adds no rows, and any process (after any restart) reads the command back from the table.
Tokens this process wrote or read are kept in memory too, so a burst of clicks on its own cards asks the
database nothing.

A ForceReply prompt ("reply with the reason") is remembered the same way, under ``ask:<chat>:<message>``.
"""

from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError

from handlers.messages import Button
from models.dialogs import CallbackToken

ADAPTER = "telegram"
TOKEN_LENGTH = 24
CACHED = 20_000


@dataclass(frozen=True)
class Stored:
    """What a button (or a prompt) stands for."""

    command: str
    ask: str | None = None
    label: str = ""
    payload: dict[str, Any] | None = None


def token_for(button: Button) -> str:
    digest = hashlib.sha256(f"{button.command}\0{button.ask or ''}\0{button.label}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:TOKEN_LENGTH]


def prompt_token(chat_id: int | str, message_id: int | str) -> str:
    return f"ask:{chat_id}:{message_id}"


class CallbackStore:
    def __init__(self, cached: int = CACHED) -> None:
        self._known: OrderedDict[str, Stored] = OrderedDict()
        self._limit = cached

    def _keep(self, token: str, stored: Stored) -> None:
        self._known[token] = stored
        self._known.move_to_end(token)
        while len(self._known) > self._limit:
            self._known.popitem(last=False)

    async def tokens(self, buttons: list[Button]) -> list[str]:
        """The callback data of each button, stored (once) where every process can read it back."""
        tokens = [token_for(b) for b in buttons]
        new: dict[str, Button] = {t: b for t, b in zip(tokens, buttons, strict=True) if t not in self._known}
        if new:
            rows = [
                CallbackToken(token=t, adapter=ADAPTER, command=b.command, payload={"ask": b.ask, "label": b.label})
                for t, b in new.items()
            ]
            await CallbackToken.bulk_create(rows, ignore_conflicts=True)
            for t, b in new.items():
                self._keep(t, Stored(b.command, b.ask, b.label))
        return tokens

    async def lookup(self, token: str) -> Stored | None:
        """What ``token`` stands for; None for data no button of Herald's carries (a foreign or very old button)."""
        if not token or len(token) > 32:
            return None
        known = self._known.get(token)
        if known is not None:
            return known
        row = await CallbackToken.get_or_none(token=token, adapter=ADAPTER)
        if row is None:
            return None
        payload = dict(row.payload or {})
        stored = Stored(row.command, payload.pop("ask", None), str(payload.pop("label", "")), payload or None)
        self._keep(token, stored)
        return stored

    async def remember_prompt(self, chat_id: int, message_id: int, command: str, **payload: Any) -> None:
        """A ForceReply prompt sent as ``message_id``: its answer completes ``command``."""
        token = prompt_token(chat_id, message_id)
        try:
            await CallbackToken.create(token=token, adapter=ADAPTER, command=command, payload=payload)
        except IntegrityError:  # the same message id twice can only be a replayed update: keep the first
            return
        self._keep(token, Stored(command, payload=payload))

    async def prompt(self, chat_id: int, message_id: int) -> Stored | None:
        return await self.lookup(prompt_token(chat_id, message_id))
