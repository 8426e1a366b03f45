"""What Telegram sends, as neutral commands for the core, and where the replies go.

* messages: a command (``/approve 12``, ``/draft@HeraldBot text --to x`` in a group; a command for another bot
  is left alone) runs as typed; a photo, video or album with a ``/draft`` caption is fetched into the media store
  first and drafted with ``--media``; bare ``/start`` is ``/help``. The answer to a command is sent to its chat;
  what is for the sender alone is a reply to their message (in a private chat that is theirs anyway);
* button clicks: the callback data is a token (``callbacks``) for the button's typed twin. Every click is
  answered (``answerCallbackQuery``): with the core's sentence when it comes within ``answer_budget`` (a refusal as
  an alert only the clicker sees), else at once with "On it…", the core's answer following as a message;
* a button that must ask something (a reason) sends a ForceReply prompt; the clicker's reply to it runs the
  button's command with the answer appended;
* edited messages, stickers, other bots' commands: a log line (and in a private chat, a sentence).
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

import structlog
from telegram import ForceReply, Message, MessageEntity, Update, User
from telegram.ext import ContextTypes

from bot.telegram import render, wording
from bot.telegram.callbacks import CallbackStore, Stored
from bot.telegram.files import FileFetcher, attachments
from bot.telegram.notifier import ADAPTER, TelegramNotifier, describe
from handlers.admin.members import member_name
from handlers.app import Herald
from handlers.messages import Conversation, Incoming, Mention, Reply, Sender, error
from models.errors import UserError

log = structlog.get_logger(__name__)
ANSWER_BUDGET = 0.06  # seconds a click's answer waits for the core's sentence before saying "On it…"
CONCURRENCY = 8  # commands the core runs at a time in this process (a burst of clicks waits its turn)
ALBUM_WAIT = 1.0  # seconds to collect the photos of one album (Telegram sends one message per photo)
DRAFT = "/draft"


def sender_of(user: User) -> Sender:
    name = member_name(user.username or user.first_name or "", str(user.id))
    return Sender(adapter=ADAPTER, external_id=str(user.id), name=name, display_name=user.full_name)


def command_of(message: Message, bot_username: str | None) -> str | None:
    """The typed command a message carries (text or caption starting with a bot command), ``@HeraldBot`` removed;
    None for plain text and for a command addressed to another bot."""
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities
    first = entities[0] if entities else None
    if first is None or first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None
    word = text[: first.length]  # a command is ASCII: UTF-16 offsets are character offsets here
    name, _, addressed = word.partition("@")
    if addressed and (bot_username is None or addressed.lower() != bot_username.lower()):
        return None
    command = (name + text[first.length :]).strip()
    return "/help" if command == "/start" else command


def _mention(sender: Sender) -> Mention:
    return Mention(sender.name, ((ADAPTER, sender.external_id),))


class TelegramAdapter:
    def __init__(
        self,
        herald: Herald,
        notifier: TelegramNotifier,
        *,
        files: FileFetcher | None = None,
        bot_username: Callable[[], str | None] = lambda: None,
        answer_budget: float = ANSWER_BUDGET,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.herald = herald
        self.notifier = notifier
        self.callbacks: CallbackStore = notifier.callbacks
        self.files = files
        self.bot_username = bot_username
        self.answer_budget = answer_budget
        self._turns = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._albums: dict[str, list[Message]] = {}
        self._chats: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._handling = 0

    # -- the one handler python-telegram-bot calls ----------------------------------------------------------

    async def on_update(self, update: Update, _: ContextTypes.DEFAULT_TYPE | None = None) -> None:
        """Every update Herald asked Telegram for; nothing raises out of here (it is logged with a reference).

        Updates are processed concurrently, but one chat's messages in the order they came (a command's
        answer before the next one's); clicks don't wait for the chat's turn."""
        self._handling += 1
        try:
            if update.callback_query is not None:
                await self.click(update)
            elif update.message is not None:
                async with self._turn_of(update.message.chat_id):
                    await self.message(update.message)
            elif update.edited_message is not None:
                log.info("telegram.edit_ignored", chat=update.edited_message.chat_id, update_id=update.update_id)
            else:
                log.info("telegram.update_ignored", update_id=update.update_id)
        except Exception as exc:
            log.error("telegram.update_failed", update_id=update.update_id, ref=secrets.token_hex(3), exc_info=exc)
        finally:
            self._handling -= 1

    def _turn_of(self, chat_id: int) -> asyncio.Lock:
        lock = self._chats.get(chat_id)
        if lock is None:
            lock = self._chats[chat_id] = asyncio.Lock()
        return lock

    def spawn(self, work: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, what))
        return task

    def _done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            log.error("telegram.work_failed", what=what, ref=secrets.token_hex(3), exc_info=exc, **describe(exc))

    @property
    def busy(self) -> int:
        """Updates being handled and work they started."""
        return len(self._tasks) + self._handling

    async def drain(self, limit: float = 10.0) -> None:
        """Wait for work already started (on shutdown), at most ``limit`` seconds."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=limit)

    # -- running a command ------------------------------------------------------------------------------------

    async def handle(self, sender: Sender, conversation: Conversation, text: str) -> list[Reply]:
        async with self._turns:
            return await self.herald.handle(Incoming(sender, conversation, text))

    async def show(
        self,
        sender: Sender,
        conversation: Conversation,
        replies: list[Reply],
        *,
        reply_to: int | None,
        private: bool,
        clicked: bool = False,
    ) -> None:
        """Show a command's replies: cards first, then the rest; what is for the sender alone as a reply to
        ``reply_to`` (their message, or the card they ``clicked``: then naming them, in a group)."""
        hint = next((r.post_id for r in replies if r.post_id is not None), None)
        for reply in sorted(replies, key=lambda r: r.ref is None):
            if reply.ephemeral:
                if clicked and not private:
                    named = (*reply.mentions, _mention(sender))
                    reply = replace(reply, text=f"@{sender.name}: {reply.text}", mentions=named)
                await self.notifier.deliver(conversation, reply, reply_to=reply_to, post_hint=hint)
            else:
                await self.notifier.deliver(conversation, reply, post_hint=hint)

    # -- messages ---------------------------------------------------------------------------------------------

    async def message(self, message: Message) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        if message.media_group_id is not None:
            self._album(message)
            return
        command = command_of(message, self.bot_username())
        private = message.chat.type == "private"
        sender = sender_of(user)
        conversation = Conversation(ADAPTER, str(message.chat_id))
        if command is None:
            await self._not_a_command(message, sender, conversation, private)
            return
        if command.split(maxsplit=1)[0] == DRAFT and attachments(message):
            try:
                command = await self._with_media(command, [message])
            except UserError as exc:
                await self.show(sender, conversation, [error(str(exc))], reply_to=message.message_id, private=private)
                return
        replies = await self.handle(sender, conversation, command)
        await self.show(sender, conversation, replies, reply_to=message.message_id, private=private)

    async def _not_a_command(self, message: Message, sender: Sender, conversation: Conversation, private: bool) -> None:
        answered = message.reply_to_message
        if answered is not None and answered.from_user is not None and answered.from_user.is_bot:
            prompt = await self.callbacks.prompt(message.chat_id, answered.message_id)
            if prompt is not None:
                await self._answered_prompt(message, prompt, sender, conversation, private)
                return
        if private and message.text:  # the core decides: the answer to a guided /draft's step, or a hint
            replies = await self.handle(sender, conversation, message.text)
            await self.show(sender, conversation, replies, reply_to=message.message_id, private=private)
        elif private:
            await self.notifier.deliver(conversation, Reply(text=wording.NOT_READ), reply_to=message.message_id)
        else:
            log.debug("telegram.chatter_ignored", chat=message.chat_id)

    async def _answered_prompt(
        self, message: Message, prompt: Stored, sender: Sender, conversation: Conversation, private: bool
    ) -> None:
        payload = prompt.payload or {}
        if str(payload.get("user")) != sender.external_id:
            await self.show(
                sender, conversation, [error(wording.NOT_YOUR_PROMPT)], reply_to=message.message_id, private=private
            )
            return
        answer = (message.text or message.caption or "").strip()
        card = payload.get("card")
        replies = await self.handle(sender, conversation, f"{prompt.command} {answer}".strip())
        await self.show(
            sender, conversation, replies, reply_to=int(card) if card else message.message_id, private=private
        )

    # -- albums and files ------------------------------------------------------------------------------------

    def _album(self, message: Message) -> None:
        """Collect an album's messages (one per photo) for ``ALBUM_WAIT``, then handle them as one."""
        group = str(message.media_group_id)
        if group in self._albums:
            self._albums[group].append(message)
            return
        self._albums[group] = [message]
        self.spawn(self._album_done(group), "album")

    async def _album_done(self, group: str) -> None:
        await asyncio.sleep(ALBUM_WAIT)
        messages = sorted(self._albums.pop(group, []), key=lambda m: m.message_id)
        captioned = next((m for m in messages if m.caption), None)
        first = messages[0]
        user = first.from_user
        if user is None:
            return
        sender, private = sender_of(user), first.chat.type == "private"
        conversation = Conversation(ADAPTER, str(first.chat_id))
        command = command_of(captioned, self.bot_username()) if captioned is not None else None
        if command is None or command.split(maxsplit=1)[0] != DRAFT:
            if private:
                reply = Reply(text=wording.NOT_READ)
                await self.notifier.deliver(conversation, reply, reply_to=first.message_id)
            return
        try:
            command = await self._with_media(command, messages)
        except UserError as exc:
            await self.show(sender, conversation, [error(str(exc))], reply_to=first.message_id, private=private)
            return
        replies = await self.handle(sender, conversation, command)
        await self.show(sender, conversation, replies, reply_to=first.message_id, private=private)

    async def _with_media(self, command: str, messages: list[Message]) -> str:
        if self.files is None:
            raise UserError(wording.FILES_FAILED.format(name="the file"))
        refs = [await self.files.fetch(a) for m in messages for a in attachments(m)]
        return f"{command} --media {','.join(refs)}" if refs else command

    # -- buttons ---------------------------------------------------------------------------------------------

    async def click(self, update: Update) -> None:
        query = update.callback_query
        assert query is not None
        stored = await self.callbacks.lookup(query.data or "")
        if stored is None or not stored.command:
            log.info("telegram.unknown_callback", data=(query.data or "")[:64], user=query.from_user.id)
            await self.notifier.answer(query.id, wording.UNKNOWN_BUTTON, alert=True)
            return
        sender = sender_of(query.from_user)
        card = query.message
        if card is None or card.chat is None:  # no message to place the answer by: the clicker's private chat
            conversation, card_id, private = Conversation(ADAPTER, sender.external_id), None, True
        else:
            conversation = Conversation(ADAPTER, str(card.chat.id))
            card_id, private = card.message_id, card.chat.type == "private"
        if stored.ask:
            await self._ask(query.id, stored, sender, conversation, card_id)
            return
        if self._turns.locked():  # a burst: the core can't start on this now; answer first, then queue for it
            await self.notifier.answer(query.id, wording.WORKING)
            with self.notifier.holding() as elsewhere:
                queued = await self.handle(sender, conversation, stored.command)
            await self._clicked(sender, conversation, queued, elsewhere, card_id, private)
            return
        with self.notifier.holding() as elsewhere:  # the task started here holds what it tells other chats
            work = self.spawn(self.handle(sender, conversation, stored.command), "click")
        done, _ = await asyncio.wait({work}, timeout=self.answer_budget)
        if not done:
            await self.notifier.answer(query.id, wording.WORKING)
            replies: list[Reply] = await work
        else:
            replies = work.result()
            said = next((r for r in replies if r.ephemeral), None)
            if said is not None:
                fits = render.utf16_length(render.plain(said)) <= render.ANSWER_LIMIT
                await self.notifier.answer(query.id, render.plain(said), alert=said.kind == "error" or not fits)
                if fits:
                    replies = [r for r in replies if r is not said]
            else:
                line = next((r for r in replies if r.ref is None), None)
                await self.notifier.answer(query.id, render.plain(line) if line is not None else wording.DONE)
        await self._clicked(sender, conversation, replies, elsewhere, card_id, private)

    async def _clicked(
        self,
        sender: Sender,
        conversation: Conversation,
        replies: list[Reply],
        elsewhere: list[tuple[Conversation, Reply]],
        card_id: int | None,
        private: bool,
    ) -> None:
        """A click's replies where it was clicked, then what the core told other chats meanwhile."""
        await self.show(sender, conversation, replies, reply_to=card_id, private=private, clicked=True)
        for where, reply in elsewhere:
            await self.notifier.deliver(where, reply)

    async def _ask(
        self, query_id: str, stored: Stored, sender: Sender, conversation: Conversation, card: int | None
    ) -> None:
        """A ForceReply prompt, as a reply to the card, naming the clicker (``selective``: only they get the
        reply field); their reply runs the command with the answer."""
        ask = stored.ask or ""
        prompt = Reply(text=wording.ask_prompt(ask, stored.label, "@" + sender.name), mentions=(_mention(sender),))
        markup = ForceReply(selective=True, input_field_placeholder=wording.ASK_PLACEHOLDERS.get(ask))
        sent = await self.notifier.send(conversation.channel, prompt, reply_to=card, markup=markup)
        if sent is not None:
            await self.callbacks.remember_prompt(
                sent.chat_id, sent.message_id, stored.command, user=sender.external_id, card=card, ask=ask
            )
        await self.notifier.answer(query_id, wording.ASKED)
