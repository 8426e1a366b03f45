"""Facebook Pages through the Graph API: text and links on ``/{page}/feed``, one photo on ``/{page}/photos``,
several photos as unpublished photos attached to one feed post. Each account is one Page with its own Page token
(from a long-lived user token, so it doesn't expire)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
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
from tasks.platforms.errors import AuthExpired, OutcomeUnknown
from tasks.platforms.facebook.graph import Graph, classifier, slug
from tasks.platforms.facebook.settings import FacebookSettings
from tasks.platforms.http import DEFAULT_TIMEOUT, PlatformHTTP

log = structlog.get_logger(__name__)

SCOPES: Final = ("pages_show_list", "pages_read_engagement", "pages_manage_posts")


def post_url(post_id: str) -> str:
    return f"https://www.facebook.com/{post_id}"


class FacebookClient(BaseClient):
    label = "Facebook"

    def __init__(
        self, settings: FacebookSettings, http: httpx.AsyncClient, timeout: httpx.Timeout = DEFAULT_TIMEOUT
    ) -> None:
        self.settings = settings
        self.graph = Graph(
            PlatformHTTP(http, self.label, timeout=timeout, classify=classifier(self.label)),
            settings.api_url,
            settings.graph_version,
            settings.app_secret,
        )

    # --- publishing

    async def publish(self, publication: Publication) -> Published:
        page_id, token = _page(publication.credentials)
        progress = publication.progress
        if await progress.get("sent"):
            found = await self.verify(publication)
            if isinstance(found, Published):
                return found
            if found is None:
                raise OutcomeUnknown("Facebook may already have this post; Herald couldn't find it on the Page.")
            log.info("facebook.republish", post_id=publication.post_id, reason="not on the page after sent")
        urls = [publication.public_url(ref) for ref in publication.media]
        if len(urls) == 1:
            await progress.put("sent", "photo")
            body = await self.graph.post(
                f"{page_id}/photos", token, {"url": urls[0], "caption": publication.text, "published": "true"}
            )
            post_id = body.get("post_id") or body.get("id")
        else:
            form: dict[str, str] = {"message": publication.text}
            for index, url in enumerate(urls):
                photo = await progress.get(f"media:{index}")
                if not photo:
                    uploaded = await self.graph.post(f"{page_id}/photos", token, {"url": url, "published": "false"})
                    photo = _id(uploaded, "photo")
                    await progress.put(f"media:{index}", photo)
                form[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo})
            link = _link(publication.text) if not urls else None
            if link:
                form["link"] = link
            await progress.put("sent", "feed")
            body = await self.graph.post(f"{page_id}/feed", token, form)
            post_id = body.get("id")
        if not isinstance(post_id, str) or not post_id:
            raise OutcomeUnknown("Facebook accepted the post but didn't say which it is.")
        log.info("facebook.published", post_id=publication.post_id, external_id=post_id)
        return Published(external_id=post_id, url=post_url(post_id))

    async def verify(self, publication: Publication) -> Verdict:
        """The Page's 10 latest posts, matched by message; ABSENT when none matches, None for an empty text."""
        page_id, token = _page(publication.credentials)
        text = publication.text.strip()
        if not text:
            return None
        body = await self.graph.get(
            f"{page_id}/feed", token, {"fields": "id,message,created_time,permalink_url", "limit": "10"}
        )
        for post in body.get("data") or []:
            if isinstance(post, dict) and str(post.get("message", "")).strip() == text:
                post_id = str(post.get("id"))
                return Published(external_id=post_id, url=str(post.get("permalink_url") or post_url(post_id)))
        return ABSENT

    # --- accounts

    async def refresh(self, credentials: Credentials) -> Credentials:
        """A Page token from a long-lived user token never expires: when it stops working (password changed,
        app removed, role lost), only logging in again helps."""
        raise AuthExpired("Facebook no longer accepts this Page's token. Reconnect the Page.")

    async def check(self, credentials: Credentials) -> AccountChoice:
        page_id, token = _page(credentials)
        body = await self.graph.get(page_id, token, {"fields": "id,name,link"})
        return _choice(body, credentials)

    async def oauth(self, instance: str | None = None) -> OAuthSpec:
        return oauth_spec(self.settings, SCOPES)

    async def accounts(self, token: Mapping[str, Any], instance: str | None = None) -> list[AccountChoice]:
        """The Pages this login manages, each with its own Page token (from the long-lived user token)."""
        user_token, _ = await self.long_lived_user_token(token)
        choices = []
        for page in await self.graph.pages(user_token):
            page_token = page.get("access_token")
            if not isinstance(page_token, str) or not page_token:
                continue  # a Page the user can't publish to
            credentials = Credentials(access_token=page_token, extra={"page_id": str(page["id"])})
            choices.append(_choice(page, credentials))
        return choices

    async def long_lived_user_token(self, token: Mapping[str, Any]) -> tuple[str, datetime]:
        app_id, app_secret = self.settings.require_app()
        short = token.get("access_token")
        if not isinstance(short, str) or not short:
            raise AuthExpired("Facebook's login gave no access token. Try connecting again.")
        return await self.graph.long_lived(app_id, app_secret, short)


def oauth_spec(settings: FacebookSettings, scopes: tuple[str, ...]) -> OAuthSpec:
    """Facebook Login for Facebook and Instagram: the dialog, the code exchange at ``/oauth/access_token``."""
    app_id, app_secret = settings.require_app()
    return OAuthSpec(
        authorize_url=settings.dialog_url,
        token_url=f"{settings.api_url.rstrip('/')}/{settings.graph_version}/oauth/access_token",
        client_id=app_id,
        client_secret=app_secret,
        scopes=scopes,
        # Facebook documents PKCE only for its OIDC flow, still "in testing": the app secret guards the exchange.
        pkce=False,
        token_auth="client_secret_post",
        scope_separator=",",
    )


def _choice(page: Mapping[str, Any], credentials: Credentials) -> AccountChoice:
    page_id = str(page.get("id"))
    name = str(page.get("name") or page_id)
    return AccountChoice(
        handle=slug(name, page_id),
        label=f"{name} (Facebook Page)",
        credentials=credentials,
        url=str(page.get("link") or f"https://www.facebook.com/{page_id}"),
    )


def _page(credentials: Credentials) -> tuple[str, str]:
    page_id, token = credentials.get("page_id"), credentials.access_token
    if not page_id or not token:
        raise AuthExpired("This Facebook account has no Page or token. Reconnect the Page.")
    return page_id, token


def _id(body: Mapping[str, Any], what: str) -> str:
    value = body.get("id")
    if not isinstance(value, str) or not value:
        raise OutcomeUnknown(f"Facebook took the {what} but didn't say its id.")
    return value


def _link(text: str) -> str | None:
    """The first http(s) URL in the text: Facebook shows it as the post's link preview."""
    for word in text.split():
        if word.startswith(("http://", "https://")):
            return word.rstrip(".,;:!?)")
    return None


__all__ = ["SCOPES", "FacebookClient", "oauth_spec", "post_url"]
