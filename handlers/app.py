"""The chat-neutral core: one entry point for every typed command or clicked button."""

from __future__ import annotations

import secrets
from dataclasses import replace

import structlog

from handlers import dialogs, help
from handlers.admin import accounts, linking, members
from handlers.context import Context, Services
from handlers.drafting import drafts, guided, home, posts
from handlers.messages import Incoming, Reply, Sender, error
from handlers.ops import cron_commands, queue_status
from handlers.publishing import recovery
from handlers.review import approvals, policy_commands
from handlers.router import Router
from handlers.timing import slots
from models.errors import PermissionDenied, UserError

log = structlog.get_logger(__name__)
dialogs.register(guided.KIND, guided.answer, left=guided.LEFT)  # what a plain message answers while it is open


def build_router() -> Router:
    router = Router()
    modules = (
        accounts,
        approvals,
        cron_commands,
        drafts,
        home,
        linking,
        members,
        policy_commands,
        posts,
        queue_status,
        recovery,
        slots,
    )
    for module in modules:
        router.include(module.router)
    router.include(help.build(router))
    return router


class Herald:
    """Adapters hold one of these and call :meth:`handle`; they never subclass it."""

    def __init__(self, services: Services, router: Router | None = None) -> None:
        self.services = services
        self.router = router or build_router()

    async def introduce(self, sender: Sender) -> None:
        """Make sure Herald knows ``sender`` (adapters call this when someone joins or is switched to)."""
        await members.resolve(sender)

    async def handle(self, incoming: Incoming) -> list[Reply]:
        """Run one command and return the replies; never raises for the user's mistakes.

        The rules a command declares on the router are applied here, the same for every adapter: its
        role (a member without it gets :class:`PermissionDenied`) and whether its answers are ephemeral.
        """
        try:
            member, roles = await members.resolve(incoming.sender)
            ctx = Context(member=member, roles=roles, conversation=incoming.conversation, services=self.services)
            answered = await dialogs.route(ctx, incoming.text)  # a plain message answering a guided /draft's step
            if answered is not None:
                return answered
            command, args = self.router.resolve(incoming.text)
            if command.role and not ctx.has_role(command.role):
                raise PermissionDenied.role_needed(f"/{command.name}", command.role)
            replies = await command.handler(ctx, args)
            if command.ephemeral:
                replies = [reply if reply.ephemeral else replace(reply, ephemeral=True) for reply in replies]
            return replies
        except UserError as exc:
            return [error(str(exc), field=exc.field)]
        except Exception:
            ref = secrets.token_hex(3)
            log.exception(
                "command.failed", ref=ref, command=incoming.text.split(" ", 1)[0], adapter=incoming.sender.adapter
            )
            return [error(f"Something went wrong (ref {ref}). It was logged; please tell whoever runs Herald.")]
