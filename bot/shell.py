"""The local shell adapter: chat with Herald in a terminal, or feed it a script on stdin.

In the spirit of Hubot's shell adapter and Errbot's text backend. Buttons are shown as the text
commands that do the same thing. ``/as NAME`` switches who you are. Reports from workers (which may
run in other processes) arrive through the outbox table and are printed as they come. ``/draft --media
PATH,…`` of local files stores them in the media store and drafts with their refs. A reply with a form
(``/account connect bluesky``) is asked field by field: at a terminal a secret field is read without echo
(getpass); from a script, each field is the next line. The values are never printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import re
import shlex
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from handlers.admin.members import normalize_name
from handlers.app import Herald
from handlers.messages import Button, Conversation, Form, FormField, Incoming, Reply, Sender, form_command
from handlers.ports import MediaStore
from handlers.publishing.delivery import REPORTED_STATES
from models.chatrefs import ChatMessageRef
from models.errors import InvalidInput
from models.lifecycle import DeliveryState
from models.media import content_type_of
from models.outbox import OutboxMessage
from models.posts import Delivery

ADAPTER = "shell"
CONVERSATION = Conversation(adapter=ADAPTER, channel="local")
TELLING = timedelta(seconds=30)
IN_FLIGHT = [DeliveryState.SCHEDULED.value, DeliveryState.QUEUED.value, DeliveryState.PUBLISHING.value]
MEDIA_OPTION = re.compile(r"(?<=\s)--media\s+(\"[^\"]*\"|'[^']*'|\S+)")
MAX_FILE_BYTES = 512_000_000
#: Reads one field of a form from whoever sits at the shell ("" when there is nothing more to read).
Asker = Callable[[FormField], Awaitable[str]]


def render(reply: Reply, *, updated: bool = False) -> str:
    """A reply as terminal text: one line per platform preview (and its warnings), one per target's outcome (and
    its buttons), buttons as their text twins."""
    prefix = "! " if reply.kind == "error" else ""
    lines = [prefix + reply.text]
    if updated:
        lines[0] = "(updated) " + lines[0]
    if reply.fields:
        lines.append("  " + " · ".join(f"{f.label}: {f.value}" for f in reply.fields))
    for preview in reply.previews:
        lines.append(f"  {preview.target} ({preview.count}): {preview.text}")
        lines.extend(f"    ! {warning}" for warning in preview.warnings)
    for status in reply.statuses:
        lines.append(f"  {status.target} — {status.text}")
        if status.buttons:
            lines.append("    " + _twins(status.buttons))
    if reply.buttons:
        lines.append("  " + _twins(reply.buttons))
    if reply.form is not None:
        lines.append("  " + reply.form.command + " " + " ".join(f"{f.name}=…" for f in reply.form.fields))
    if reply.ephemeral and reply.kind != "error":
        lines[0] = "(only you) " + lines[0]
    return "\n".join(lines)


def _twins(buttons: tuple[Button, ...]) -> str:
    return " ".join(f"[{b.label}: {b.url or b.command}{' ' + b.ask.upper() if b.ask else ''}]" for b in buttons)


def prompt_for(field: FormField) -> str:
    return f"{field.label}{f' ({field.hint})' if field.hint else ''}: "


def terminal_asker() -> Asker:
    """Ask at the terminal; secret fields without echo."""

    async def ask(field: FormField) -> str:
        read = getpass.getpass if field.secret else input
        try:
            return await asyncio.to_thread(read, prompt_for(field))
        except EOFError:
            return ""

    return ask


def lines_asker(lines: AsyncIterator[str], out: TextIO) -> Asker:
    """Ask from a script: each field is the next line (the prompt is printed, the answer isn't)."""

    async def ask(field: FormField) -> str:
        out.write(prompt_for(field) + "\n")
        out.flush()
        return (await anext(lines, "")).rstrip("\r\n")

    return ask


class ShellAdapter:
    def __init__(
        self,
        herald: Herald,
        *,
        user: str,
        out: TextIO | None = None,
        conversation: Conversation = CONVERSATION,
        ask: Asker | None = None,
        media: MediaStore | None = None,
    ) -> None:
        self.herald = herald
        self.ask = ask  # how a form's fields are asked (None: the form's command is shown, to type)
        self.media = media
        self.user = normalize_name(user)
        self.out = out or sys.stdout
        self.conversation = conversation
        self._seen_refs: set[str] = set()
        self._remembered: set[tuple[str, str]] = set()
        # One at a time: a command with its replies, or a look at the outbox. A report that an in-process worker
        # writes while a command is being handled (`/approve` of a post due now) then shows after that
        # command's replies, never before them, and no report is printed twice.
        self._turn = asyncio.Lock()

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def show(self, reply: Reply, *, to: str | None = None) -> None:
        updated = reply.ref is not None and reply.ref in self._seen_refs
        if reply.ref:
            self._seen_refs.add(reply.ref)
        prefix = f"herald (to {to})> " if to else "herald> "
        self._print(prefix + render(reply, updated=updated).replace("\n", "\n" + " " * len(prefix)))

    async def say(self, line: str) -> list[Reply]:
        """Handle one typed line and print the replies."""
        text = line.strip()
        if not text or text.startswith("#"):
            return []
        if text.split()[0] == "/as":
            replies = self._switch(text)
            await self.herald.introduce(self._sender())
            return replies
        async with self._turn:
            try:
                text = await self._store_files(text)
            except InvalidInput as exc:
                reply = Reply(text=str(exc), kind="error", ephemeral=True, extra={"field": "media"})
                self.show(reply)
                return [reply]
            incoming = Incoming(sender=self._sender(), conversation=self.conversation, text=text)
            replies = await self.herald.handle(incoming)
            for reply in replies:
                self.show(reply)
                await self._remember(self.conversation.channel, reply)
            await self._drain()  # what the command caused elsewhere (direct messages) shows right after it
        form = next((r.form for r in replies if r.form is not None), None)
        if form is not None and self.ask is not None:
            return await self.fill(form)
        return replies

    async def fill(self, form: Form) -> list[Reply]:
        """Ask for the form's fields and run its command with them (the command, values and all, isn't shown)."""
        values: dict[str, str] = {}
        for field in form.fields:
            values[field.name] = (await self.ask(field)).strip() if self.ask else ""
            if not values[field.name]:
                reply = Reply(text=f"{field.label} is empty: nothing was sent.", kind="error", ephemeral=True)
                self.show(reply)
                return [reply]
        return await self.say(form_command(form, values))

    async def _store_files(self, text: str) -> str:
        """``/draft --media PATH,…``: each local file put in the media store and replaced by its ref."""
        found = MEDIA_OPTION.search(text) if self.media is not None and text.startswith("/draft") else None
        if found is None or self.media is None:
            return text
        try:
            value = shlex.split(found.group(1))[0]
        except (ValueError, IndexError):
            value = found.group(1)
        refs = []
        for item in (i.strip() for i in value.split(",") if i.strip()):
            local = await asyncio.to_thread(_read_local, item)
            refs.append(item if local is None else await self.media.put(local, content_type_of(item), Path(item).name))
        return text[: found.start(1)] + shlex.quote(",".join(refs)) + text[found.end(1) :]

    def _sender(self) -> Sender:
        return Sender(adapter=ADAPTER, external_id=self.user, name=self.user, display_name=self.user)

    def _switch(self, text: str) -> list[Reply]:
        parts = text.split()
        try:
            if len(parts) != 2:
                raise InvalidInput("Usage: /as NAME")
            self.user = normalize_name(parts[1])
        except InvalidInput as exc:
            reply = Reply(text=str(exc), kind="error", ephemeral=True)
        else:
            reply = Reply(text=f"You are now {self.user}.", ephemeral=True)
        self.show(reply)
        return [reply]

    async def _remember(self, channel: str, reply: Reply) -> None:
        """Note that this terminal shows the card ``reply`` is, as Slack's notifier notes where it posted one:
        a worker (in any process) that has the post's outcome then shows the card again here."""
        if reply.ref is None or (channel, reply.ref) in self._remembered:
            return
        self._remembered.add((channel, reply.ref))
        await ChatMessageRef.get_or_create(
            adapter=ADAPTER, channel=channel, ref=reply.ref, defaults={"message_id": reply.ref}
        )

    async def drain_outbox(self) -> int:
        """Print reports that workers left for this conversation; returns how many."""
        async with self._turn:
            return await self._drain()

    async def _drain(self) -> int:
        rows = await OutboxMessage.filter(adapter=self.conversation.adapter, delivered_at__isnull=True).order_by("id")
        rows = [r for r in rows if r.channel == self.conversation.channel or r.channel.startswith("dm:")]
        for row in rows:
            # one terminal plays every member: direct messages are shown with their addressee
            to = row.channel.removeprefix("dm:") if row.channel.startswith("dm:") else None
            reply = Reply.from_json(row.payload)
            self.show(reply, to=to)
            await self._remember(row.channel, reply)
        if rows:
            await OutboxMessage.filter(id__in=[r.id for r in rows]).update(delivered_at=datetime.now(UTC))
        return len(rows)

    async def follow_outbox(self, stop: asyncio.Event, interval: float = 0.1) -> None:
        while not stop.is_set():
            await self.drain_outbox()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def wait_until_due_done(self, limit: float) -> bool:
        """Wait until nothing already due is still in flight, every outcome was told and every report (and the
        card edited after it) was printed."""
        deadline = asyncio.get_running_loop().time() + limit
        while True:
            now = datetime.now(UTC)
            busy = await Delivery.filter(state__in=IN_FLIGHT, due_at__lte=now).exists()
            # an outcome a live worker is still telling (its relay keeps touching it; a dead one's isn't waited for)
            untold = await Delivery.filter(
                state__in=REPORTED_STATES, reported_at__isnull=True, updated_at__gte=now - TELLING
            ).exists()
            if not busy and not untold:
                await asyncio.sleep(0.05)  # let a report written just now land in the outbox
                await self.drain_outbox()
                return True
            await self.drain_outbox()
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.05)

    async def run(self, lines: AsyncIterator[str], *, interactive: bool, wait: float) -> int:
        if self.ask is None:
            self.ask = terminal_asker() if interactive and sys.stdin.isatty() else lines_asker(lines, self.out)
        stop = asyncio.Event()
        follower = asyncio.create_task(self.follow_outbox(stop))
        try:
            if interactive:
                self._print("Herald shell. /help lists commands, /as NAME switches user, Ctrl-D quits.")
            async for line in lines:
                if line.strip() in {"/quit", "/exit"}:
                    break
                await self.say(line)
            done = await self.wait_until_due_done(wait)
            if not done:
                self._print(
                    f"herald> Some due posts were still being published after {wait:.0f}s; "
                    "their reports will show next time."
                )
                return 1
            return 0
        finally:
            stop.set()
            await follower


def _read_local(item: str) -> bytes | None:
    """The bytes of the local file ``item`` names; None when it names none (it's a ref already stored, or one
    the draft checks refuse)."""
    path = Path(item).expanduser()
    if not path.is_file():
        return None
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidInput(f"{item} is {size // 1_000_000} MB; Herald takes files up to 512 MB.")
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Herald can't read {item}: {exc.strerror or exc}.") from None


async def stdin_lines(prompt: str | None) -> AsyncIterator[str]:
    """Lines from stdin without blocking the event loop."""
    while True:
        if prompt:
            sys.stdout.write(prompt)
            sys.stdout.flush()
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return
        yield line
