"""The dry-run publisher: records what it would publish and returns a made-up link."""

from __future__ import annotations

from collections import deque

import structlog

from tasks.platforms.base import AccountChoice, BaseClient, Credentials, Publication, Published

log = structlog.get_logger(__name__)


class DryRunPublisher(BaseClient):
    """Publishes nothing. Every publication is kept in ``sent`` and logged, for trying Herald out."""

    idempotent = True
    label = "The dry run"

    def __init__(self) -> None:
        self.sent: deque[Publication] = deque(maxlen=10_000)  # the latest ones, for inspection

    async def publish(self, publication: Publication) -> Published:
        self.sent.append(publication)
        log.debug(
            "dryrun.publish", post_id=publication.post_id, account=publication.handle, chars=len(publication.text)
        )
        external_id = f"dry-{publication.delivery_id}"
        return Published(external_id=external_id, url=f"https://dryrun.invalid/{publication.handle}/{external_id}")

    async def check(self, credentials: Credentials) -> AccountChoice:
        return AccountChoice(handle="dryrun", label="the dry run", credentials=credentials)
