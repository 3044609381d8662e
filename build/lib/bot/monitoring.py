"""Health checks and metrics: ``GET /healthz``, ``GET /readyz`` and ``GET /metrics``.

``/healthz`` says the process is alive; ``/readyz`` that the database answers and its schema is
current; ``/metrics`` is Prometheus' text format (:mod:`bot.metrics`). The webhook server
(:mod:`bot.web`) serves them beside ``POST /telegram``; in polling mode :func:`start_monitoring`
serves them on their own.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import schema_is_current
from bot.metrics import exposition
from bot.settings import Settings

logger = logging.getLogger(__name__)

READY_TIMEOUT = 3.0
#: The database /readyz checks; the webhook server sets it once the bot has started.
ENGINE = web.AppKey("engine", AsyncEngine)


def add_monitoring_routes(app: web.Application) -> None:
    """Serve /healthz, /readyz and /metrics from ``app`` (``app[ENGINE]`` set before use)."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """The database answers and its schema is the newest; 503 otherwise."""
    engine = request.app[ENGINE]

    async def check() -> str | None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        if not await schema_is_current(engine):
            return "the database schema is not current; run `medvirk db upgrade`"
        return None

    try:
        problem = await asyncio.wait_for(check(), READY_TIMEOUT)
    except TimeoutError:
        problem = "the database did not answer in time"
    except Exception as error:  # any failure means "not ready"; the type says enough
        problem = f"the database is unreachable ({type(error).__name__})"
    if problem is not None:
        return web.json_response({"status": "unavailable", "problem": problem}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus' text format."""
    body, content_type = exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


async def start_monitoring(settings: Settings, engine: AsyncEngine) -> web.AppRunner | None:
    """Serve /healthz, /readyz and /metrics beside long polling; None if the port is taken."""
    app = web.Application()
    app[ENGINE] = engine
    add_monitoring_routes(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.web_host, settings.web_port).start()
    except OSError as error:
        await runner.cleanup()
        logger.warning(
            "Health and metrics are not served: %s:%s is not available (%s)",
            settings.web_host,
            settings.web_port,
            error.strerror or type(error).__name__,
        )
        return None
    logger.info("Health and metrics on http://%s:%s", settings.web_host, settings.web_port)
    return runner
