"""The HTTP side: health, readiness and Prometheus metrics (chat webhooks mount here too)."""

from __future__ import annotations

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tortoise import connections

from handlers.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="Herald", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, str]:
        try:
            await connections.get("default").execute_query("SELECT 1")
        except Exception as exc:
            response.status_code = 503
            return {"status": "database unavailable", "error": type(exc).__name__}
        return {"status": "ready"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
