"""Instagram professional accounts through the Graph API (Instagram API with Facebook Login).

A post is made in three steps, each recorded in ``publication.progress`` so a retry resumes:

1. containers: ``POST /{ig-user}/media`` with ``image_url`` (Herald's signed link: Instagram fetches it) and the
   caption → ``container``; a carousel first makes one child container per image (``is_carousel_item``,
   recorded as ``media:N``), then the ``CAROUSEL`` container with ``children``;
2. ``GET /{container}?fields=status_code,status`` until ``FINISHED`` (``IN_PROGRESS``: look again a bounded
   number of times; ``ERROR``: rejected with Instagram's reason; ``EXPIRED``: the containers are made again);
3. ``sent``, then ``POST /{ig-user}/media_publish`` with ``creation_id`` → the media id, and its permalink.

The account's token is the Facebook user's long-lived token (about 60 days), as Meta documents for these calls;
:meth:`InstagramClient.refresh` exchanges it again before it runs out.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import structlog

from tasks.platforms.base import (
    ABSENT,
    AccountChoice,
    BaseClient,
    Credentials,
    OAuthSpec,
    Publication,
    Published,
    Verdict,
)
from tasks.platforms.errors import AuthExpired, OutcomeUnknown, PlatformDown, PlatformError, Rejected
from tasks.platforms.facebook.client import oauth_spec
from tasks.platforms.facebook.graph import ContainerExpired, DailyLimit, Graph, as_int, classifier
from tasks.platforms.http import DEFAULT_TIMEOUT, PlatformHTTP
from tasks.platforms.instagram.settings import InstagramSettings

log = structlog.get_logger(__name__)

SCOPES: Final = ("instagram_basic", "instagram_content_publish", "pages_show_list", "business_management")
#: The quota window when ``content_publishing_limit`` doesn't give ``quota_duration``.
DAY: Final = 86_400
#: When the quota is full and Herald can't see when its oldest post was published: look again in an hour.
UNKNOWN_WAIT: Final = 3_600.0


class InstagramClient(BaseClient):
    label = "Instagram"

    def __init__(
        self, settings: InstagramSettings, http: httpx.AsyncClient, timeout: httpx.Timeout = DEFAULT_TIMEOUT
    ) -> None:
        self.settings = settings
        self.graph = Graph(
            PlatformHTTP(http, self.label, timeout=timeout, classify=classifier(self.label)),
            settings.graph_url,
            settings.graph_version,
            settings.app_secret,
        )

    # --- publishing

    async def publish(self, publication: Publication) -> Published:
        ig_user, token = _account(publication.credentials)
        if not publication.media:
            raise Rejected("Instagram needs at least one image.")
        if await publication.progress.get("sent"):
            found = await self.verify(publication)
            if isinstance(found, Published):
                return found
            if found is None:
                raise OutcomeUnknown("Instagram may already have this post; Herald couldn't find it on the account.")
            log.info("instagram.republish", post_id=publication.post_id, reason="not on the account after sent")
        try:
            container = await self._ready(publication, ig_user, token)
            try:
                return await self._publish(publication, ig_user, token, container)
            except ContainerExpired:  # expired between its last status and media_publish: make it again
                log.info("instagram.container_expired", post_id=publication.post_id, container=container)
                container = await self._ready(publication, ig_user, token, fresh=True)
                return await self._publish(publication, ig_user, token, container)
        except _AlreadyPublished as done:
            return done.found

    async def _ready(self, publication: Publication, ig_user: str, token: str, *, fresh: bool = False) -> str:
        """A container (made now or recorded earlier) whose status is FINISHED."""
        for attempt in range(2):
            container = await self._container(publication, ig_user, token, fresh=fresh or attempt > 0)
            status = await self._finished(container, token)
            if status == "FINISHED":
                return container
            if status == "PUBLISHED":  # an earlier attempt's media_publish did go through
                found = await self.verify(publication)
                if isinstance(found, Published):
                    raise _AlreadyPublished(found)
                raise OutcomeUnknown("Instagram says this post's container is already published.")
            log.info("instagram.container_expired", post_id=publication.post_id, container=container)
        raise Rejected("Instagram let this post's container expire twice; try publishing it again.")

    async def _container(self, publication: Publication, ig_user: str, token: str, *, fresh: bool) -> str:
        progress = publication.progress
        recorded = None if fresh else await progress.get("container")
        if recorded:
            return recorded
        urls = [publication.public_url(ref) for ref in publication.media]
        if len(urls) == 1:
            body = await self.graph.post(f"{ig_user}/media", token, {"image_url": urls[0], "caption": publication.text})
        else:
            children = []
            for index, url in enumerate(urls):
                child = None if fresh else await progress.get(f"media:{index}")
                if not child:
                    made = await self.graph.post(
                        f"{ig_user}/media", token, {"image_url": url, "is_carousel_item": "true"}
                    )
                    child = _id(made, "image")
                    await progress.put(f"media:{index}", child)
                children.append(child)
            body = await self.graph.post(
                f"{ig_user}/media",
                token,
                {"media_type": "CAROUSEL", "children": ",".join(children), "caption": publication.text},
            )
        container = _id(body, "post")
        await progress.put("container", container)
        return container

    async def _finished(self, container: str, token: str) -> str:
        """FINISHED, EXPIRED or PUBLISHED after polling; Rejected on ERROR; PlatformDown when still in progress."""
        polls = max(1, self.settings.max_polls)
        for poll in range(polls):
            body = await self.graph.get(container, token, {"fields": "status_code,status"})
            code = str(body.get("status_code") or "")
            if code in ("FINISHED", "EXPIRED", "PUBLISHED"):
                return code
            if code == "ERROR":
                status = str(body.get("status") or "").strip()
                raise Rejected(f"Instagram couldn't use the image: {status or 'no reason given'}".rstrip(".") + ".")
            if poll < polls - 1:
                await asyncio.sleep(self.settings.poll_seconds)
        wait = self.settings.poll_seconds * polls
        raise PlatformDown("Instagram is still processing the image; Herald will look again.", retry_after=wait)

    async def _publish(self, publication: Publication, ig_user: str, token: str, container: str) -> Published:
        await publication.progress.put("sent", container)
        try:
            body = await self.graph.post(f"{ig_user}/media_publish", token, {"creation_id": container})
        except DailyLimit as exc:
            try:
                wait = await self._quota_wait(ig_user, token)
            except PlatformError:
                wait = UNKNOWN_WAIT
            raise DailyLimit(str(exc), retry_after=wait) from exc
        media_id = body.get("id")
        if not isinstance(media_id, str | int) or not str(media_id):
            raise OutcomeUnknown("Instagram published the post but didn't say which it is.")
        media_id = str(media_id)
        url = f"https://www.instagram.com/{publication.credentials.get('username', '')}"
        try:
            url = str((await self.graph.get(media_id, token, {"fields": "permalink"})).get("permalink") or url)
        except PlatformError:
            log.info("instagram.no_permalink", post_id=publication.post_id, external_id=media_id)
        log.info("instagram.published", post_id=publication.post_id, external_id=media_id)
        return Published(external_id=media_id, url=url)

    async def verify(self, publication: Publication) -> Verdict:
        """The account's 10 latest media, matched by caption; ABSENT when none matches, None for an empty caption."""
        ig_user, token = _account(publication.credentials)
        text = publication.text.strip()
        if not text:
            return None
        body = await self.graph.get(
            f"{ig_user}/media", token, {"fields": "id,caption,permalink,timestamp", "limit": "10"}
        )
        for media in body.get("data") or []:
            if isinstance(media, dict) and str(media.get("caption") or "").strip() == text:
                media_id = str(media.get("id"))
                return Published(external_id=media_id, url=str(media.get("permalink") or ""))
        return ABSENT

    async def wait_before(self, publication: Publication) -> float | None:
        ig_user, token = _account(publication.credentials)
        return await self._quota_wait(ig_user, token)

    async def _quota_wait(self, ig_user: str, token: str) -> float | None:
        """Seconds until the 24-hour publishing quota has room, None when it has room now.

        ``content_publishing_limit`` gives the posts counted in the moving window (``quota_usage``) and the window
        (``config.quota_total``, ``quota_duration``) but not when each was published. A slot frees when the oldest
        counted post leaves the window, so Herald reads the account's ``quota_usage`` latest media and waits until
        the oldest of those inside the window is ``quota_duration`` old. Posts made in the Instagram app are among
        those media but aren't counted: the wait can then come out short, never long, and the quota is read
        again before publishing."""
        body = await self.graph.get(f"{ig_user}/content_publishing_limit", token, {"fields": "config,quota_usage"})
        data = body.get("data")
        entry: dict[str, Any] = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        config: dict[str, Any] = entry["config"] if isinstance(entry.get("config"), dict) else {}
        usage = as_int(entry.get("quota_usage")) or 0
        total = as_int(config.get("quota_total")) or self.settings.quota_total
        duration = as_int(config.get("quota_duration")) or DAY
        if usage < total:
            return None
        media = await self.graph.get(
            f"{ig_user}/media", token, {"fields": "id,timestamp", "limit": str(min(max(usage, 1), 100))}
        )
        now = datetime.now(UTC).timestamp()
        times = [
            t
            for t in (_timestamp(m.get("timestamp")) for m in media.get("data") or [] if isinstance(m, dict))
            if t is not None and t > now - duration
        ]
        if not times:
            return UNKNOWN_WAIT
        return float(max(1, math.ceil(min(times) + duration - now)))

    # --- accounts

    def renewable(self, credentials: Credentials) -> bool:
        """The long-lived user token is exchanged for a newer one while it is still valid."""
        return bool(credentials.access_token and credentials.expires_at)

    async def refresh(self, credentials: Credentials) -> Credentials:
        """A new long-lived token for the user's still valid one (``fb_exchange_token``); AuthExpired when Meta
        refuses it (expired, password changed, app removed: someone must log in again)."""
        if not credentials.access_token:
            raise AuthExpired("This Instagram account has no token. Reconnect the account.")
        app_id, app_secret = self.settings.require_app()
        token, expires_at = await self.graph.long_lived(app_id, app_secret, credentials.access_token)
        return credentials.model_copy(update={"access_token": token, "expires_at": expires_at})

    async def check(self, credentials: Credentials) -> AccountChoice:
        ig_user, token = _account(credentials)
        body = await self.graph.get(ig_user, token, {"fields": "id,username"})
        username = str(body.get("username") or credentials.get("username") or ig_user)
        return _choice(ig_user, username, credentials)

    async def oauth(self, instance: str | None = None) -> OAuthSpec:
        return oauth_spec(self.settings, SCOPES)

    async def accounts(self, token: Mapping[str, Any], instance: str | None = None) -> list[AccountChoice]:
        """The Instagram professional accounts linked to the Pages this login manages."""
        app_id, app_secret = self.settings.require_app()
        short = token.get("access_token")
        if not isinstance(short, str) or not short:
            raise AuthExpired("Facebook's login gave no access token. Try connecting again.")
        user_token, expires_at = await self.graph.long_lived(app_id, app_secret, short)
        choices = []
        for page in await self.graph.pages(user_token):
            body = await self.graph.get(
                str(page["id"]), user_token, {"fields": "instagram_business_account{id,username}"}
            )
            account = body.get("instagram_business_account")
            if not isinstance(account, dict) or not account.get("id"):
                continue  # a Page without a linked Instagram professional account
            ig_user = str(account["id"])
            username = str(account.get("username") or ig_user)
            credentials = Credentials(
                access_token=user_token,
                expires_at=expires_at,
                extra={"ig_user_id": ig_user, "username": username, "page_id": str(page["id"])},
            )
            choices.append(_choice(ig_user, username, credentials))
        return choices


class _AlreadyPublished(Exception):
    def __init__(self, found: Published) -> None:
        super().__init__(found.external_id)
        self.found = found


def _choice(ig_user: str, username: str, credentials: Credentials) -> AccountChoice:
    return AccountChoice(
        handle=username,
        label=f"@{username} on Instagram",
        credentials=credentials,
        url=f"https://www.instagram.com/{username}/",
    )


def _account(credentials: Credentials) -> tuple[str, str]:
    ig_user, token = credentials.get("ig_user_id"), credentials.access_token
    if not ig_user or not token:
        raise AuthExpired("This Instagram account has no account id or token. Reconnect the account.")
    return ig_user, token


def _id(body: Mapping[str, Any], what: str) -> str:
    value = body.get("id")
    if not isinstance(value, str | int) or not str(value):
        raise OutcomeUnknown(f"Instagram took the {what} but didn't say its id.")
    return str(value)


def _timestamp(value: Any) -> float | None:
    """Graph's ``2026-12-03T17:00:00+0000`` as unix seconds."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


__all__ = ["SCOPES", "InstagramClient"]
