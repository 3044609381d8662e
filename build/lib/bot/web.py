"""The web server: Telegram's webhook (``POST /telegram``), health checks and metrics.

``POST /telegram`` answers 200 only after the update was handled and its transaction
committed. For a button press the 200 carries the button's answer (``answerCallbackQuery``) as
a Bot API method call, which Telegram makes on receiving it: one request fewer per answer.
Any failure answers 500, and Telegram sends the update again; the redelivery of an
update that did commit changes nothing (``models.updates``). So a crash, a restart or a
database hiccup loses no update and counts none twice. (PTB's own webhook server answers 200
before handling, which loses the update when the process dies; this one does not.)

Requests are handled concurrently; :class:`bot.app.MedvirkApplication` keeps each person's
updates in order.

The same server answers ``GET /healthz``, ``GET /readyz`` and ``GET /metrics``
(:mod:`bot.monitoring`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from aiohttp import web
from telegram import Update

from bot.app import HANDLED_UPDATES, RunningBot, running_bot, stop_on_signals
from bot.metrics import WEBHOOK_REQUESTS
from bot.monitoring import ENGINE, add_monitoring_routes
from bot.settings import Settings
from handlers.common import answer_in_response
from handlers.context import Clock

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
WEBHOOK_PATH = "/telegram"
#: Seconds a stopping server waits for updates in flight before it cancels them (a cancelled
#: update rolls back and Telegram sends it again).
SHUTDOWN_TIMEOUT = 10.0
#: Parallel webhook requests Telegram may open (its default; 1-100).
MAX_CONNECTIONS = 40
# Updates are a few kilobytes; a text is at most 4096 characters.
MAX_UPDATE_BYTES = 1024 * 1024


class InFlight:
    """The webhook requests being handled, so that a shutdown can wait for them, or not."""

    def __init__(self) -> None:
        """Start with none."""
        self.tasks: set[asyncio.Task[object]] = set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count the current request's task as in flight for the block."""
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            yield
        finally:
            self.tasks.discard(task)

    async def drain(self, timeout: float) -> int:  # noqa: ASYNC109
        """Wait up to ``timeout`` seconds for them; cancel the rest; return how many."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)
        late = set(self.tasks)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=2.0)
        return len(late)


BOT = web.AppKey("bot", RunningBot)
SETTINGS = web.AppKey("settings", Settings)
IN_FLIGHT = web.AppKey("in_flight", InFlight)


def create_web_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """The webhook server: starting it migrates, connects and starts the bot; cleanup stops it.

    The bot's lifecycle is a ``cleanup_ctx``: aiohttp enters it before serving and leaves it
    after the last request in flight finished, so PTB and the database engine outlive every
    update being handled.
    """
    if settings.webhook_secret is None:
        raise ValueError("webhook mode needs WEBHOOK_SECRET")
    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    app[SETTINGS] = settings
    app[IN_FLIGHT] = InFlight()

    async def bot_lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with running_bot(settings, clock) as bot:
            app[BOT] = bot
            app[ENGINE] = bot.engine
            yield

    app.cleanup_ctx.append(bot_lifecycle)
    app.router.add_post(WEBHOOK_PATH, telegram_webhook)
    add_monitoring_routes(app)
    return app


def _answer(status: int, message: str = "") -> web.Response:
    WEBHOOK_REQUESTS.labels(str(status)).inc()
    return web.Response(status=status, text=message)


async def telegram_webhook(request: web.Request) -> web.Response:
    """Handle one update from Telegram; 200 only once it is stored."""
    settings = request.app[SETTINGS]
    assert settings.webhook_secret is not None
    expected = settings.webhook_secret.get_secret_value().encode()
    given = request.headers.get(SECRET_HEADER, "").encode()
    # Constant time: the answer's timing must not tell how much of a guess was right.
    if not hmac.compare_digest(given, expected):
        logger.warning("Webhook request without the right secret from %s", request.remote)
        return _answer(403, "forbidden")
    try:
        data = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return _answer(400, "not JSON")
    if not isinstance(data, dict):
        return _answer(400, "not an update")
    application = request.app[BOT].application
    try:
        update = Update.de_json(data, application.bot)
    except Exception as error:
        # Telegram would send it again and again, and it would fail the same way each time.
        update_id = data.get("update_id")
        logger.warning(
            "Update %s could not be read (%s); dropped",
            update_id if isinstance(update_id, int) else "?",
            type(error).__name__,
        )
        return _answer(200, "dropped")
    with request.app[IN_FLIGHT].track(), answer_in_response() as slot:
        outcome = await application.process_with_outcome(update)
    if outcome.redeliver:
        return _answer(500, "failed; send it again")
    if slot.call is not None:
        # The button's answer rides on the acknowledgement; Telegram makes the call.
        WEBHOOK_REQUESTS.labels("200").inc()
        return web.json_response(slot.call)
    return _answer(200, "ok")


async def _listen_for_telegram(runner: web.AppRunner, settings: Settings) -> int:
    """Listen, then tell Telegram the webhook (it starts posting at once); the bound port."""
    assert settings.webhook_url is not None
    assert settings.webhook_secret is not None
    site = web.TCPSite(runner, settings.web_host, settings.web_port)
    await site.start()
    application = runner.app[BOT].application
    await application.bot.set_webhook(
        settings.webhook_url,
        secret_token=settings.webhook_secret.get_secret_value(),
        allowed_updates=HANDLED_UPDATES,
        max_connections=MAX_CONNECTIONS,
    )
    port: int = runner.addresses[0][1]
    logger.info(
        "Medvirk is running as @%s (webhook, listening on %s:%s)",
        application.bot.username,
        settings.web_host,
        port,
    )
    return port


async def _finish_in_flight(runner: web.AppRunner) -> None:
    """Stop listening (no new updates) and wait, boundedly, for the updates in flight."""
    logger.info("Stopping: no new updates; finishing the ones in flight")
    for listening in list(runner.sites):
        await listening.stop()
    # aiohttp's own wait can take twice its timeout; this one keeps the bound.
    cancelled = await runner.app[IN_FLIGHT].drain(SHUTDOWN_TIMEOUT)
    if cancelled:
        logger.warning(
            "%d update(s) did not finish in %.0f s; Telegram will send them again",
            cancelled,
            SHUTDOWN_TIMEOUT,
        )


async def serve_webhook(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    clock: Clock | None = None,
    on_ready: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    """Serve the webhook until SIGINT/SIGTERM or ``stop``, then shut down gracefully.

    Stopping closes the listening socket (no new updates), waits up to SHUTDOWN_TIMEOUT
    seconds for the updates in flight, stops PTB and its job queue, and disposes the engine.
    The webhook stays set: Telegram keeps new updates until this or another replica is up.

    Args:
        settings: the configuration; WEBHOOK_URL and WEBHOOK_SECRET must be set.
        stop: set it to stop; None stops on SIGINT/SIGTERM.
        clock: the time the handlers see (tests).
        on_ready: awaited with the bound port once Telegram was told the webhook (tests).
    """
    assert settings.webhook_url is not None
    assert settings.webhook_secret is not None
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    app = create_web_app(settings, clock=clock)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()  # enters bot_lifecycle: migrate, connect, start PTB
    try:
        port = await _listen_for_telegram(runner, settings)
        if on_ready is not None:
            await on_ready(port)
        await stop.wait()
        await _finish_in_flight(runner)
    finally:
        await runner.cleanup()
    logger.info("Stopped")
