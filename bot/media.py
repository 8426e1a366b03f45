"""``GET /media/{ref}``: the signed, expiring media links platforms fetch images from (Instagram, Threads,
Facebook fetch by URL).

A link is made by :meth:`tasks.platforms.media.MediaSigner.url`; it names the platform it was made for (``p``),
and the file is served prepared for that platform (Instagram fetches a JPEG of the right size), with its
Content-Type. A wrong or expired signature: 403, checked before the store is asked; a ref the store doesn't
have: 404; a file that can't be made to fit the platform: 422 with the sentence.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Response

from handlers.text.platforms import PLATFORMS
from models.errors import NotFound
from tasks.platforms.errors import Rejected
from tasks.platforms.media import Media

log = structlog.get_logger(__name__)


def router(media: Media) -> APIRouter:
    routes = APIRouter()

    @routes.api_route("/media/{ref}", methods=["GET", "HEAD"], include_in_schema=False)
    async def serve(ref: str, p: str = "", exp: str = "", sig: str = "") -> Response:
        if not media.signer.valid(ref, p, exp, sig):
            return Response(b"forbidden", status_code=403, media_type="text/plain")
        try:
            prepared = await media.prepared(ref, PLATFORMS.get(p) if p else None)
        except Rejected as exc:
            if not await media.store.exists(ref):
                return Response(b"not found", status_code=404, media_type="text/plain")
            log.info("media.refused", ref=ref, platform=p, reason=str(exc))
            return Response(str(exc).encode(), status_code=422, media_type="text/plain")
        except NotFound:
            return Response(b"not found", status_code=404, media_type="text/plain")
        return Response(
            prepared.data,
            media_type=prepared.content_type,
            headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    return routes
