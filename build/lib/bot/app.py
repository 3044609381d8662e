"""Build the PTB application and run it: long polling here, webhook mode in :mod:`bot.web`.

Every update, whichever way it came, goes through :meth:`MedvirkApplication.process_update`,
which keeps one person's updates in order, measures it, logs one line and tells the webhook
whether it succeeded (see :class:`UpdateOutcome`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import Application, ApplicationBuilder, ContextTypes

import handlers
from bot.db import create_engine, create_sessionmaker, upgrade
from bot.delivery import delivery_worker
from bot.metrics import UPDATE_ERRORS, UPDATE_LATENCY, UPDATES, UPDATES_IN_FLIGHT
from bot.monitoring import start_monitoring
from bot.ratelimit import ReplyRateLimiter
from bot.settings import Settings
from bot.wellformed import update_problem
from handlers.callbacks import InvalidCallback
from handlers.context import BotContext, Clock, Runtime, install_runtime
from handlers.menu import publish_commands
from models.base import utcnow
from models.updates import prune_processed_updates

logger = logging.getLogger(__name__)

#: The update types the handlers take; setWebhook and getUpdates ask Telegram for these only.
HANDLED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.POLL,
    Update.POLL_ANSWER,
    Update.MY_CHAT_MEMBER,
]
PRUNE_INTERVAL = 3600.0  # seconds between removals of old processed-update rows


@dataclass
class UpdateOutcome:
    """How handling one update went: its kind, and the error a handler raised, if any."""

    kind: str
    error: BaseException | None = None
    seconds: float = 0.0
    dropped: str | None = None  # the faulty field of a malformed update, which was skipped

    @property
    def redeliver(self) -> bool:
        """True when Telegram should send the update again (the webhook answers 500).

        Asking again is always safe: a failed transaction was rolled back, and a redelivery
        of one that committed changes nothing (``models.updates``). It is pointless, though,
        for bad input that was answered (a forged button), a person who blocked the bot, and
        a request Telegram refused as wrong (400): the same update would fail the same way.
        """
        return self.error is not None and not isinstance(
            self.error, InvalidCallback | Forbidden | BadRequest
        )

    @property
    def label(self) -> str:
        """``ok``, ``dropped`` (malformed), ``error`` (answered politely) or ``failed``."""
        if self.dropped is not None:
            return "dropped"
        if self.error is None:
            return "ok"
        return "failed" if self.redeliver else "error"


_outcome: ContextVar[UpdateOutcome | None] = ContextVar("update_outcome", default=None)


def update_kind(update: object) -> str:
    """A short, fixed name for what an update is (a metrics label and a log field)."""
    if not isinstance(update, Update):
        return "other"
    message = update.message
    if message is not None:
        if isinstance(message.text, str):
            return "command" if message.text.startswith("/") else "text"
        return "media" if message.text is None else "other"
    for kind in (
        "callback_query",
        "edited_message",
        "poll_answer",
        "poll",
        "my_chat_member",
        "channel_post",
        "edited_channel_post",
    ):
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


def update_id_of(update: object) -> object:
    """The update's id for a log line, whatever its shape."""
    return getattr(update, "update_id", None)


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        """Start with no locks."""
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable | None) -> AsyncIterator[None]:
        """Hold the lock of ``key`` (None: no lock) for the block."""
        if key is None:
            yield
            return
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        """How many keys are held or waited for."""
        return len(self._locks)


class MedvirkApplication(Application[Any, BotContext, Any, Any, Any, Any]):
    """PTB's Application, measuring each update and keeping each person's updates in order."""

    def __init__(self, **kwargs: Any) -> None:
        """Take PTB's arguments (ApplicationBuilder passes them)."""
        super().__init__(**kwargs)
        # Webhook requests run concurrently; one person's updates must not overtake each
        # other. Across replicas the database's constraints keep them consistent.
        self.person_locks = KeyedLocks()

    async def process_update(self, update: object) -> None:
        """Handle one update (PTB's polling loop and tests call this)."""
        await self.process_with_outcome(update)

    async def process_with_outcome(self, update: object) -> UpdateOutcome:
        """Handle one update and tell how it went; errors went to the error handlers."""
        outcome = UpdateOutcome(update_kind(update))
        if isinstance(update, Update):
            outcome.dropped = update_problem(update)
        if outcome.dropped is not None:
            logger.warning(
                "Update %s is malformed (%s); dropped", update_id_of(update), outcome.dropped
            )
            UPDATES.labels(outcome.kind, outcome.label).inc()
            return outcome
        token = _outcome.set(outcome)
        user = update.effective_user if isinstance(update, Update) else None
        started = time.perf_counter()
        UPDATES_IN_FLIGHT.inc()
        try:
            async with self.person_locks.hold(user.id if user is not None else None):
                await super().process_update(update)
        finally:
            UPDATES_IN_FLIGHT.dec()
            _outcome.reset(token)
            outcome.seconds = time.perf_counter() - started
        _measure(update, outcome)
        return outcome


def _measure(update: object, outcome: UpdateOutcome) -> None:
    """Count a handled update in the metrics and log one line about it."""
    UPDATES.labels(outcome.kind, outcome.label).inc()
    UPDATE_LATENCY.labels(outcome.kind).observe(outcome.seconds)
    if outcome.error is not None:
        UPDATE_ERRORS.labels(outcome.kind, type(outcome.error).__name__).inc()
    update_id = update_id_of(update)
    # Ids, kind and time only: no text, no names.
    logger.info(
        "Update %s (%s) %s in %.1f ms",
        update_id,
        outcome.kind,
        outcome.label,
        outcome.seconds * 1000,
        extra={
            "update_id": update_id,
            "kind": outcome.kind,
            "outcome": outcome.label,
            "latency_ms": round(outcome.seconds * 1000, 2),
        },
    )


BotApplication = MedvirkApplication


async def _note_error(update: object, context: BotContext) -> None:
    """Remember a handler's error for the update being processed (after fallback.on_error)."""
    outcome = _outcome.get()
    if outcome is not None and outcome.error is None:
        outcome.error = context.error


def build_application(
    settings: Settings, runtime: Runtime, *, read_timeout: float = 15.0
) -> MedvirkApplication:
    """Wire settings, database and handlers into a PTB application."""
    assert settings.bot_token is not None
    application = (
        ApplicationBuilder()
        .application_class(MedvirkApplication)
        .token(settings.bot_token.get_secret_value())
        .base_url(settings.api_base_url)
        .base_file_url(settings.file_base_url)
        .context_types(ContextTypes(context=BotContext))
        # Retries a 429 after Telegram's retry_after instead of losing the message (PTB's
        # default is max_retries=0). No overall pace: these are replies to people waiting for
        # them, and holding them back would hold back the whole webhook; broadcasts keep
        # BROADCAST_RATE in the delivery worker. One message a second per private chat, waited
        # for rather than met as a 429 that would halt everyone's replies (bot/ratelimit.py).
        .rate_limiter(ReplyRateLimiter(overall_max_rate=0, max_retries=3))
        # Updates of different people are handled side by side (one person's stay in order:
        # MedvirkApplication.person_locks), so one person's wait for Telegram's per-chat limit
        # never delays another's reply. Webhook requests run concurrently anyway.
        .concurrent_updates(True)
        .connect_timeout(10)
        .read_timeout(read_timeout)
        .write_timeout(15)
        .pool_timeout(10)
        .build()
    )
    assert isinstance(application, MedvirkApplication)
    install_runtime(application, runtime)
    handlers.register(application)
    application.add_error_handler(_note_error)  # type: ignore[arg-type]
    return application


def make_runtime(settings: Settings, engine: AsyncEngine, clock: Clock | None = None) -> Runtime:
    """The handlers' runtime on ``engine``; SQLite gets the in-process writer queue."""
    return Runtime(
        create_sessionmaker(engine),
        default_language=settings.default_language,
        admin_ids=settings.admin_ids,
        clock=clock or utcnow,
        transaction_lock=asyncio.Lock() if engine.dialect.name == "sqlite" else None,
        timezone=settings.timezone,
        broadcast_rate=settings.broadcast_rate,
        quiet_hours=settings.quiet,
        privacy_contact=settings.privacy_contact,
        free_text_retention_days=settings.retention_free_text_days,
        inactive_retention_months=settings.retention_inactive_months,
        event_reminder_hours=settings.event_reminders,
        finish_reminder_hours=settings.finish_reminder_hours,
        reminder_max_age_hours=settings.reminder_max_age_hours,
    )


async def _prune(context: BotContext) -> None:
    """Forget processed updates older than Telegram's retry window."""
    runtime = context.runtime
    async with runtime.sessionmaker() as session, session.begin():
        removed = await prune_processed_updates(session, runtime.clock())
    if removed:
        logger.info("Pruned %d processed-update records", removed)


@dataclass
class RunningBot:
    """A started application and its engine."""

    application: MedvirkApplication
    engine: AsyncEngine
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, clock: Clock | None = None) -> AsyncIterator[RunningBot]:
    """Migrate, connect and start the application (job queue included); stop it all after.

    On leaving, PTB's job queue and application stop (waiting for running jobs), then the
    engine is disposed.
    """
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        runtime = make_runtime(settings, engine, clock)
        application = build_application(settings, runtime)
        async with application:
            await publish_commands(application.bot, settings.default_language)
            assert application.job_queue is not None
            application.job_queue.run_repeating(
                _prune, interval=PRUNE_INTERVAL, first=10, name="prune-processed-updates"
            )
            await application.start()
            # Broadcasts and other outbox messages, with an HTTP pool of their own so replies
            # never queue behind them; stopped first, recording what is in flight.
            delivery = delivery_worker(settings, runtime, engine)
            await delivery.start()
            try:
                yield RunningBot(application, engine, {"delivery": delivery})
            finally:
                await delivery.stop()
                await application.stop()
    finally:
        await engine.dispose()


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set ``stop`` on SIGINT and SIGTERM."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def serve_polling(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    clock: Clock | None = None,
    monitor: bool = False,
) -> None:
    """Answer updates by long polling until SIGINT/SIGTERM or ``stop``.

    Args:
        settings: the configuration.
        stop: set it to stop; None stops on SIGINT/SIGTERM.
        clock: the time the handlers see (tests).
        monitor: also serve /healthz, /readyz and /metrics on WEB_HOST:WEB_PORT. A port that
            is taken is logged and skipped: answering people matters more than the monitor.
    """
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    async with running_bot(settings, clock) as bot:
        application = bot.application
        monitoring = None
        if monitor:
            monitoring = await start_monitoring(settings, bot.engine)
        assert application.updater is not None
        await application.updater.start_polling(allowed_updates=HANDLED_UPDATES)
        logger.info("Medvirk is running as @%s (long polling)", application.bot.username)
        try:
            await stop.wait()
        finally:
            logger.info("Stopping")
            # Stops fetching and confirms what was fetched; the update being handled finishes
            # inside application.stop() when running_bot exits.
            await application.updater.stop()
            if monitoring is not None:
                await monitoring.cleanup()
