"""The web server: Telegram's webhook (``POST /telegram``), health checks, metrics, web chat.

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
(:mod:`bot.monitoring`), serves the staff dashboard under ``/dashboard/`` (:mod:`bot.dashboard`)
and, with ``WEB_CHANNEL=on``, the residents' web chat (:mod:`bot.webchannel.pages`), whose forms
go to the same application as Telegram's updates. :func:`serve_web` runs it in every mode:
beside the webhook, beside long polling, or alone when there is no bot token.
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
from bot.dashboard import Dashboard
from bot.metrics import WEBHOOK_REQUESTS
from bot.monitoring import ENGINE, add_monitoring_routes
from bot.settings import Settings
from bot.signing import cookie_secret
from bot.webchannel.pages import CHANNEL, add_web_channel, web_channel
from handlers.common import answer_in_response
from handlers.context import RUNTIME_KEY, Clock, Runtime

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
    """The web server: starting it migrates, connects and starts the bot; cleanup stops it.

    ``POST /telegram`` is served when WEBHOOK_SECRET is set, the residents' web chat when
    WEB_CHANNEL is on; health and metrics always.

    The bot's lifecycle is a ``cleanup_ctx``: aiohttp enters it before serving and leaves it
    after the last request in flight finished, so PTB and the database engine outlive every
    update being handled.
    """
    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    app[SETTINGS] = settings
    app[IN_FLIGHT] = InFlight()
    dashboard = Dashboard(settings)
    dashboard.mount(app)

    async def bot_lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with running_bot(settings, clock) as bot:
            app[BOT] = bot
            app[ENGINE] = bot.engine
            await dashboard.connect(bot.runtime, bot.application.bot, settings.web_url)
            if settings.web_channel:
                application = bot.application
                runtime: Runtime = application.bot_data[RUNTIME_KEY]
                secret = await cookie_secret(settings, runtime.sessionmaker)
                app[CHANNEL] = web_channel(
                    settings, runtime, application.bot, application.process_with_outcome, secret
                )
            yield

    app.cleanup_ctx.append(bot_lifecycle)
    if settings.webhook_secret is not None:
        app.router.add_post(WEBHOOK_PATH, telegram_webhook)
    add_monitoring_routes(app)
    if settings.web_channel:
        add_web_channel(app)
    return app


def _answer(status: int, message: str = "") -> web.Response:
    WEBHOOK_REQUESTS.labels(str(status)).inc()
    return web.Response(status=status, text=message)


def _given_secret(request: web.Request) -> bytes:
    """The secret header's bytes as sent; bytes that are not UTF-8 are kept, never decoded."""
    for name, value in request.raw_headers:
        if name.lower() == SECRET_HEADER.lower().encode():
            return value
    return b""


def _dropped(reason: str, update_id: object = None) -> web.Response:
    """Acknowledge a body that is no usable update: one WARNING line, and 200.

    Telegram would send anything else again and again, and it would fail the same way each time.
    """
    shown = update_id if isinstance(update_id, int) and not isinstance(update_id, bool) else "?"
    logger.warning("Update %s could not be read (%s); dropped", shown, reason)
    return _answer(200, "dropped")


def _read_update(body: bytes) -> dict[str, object] | str:
    """The JSON object in ``body``, or why there is none."""
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        return "not UTF-8"
    except ValueError:
        return "not JSON"
    except RecursionError:
        return "nested too deeply"
    if not isinstance(data, dict):
        return "not an object"
    return data


async def telegram_webhook(request: web.Request) -> web.Response:
    """Handle one update from Telegram; 200 only once it is stored."""
    settings = request.app[SETTINGS]
    assert settings.webhook_secret is not None
    expected = settings.webhook_secret.get_secret_value().encode()
    # Constant time: the answer's timing must not tell how much of a guess was right.
    if not hmac.compare_digest(_given_secret(request), expected):
        logger.warning("Webhook request without the right secret from %s", request.remote)
        return _answer(403, "forbidden")
    data = _read_update(await request.read())
    if isinstance(data, str):
        return _dropped(data)
    application = request.app[BOT].application
    try:
        update = Update.de_json(data, application.bot)
    except Exception as error:
        # Telegram would send it again and again, and it would fail the same way each time.
        return _dropped(type(error).__name__, data.get("update_id"))
    with request.app[IN_FLIGHT].track(), answer_in_response() as slot:
        outcome = await application.process_with_outcome(update)
    if outcome.redeliver:
        return _answer(500, "failed; send it again")
    if outcome.dropped:
        return _answer(200, "dropped")
    if slot.call is not None:
        # The button's answer rides on the acknowledgement; Telegram makes the call.
        WEBHOOK_REQUESTS.labels("200").inc()
        return web.json_response(slot.call)
    return _answer(200, "ok")


async def _listen_for_updates(runner: web.AppRunner, settings: Settings) -> int:
    """Listen, then start taking Telegram's updates; the bound port.

    Webhook mode tells Telegram the webhook (it starts posting at once); with a token and no
    webhook, long polling starts; without a token only the web chat is served.
    """
    site = web.TCPSite(runner, settings.web_host, settings.web_port)
    await site.start()
    application = runner.app[BOT].application
    port: int = runner.addresses[0][1]
    if settings.webhook_url is not None:
        assert settings.webhook_secret is not None
        await application.bot.set_webhook(
            settings.webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=HANDLED_UPDATES,
            max_connections=MAX_CONNECTIONS,
        )
        mode = "webhook"
    elif settings.bot_token is not None:
        assert application.updater is not None
        await application.updater.start_polling(allowed_updates=HANDLED_UPDATES)
        mode = "long polling"
    else:
        mode = "web chat only, no Telegram"
    chat = " with the web chat" if settings.web_channel and settings.bot_token else ""
    logger.info(
        "Medvirk is running as @%s (%s%s, listening on %s:%s)",
        application.bot.username,
        mode,
        chat,
        settings.web_host,
        port,
    )
    return port


async def _finish_in_flight(runner: web.AppRunner) -> None:
    """Stop listening (no new updates) and wait, boundedly, for the updates in flight."""
    logger.info("Stopping: no new updates; finishing the ones in flight")
    updater = runner.app[BOT].application.updater
    if updater is not None and updater.running:
        # Stops fetching and confirms what was fetched (long polling).
        await updater.stop()
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
    """Serve the webhook (and the web chat when it is on); see :func:`serve_web`."""
    assert settings.webhook_url is not None
    assert settings.webhook_secret is not None
    await serve_web(settings, stop=stop, clock=clock, on_ready=on_ready)


async def serve_web(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    clock: Clock | None = None,
    on_ready: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM or ``stop``, then shut down gracefully.

    Telegram's updates come by webhook (WEBHOOK_URL), by long polling (a token, no webhook),
    or not at all (no token: the web chat alone, WEB_CHANNEL=on).

    Stopping closes the listening socket (no new updates), waits up to SHUTDOWN_TIMEOUT
    seconds for the updates in flight, stops PTB and its job queue, and disposes the engine.
    The webhook stays set: Telegram keeps new updates until this or another replica is up.

    Args:
        settings: the configuration.
        stop: set it to stop; None stops on SIGINT/SIGTERM.
        clock: the time the handlers see (tests).
        on_ready: awaited with the bound port once updates are taken (tests).
    """
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    app = create_web_app(settings, clock=clock)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()  # enters bot_lifecycle: migrate, connect, start PTB
    try:
        port = await _listen_for_updates(runner, settings)
        if on_ready is not None:
            await on_ready(port)
        await stop.wait()
        await _finish_in_flight(runner)
    finally:
        await runner.cleanup()
    logger.info("Stopped")
