"""Talk to an in-process Herald one line at a time, as Errbot's testbot does.

``await chat.say("/approve 1", as_="bob")`` returns the replies' text; ``await chat.publish_due()``
runs the dispatcher and the dry-run worker once, synchronously, and returns the reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.notifiers import OutboxNotifier
from handlers.app import Herald
from handlers.context import Services
from handlers.messages import Conversation, Incoming, Reply, Sender
from handlers.ports import NullScheduler
from handlers.review import timers
from handlers.timing import recurring
from models.outbox import OutboxMessage
from models.timers import Timer
from tasks.dispatcher import Dispatcher
from tasks.platforms import dry_run
from tasks.publish import run_delivery
from tasks.runtime import Runtime

CONVERSATION = Conversation("shell", "test")


@dataclass
class FrozenClock:
    current: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class Chat:
    herald: Herald
    runtime: Runtime
    clock: FrozenClock
    default_user: str = "alice"
    last: list[Reply] = field(default_factory=list)

    @classmethod
    def build(cls) -> Chat:
        recurring.install()  # as bot/wiring.py does for every process
        clock = FrozenClock()
        notifier = OutboxNotifier()
        services = Services(notifier=notifier, scheduler=NullScheduler(), clock=clock)
        runtime = Runtime(publishers=dry_run(), notifier=notifier, clock=clock)
        return cls(Herald(services), runtime, clock)

    async def say(self, text: str, *, as_: str | None = None) -> str:
        """Send ``text`` as ``as_`` (default alice, the first member and so an admin); return the replies."""
        name = as_ or self.default_user
        sender = Sender(adapter="shell", external_id=name, name=name, display_name=name)
        self.last = await self.herald.handle(Incoming(sender, CONVERSATION, text))
        return "\n".join(r.text for r in self.last)

    async def publish_due(self) -> str:
        """Enqueue what is due and publish it right here; return the reports posted to the chat."""
        queued: list[int] = []

        async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
            queued.extend(delivery_id for delivery_id, _ in chunk)

        async def on_timer(timer: Timer) -> None:
            await timers.fire(timer, self.herald.services)

        # lead=0: with a frozen clock nothing should be handed out before its time
        await Dispatcher(enqueue, clock=self.clock, on_timer=on_timer, lead=0, notifier=self.runtime.notifier).tick()
        for delivery_id in queued:
            await run_delivery(self.runtime, delivery_id)
        return await self.reports()

    async def reports(self) -> str:
        """Messages posted to this conversation by workers and timers since the last look."""
        rows = await OutboxMessage.filter(delivered_at__isnull=True, channel=CONVERSATION.channel).order_by("id")
        await OutboxMessage.filter(id__in=[r.id for r in rows]).update(delivered_at=self.clock.now())
        return "\n".join(Reply.from_json(r.payload).text for r in rows)

    async def dms(self, name: str) -> list[Reply]:
        """Direct messages Herald sent to member ``name`` since the last look."""
        rows = await OutboxMessage.filter(delivered_at__isnull=True, channel=f"dm:{name}").order_by("id")
        await OutboxMessage.filter(id__in=[r.id for r in rows]).update(delivered_at=self.clock.now())
        return [Reply.from_json(r.payload) for r in rows]

    @property
    def errors(self) -> list[str]:
        return [r.text for r in self.last if r.kind == "error"]
