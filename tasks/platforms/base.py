"""The contract every platform implements: what a publish gets, what it returns, and how an account is connected.

One package per platform under ``tasks/platforms/`` (``x``, ``facebook``, ``instagram`` …) holds the platform's
rules (a :class:`~handlers.text.platforms.PlatformInfo`: limits, counting, media) and its :class:`Client`, and
exposes them as one :class:`Platform`; ``tasks/platforms/__init__.py`` lists the platforms (the registry).

A client raises :mod:`tasks.platforms.errors` only and never logs a token. It calls the platform through
:class:`~tasks.platforms.http.PlatformHTTP`, which maps transport failures and HTTP answers to those errors; a
platform's own error codes (Facebook's ``code`` 190, LinkedIn's ``DUPLICATE_POST`` …) go in its ``classify`` hook.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings

from handlers.text.platforms import PlatformInfo
from tasks.platforms.errors import AuthExpired


class Credentials(BaseModel):
    """One account's secrets, stored as encrypted JSON on :class:`models.accounts.SocialAccount`.

    ``extra`` holds what the platform needs besides tokens, as strings: ``page_id``, ``ig_user_id``,
    ``author_urn``, ``instance`` (a Mastodon server's URL), ``did``/``pds`` (Bluesky), ``chat_id`` (Telegram),
    ``token_secret`` (OAuth 1.0a), ``base_url`` (the test platforms).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: datetime | None = None  # when access_token stops working (None: doesn't expire)
    refresh_expires_at: datetime | None = None  # when refresh_token does (LinkedIn, Bluesky's refreshJwt)
    scope: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | None) -> Credentials:
        """Stored credentials; a flat document of an older Herald (``{"token": …, "base_url": …}``) too. Read once
        per distinct document (every post to an account carries the same one; the result is immutable)."""
        return _parsed_credentials(text) if cls is Credentials else cls._parse(text)

    @classmethod
    def _parse(cls, text: str | None) -> Credentials:
        if not text:
            return cls()
        document = json.loads(text)
        if not isinstance(document, dict):
            return cls()
        if document.keys() <= cls.model_fields.keys():
            return cls.model_validate(document)
        token = document.pop("token", None) or document.pop("access_token", None)
        return cls(access_token=token, extra={str(k): str(v) for k, v in document.items() if v is not None})

    def to_json(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    def expires_within(self, window: timedelta, now: datetime | None = None) -> bool:
        if self.expires_at is None:
            return False
        return self.expires_at - window <= (now or datetime.now(UTC))

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.extra.get(key, default)


@functools.lru_cache(maxsize=1024)
def _parsed_credentials(text: str | None) -> Credentials:
    return Credentials._parse(text)


@dataclass(frozen=True)
class MediaFile:
    """One image or video of a post, as stored (bytes, MIME type). ``ref`` is the media store's key."""

    ref: str
    data: bytes
    content_type: str
    filename: str = "media"

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")


class MediaSource(Protocol):
    """Where a client gets a post's media (the media store, read by every worker)."""

    async def read(self, ref: str) -> MediaFile:
        """The stored file; raises :class:`~tasks.platforms.errors.Rejected` when it is gone."""

    def public_url(self, ref: str, ttl: timedelta = timedelta(hours=24)) -> str:
        """A signed, expiring URL Herald's HTTP side serves the file at (for platforms that fetch media by URL);
        raises :class:`~tasks.platforms.errors.Rejected` when Herald has no public URL (``HERALD_PUBLIC_URL``)."""


class Progress(Protocol):
    """Steps a multi-step publish already took for this delivery, kept in the database, so a retry or a worker
    restart resumes (``container`` → poll → publish) instead of uploading or publishing again.

    Keys are the client's own (``media:0``, ``container``, ``sent``); values short strings (ids). A client
    records a step right after the platform confirmed it, and ``sent`` right before the final, non-idempotent
    publish call: on the next attempt its presence means "verify before publishing again".
    """

    async def get(self, step: str) -> str | None: ...

    async def put(self, step: str, value: str) -> None: ...


@dataclass(frozen=True)
class Publication:
    """What to publish, where, and the key that makes a retry safe where the platform honours one."""

    post_id: int
    delivery_id: int
    handle: str
    text: str
    media: tuple[str, ...]  # media store refs, in order
    credentials: Credentials
    idempotency_key: str
    progress: Progress = field(default_factory=lambda: MemoryProgress())
    media_source: MediaSource | None = None
    account_id: int | None = None

    async def media_files(self) -> list[MediaFile]:
        return [await self.read_media(ref) for ref in self.media]

    async def read_media(self, ref: str) -> MediaFile:
        """One of the post's files, prepared for the platform."""
        return await self._media().read(ref)

    def public_url(self, ref: str) -> str:
        """The signed link a platform that fetches media by URL gets for one of the post's files."""
        return self._media().public_url(ref)

    def _media(self) -> MediaSource:
        if self.media_source is None:
            from tasks.platforms.errors import Rejected

            raise Rejected("This post has media but Herald has no media store configured to read it from.")
        return self.media_source


@dataclass(frozen=True)
class Published:
    external_id: str
    url: str


#: What :meth:`Client.verify` found: the post (it did go out), ABSENT (the platform shows it didn't), or None
#: (the platform can't tell us: a human decides with /verify or /republish).
ABSENT: Final = "absent"
Verdict = Published | Literal["absent"] | None


@dataclass(frozen=True)
class AccountChoice:
    """An account a login or a secret gives access to: the handle it gets in Herald, and its credentials."""

    handle: str  # e.g. "acme" (X), "Acme Coffee" page → "acme-coffee"; letters, digits and . _ @ : - only
    label: str  # what the chat shows: "@acme on X", "Acme Coffee (Facebook Page)"
    credentials: Credentials
    url: str | None = None  # the account's profile page


@dataclass(frozen=True)
class OAuthSpec:
    """How to send an admin through a platform's OAuth 2 authorization (Authlib's httpx client does the rest)."""

    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...]
    pkce: bool = True
    token_auth: Literal["client_secret_basic", "client_secret_post", "none"] = "client_secret_post"
    scope_separator: str = " "
    authorize_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecretField:
    """One value an admin types to connect a platform without OAuth (Bluesky's app password, a Telegram
    channel). ``secret`` values are never shown back, logged or kept outside the encrypted credentials."""

    name: str
    label: str
    secret: bool = False
    hint: str = ""


class Client(Protocol):
    """One platform's API. Every method raises :mod:`tasks.platforms.errors` only."""

    #: True when a retry can't publish twice (Mastodon's Idempotency-Key, Bluesky's rkey): an unknown outcome
    #: may then simply be retried.
    idempotent: bool

    async def publish(self, publication: Publication) -> Published:
        """Publish, resuming from ``publication.progress``."""

    async def verify(self, publication: Publication) -> Verdict:
        """After an unknown outcome: look at the platform (recent posts, the chosen rkey …)."""

    async def refresh(self, credentials: Credentials) -> Credentials:
        """New credentials from the refresh token. :class:`~tasks.platforms.errors.AuthExpired` when the
        platform refuses it (someone must reconnect); a Transient error when the platform is down or throttling
        (never a reason to disconnect)."""

    def renewable(self, credentials: Credentials) -> bool:
        """Whether :meth:`refresh` can renew these credentials (a refresh token, or a long-lived token the platform
        exchanges for a newer one): the token is then refreshed ahead of expiry instead of its owner warned."""

    async def check(self, credentials: Credentials) -> AccountChoice:
        """A cheap authenticated call: who these credentials are (``/account check``, and after connecting)."""

    async def revoke(self, credentials: Credentials) -> bool:
        """Revoke the token where the platform allows it; False when it has no such call."""

    async def wait_before(self, publication: Publication) -> float | None:
        """Seconds until the platform would take this post (its daily quota, read from its quota endpoint), or
        None to go now."""

    # --- connecting from chat

    secret_fields: tuple[SecretField, ...]  # empty for OAuth platforms

    async def oauth(self, instance: str | None = None) -> OAuthSpec:
        """The OAuth settings (Mastodon registers Herald on ``instance`` first); ConfigError when the platform's
        app credentials are not configured."""

    async def accounts(self, token: Mapping[str, Any], instance: str | None = None) -> list[AccountChoice]:
        """After the code exchange (``token`` as Authlib returns it): the accounts this login can publish to
        (X: the user; Facebook: its Pages; LinkedIn: the person and the organizations they administer …),
        exchanging short-lived tokens for long-lived ones where the platform has such a call."""

    async def connect_secret(self, values: Mapping[str, str]) -> list[AccountChoice]:
        """Secret-based platforms: check ``values`` with a cheap call and return the account."""


class BaseClient:
    """Defaults for what a platform doesn't have; a platform's client subclasses this and overrides."""

    idempotent = False
    secret_fields: tuple[SecretField, ...] = ()
    label = "The platform"

    async def verify(self, publication: Publication) -> Verdict:
        return None

    def renewable(self, credentials: Credentials) -> bool:
        return bool(credentials.refresh_token)

    async def refresh(self, credentials: Credentials) -> Credentials:
        raise AuthExpired(f"{self.label} can't refresh this account's token. Reconnect the account.")

    async def revoke(self, credentials: Credentials) -> bool:
        return False

    async def wait_before(self, publication: Publication) -> float | None:
        return None

    async def oauth(self, instance: str | None = None) -> OAuthSpec:
        from models.errors import InvalidInput

        raise InvalidInput(f"{self.label} is connected with /account connect and a form, not a login link.")

    async def accounts(self, token: Mapping[str, Any], instance: str | None = None) -> list[AccountChoice]:
        return []

    async def connect_secret(self, values: Mapping[str, str]) -> list[AccountChoice]:
        from models.errors import InvalidInput

        raise InvalidInput(f"{self.label} is connected through its login page: use the link /account connect gives.")


class MemoryProgress:
    """Progress kept in memory: for one-step platforms and tests (the worker passes the database's)."""

    def __init__(self) -> None:
        self.steps: dict[str, str] = {}

    async def get(self, step: str) -> str | None:
        return self.steps.get(step)

    async def put(self, step: str, value: str) -> None:
        self.steps[step] = value


#: Builds a platform's client: its settings (read from the environment), the shared HTTP client, the timeout.
ClientFactory = Callable[[Any, httpx.AsyncClient, httpx.Timeout], Client]


@dataclass(frozen=True)
class Platform:
    """One platform as the registry knows it: its rules, its settings (environment variables) and its client."""

    rules: PlatformInfo
    settings: type[BaseSettings]
    client: ClientFactory

    @property
    def name(self) -> str:
        return self.rules.name

    def build(self, http: httpx.AsyncClient, timeout: httpx.Timeout, settings: BaseSettings | None = None) -> Client:
        return self.client(settings if settings is not None else self.settings(), http, timeout)


__all__ = [
    "ABSENT",
    "AccountChoice",
    "BaseClient",
    "Client",
    "ClientFactory",
    "Credentials",
    "MediaFile",
    "MediaSource",
    "MemoryProgress",
    "OAuthSpec",
    "Platform",
    "Progress",
    "Publication",
    "Published",
    "SecretField",
    "Verdict",
]
