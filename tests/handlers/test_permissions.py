"""The core's rules in one place: who may run a command and who sees its answer, declared on the command.

Every adapter goes through :meth:`handlers.app.Herald.handle`, so what is tested here with the in-process
chat holds for Slack, the shell and ``herald cron …`` alike.
"""

from __future__ import annotations

import pytest

from handlers.app import build_router
from handlers.context import Context
from handlers.messages import Reply, info
from handlers.router import Router
from models.audit import AuditEntry
from models.errors import InvalidInput, PermissionDenied
from tests.auxil.chat import Chat


async def team(chat: Chat) -> None:
    """alice (admin: the first to speak), bob (no role), carol (ops), one account."""
    await chat.say("/account add dryrun demo")
    await chat.say("/whoami", as_="bob")
    await chat.say("/role add carol ops")


async def test_cron_status_is_for_ops_in_every_adapter(chat: Chat) -> None:
    await team(chat)
    await chat.say("/cron status", as_="bob")
    assert chat.errors == ["Only members with the ops role or admins can run /cron status."]
    assert chat.last[0].ephemeral
    assert (await chat.say("/cron status", as_="carol")).startswith("Series: 0 active")
    assert chat.last[0].ephemeral
    assert (await chat.say("/cron list", as_="bob")).startswith("There are no recurring series yet")
    assert chat.last[0].ephemeral
    await chat.say("/cron restart", as_="bob")
    assert chat.errors == ["Only members with the ops role or admins can run /cron restart."]


async def test_every_declared_role_refuses_with_the_same_sentence(chat: Chat) -> None:
    await team(chat)
    declared = [cmd for cmd in build_router().every() if cmd.role]
    assert {c.name for c in declared} >= {
        "queue",
        "queue status",
        "queue metrics",
        "cron status",
        "cron restart",
        "account add",
        "account remove",
        "role add",
        "role remove",
        "policy set",
        "policy clear",
        "slots set",
        "slots clear",
    }
    before = await AuditEntry.all().count()
    for cmd in declared:
        await chat.say(f"/{cmd.name} demo x", as_="bob")
        assert chat.errors == [str(PermissionDenied.role_needed(f"/{cmd.name}", cmd.role))], cmd.name
        assert [r.ephemeral for r in chat.last] == [True]
    assert await AuditEntry.all().count() == before  # nothing happened


@pytest.mark.parametrize(
    ("command", "action"),
    [
        ("/account add dryrun news", "account.added"),
        ("/account remove demo", "account.removed"),
        ("/role add bob approver", "role.added"),
        ("/role remove carol ops", "role.removed"),
        ("/policy set demo level1=role:approver", "policy.set"),
        ("/policy clear demo", "policy.cleared"),
    ],
)
async def test_admin_answers_are_private_and_audited(chat: Chat, command: str, action: str) -> None:
    await team(chat)
    await chat.say(command)
    assert chat.errors == []
    assert chat.last and all(r.ephemeral for r in chat.last), [r.text for r in chat.last]
    entry = await AuditEntry.filter(action=action).order_by("-id").first().prefetch_related("actor")
    assert entry is not None and entry.actor is not None and entry.actor.name == "alice"


async def test_a_group_passes_its_rules_to_its_subcommands() -> None:
    router = Router()
    group = router.group("thing", "/thing a · /thing b", "things", role="ops", ephemeral=True, default="a")

    @group.command("a")
    async def a(ctx: Context, args: str) -> list[Reply]:
        return [info("a " + args)]

    @group.command("b", role="admin", ephemeral=False)
    async def b(ctx: Context, args: str) -> list[Reply]:
        return [info("b")]

    cmd, args = router.resolve("/thing A  x y")
    assert (cmd.name, cmd.role, cmd.ephemeral, cmd.handler, args) == ("thing a", "ops", True, a, "x y")
    cmd, args = router.resolve("/thing")
    assert (cmd.name, args) == ("thing a", "")
    cmd, _ = router.resolve("/thing b")
    assert (cmd.role, cmd.ephemeral) == ("admin", False)
    cmd, args = router.resolve("/thing c 3")  # unknown: the group itself, its role first, then the usage
    assert (cmd.name, cmd.role, args) == ("thing", "ops", "c 3")
    with pytest.raises(InvalidInput, match="Usage: /thing a · /thing b"):
        await cmd.handler(None, args)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="registered twice"):
        group.command("a")(a)
    assert [c.name for c in router.every()] == ["thing", "thing a", "thing b"]
