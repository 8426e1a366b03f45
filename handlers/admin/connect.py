"""Connecting social accounts from chat: ``/account connect PLATFORM [INSTANCE]`` and ``/account pick STATE N``.

OAuth platforms: the admin gets a private link to Herald's own ``/oauth/{platform}/start`` (``bot/oauth.py``),
bound to them and to the conversation by a :class:`~models.connections.Connection` whose ``state`` is used once and
expires after :data:`LINK_TTL`; the login comes back to ``/oauth/{platform}/callback``, which calls :func:`save`
(one account) or :func:`offer` (several: the admin picks with buttons). Platforms connected with secrets (Bluesky's
app password, a Telegram channel) answer with a :class:`~handlers.messages.Form`; its values come back as
``/account connect PLATFORM name=value …``, are checked by the platform and stored encrypted, and never appear in
a reply, the audit log or a log line.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from tortoise.expressions import F

from handlers import audit
from handlers.context import Context, Services
from handlers.messages import Button, Conversation, Form, Reply
from handlers.ports import ConnectedAccount, Platforms
from handlers.publishing import holds
from handlers.text.platforms import PlatformInfo, platform
from models.accounts import AccountStatus, SocialAccount
from models.connections import Connection
from models.errors import InvalidInput, about
from models.members import Member

LINK_TTL = timedelta(minutes=15)
CONNECT_USAGE = "/account connect PLATFORM [SERVER] · /account connect PLATFORM name=value …"
_HANDLE_CHARS = re.compile(r"[^A-Za-z0-9._@:-]+")


def platforms_of(ctx: Context) -> Platforms:
    if ctx.services.platforms is None:
        raise InvalidInput("This Herald runs without platform clients; accounts can only be added with /account add.")
    return ctx.services.platforms


async def connect_command(ctx: Context, args: str) -> list[Reply]:
    try:
        words = shlex.split(args)
    except ValueError:
        raise InvalidInput(f"Usage: {CONNECT_USAGE} (a quote isn't closed)") from None
    if not words:
        raise InvalidInput(f"Usage: {CONNECT_USAGE}")
    info = platform(words[0])
    if info.connect == "none":
        raise InvalidInput(f"{info.label} accounts are added with /account add {info.name} HANDLE.")
    ports = platforms_of(ctx)
    fields = ports.secret_fields(info.name)
    if fields or info.connect == "secret":
        return await _connect_secret(ctx, info, words[1:])
    instance = None
    if info.connect == "instance":
        known = [] if len(words) > 1 else await servers_of(info.name)
        if len(words) < 2 and len(known) != 1:
            example = info.account_hint or "your server, e.g. mastodon.social"
            raise InvalidInput(f"Which {info.label} server? /account connect {info.name} SERVER ({example}).")
        instance = server_url(words[1]) if len(words) > 1 else known[0]
    if not ctx.services.public_url:
        raise InvalidInput(
            f"Herald has no public address for the {info.label} login to come back to: set HERALD_PUBLIC_URL "
            f"(e.g. https://herald.example.com, reachable from browsers) and register "
            f"HERALD_PUBLIC_URL/oauth/{info.name}/callback as the app's redirect URL."
        )
    await ports.prepare_login(info.name, instance)
    state = secrets.token_urlsafe(32)
    await Connection.create(
        state=state,
        platform=info.name,
        member=ctx.member,
        conversation=ctx.conversation.to_json(),
        instance=instance,
        expires_at=ctx.now + LINK_TTL,
    )
    url = f"{ctx.services.public_url}/oauth/{info.name}/start?{urlencode({'state': state})}"
    minutes = int(LINK_TTL.total_seconds() // 60)
    text = (
        f"Log in to {info.label} to connect an account. The link is yours alone and works once, "
        f"for {minutes} minutes; I'll say here when the account is connected."
    )
    return [Reply(text=text, buttons=(Button(f"Log in to {info.label}", "", "primary", url=url),), ephemeral=True)]


async def servers_of(platform_name: str) -> list[str]:
    """The servers Herald's accounts on a federated platform are on (a Reconnect button names no server: with
    one server, that's the one)."""
    found: set[str] = set()
    for account in await SocialAccount.filter(platform=platform_name).only("id", "credentials"):
        try:
            document = json.loads(account.credentials or "{}")
        except ValueError:
            continue
        extra = document.get("extra") if isinstance(document, dict) else None
        if isinstance(extra, dict) and isinstance(extra.get("instance"), str):
            found.add(extra["instance"])
    return sorted(found)


def server_url(text: str) -> str:
    """``mastodon.social`` or ``https://mastodon.social/`` → ``https://mastodon.social``."""
    raw = text.strip().rstrip("/")
    parts = urlsplit(raw if "://" in raw else "https://" + raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or "." not in parts.hostname.strip("."):
        raise InvalidInput(f"{text!r} is not a server address such as mastodon.social.")
    return f"{parts.scheme}://{parts.netloc}"


async def _connect_secret(ctx: Context, info: PlatformInfo, pairs: list[str]) -> list[Reply]:
    fields = platforms_of(ctx).secret_fields(info.name)
    if not pairs:
        names = ", ".join(f.label for f in fields)
        return [
            Reply(
                text=f"To connect a {info.label} account I need: {names}.",
                form=Form(f"Connect {info.label}", f"/account connect {info.name}", fields, submit="Connect"),
                ephemeral=True,
            )
        ]
    known = {f.name for f in fields}
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in known:  # never quote the word: it may be a secret typed without its name
            wanted = " ".join(f"{f.name}=…" for f in fields)
            raise InvalidInput(f"{info.label} takes {wanted}; type /account connect {info.name} for the form.")
        values[key] = value.strip()
    for field in fields:
        if not values.get(field.name):
            with about(field.name):
                raise InvalidInput(f"{field.label} is missing.")
    accounts = await platforms_of(ctx).connect_secret(info.name, values)
    if not accounts:
        raise InvalidInput(f"{info.label} accepted these but gave no account Herald can publish to.")
    if len(accounts) == 1:
        await save(
            accounts[0],
            platform_name=info.name,
            member=ctx.member,
            conversation=ctx.conversation,
            services=ctx.services,
        )
        return []
    connection = await Connection.create(
        state=secrets.token_urlsafe(32),
        platform=info.name,
        member=ctx.member,
        conversation=ctx.conversation.to_json(),
        expires_at=ctx.now + LINK_TTL,
        used_at=ctx.now,
    )
    return [await offer(connection, accounts, ctx.services, notify=False)]


async def offer(
    connection: Connection, accounts: list[ConnectedAccount], services: Services, *, notify: bool = True
) -> Reply:
    """Several accounts came with one login: keep them (encrypted) on the connection and ask its admin to pick
    one with buttons (``/account pick STATE N``); ``notify``: say it in the connection's conversation."""
    connection.choices = json.dumps([a.to_json() for a in accounts])  # type: ignore[assignment]
    connection.expires_at = services.clock.now() + LINK_TTL
    await connection.save(update_fields=["choices", "expires_at"])
    info = platform(connection.platform)
    buttons = tuple(
        Button(account.label, f"/account pick {connection.state} {n}") for n, account in enumerate(accounts, 1)
    )
    reply = Reply(
        text=f"This {info.label} login gives access to several accounts: which one should I connect?",
        buttons=buttons,
        ephemeral=not notify,
    )
    if notify:
        await services.notifier.notify(Conversation.from_json(connection.conversation), reply)
    return reply


async def pick_command(ctx: Context, args: str) -> list[Reply]:
    words = args.split()
    if len(words) != 2 or not words[1].isdigit():
        raise InvalidInput("Usage: /account pick STATE N (the buttons of a login that gave several accounts).")
    connection = await Connection.filter(state=words[0]).first()
    gone = InvalidInput("That choice is no longer open; connect again with /account connect PLATFORM.")
    if connection is None or connection.member_id != ctx.member.id or not connection.choices:  # type: ignore[attr-defined]
        raise gone
    if connection.expires_at <= ctx.now:
        raise gone
    accounts = [ConnectedAccount.from_json(item) for item in json.loads(connection.choices)]
    n = int(words[1])
    if not 1 <= n <= len(accounts):
        raise InvalidInput(f"Pick a number from 1 to {len(accounts)}.")
    # one pick per login: whoever clears the choices first connects
    if not await Connection.filter(id=connection.id, choices__isnull=False).update(choices=None):
        raise gone
    await save(
        accounts[n - 1],
        platform_name=connection.platform,
        member=ctx.member,
        conversation=Conversation.from_json(connection.conversation),
        services=ctx.services,
    )
    return []


async def save(
    account: ConnectedAccount, *, platform_name: str, member: Member, conversation: Conversation, services: Services
) -> SocialAccount:
    """Save a connected account (encrypted credentials), or update the one it already is: the same account on the
    platform (``remote_id``) or the same handle. A reconnect bumps ``credentials_rev`` (a refresh under way then
    can't write back over it) and keeps a stored refresh token the new credentials lack. Says so in
    ``conversation``; an account that needed reconnecting gets its held posts going again."""
    info = platform(platform_name)
    now = services.clock.now()
    existing = None
    if account.remote_id:
        existing = await SocialAccount.filter(platform=info.name, remote_id=account.remote_id).order_by("id").first()
    if existing is None:
        existing = await SocialAccount.filter(platform=info.name, handle=_handle(account.handle, info)).first()
        if (
            existing is not None
            and existing.remote_id
            and account.remote_id
            and existing.remote_id != account.remote_id
        ):
            existing = None  # another account that had this name (a renamed page): this one gets a name of its own
    values: dict[str, Any] = {
        "label": account.label[:255],
        "url": account.url,
        "remote_id": account.remote_id,
        "token_expires_at": account.expires_at,
        "status": AccountStatus.OK.value,
        "status_reason": None,
        "enabled": True,
        "connected_by": member,
        "checked_at": now,
    }
    if existing is not None:
        held = existing.status == AccountStatus.RECONNECT.value
        credentials = merged(existing.credentials, account.credentials_json)
        await SocialAccount.filter(id=existing.id).update(
            credentials=credentials, credentials_rev=F("credentials_rev") + 1, **values
        )
        saved = await SocialAccount.get(id=existing.id)
    else:
        held = False
        saved = await SocialAccount.create(
            platform=info.name,
            handle=await _free_handle(_handle(account.handle, info), info),
            credentials=account.credentials_json,
            **values,
        )
    # never the credentials: the audit log and the logs say who connected what
    await audit.record(
        "account.connected", actor=member, handle=saved.handle, platform=info.name, reconnected=existing is not None
    )
    text = f"Connected {account.label} as {saved.handle}. Draft to it with /draft --to {saved.handle} …"
    await services.notifier.notify(conversation, Reply(text=text, kind="success"))
    if held:
        await release_held(saved.id, services)
    return saved


async def release_held(account_id: int, services: Services) -> None:
    """The posts held while the account needed reconnecting go out now (late within the grace window, else
    reported missed)."""
    await holds.release(account_id, services)


def merged(stored: str | None, fresh: str) -> str:
    """``fresh`` credentials, keeping the stored refresh token (and its expiry) when ``fresh`` has none: a
    platform that doesn't send a new refresh token on every login must not cost the account its renewals."""
    try:
        old = json.loads(stored) if stored else {}
        new = json.loads(fresh)
    except ValueError:
        return fresh
    if not isinstance(old, dict) or not isinstance(new, dict):
        return fresh
    if not new.get("refresh_token") and old.get("refresh_token"):
        new["refresh_token"] = old["refresh_token"]
        if old.get("refresh_expires_at") and not new.get("refresh_expires_at"):
            new["refresh_expires_at"] = old["refresh_expires_at"]
    return json.dumps(new)


def _handle(handle: str, info: PlatformInfo) -> str:
    cleaned = _HANDLE_CHARS.sub("-", handle.strip().lstrip("@")).strip("-._:@")[:100]
    return cleaned or info.name


async def _free_handle(handle: str, info: PlatformInfo) -> str:
    """``handle``, or ``handle.platform`` (then numbered) when another account has it already."""
    for candidate in [handle, f"{handle}.{info.name}", *(f"{handle}.{info.name}{n}" for n in range(2, 100))]:
        if not await SocialAccount.filter(handle=candidate).exists():
            return candidate
    return f"{handle}.{secrets.token_hex(3)}"
