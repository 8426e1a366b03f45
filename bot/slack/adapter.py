"""What Slack sends, as neutral commands for the core, and where the replies go.

The bolt listeners (``listeners.py``) ack first and hand the payload here; everything in this module
runs after the ack, except :meth:`SlackAdapter.submit_draft` and :meth:`SlackAdapter.submit_answer`,
which must answer a modal's submit with its errors (``response_action: errors``) and so run the core
within a time budget (``submit_timeout``, 2 s): if the core needs longer, the modal closes and the
outcome follows as a message.

* slash commands: ``/herald approve 12`` and ``/approve 12`` both become ``/approve 12``; a bare
  ``/draft`` opens the draft modal; who may run a command and whether it answers ephemerally is the
  core's to say (declared on the command), the same as in every other adapter;
* button clicks: the button's value is its text twin; a button that must ask something (a reason, a
  time) opens the small modal first and appends the answer;
* App Home: the core's ``/home`` replies, published as the member's Home tab.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError

from bot.slack import blocks, modals, wording
from bot.slack.files import FileStore
from bot.slack.identity import Identities
from bot.slack.notifier import ADAPTER, Booking, Clicked, SlackNotifier, describe
from bot.slack.payloads import Click, SlashCommand, ViewSubmission
from handlers.admin import members
from handlers.app import Herald
from handlers.drafting import forms
from handlers.messages import Conversation, Incoming, Reply, Sender, error
from models.errors import UserError

log = structlog.get_logger(__name__)
Json = dict[str, Any]
Ack = Callable[..., Awaitable[Any]]
SUBMIT_TIMEOUT = 2.0
CONCURRENCY = 8
QUIET = 0.01  # seconds without a new request that count as the end of a burst
MAX_DEFER = 0.5
DETACH_AFTER = 3.0  # seconds a runner waits for a command's replies to reach Slack before moving on
FORM_COMMANDS = ("/account connect",)  # commands that may answer with a form (a modal: the trigger expires in 3 s)


# what Slack sends for a mention or a link typed in a slash command's text (the manifest's ``should_escape: true``)
USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
LINK = re.compile(r"<(?:(https?://[^|>]+)|mailto:([^|>]+))(?:\|[^>]*)?>")


def typed_command(command: str, text: str) -> str:
    """The text command a slash command stands for: ``/herald approve 12`` → ``/approve 12``.

    Links Slack escaped (``<https://x.com|x.com>``) are the URL again, as typed.
    """
    text = blocks.unescape(LINK.sub(lambda m: m.group(1) or m.group(2), text)).strip()
    if command.lower() == "/herald":
        if not text:
            return "/help"
        return text if text.startswith("/") else "/" + text
    return f"{command} {text}".strip()


class SlackAdapter:
    def __init__(
        self,
        herald: Herald,
        notifier: SlackNotifier,
        identities: Identities,
        *,
        files: FileStore | None = None,
        submit_timeout: float = SUBMIT_TIMEOUT,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.herald = herald
        self.notifier = notifier
        self.identities = identities
        self.files = files
        self.submit_timeout = submit_timeout
        self._tasks: set[asyncio.Task[Any]] = set()
        self._queue: deque[tuple[Coroutine[Any, Any, Any], str]] = deque()
        self._concurrency = concurrency
        self._runners = 0
        self._last_request = 0.0

    # -- background work --------------------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, Any], *, what: str, urgent: bool = False) -> None:
        """Run ``work`` after the ack; failures are logged with a reference id.

        At most ``concurrency`` pieces of work run at once, the rest wait their turn in a queue: two
        hundred clicks at once then don't flood the event loop, the acks of the requests still arriving
        stay fast, and a click's ack pays for an append, not for a task of its own. ``urgent`` work
        (opening a modal: its trigger expires 3 s after the click) skips the queue.
        """
        if urgent:
            self._start(work, what)
            return
        self._queue.append((work, what))
        if self._runners < self._concurrency:
            self._runners += 1
            self._start(self._run_queue(), "queued work")

    def _start(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, what))

    async def _run_queue(self) -> None:
        """One of the (at most ``concurrency``) runners: queued work in order, each piece after a lull."""
        try:
            while self._queue:
                await self._lull()
                if not self._queue:  # another runner took the last piece meanwhile
                    break
                work, what = self._queue.popleft()
                try:
                    await work
                except Exception as exc:
                    self._failed(what, exc)
        finally:
            self._runners -= 1
            if not self._runners:  # the last runner was cancelled (shutdown): close what will never run
                while self._queue:
                    self._queue.popleft()[0].close()

    async def _lull(self) -> None:
        """Let a burst of requests be acked before starting more work (at most ``MAX_DEFER`` s)."""
        loop = asyncio.get_running_loop()
        for _ in range(round(MAX_DEFER / QUIET)):
            if loop.time() - self._last_request >= QUIET:
                return
            await asyncio.sleep(QUIET)

    def request_arrived(self) -> None:
        """Called (cheaply) by every listener while acking."""
        self._last_request = asyncio.get_running_loop().time()

    def _done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._failed(what, exc)

    @staticmethod
    def _failed(what: str, exc: BaseException) -> None:
        log.error("slack.work_failed", what=what, ref=secrets.token_hex(3), exc_info=exc, **describe(exc))

    async def drain(self, limit: float = 10.0) -> None:
        """Wait for work already started (on shutdown), at most ``limit`` seconds."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=limit)

    @property
    def busy(self) -> int:
        return len(self._tasks) + len(self._queue)

    # -- running a command and showing its replies -----------------------------------------------------

    async def run(
        self,
        sender: Sender,
        conversation: Conversation,
        text: str,
        *,
        response_url: str | None = None,
        thread_ts: str | None = None,
        clicked: Clicked | None = None,
        trigger_id: str | None = None,
    ) -> list[Reply]:
        """Run ``text`` and show its replies; a reply with a form opens it as a modal (``trigger_id``: the
        command's or the click's, valid for 3 s)."""
        # booked before the core commits the command's effects, so its messages come before anything those
        # effects cause (a worker's publish report in the same threads)
        booking = await self.notifier.book(conversation, thread_ts)
        try:
            with self.notifier.booked(booking):
                replies = await self.herald.handle(Incoming(sender, conversation, text))
        except BaseException:
            await self.notifier.release(booking)
            raise
        form = next((r.form for r in replies if r.form is not None), None)
        if form is not None and trigger_id:
            metadata = modals.Metadata(channel=conversation.channel, thread=thread_ts, response_url=response_url)
            await self.notifier.web().views_open(trigger_id=trigger_id, view=modals.form_modal(form, metadata=metadata))
            replies = [r for r in replies if r.form is None]
        await self.show(
            sender,
            conversation,
            replies,
            response_url=response_url,
            thread_ts=thread_ts,
            clicked=clicked,
            booking=booking,
        )
        return replies

    async def show(
        self,
        sender: Sender,
        conversation: Conversation,
        replies: list[Reply],
        *,
        response_url: str | None = None,
        thread_ts: str | None = None,
        clicked: Clicked | None = None,
        booking: Booking | None = None,
    ) -> None:
        """Show the core's replies; ``clicked``: they answer a click (what is for the clicker alone is shown
        where they clicked), ``thread_ts``: the thread the others go to. If that takes longer than
        ``DETACH_AFTER`` (Slack unreachable: the notifier waits and retries), it goes on in the background and
        this runner takes the next piece of work, whose core part (saving a draft) needs no Slack."""
        delivery = asyncio.ensure_future(
            self.notifier.deliver_all(
                conversation,
                replies,
                user=sender.external_id,
                response_url=response_url,
                thread_ts=thread_ts,
                clicked=clicked,
                booking=booking,
            )
        )
        try:
            done, _ = await asyncio.wait({delivery}, timeout=DETACH_AFTER)
        except asyncio.CancelledError:
            delivery.cancel()
            raise
        if done:
            delivery.result()
            return
        self._tasks.add(delivery)
        delivery.add_done_callback(lambda t: self._done(t, "replies"))

    # -- slash commands ---------------------------------------------------------------------------------

    @staticmethod
    def opens_modal(payload: SlashCommand | Click) -> bool:
        """Whether handling this request opens a modal (and so must beat its trigger's 3 s expiry)."""
        if isinstance(payload, SlashCommand):
            typed = typed_command(payload.command, payload.text)
            return typed == "/draft" or typed.startswith(FORM_COMMANDS)
        return _click_of(payload).ask is not None

    async def command(self, payload: SlashCommand) -> None:
        sender = await self.identities.sender(payload.user_id, payload.user_name)
        conversation = Conversation(ADAPTER, payload.channel_id)
        response_url = payload.response_url
        raw = payload.text
        if USER_MENTION.search(raw):
            raw = await self.named(sender, raw)
        text = typed_command(payload.command, raw)
        if text == "/draft":
            await self.open_draft(sender, conversation, payload.trigger_id, response_url)
            return
        await self.run(sender, conversation, text, response_url=response_url, trigger_id=payload.trigger_id)

    async def named(self, sender: Sender, text: str) -> str:
        """``<@U123|bob>`` → ``@bob``: each Slack user mentioned becomes a member (with that Slack identity)
        if Herald doesn't know them yet, so ``/herald role add @bob approver`` works before bob ever used Herald.
        """
        await members.resolve(sender)  # the one typing first: a mentioned newcomer is never the first admin
        found: dict[str, str] = {}
        for match in USER_MENTION.finditer(text):
            user, label = match.group(1), match.group(2) or ""
            if user not in found:
                member, _ = await members.resolve(await self.identities.sender(user, label))
                found[user] = member.name
        return USER_MENTION.sub(lambda m: "@" + found[m.group(1)], text)

    # -- /draft's modal ---------------------------------------------------------------------------------

    async def open_draft(
        self, sender: Sender, conversation: Conversation, trigger_id: str, response_url: str | None
    ) -> None:
        accounts = await forms.draft_targets()
        if not accounts:
            await self.show(sender, conversation, [error(wording.NO_ACCOUNTS)], response_url=response_url)
            return
        metadata = modals.Metadata(channel=conversation.channel, response_url=response_url)
        await self.notifier.web().views_open(
            trigger_id=trigger_id, view=modals.draft_modal(accounts, metadata=metadata)
        )

    async def submit_draft(self, ack: Ack, submission: ViewSubmission) -> None:
        """The draft modal's Submit: errors back on their blocks, or close and show the replies."""
        form = modals.read_draft(submission.view)
        user = submission.user

        async def work() -> tuple[Sender, list[Reply]]:
            sender = await self.identities.sender(user.id, user.handle)
            try:
                media = [f.ref for f in [await self._fetch(file) for file in form.files]]
            except UserError as exc:
                return sender, [error(str(exc), field="images")]
            command, local = modals.draft_command(form, media=media)
            if local:
                return sender, [error(text, field=block) for block, text in local.items()]
            return sender, await self.herald.handle(Incoming(sender, self._origin(form.metadata, user.id), command))

        def blocks_for(replies: list[Reply]) -> dict[str, str]:
            found: dict[str, str] = {}
            for reply in replies:
                if reply.kind == "error":
                    found.setdefault(modals.error_block(form, reply.extra.get("field"), reply.text), reply.text)
            return found

        await self._submit(ack, work(), blocks_for, form.metadata, fallback=modals.TEXT)

    async def _fetch(self, file: Json) -> Any:
        if self.files is None:
            raise UserError(wording.FILES_FAILED.format(name=file.get("name", "file")))
        return await self.files.fetch(file)

    @staticmethod
    def _origin(metadata: modals.Metadata, user_id: str) -> Conversation:
        return Conversation(ADAPTER, metadata.channel or f"dm:{user_id}")

    # -- buttons ----------------------------------------------------------------------------------------

    async def click(self, payload: Click) -> None:
        user = payload.user
        sender = await self.identities.sender(user.id, user.handle)
        click = _click_of(payload)
        if not click.command:  # a link button: the browser opened its URL, nothing to run
            return
        channel = payload.channel_id
        message = payload.message
        thread = (message.thread_ts if message is not None else None) or payload.message_ts  # the card's thread
        clicked = Clicked(payload.response_url, payload.in_thread)
        if payload.from_home or not channel:
            conversation, thread, clicked = Conversation(ADAPTER, f"dm:{sender.external_id}"), None, Clicked()
        else:
            conversation = Conversation(ADAPTER, channel)
        if click.ask:
            metadata = modals.Metadata(
                channel=conversation.channel,
                thread=thread,
                home=payload.from_home,
                response_url=clicked.response_url,
                clicked_in=clicked.thread_ts,
            )
            view = modals.ask_modal(click, payload.action.label, metadata=metadata)
            await self.notifier.web().views_open(trigger_id=payload.trigger_id, view=view)
            return
        await self.run(sender, conversation, click.command, thread_ts=thread, clicked=clicked)
        if payload.from_home:
            await self.home(sender.external_id, sender)

    async def submit_answer(self, ack: Ack, submission: ViewSubmission) -> None:
        """The ask modal's Submit: the clicked command with the answer, errors back in the modal."""
        answer, local = modals.read_ask(submission.view)
        if answer is None:
            await ack(response_action="errors", errors=local)
            return
        user = submission.user

        async def work() -> tuple[Sender, list[Reply]]:
            sender = await self.identities.sender(user.id, user.handle)
            return sender, await self.herald.handle(
                Incoming(sender, self._origin(answer.metadata, user.id), answer.command)
            )

        def blocks_for(replies: list[Reply]) -> dict[str, str]:
            errors = [r.text for r in replies if r.kind == "error"]
            return {modals.ANSWER: errors[0]} if errors else {}

        await self._submit(ack, work(), blocks_for, answer.metadata, fallback=modals.ANSWER)

    async def _submit(
        self,
        ack: Ack,
        work: Coroutine[Any, Any, tuple[Sender, list[Reply]]],
        errors_of: Callable[[list[Reply]], dict[str, str]],
        metadata: modals.Metadata,
        *,
        fallback: str,
    ) -> None:
        """Answer a modal submit within the budget: with the errors (on ``fallback`` when the error is
        ours, not the core's), or by closing it."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=self.submit_timeout)
        if not done:
            await ack()
            self.spawn(self._finish_late(task, metadata), what="modal submit (late)")
            return
        try:
            sender, replies = task.result()
        except Exception as exc:  # a Slack or database failure: say so in the form, log the details
            ref = secrets.token_hex(3)
            log.error("slack.submit_failed", ref=ref, exc_info=exc, **describe(exc))
            await ack(response_action="errors", errors={fallback: wording.something_went_wrong(ref)})
            return
        found = errors_of(replies)
        if found:
            await ack(response_action="errors", errors=found)
            return
        await ack()
        self.spawn(self._after_submit(sender, replies, metadata), what="modal submit")

    async def _finish_late(self, task: asyncio.Future[tuple[Sender, list[Reply]]], metadata: modals.Metadata) -> None:
        sender, replies = await task
        await self._after_submit(sender, replies, metadata)

    async def _after_submit(self, sender: Sender, replies: list[Reply], metadata: modals.Metadata) -> None:
        conversation = self._origin(metadata, sender.external_id)
        if metadata.ask is None:  # /draft's modal, opened by a command
            await self.show(sender, conversation, replies, response_url=metadata.response_url)
        else:  # a click's question: what is for the clicker alone goes where they clicked
            clicked = Clicked(metadata.response_url, metadata.clicked_in)
            await self.show(sender, conversation, replies, thread_ts=metadata.thread, clicked=clicked)
        if metadata.home:
            await self.home(sender.external_id, sender)

    async def submit_form(self, ack: Ack, submission: ViewSubmission) -> None:
        """A core form's Submit: its command with the values, the core's errors back on their fields."""
        answer, local = modals.read_form(submission.view)
        if answer is None:
            await ack(response_action="errors", errors=local)
            return
        user = submission.user
        names = list(submission.view.state.values)

        async def work() -> tuple[Sender, list[Reply]]:
            sender = await self.identities.sender(user.id, user.handle)
            return sender, await self.herald.handle(
                Incoming(sender, self._origin(answer.metadata, user.id), answer.command)
            )

        def blocks_for(replies: list[Reply]) -> dict[str, str]:
            found: dict[str, str] = {}
            for reply in replies:
                if reply.kind == "error":
                    field = reply.extra.get("field")
                    found.setdefault(field if field in names else names[0], reply.text)
            return found

        await self._submit(ack, work(), blocks_for, answer.metadata, fallback=names[0])

    # -- App Home ---------------------------------------------------------------------------------------

    async def home(self, user_id: str, sender: Sender | None = None) -> None:
        sender = sender or await self.identities.sender(user_id)
        replies = await self.herald.handle(Incoming(sender, Conversation(ADAPTER, f"dm:{user_id}"), "/home"))
        try:
            await self.notifier.web().views_publish(
                user_id=user_id, view=blocks.home_view(replies, empty=wording.HOME_EMPTY)
            )
        except SlackApiError as exc:
            log.warning("slack.home_failed", user=user_id, **describe(exc))


def _click_of(payload: Click) -> blocks.Click:
    return blocks.click_of(payload.action.action_id, payload.action.value or "")
