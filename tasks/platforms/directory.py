"""The platforms' clients as ``/account`` and the login pages need them (:class:`handlers.ports.Platforms`).

The handlers see neutral types only: a platform's :class:`~tasks.platforms.base.AccountChoice` becomes a
:class:`~handlers.ports.ConnectedAccount`, its errors become one sentence for the admin (a
:class:`~models.errors.UserError`), a :class:`~tasks.platforms.base.SecretField` a form's field. The login pages
(``bot/oauth.py``) also get the platform's :class:`~tasks.platforms.base.OAuthSpec` and the accounts a login gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.messages import FormField
from handlers.ports import CheckResult, ConnectedAccount
from models.errors import ConfigError, InvalidInput, UserError
from tasks.platforms import Publishers
from tasks.platforms.base import AccountChoice, Client, Credentials, OAuthSpec
from tasks.platforms.errors import AuthExpired, PlatformError

#: Where a platform's credentials say which account they are for (the first one present is the account's id).
REMOTE_ID_KEYS = ("remote_id", "ig_user_id", "author_urn", "did", "chat_id", "page_id", "user_id", "account_id")


def connected(choice: AccountChoice, client: Client) -> ConnectedAccount:
    """A platform's account, as the handlers save it."""
    credentials = choice.credentials
    remote_id = next((credentials.get(key) for key in REMOTE_ID_KEYS if credentials.get(key)), None)
    return ConnectedAccount(
        handle=choice.handle,
        label=choice.label,
        url=choice.url,
        remote_id=remote_id,
        credentials_json=credentials.to_json(),
        expires_at=credentials.expires_at,
        refreshable=client.renewable(credentials),
    )


class Directory:
    """:class:`handlers.ports.Platforms` over the clients the worker publishes with."""

    def __init__(self, publishers: Publishers) -> None:
        self.publishers = publishers

    def client(self, platform: str) -> Client:
        client = self.publishers.for_platform(platform)
        if client is None:
            raise InvalidInput(f"Herald has no client for {platform}.")
        return client

    # -- handlers.ports.Platforms

    def secret_fields(self, platform: str) -> tuple[FormField, ...]:
        client = self.publishers.for_platform(platform)
        fields = client.secret_fields if client is not None else ()
        return tuple(FormField(f.name, f.label, secret=f.secret, hint=f.hint) for f in fields)

    def renewable(self, platform: str, credentials_json: str | None) -> bool:
        client = self.publishers.for_platform(platform)
        return client is not None and client.renewable(Credentials.from_json(credentials_json))

    async def prepare_login(self, platform: str, instance: str | None) -> None:
        await self.oauth(platform, instance)

    async def connect_secret(self, platform: str, values: dict[str, str]) -> list[ConnectedAccount]:
        client = self.client(platform)
        try:
            choices = await client.connect_secret(values)
        except PlatformError as exc:
            raise InvalidInput(str(exc)) from None  # no chained traceback: it may quote the values
        return [connected(c, client) for c in choices]

    async def check(self, platform: str, credentials_json: str | None) -> CheckResult:
        client = self.publishers.for_platform(platform)
        if client is None:
            return CheckResult(problem=f"Herald has no client for {platform} to check it with.")
        try:
            choice = await client.check(Credentials.from_json(credentials_json))
        except AuthExpired as exc:
            return CheckResult(problem=str(exc), expired=True)
        except PlatformError as exc:
            return CheckResult(problem=str(exc))
        return CheckResult(account=connected(choice, client))

    async def revoke(self, platform: str, credentials_json: str | None) -> bool:
        client = self.publishers.for_platform(platform)
        if client is None:
            return False
        try:
            return await client.revoke(Credentials.from_json(credentials_json))
        except PlatformError:
            return False

    # -- the login pages (bot/oauth.py)

    async def oauth(self, platform: str, instance: str | None) -> OAuthSpec:
        """The platform's OAuth settings; a UserError naming what is missing when it isn't configured."""
        try:
            return await self.client(platform).oauth(instance)
        except ConfigError as exc:
            raise InvalidInput(str(exc)) from None  # names the variables to set
        except PlatformError as exc:
            raise InvalidInput(str(exc)) from None

    async def accounts(self, platform: str, token: Mapping[str, Any], instance: str | None) -> list[ConnectedAccount]:
        """The accounts a login's token gives access to; UserError with the platform's reason."""
        client = self.client(platform)
        try:
            choices = await client.accounts(token, instance)
        except (PlatformError, UserError) as exc:
            raise InvalidInput(str(exc)) from None
        return [connected(c, client) for c in choices]
