"""Threads (graph.threads.net): a container, polled until FINISHED, then ``threads_publish``.

Publishing, each confirmed step recorded in ``publication.progress``::

    POST /{v}/{user}/threads   media_type=TEXT|IMAGE (image_url)         → {"id"}   "container"
                               or per image is_carousel_item=true         → {"id"}   "media:N"
                               then media_type=CAROUSEL children=a,b,…    → {"id"}   "container"
    GET  /{v}/{container}?fields=status,error_message   IN_PROGRESS → look again (bounded), FINISHED → go on,
                               ERROR → Rejected, EXPIRED (24 h) → a new container, PUBLISHED → already out
    "sent" (unix time), then POST /{v}/{user}/threads_publish creation_id=… → {"id"}
    GET  /{v}/{id}?fields=permalink

Tokens: the code gives a 1-hour token and the user id (``POST /oauth/access_token``); ``GET /access_token``
(``th_exchange_token``) turns it into a 60-day token, which ``GET /refresh_access_token`` (``th_refresh_token``)
renews once it is at least 24 hours old and not expired. The access token goes in the ``access_token`` parameter
(the form body for POSTs, the query for GETs), as Threads' docs show it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx
import structlog

from models.errors import ConfigError
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
from tasks.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    Permanent,
    PlatformDown,
    PlatformError,
    Rejected,
)
from tasks.platforms.http import PlatformHTTP
from tasks.platforms.threads.graph import classify
from tasks.platforms.threads.rules import MAX_CAROUSEL, RULES, links
from tasks.platforms.threads.settings import ThreadsSettings

log = structlog.get_logger(__name__)

LABEL: Final = "Threads"
SCOPES: Final = ("threads_basic", "threads_content_publish")
#: Threads refreshes a long-lived token only once it is at least this old.
REFRESH_MIN_AGE: Final = timedelta(hours=24)
LONG_LIVED: Final = timedelta(days=60)
#: How far back (seconds) a post may predate the recorded "sent" and still be the one Herald published.
CLOCK_SLACK: Final = 300
RECENT: Final = 10  # posts verify looks at
QUOTA_PAGES: Final = 3  # pages of 100 posts read to tell when the 24-hour quota frees up
PROFILE: Final = "https://www.threads.net/@{username}"


class ThreadsClient(BaseClient):
    """Threads for one Herald: the app from :class:`ThreadsSettings`, an account's token in its credentials
    (``access_token``; ``extra``: ``user_id``, ``username``, ``issued_at``)."""

    label = LABEL

    def __init__(
        self,
        settings: ThreadsSettings,
        http: httpx.AsyncClient,
        timeout: httpx.Timeout,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._http = PlatformHTTP(http, LABEL, timeout=timeout, classify=classify, clock=clock)
        self._sleep = sleep
        self._clock = clock

    # --- publishing

    async def publish(self, publication: Publication) -> Published:
        token, user_id = _account(publication.credentials)
        progress = publication.progress
        if await progress.get("sent") is not None:
            verdict = await self.verify(publication)
            if isinstance(verdict, Published):
                return verdict
            if verdict is None:
                raise OutcomeUnknown(
                    "Threads may already have published this post and Herald can't find it; check the account."
                )
        self._preflight(publication)
        looks = _Looks(self.settings.poll_attempts)
        container = await progress.get("container")
        for _ in range(2):  # a container that expired (24 h) is made again, once
            if container is None:
                container = await self._create(publication, token, user_id, looks, fresh=False)
                await progress.put("container", container)
            status, error = await self._settled(container, token, looks)
            if status == "FINISHED":
                break
            if status == "PUBLISHED":  # an earlier attempt's publish went through after all
                verdict = await self.verify(publication)
                if isinstance(verdict, Published):
                    return verdict
                raise OutcomeUnknown("Threads says this post was published but Herald can't find it on the account.")
            if status == "ERROR":
                raise Rejected(_media_error(error))
            container = await self._create(publication, token, user_id, looks, fresh=True)  # EXPIRED
            await progress.put("container", container)
        else:
            raise PlatformDown("Threads let the post's container expire twice; Herald will try again.", retry_after=60)
        await progress.put("sent", str(int(self._clock())))
        log.info("threads.publishing", post_id=publication.post_id, container=container)
        answer = self._http.json_object(
            await self._http.request(
                "POST",
                f"{self.settings.graph}/{user_id}/threads_publish",
                data={"creation_id": container, "access_token": token},
            )
        )
        post = answer.get("id")
        if not isinstance(post, str | int):
            raise OutcomeUnknown("Threads accepted the post but didn't say which post it made.")
        return Published(external_id=str(post), url=await self._permalink(str(post), token, publication))

    def _preflight(self, publication: Publication) -> None:
        """Refuse what Threads would refuse, before any container exists."""
        if len(publication.media) > MAX_CAROUSEL:
            raise Rejected(
                f"Threads takes at most {MAX_CAROUSEL} images in one post; this one has {len(publication.media)}."
            )
        if not publication.media and not publication.text.strip():
            raise Rejected("Threads needs text or an image; this post has neither.")
        length = RULES.length(publication.text)
        if RULES.text_limit is not None and length > RULES.text_limit:
            raise Rejected(f"Threads allows {RULES.text_limit} characters, this is {length}.")
        found = len(links(publication.text))
        if RULES.max_links is not None and found > RULES.max_links:
            raise Rejected(f"Threads allows {RULES.max_links} links in a post, this one has {found}.")

    async def _create(self, publication: Publication, token: str, user_id: str, looks: _Looks, *, fresh: bool) -> str:
        """A new container for the post (its carousel items first, reusing recorded ones unless ``fresh``)."""
        refs = publication.media
        form: dict[str, str] = {"access_token": token}
        if publication.text:
            form["text"] = publication.text
        if not refs:
            form["media_type"] = "TEXT"
        elif len(refs) == 1:
            form |= {"media_type": "IMAGE", "image_url": publication.public_url(refs[0])}
        else:
            children = [await self._item(publication, i, token, user_id, looks, fresh=fresh) for i in range(len(refs))]
            form |= {"media_type": "CAROUSEL", "children": ",".join(children)}
        return await self._container(user_id, form)

    async def _item(
        self, publication: Publication, index: int, token: str, user_id: str, looks: _Looks, *, fresh: bool
    ) -> str:
        """Carousel item ``index``: recorded as ``media:N`` once Threads made it, FINISHED before it is used."""
        step = f"media:{index}"
        item = None if fresh else await publication.progress.get(step)
        for _ in range(2):
            if item is None:
                form = {
                    "media_type": "IMAGE",
                    "image_url": publication.public_url(publication.media[index]),
                    "is_carousel_item": "true",
                    "access_token": token,
                }
                item = await self._container(user_id, form)
                await publication.progress.put(step, item)
            status, error = await self._settled(item, token, looks)
            if status == "FINISHED":
                return item
            if status == "ERROR":
                raise Rejected(_media_error(error, index + 1))
            item = None  # EXPIRED (or already used): make it again
        raise PlatformDown("Threads let an image of the post expire twice; Herald will try again.", retry_after=60)

    async def _container(self, user_id: str, form: dict[str, str]) -> str:
        """A new container's id. Nothing shows until it is published, so a container lost to a timeout is harmless
        (it expires unused): no answer here is PlatformDown, to try again, not an unknown outcome."""
        container = (await self._safe("POST", f"{self.settings.graph}/{user_id}/threads", data=form)).get("id")
        if not isinstance(container, str | int):
            raise PlatformDown("Threads made no container for the post; Herald will try again.")
        return str(container)

    async def _settled(self, container: str, token: str, looks: _Looks) -> tuple[str, str | None]:
        """The container's status once it is no longer IN_PROGRESS; PlatformDown (retry later, resuming this
        container) when the publish attempt's waits are spent."""
        while True:
            status, error = await self._status(container, token)
            if status and status != "IN_PROGRESS":
                return status, error
            if looks.left <= 0:
                raise PlatformDown(
                    "Threads is still processing the post's media; Herald will look again.",
                    retry_after=self.settings.poll_interval * max(1, self.settings.poll_attempts),
                )
            looks.left -= 1
            await self._sleep(self.settings.poll_interval)

    async def _permalink(self, post: str, token: str, publication: Publication) -> str:
        """The post's link; the profile's when Threads won't say (never fail a live post over its link)."""
        try:
            link = (await self._get(f"{self.settings.graph}/{post}", token, fields="permalink")).get("permalink")
        except (PlatformError, OutcomeUnknown):
            link = None
        if isinstance(link, str) and link:
            return link
        log.warning("threads.no_permalink", post_id=publication.post_id, external_id=post)
        return PROFILE.format(username=publication.credentials.get("username") or publication.handle)

    async def _get(self, url: str, token: str, **params: str) -> dict[str, Any]:
        return await self._safe("GET", url, params={**params, "access_token": token})

    async def _safe(
        self, method: str, url: str, *, params: Mapping[str, str] | None = None, data: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """A call that publishes nothing (reads, containers), so one without an answer is simply retried."""
        try:
            return self._http.json_object(await self._http.request(method, url, params=params, data=data))
        except OutcomeUnknown as exc:
            raise PlatformDown(f"{LABEL} didn't answer; Herald will try again.") from exc

    # --- after an unknown outcome

    async def verify(self, publication: Publication) -> Verdict:
        """The account's latest posts, matched by text (and, once "sent" is recorded, posted after it)."""
        token, user_id = _account(publication.credentials)
        sent = await publication.progress.get("sent")
        since = float(sent) - CLOCK_SLACK if sent and sent.isdigit() else None
        wanted = _normal(publication.text)
        if not wanted and since is None:
            return None  # an image without text, at an unknown time: nothing to match it by
        body = await self._get(
            f"{self.settings.graph}/{user_id}/threads", token, fields="id,text,permalink,timestamp", limit=str(RECENT)
        )
        for post in _items(body):
            when = _timestamp(post.get("timestamp"))
            if _normal(post.get("text")) != wanted or (since is not None and (when is None or when < since)):
                continue
            if isinstance(post.get("id"), str | int):
                username = publication.credentials.get("username") or publication.handle
                link = post.get("permalink")
                url = link if isinstance(link, str) and link else PROFILE.format(username=username)
                return Published(external_id=str(post["id"]), url=url)
        container = await publication.progress.get("container")
        if container is not None:
            status, _ = await self._status(container, token)
            if status == "PUBLISHED":
                return None  # it went out, but not among the latest posts: a human links it
        return ABSENT

    async def _status(self, container: str, token: str) -> tuple[str, str | None]:
        body = await self._get(f"{self.settings.graph}/{container}", token, fields="status,error_message")
        error = body.get("error_message")
        return str(body.get("status", "")).upper(), str(error) if error else None

    # --- quota

    async def wait_before(self, publication: Publication) -> float | None:
        """None while the account has API posts left in Threads' rolling 24 hours (250); else the seconds until
        the oldest post that must leave the window does: its ``timestamp`` + ``quota_duration`` - now. The
        account's posts of the window are read newest first (3 pages of 100 at most). They include posts made in
        the app, which don't count against the API quota, so the answer can come early (the next look at the
        quota then tells again); it comes late only if the window holds more than 300 posts."""
        token, user_id = _account(publication.credentials)
        body = await self._get(
            f"{self.settings.graph}/{user_id}/threads_publishing_limit", token, fields="quota_usage,config"
        )
        rows = _items(body)
        if not rows:
            return None
        usage, config = rows[0].get("quota_usage"), rows[0].get("config") or {}
        total, duration = config.get("quota_total"), config.get("quota_duration") or 86_400
        if not isinstance(usage, int) or not isinstance(total, int) or usage < total:
            return None
        now = self._clock()
        stamps = sorted(await self._window(user_id, token, now - duration))
        if not stamps:
            return float(duration)  # no post to date the window by: the worst case
        oldest = stamps[min(usage - total, len(stamps) - 1)]
        return max(1.0, math.ceil(oldest + duration - now))

    async def _window(self, user_id: str, token: str, since: float) -> list[float]:
        stamps: list[float] = []
        url: str | None = f"{self.settings.graph}/{user_id}/threads"
        params: Mapping[str, str] | None = {
            "fields": "timestamp",
            "since": str(int(since)),
            "limit": "100",
            "access_token": token,
        }
        for _ in range(QUOTA_PAGES):
            if url is None:
                break
            body = await self._safe("GET", url, params=params)
            stamps += [t for t in (_timestamp(p.get("timestamp")) for p in _items(body)) if t is not None]
            paging = body.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            url, params = (following, None) if isinstance(following, str) and following else (None, None)
        return stamps

    # --- accounts

    async def check(self, credentials: Credentials) -> AccountChoice:
        token, _ = _account(credentials, need_user=False)
        me = await self._get(f"{self.settings.graph}/me", token, fields="id,username,threads_profile_picture_url")
        user_id, username = me.get("id"), me.get("username")
        if not isinstance(user_id, str | int) or not isinstance(username, str):
            raise PlatformDown("Threads didn't say whose token this is; Herald will try again.")
        extra = {**credentials.extra, "user_id": str(user_id), "username": username}
        return AccountChoice(
            handle=username,
            label=f"@{username} on Threads",
            credentials=credentials.model_copy(update={"extra": extra}),
            url=PROFILE.format(username=username),
        )

    async def oauth(self, instance: str | None = None) -> OAuthSpec:
        missing = [
            name
            for name, value in (
                ("THREADS_APP_ID", self.settings.app_id),
                ("THREADS_APP_SECRET", self.settings.app_secret),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"Threads isn't configured: set {' and '.join(missing)} (the app's Threads app id and secret)."
            )
        return OAuthSpec(
            authorize_url=self.settings.authorize_url,
            token_url=self.settings.code_url,
            client_id=self.settings.app_id,
            client_secret=self.settings.app_secret,
            scopes=SCOPES,
            pkce=False,  # not in Threads' docs
            token_auth="client_secret_post",
            scope_separator=",",
        )

    async def accounts(self, token: Mapping[str, Any], instance: str | None = None) -> list[AccountChoice]:
        """The one Threads profile the login is for, with its 1-hour token exchanged for a 60-day one."""
        short = token.get("access_token")
        if not isinstance(short, str) or not short:
            raise AuthExpired("Threads gave no access token for this login. Connect the account again.")
        params = {"grant_type": "th_exchange_token", "client_secret": self.settings.app_secret, "access_token": short}
        body = await self._safe("GET", f"{self.settings.base}/access_token", params=params)
        credentials = self._long_lived(body, Credentials(scope=",".join(SCOPES)))
        if token.get("user_id") is not None:
            credentials = credentials.model_copy(
                update={"extra": {**credentials.extra, "user_id": str(token["user_id"])}}
            )
        return [await self.check(credentials)]

    def renewable(self, credentials: Credentials) -> bool:
        """Threads renews the long-lived token itself (th_refresh_token): there is no separate refresh token."""
        return bool(credentials.access_token and credentials.expires_at)

    async def refresh(self, credentials: Credentials) -> Credentials:
        """A new 60-day token. Threads refreshes only a token at least 24 hours old: a younger one is returned as
        it is; an expired one can't be refreshed (AuthExpired: reconnect)."""
        token, _ = _account(credentials, need_user=False)
        now = datetime.fromtimestamp(self._clock(), UTC)
        if credentials.expires_at is not None and credentials.expires_at <= now:
            raise AuthExpired("The Threads token expired before Herald could refresh it. Reconnect the account.")
        issued = _issued(credentials)
        if issued is not None and now - issued < REFRESH_MIN_AGE:
            return credentials
        try:
            params = {"grant_type": "th_refresh_token", "access_token": token}
            body = await self._safe("GET", f"{self.settings.base}/refresh_access_token", params=params)
        except Permanent as exc:
            if isinstance(exc, AuthExpired):  # code 190: the token is invalid, expired or revoked
                raise
            # Anything else (a token Threads finds too young, say) leaves the token working until it expires: try
            # again later rather than disconnect the account.
            raise PlatformDown(f"Threads didn't refresh the token now ({exc}); Herald will try again.", 3600) from exc
        return self._long_lived(body, credentials)

    def _long_lived(self, body: Mapping[str, Any], base: Credentials) -> Credentials:
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise PlatformDown("Threads answered without a token; Herald will try again.")
        now = datetime.fromtimestamp(self._clock(), UTC)
        lifetime = timedelta(seconds=expires_in) if isinstance(expires_in, int | float) else LONG_LIVED
        extra = {**base.extra, "issued_at": now.isoformat()}
        return base.model_copy(update={"access_token": token, "expires_at": now + lifetime, "extra": extra})


class _Looks:
    """How many more times one publish attempt waits for containers still IN_PROGRESS (its carousel items and
    the post share them, so an attempt stays well inside the task timeout)."""

    def __init__(self, waits: int) -> None:
        self.left = max(0, waits)


def _account(credentials: Credentials, *, need_user: bool = True) -> tuple[str, str]:
    token, user_id = credentials.access_token, credentials.get("user_id")
    if not token or (need_user and not user_id):
        raise AuthExpired("Threads has no token for this account. Reconnect the account.")
    return token, user_id or ""


def _media_error(code: str | None, item: int | None = None) -> str:
    which = f"image {item} of the post" if item else "the post's media"
    return f"Threads couldn't process {which} ({code or 'no reason given'}); check the image and publish again."


def _issued(credentials: Credentials) -> datetime | None:
    issued = credentials.get("issued_at")
    if issued:
        try:
            return datetime.fromisoformat(issued)
        except ValueError:
            pass
    return credentials.expires_at - LONG_LIVED if credentials.expires_at is not None else None


def _items(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    data = body.get("data")
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def _timestamp(value: Any) -> float | None:
    """Threads' ``2026-12-03T18:04:05+0000`` as unix seconds."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None


def _normal(text: Any) -> str:
    return " ".join(text.split()) if isinstance(text, str) else ""


__all__ = ["LABEL", "SCOPES", "ThreadsClient"]
