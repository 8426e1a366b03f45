"""/help: every command with its usage, built from the registry itself."""

from __future__ import annotations

from handlers.context import Context
from handlers.messages import Reply, info
from handlers.router import Router
from models.errors import InvalidInput


def build(registry: Router) -> Router:
    router = Router()

    @router.command("help", "/help [COMMAND]", "show what Herald can do")
    async def help_command(ctx: Context, args: str) -> list[Reply]:
        name = args.strip().lstrip("/")
        if name:
            cmd = registry.get(name)
            if cmd is None:
                raise InvalidInput(f"There is no command /{name}; /help lists them all.")
            return [info(f"/{cmd.name}: {cmd.summary}\nUsage: {cmd.usage}", ephemeral=True)]
        lines = [f"{cmd.usage} — {cmd.summary}" for cmd in registry.all()]
        return [info("Herald commands:\n" + "\n".join(lines), ephemeral=True)]

    return router
