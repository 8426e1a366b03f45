"""Notifiers: how a report reaches a conversation, chosen by the conversation's adapter."""

from __future__ import annotations

from handlers.messages import Conversation, Reply
from handlers.ports import Notifier
from handlers.publishing.delivery import writes_to_database
from models.outbox import OutboxMessage


class OutboxNotifier:
    """Writes the message to the outbox table; the adapter's own process reads it back and shows it.

    Used for the local shell, which a worker in another process can't reach directly.
    """

    def writes_to_database(self, conversation: Conversation) -> bool:
        return True

    async def notify(self, conversation: Conversation, reply: Reply) -> None:
        await OutboxMessage.create(
            adapter=conversation.adapter,
            channel=conversation.channel,
            thread=conversation.thread,
            post_id=reply.post_id,
            payload=reply.to_json(),
        )


class RoutingNotifier:
    """Sends each message through the notifier registered for its conversation's adapter."""

    def __init__(self, routes: dict[str, Notifier], fallback: Notifier | None = None) -> None:
        self._routes = routes
        self._fallback = fallback or OutboxNotifier()

    def _route(self, conversation: Conversation) -> Notifier:
        return self._routes.get(conversation.adapter, self._fallback)

    def writes_to_database(self, conversation: Conversation) -> bool:
        return writes_to_database(self._route(conversation), conversation)

    async def notify(self, conversation: Conversation, reply: Reply) -> None:
        await self._route(conversation).notify(conversation, reply)
