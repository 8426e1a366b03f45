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
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError

from bot.slack import blocks, modals, wording
from bot.slack.files import FileStore
from bot.slack.identity import Identities
from bot.slack.notifier import ADAPTER, SlackNotifier, describe
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


def typed_command(command: str, text: str) -> str:
    """The text command a slash command stands for: ``/herald approve 12`` → ``/approve 12``."""
    text = blocks.unescape(text).strip()
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
        ephemeral: bool = False,
    ) -> list[Reply]:
        replies = await self.herald.handle(Incoming(sender, conversation, text))
        await self.show(
            sender, conversation, replies, response_url=response_url, thread_ts=thread_ts, ephemeral=ephemeral
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
        ephemeral: bool = False,
    ) -> None:
        await self.notifier.deliver_all(
            conversation,
            replies,
            user=sender.external_id,
            response_url=response_url,
            thread_ts=thread_ts,
            ephemeral=ephemeral,
        )

    # -- slash commands ---------------------------------------------------------------------------------

    @staticmethod
    def opens_modal(body: Json) -> bool:
        """Whether handling this request opens a modal (and so must beat its trigger's 3 s expiry)."""
        if "command" in body:
            return typed_command(str(body["command"]), str(body.get("text", ""))) == "/draft"
        actions = body.get("actions") or [{}]
        return blocks.read_click(actions[0]).ask is not None

    async def command(self, body: Json) -> None:
        user = str(body["user_id"])
        sender = await self.identities.sender(user, str(body.get("user_name") or ""))
        conversation = Conversation(ADAPTER, str(body["channel_id"]))
        response_url = body.get("response_url")
        text = typed_command(str(body.get("command", "")), str(body.get("text", "")))
        if text == "/draft":
            await self.open_draft(sender, conversation, str(body.get("trigger_id", "")), response_url)
            return
        await self.run(sender, conversation, text, response_url=response_url)

    # -- /draft's modal ---------------------------------------------------------------------------------

    async def open_draft(
        self, sender: Sender, conversation: Conversation, trigger_id: str, response_url: str | None
    ) -> None:
        accounts = await forms.draft_targets()
        if not accounts:
            await self.show(sender, conversation, [error(wording.NO_ACCOUNTS)], response_url=response_url)
            return
        metadata = {"channel": conversation.channel, "response_url": response_url}
        await self.notifier.web().views_open(
            trigger_id=trigger_id, view=modals.draft_modal(accounts, metadata=metadata)
        )

    async def submit_draft(self, ack: Ack, body: Json) -> None:
        """The draft modal's Submit: errors back on their blocks, or close and show the replies."""
        form = modals.read_draft(body["view"])
        user = body["user"]

        async def work() -> tuple[Sender, list[Reply]]:
            sender = await self.identities.sender(str(user["id"]), str(user.get("username") or ""))
            try:
                media = [str(f.path) for f in [await self._fetch(file) for file in form.files]]
            except UserError as exc:
                return sender, [error(str(exc), field="images")]
            command, local = modals.draft_command(form, media=media)
            if local:
                return sender, [error(text, field=block) for block, text in local.items()]
            return sender, await self.herald.handle(Incoming(sender, self._origin(form.metadata, user), command))

        def blocks_for(replies: list[Reply]) -> dict[str, str]:
            found: dict[str, str] = {}
            for reply in replies:
                if reply.kind == "error":
                    found.setdefault(modals.error_block(form, reply.extra.get("field"), reply.text), reply.text)
            return found

        await self._submit(ack, work(), blocks_for, form.metadata, user, fallback=modals.TEXT)

    async def _fetch(self, file: Json) -> Any:
        if self.files is None:
            raise UserError(wording.FILES_FAILED.format(name=file.get("name", "file")))
        return await self.files.fetch(file)

    def _origin(self, metadata: Json, user: Json) -> Conversation:
        channel = metadata.get("channel")
        return Conversation(ADAPTER, str(channel) if channel else f"dm:{user['id']}")

    # -- buttons ----------------------------------------------------------------------------------------

    async def click(self, body: Json) -> None:
        user = body["user"]
        sender = await self.identities.sender(str(user["id"]), str(user.get("username") or user.get("name") or ""))
        action = (body.get("actions") or [{}])[0]
        click = blocks.read_click(action)
        container = body.get("container") or {}
        from_home = container.get("type") == "view"
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        message = body.get("message") or {}
        thread = message.get("thread_ts") or message.get("ts") or container.get("message_ts")
        if from_home or not channel:
            conversation, thread = Conversation(ADAPTER, f"dm:{sender.external_id}"), None
        else:
            conversation = Conversation(ADAPTER, str(channel))
        if click.ask:
            metadata = {"channel": conversation.channel, "thread": thread, "home": from_home}
            label = str((action.get("text") or {}).get("text") or "")
            view = modals.ask_modal(click, label, metadata=metadata)
            await self.notifier.web().views_open(trigger_id=str(body.get("trigger_id", "")), view=view)
            return
        await self.run(sender, conversation, click.command, response_url=body.get("response_url"), thread_ts=thread)
        if from_home:
            await self.home(sender.external_id, sender)

    async def submit_answer(self, ack: Ack, body: Json) -> None:
        """The ask modal's Submit: the clicked command with the answer, errors back in the modal."""
        answer, local = modals.read_ask(body["view"])
        if answer is None:
            await ack(response_action="errors", errors=local)
            return
        user = body["user"]

        async def work() -> tuple[Sender, list[Reply]]:
            sender = await self.identities.sender(str(user["id"]), str(user.get("username") or ""))
            return sender, await self.herald.handle(
                Incoming(sender, self._origin(answer.metadata, user), answer.command)
            )

        def blocks_for(replies: list[Reply]) -> dict[str, str]:
            errors = [r.text for r in replies if r.kind == "error"]
            return {modals.ANSWER: errors[0]} if errors else {}

        await self._submit(ack, work(), blocks_for, answer.metadata, user, fallback=modals.ANSWER)

    async def _submit(
        self,
        ack: Ack,
        work: Coroutine[Any, Any, tuple[Sender, list[Reply]]],
        errors_of: Callable[[list[Reply]], dict[str, str]],
        metadata: Json,
        user: Json,
        *,
        fallback: str,
    ) -> None:
        """Answer a modal submit within the budget: with the errors (on ``fallback`` when the error is
        ours, not the core's), or by closing it."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=self.submit_timeout)
        if not done:
            await ack()
            self.spawn(self._finish_late(task, metadata, user), what="modal submit (late)")
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

    async def _finish_late(self, task: asyncio.Future[tuple[Sender, list[Reply]]], metadata: Json, user: Json) -> None:
        sender, replies = await task
        await self._after_submit(sender, replies, metadata)

    async def _after_submit(self, sender: Sender, replies: list[Reply], metadata: Json) -> None:
        conversation = self._origin(metadata, {"id": sender.external_id})
        await self.show(
            sender, conversation, replies, response_url=metadata.get("response_url"), thread_ts=metadata.get("thread")
        )
        if metadata.get("home"):
            await self.home(sender.external_id, sender)

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
