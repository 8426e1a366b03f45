"""The test platforms ``fake`` and ``fake-nokey``: a client for the fake platform (``tests/fakes/platform.py``,
Mastodon's ``POST /api/v1/statuses`` wire format) with and without an idempotency key, for tests and benchmarks
of the real publishing path against a local server.

Not part of the product: Herald loads them as a platform plugin (``HERALD_PLATFORM_PLUGINS=tests.fakes.
platform_client``, which ``tests/conftest.py`` and the benchmarks set), through the same door as any other.
"""

from __future__ import annotations

import httpx
from pydantic_settings import BaseSettings

from handlers.text.platforms import ANY_MEDIA, PlatformInfo
from tasks.platforms.base import AccountChoice, BaseClient, Credentials, Platform, Publication, Published
from tasks.platforms.errors import AuthExpired, OutcomeUnknown, Rejected
from tasks.platforms.http import DEFAULT_TIMEOUT, PlatformHTTP


class FakePlatformPublisher(BaseClient):
    """Publishes a status with the account's Bearer ``credentials["token"]`` to ``credentials["base_url"]``, or
    to ``base_url`` when the account names none (the registry gives none: the server is wherever the account
    says; an account that says nowhere is refused with a sentence).

    ``idempotent``: whether the platform honours ``Idempotency-Key`` (the header is sent only then, with
    ``Publication.idempotency_key``). Raises :mod:`tasks.platforms.errors` only, mapped by
    :class:`~tasks.platforms.http.PlatformHTTP`.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str | None = None,
        *,
        idempotent: bool,
        label: str = "The fake platform",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.idempotent = idempotent
        self.base_url = base_url
        self.label = label
        self._http = PlatformHTTP(client, label, timeout=timeout)

    async def publish(self, publication: Publication) -> Published:
        token = publication.credentials.access_token
        if not token:
            raise AuthExpired(f"{self._http.label} has no access token for this account. Reconnect the account.")
        headers = {"Authorization": f"Bearer {token}"}
        if self.idempotent:
            headers["Idempotency-Key"] = publication.idempotency_key
        base = (publication.credentials.get("base_url") or self.base_url or "").rstrip("/")
        if not base:
            raise Rejected(
                f"{self._http.label} account has no server address; add it again with base_url=URL among its keys."
            )
        form: dict[str, str | list[str]] = {"status": publication.text}
        if publication.media:
            form["media_ids[]"] = list(publication.media)
        response = await self._http.request("POST", f"{base}/api/v1/statuses", headers=headers, data=form)
        status = self._http.json_object(response)
        external_id, url = status.get("id"), status.get("url")
        if not isinstance(external_id, str | int) or not isinstance(url, str):
            # It said yes but not to what: only a human (or an idempotent retry) can tell.
            raise OutcomeUnknown(f"{self._http.label} accepted the post but didn't say where it is.")
        return Published(external_id=str(external_id), url=url)

    async def check(self, credentials: Credentials) -> AccountChoice:
        base = (credentials.get("base_url") or self.base_url or "").rstrip("/")
        response = await self._http.request(
            "GET",
            f"{base}/api/v1/accounts/verify_credentials",
            headers={"Authorization": f"Bearer {credentials.access_token}"},
        )
        body = self._http.json_object(response)
        return AccountChoice(handle=str(body.get("acct", "")), label=str(body.get("acct", "")), credentials=credentials)


class NoSettings(BaseSettings):
    """The test platforms read nothing from the environment: each account names its server (``base_url``)."""


def _idempotent(settings: BaseSettings, http: httpx.AsyncClient, timeout: httpx.Timeout) -> FakePlatformPublisher:
    return FakePlatformPublisher(http, idempotent=True, timeout=timeout)


def _nokey(settings: BaseSettings, http: httpx.AsyncClient, timeout: httpx.Timeout) -> FakePlatformPublisher:
    return FakePlatformPublisher(http, idempotent=False, label="The fake platform (no key)", timeout=timeout)


#: The plugin's platforms (``HERALD_PLATFORM_PLUGINS``).
PLATFORMS = (
    Platform(PlatformInfo("fake", "Fake platform", 500, media=ANY_MEDIA), NoSettings, _idempotent),
    Platform(PlatformInfo("fake-nokey", "Fake platform (no key)", 500, media=ANY_MEDIA), NoSettings, _nokey),
)
