"""The delivery worker: sends the outbox under Telegram's limits and survives crashes.

It runs inside the bot process (long polling and webhook mode alike; ``running_bot`` starts
and stops it) and, with several replicas on PostgreSQL, only in the one that holds the
advisory lock (:mod:`bot.leader`). Each round it

1. starts broadcasts whose time has come and writes their deliveries in batches;
2. claims a batch of due rows (``FOR UPDATE SKIP LOCKED`` and a lease; ``models.outbox``);
3. sends each at a steady global pace (``BROADCAST_RATE``) and at most one message a second
   per chat, from its own HTTP connection pool, so the replies to people using the bot keep
   theirs and never queue behind a broadcast;
4. records every outcome in batches a few times a second: sent; unreachable on a 403 (the
   person is never tried again); failed after ``max_attempts`` server errors or timeouts, retried
   with a doubling pause before that; a 429 pauses all sending for its ``retry_after``;
5. edits each broadcast's progress message in the staff chat, and sends a report at the end.

Crash safety: a send and the record of its outcome cannot be one transaction, so a crash can
lose the record of sends that were in flight or not yet written; those rows are sent again
after the restart. The worker never lets more than :attr:`DeliveryConfig.unrecorded_limit`
sends be unrecorded, which bounds the duplicates one crash can cause (docs/broadcasts.md).

The hot path does not use PTB: building and parsing PTB objects for every message costs more
CPU than the rest of the worker together (bench/bench_broadcast.py). :class:`BotApi` speaks
the Bot API's JSON over one aiohttp connection pool instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import math
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.leader import Leadership, leadership_for
from bot.metrics import counter, gauge
from bot.settings import Settings
from bot.webchannel.botapi import WebBotApi
from bot.webchannel.request import is_for_web
from handlers.context import Runtime
from handlers.i18n import language
from handlers.views import broadcast as render
from models import outbox
from models.base import utcnow
from models.consultation import Consultation
from models.outbox import Broadcast, BroadcastState, Claim, DeliveryState, Outcome
from models.webchat import Document

logger = logging.getLogger(__name__)

DELIVERIES = counter(
    "deliveries",
    "Outbox messages by outcome: sent, failed, unreachable, cancelled, retried, rate_limited.",
    ["outcome"],
)
OUTBOX_DEPTH = gauge("outbox_depth", "Outbox messages waiting to be sent.")
DELIVERY_IN_FLIGHT = gauge("delivery_in_flight", "Messages sent or sending, not yet recorded.")


# ---------------------------------------------------------------------- the Bot API client


@dataclass(slots=True)
class ApiResult:
    """What Telegram answered; ``status`` 0 for a timeout or a broken connection."""

    ok: bool
    status: int
    description: str = ""
    retry_after: float | None = None
    result: Any = None


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent with a request (multipart), e.g. an event's ``.ics``."""

    field: str
    filename: str
    content: bytes
    mime_type: str


def outbox_request(
    chat_id: int, payload: dict[str, Any]
) -> tuple[str, dict[str, Any], Upload | None]:
    """The Bot API call that sends an outbox payload.

    ``sendMessage`` fields as they are; with a ``document``, ``sendDocument``: a file id is
    sent as it is, ``{"filename", "content", "mime_type"}`` (a small text file made for the
    message) is uploaded.
    """
    document = payload.get("document")
    if document is None:
        return "sendMessage", {"chat_id": chat_id, **payload}, None
    params = {"chat_id": chat_id, **{k: v for k, v in payload.items() if k != "document"}}
    if not isinstance(document, dict):
        return "sendDocument", {**params, "document": document}, None
    upload = Upload(
        "document",
        str(document.get("filename") or "file"),
        str(document.get("content") or "").encode(),
        str(document.get("mime_type") or "application/octet-stream"),
    )
    return "sendDocument", params, upload


class BotApi:
    """A lean Bot API client: JSON over its own aiohttp connection pool, no rate limiter.

    Args:
        base_url: the API root PTB would use (``{TELEGRAM_API_URL}/bot``).
        token: the bot token (never logged: aiohttp does not log URLs).
        connections: the pool's size, which also caps requests in flight.
        timeout: seconds a request may take in all.
    """

    def __init__(
        self, base_url: str, token: str, *, connections: int = 100, timeout: float = 10.0
    ) -> None:
        """Prepare; the pool opens on first use."""
        self._root = f"{base_url}{token}/"
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._session: aiohttp.ClientSession | None = None

    def _pool(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                timeout=self._timeout,
                json_serialize=lambda data: json.dumps(data, ensure_ascii=False),
            )
        return self._session

    async def call(
        self, method: str, params: dict[str, Any], upload: Upload | None = None
    ) -> ApiResult:
        """Call ``method``; never raises for Telegram's or the network's failures.

        With ``upload`` the request is multipart: the parameters as form fields and the file.
        """
        request: dict[str, Any] = {"json": params}
        if upload is not None:
            request = {"data": _form(params, upload)}
        try:
            async with self._pool().post(self._root + method, **request) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            return ApiResult(False, 0, f"{type(error).__name__}")
        return _result(body, status)

    async def close(self) -> None:
        """Close the pool."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


# ---------------------------------------------------------------------- pacing


def _result(body: bytes, status: int) -> ApiResult:
    """Read a Bot API answer; a body that is not one fails with the HTTP status."""
    try:
        data = json.loads(body)
    except ValueError:
        return ApiResult(False, status or 502, "not JSON")
    if not isinstance(data, dict):
        return ApiResult(False, status or 502, "not a Bot API answer")
    if data.get("ok") is True:
        return ApiResult(True, status, result=data.get("result"))
    parameters = data.get("parameters") or {}
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    return ApiResult(
        False,
        int(data.get("error_code") or status),
        str(data.get("description") or ""),
        float(retry_after) if isinstance(retry_after, int | float) else None,
    )


def _form(params: dict[str, Any], upload: Upload) -> aiohttp.FormData:
    """A multipart request: the parameters as form fields, then the file."""
    form = aiohttp.FormData()
    for key, value in params.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        form.add_field(key, text)
    form.add_field(
        upload.field, upload.content, filename=upload.filename, content_type=upload.mime_type
    )
    return form


class Pacer:
    """A global pace of ``rate`` sends a second, in a smooth stream with small bursts.

    A token bucket holding at most ``burst`` seconds' worth, so a moment of catching up never
    reaches Telegram as a spike. :meth:`block` stops everything after a 429.
    """

    def __init__(self, rate: float, burst: float = 0.2) -> None:
        """Start with one token."""
        self.rate = rate
        self.capacity = max(1.0, rate * burst)
        self._tokens = 1.0
        self._stamp = time.monotonic()
        self._blocked_until = 0.0

    def block(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (Telegram's ``retry_after``)."""
        until = time.monotonic() + seconds
        if until > self._blocked_until:
            self._blocked_until = until
            self._tokens = 0.0

    async def wait(self, stop: asyncio.Event | None = None) -> bool:
        """Return True when the next send may go; False as soon as ``stop`` is set."""
        while True:
            if stop is not None and stop.is_set():
                return False
            now = time.monotonic()
            if now < self._blocked_until:
                await _sleep_unless(stop, self._blocked_until - now)
                continue
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            await _sleep_unless(stop, (1.0 - self._tokens) / self.rate)


async def _sleep_unless(stop: asyncio.Event | None, seconds: float) -> None:
    """Sleep ``seconds``, or less when ``stop`` is set meanwhile."""
    if stop is None or seconds < 0.05:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class ChatSpacing:
    """At most one message per ``interval`` seconds to each chat; forgets old chats."""

    def __init__(self, interval: float = 1.0) -> None:
        """Start with no chats."""
        self.interval = interval
        self._last: dict[int, float] = {}
        self._order: deque[tuple[float, int]] = deque()

    def ready_at(self, chat_id: int, now: float) -> float:
        """When the chat may get its next message (``now`` or earlier: at once)."""
        self._forget(now)
        last = self._last.get(chat_id)
        return now if last is None else last + self.interval

    def note(self, chat_id: int, now: float) -> None:
        """Record a send to the chat."""
        self._last[chat_id] = now
        self._order.append((now, chat_id))

    def _forget(self, now: float) -> None:
        order, last = self._order, self._last
        while order and order[0][0] <= now - self.interval:
            stamp, chat = order.popleft()
            if last.get(chat) == stamp:
                del last[chat]


# ---------------------------------------------------------------------- the worker


@dataclass
class DeliveryConfig:
    """How the worker sends; every default suits Telegram's free tier."""

    rate: float = 25.0  # messages a second across all chats (BROADCAST_RATE)
    # Seconds between two messages to one chat: Telegram's 1/s with room for network jitter.
    per_chat_interval: float = 1.1
    max_attempts: int = 5  # requests per message before a 5xx/timeout counts as failed
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    lease: float = 120.0  # seconds a claim holds before another worker may take the row
    idle_poll: float = 1.0  # seconds between looks for new work when there is none
    housekeeping: float = 1.0  # seconds between starting, queuing and finishing broadcasts
    state_refresh: float = 0.5  # seconds between re-reading broadcast states (pause, cancel)
    flush_interval: float = 0.2  # seconds between writes of outcomes
    progress_interval: float = 3.0  # seconds between edits of a progress message
    leader_check: float = 3.0  # seconds between checks that we still lead
    leader_retry: float = 2.0  # seconds between attempts to become the leader
    request_timeout: float = 10.0

    @property
    def unrecorded_limit(self) -> int:
        """At most this many sends are made whose outcome is not yet stored.

        The bound on duplicates after a crash: half a second of sending, at least 16.
        """
        return max(16, math.ceil(self.rate / 2))

    @property
    def batch(self) -> int:
        """Rows claimed at a time: about a second of sending (10 to 500)."""
        return max(10, min(500, math.ceil(self.rate)))


@dataclass(order=True)
class _Item:
    """A claimed delivery waiting in memory for its turn."""

    ready_at: float
    seq: int
    claim: Claim = field(compare=False)
    tries: int = field(default=0, compare=False)
    last_error: str | None = field(default=None, compare=False)


class DeliveryWorker:
    """Claims, paces, sends and records outbox rows; see the module docstring."""

    def __init__(
        self,
        runtime: Runtime,
        api: BotApi | ChannelApi,
        config: DeliveryConfig | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        """Prepare; :meth:`start` begins the work."""
        self.runtime = runtime
        self.api = api
        self.config = config or DeliveryConfig(rate=runtime.broadcast_rate)
        self.leadership = leadership or Leadership()
        self.id = f"{socket.gethostname()[:16]}:{os.getpid()}:{secrets.token_hex(3)}"
        self.pacer = Pacer(self.config.rate)
        self.spacing = ChatSpacing(self.config.per_chat_interval)
        self._window = asyncio.Semaphore(self.config.unrecorded_limit)
        self._heap: list[_Item] = []
        self._seq = itertools.count()
        self._outcomes: list[Outcome] = []
        self._to_release: set[int] = set()
        self._sending: set[asyncio.Task[None]] = set()
        # Deliveries sent or sending whose outcome is not written yet, with their broadcast.
        self._unrecorded: dict[int, int | None] = {}
        self._running: set[int] = set()  # broadcasts in state running
        self._content: dict[int, tuple[Broadcast, Consultation | None]] = {}
        self._payloads: dict[tuple[int, str], dict[str, Any]] = {}
        self._progress_shown: dict[int, tuple[float, str]] = {}
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()  # the dispatcher: work arrived, or stop
        self._hungry = asyncio.Event()  # the feeder: claim now
        self._lost = asyncio.Event()  # leadership lost: stop sending
        self._flushed = asyncio.Event()
        self._helpers_done = asyncio.Event()  # the lead ends: the helpers finish and return
        self._task: asyncio.Task[None] | None = None
        self.leading = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Run in the background until :meth:`stop`."""
        self._task = asyncio.create_task(self._run(), name="delivery-worker")

    async def stop(self, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        """Finish the sends in flight, record them, give back unsent claims, stop."""
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            try:
                # Shielded: on a timeout the worker is cancelled below, not inside wait_for.
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                logger.warning("The delivery worker did not stop in %.0f s", timeout)
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        # A replica that never led still holds the connection it competed on: close it.
        await self.leadership.release()
        await self.api.close()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        # SQLite: queue on the handlers' writer lock instead of the database's busy handler.
        lock = self.runtime.transaction_lock or contextlib.nullcontext()
        async with lock, self.runtime.sessionmaker() as session, session.begin():
            yield session

    async def _run(self) -> None:
        while not self._stop.is_set():
            if not await self.leadership.acquire():
                await self._sleep(self.config.leader_retry)
                continue
            self.leading = True
            logger.info("Delivery worker %s sends (%s)", self.id, self.leadership.name)
            try:
                await self._lead()
            except Exception:
                logger.exception("The delivery worker failed; it starts again")
                await self._sleep(self.config.leader_retry)
            finally:
                self.leading = False
                await self._drain()
                await self.leadership.release()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _lead(self) -> None:
        async with self._transaction() as session:
            taken = await outbox.release_others(session, self.id)
        if taken:
            logger.warning(
                "Took over %d deliveries a stopped worker had claimed; they are sent again "
                "(a person may get one of them twice)",
                taken,
            )
        self._lost.clear()
        await self._refresh_states()
        self._helpers_done.clear()
        helpers = [
            asyncio.create_task(self._flush_loop(), name="delivery-flush"),
            asyncio.create_task(self._keep(), name="delivery-keep"),
            asyncio.create_task(self._feed(), name="delivery-feed"),
        ]
        try:
            await self._dispatch()
        finally:
            await self._end_helpers(helpers)

    async def _end_helpers(self, helpers: list[asyncio.Task[None]]) -> None:
        """Let the helpers finish what they are writing and return; cancel only stragglers.

        A helper cancelled in the middle of a transaction leaves its connection to the garbage
        collector, which logs a traceback (seen when Ctrl+C stopped the sandbox mid-claim).
        """
        self._helpers_done.set()
        self._hungry.set()
        self._flushed.set()
        _, late = await asyncio.wait(helpers, timeout=self.config.request_timeout)
        for helper in late:
            helper.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)

    async def _drain(self) -> None:
        """Wait for sends in flight, write their outcomes, give back what was not sent."""
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=self.config.request_timeout + 2)
        self._to_release.update(item.claim.id for item in self._heap)
        self._heap.clear()
        for _ in range(3):
            if await self._flush():
                break
            await asyncio.sleep(0.5)
        self._content.clear()
        self._payloads.clear()

    # ------------------------------------------------------------------ the main loop

    async def _dispatch(self) -> None:
        """Send the claimed rows in memory at the pace, each when its time has come.

        Claiming (:meth:`_feed`) and the slower work (:meth:`_keep`) run beside it, so a
        database round trip never makes the stream of sends stutter.
        """
        while not self._stop.is_set() and not self._lost.is_set():
            item = self._heap[0] if self._heap else None
            now = time.monotonic()
            if item is None or item.ready_at > now:
                wait = self.config.idle_poll if item is None else item.ready_at - now
                await self._sleep(min(wait, self.config.idle_poll))
                continue
            heapq.heappop(self._heap)
            await self._send_one(item)

    async def _feed(self) -> None:
        """Keep about a second of claimed rows in memory."""
        batch = self.config.batch
        while not self._helpers_done.is_set():
            claimed = 0
            if len(self._heap) < batch // 2:
                try:
                    claimed = await self._claim(batch - len(self._heap))
                except Exception as error:  # the database hiccuped: try again shortly
                    logger.warning("Could not claim deliveries: %s", type(error).__name__)
            if claimed:
                self._wake.set()
                continue
            # Nothing due (or enough in hand): look again soon, or at once when woken.
            pause = self.config.idle_poll if not self._heap else 0.1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hungry.wait(), pause)
            self._hungry.clear()

    async def _keep(self) -> None:
        """Check the lead; start, queue, finish and show broadcasts; re-read their states."""
        config = self.config
        next_check = time.monotonic() + config.leader_check
        next_house = 0.0
        next_renewal = time.monotonic() + config.lease / 4
        while not self._helpers_done.is_set():
            now = time.monotonic()
            if now >= next_check:
                if not await self.leadership.check():
                    logger.warning("Delivery worker %s lost the lead; it stops sending", self.id)
                    self._lost.set()
                    self._wake.set()
                    return
                next_check = now + config.leader_check
            try:
                if now >= next_house:
                    await self._housekeeping()
                    next_house = time.monotonic() + config.housekeeping
                await self._refresh_states()
                if now >= next_renewal:
                    await self._renew()
                    next_renewal = time.monotonic() + config.lease / 4
            except Exception:
                logger.exception("Broadcast housekeeping failed; it runs again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._helpers_done.wait(), config.state_refresh)

    async def _send_one(self, item: _Item) -> None:
        claim = item.claim
        if claim.broadcast_id is not None and claim.broadcast_id not in self._running:
            self._to_release.add(claim.id)  # paused or cancelled meanwhile
            return
        if not claim.urgent and self._quiet():
            self._to_release.add(claim.id)
            return
        now = time.monotonic()
        ready = self.spacing.ready_at(claim.chat_id, now)
        if ready > now:
            item.ready_at = ready
            heapq.heappush(self._heap, item)
            return
        if not await self.pacer.wait(self._stop) or not await self._acquire_window():
            self._to_release.add(claim.id)
            return
        self.spacing.note(claim.chat_id, time.monotonic())
        self._unrecorded[claim.id] = claim.broadcast_id
        DELIVERY_IN_FLIGHT.inc()
        task = asyncio.create_task(self._send(item))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _acquire_window(self) -> bool:
        """Wait for room among the unrecorded sends; False when stopping meanwhile."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._window.acquire(), 0.5)
                if not self._stop.is_set():
                    return True
                self._window.release()
        return False

    def _quiet(self) -> bool:
        quiet = self.runtime.quiet_hours
        return quiet is not None and quiet.is_quiet(self.runtime.clock())

    async def _claim(self, limit: int) -> int:
        async with self._transaction() as session:
            claims = await outbox.claim(
                session,
                self.id,
                now=self.runtime.clock(),
                wall_now=utcnow(),
                lease=timedelta(seconds=self.config.lease),
                limit=limit,
                quiet=self._quiet(),
            )
        now = time.monotonic()
        held = self._held()
        for claim in claims:
            # A row this worker still holds (its lease lapsed during a long retry_after) is
            # not taken twice.
            if claim.id not in held:
                heapq.heappush(self._heap, _Item(now, next(self._seq), claim))
        return len(claims)

    def _held(self) -> set[int]:
        """Deliveries this worker holds: waiting in memory, or sent and not yet recorded."""
        return {item.claim.id for item in self._heap} | set(self._unrecorded)

    async def _renew(self) -> None:
        """Extend the leases of the rows this worker holds."""
        until = utcnow() + timedelta(seconds=self.config.lease)
        async with self._transaction() as session:
            await outbox.renew(session, self.id, self._held(), until)

    # ------------------------------------------------------------------ one message

    async def _send(self, item: _Item) -> None:
        claim = item.claim
        recorded = False
        try:
            payload = await self._payload(claim)
            if payload is None:
                self._settle(claim, item, DeliveryState.CANCELLED, "nothing to send")
                recorded = True
                return
            method, params, upload = outbox_request(claim.chat_id, payload)
            result = await self.api.call(method, params, upload)
            recorded = self._outcome(item, result)
        except Exception:
            logger.exception("Delivery %s could not be sent", claim.id)
            item.last_error = "error in the worker"
            recorded = self._retry(item)
        finally:
            if not recorded:
                self._unrecorded.pop(claim.id, None)
                self._window.release()
                DELIVERY_IN_FLIGHT.dec()

    def _outcome(self, item: _Item, result: ApiResult) -> bool:
        """Settle or reschedule the message; True when an outcome waits to be written."""
        claim = item.claim
        if result.ok:
            self._settle(claim, item, DeliveryState.SENT, None, tries=1)
            return True
        status = result.status
        detail = f"{status} {result.description}".strip()[:200]
        if status == 429:
            wait = result.retry_after or 1.0
            self.pacer.block(wait)
            DELIVERIES.labels("rate_limited").inc()
            item.ready_at = time.monotonic() + wait
            heapq.heappush(self._heap, item)
            self._wake.set()
            return False
        if status == 403 or (status == 400 and "chat not found" in result.description.lower()):
            self._settle(claim, item, DeliveryState.UNREACHABLE, detail, tries=1)
            return True
        if 400 <= status < 500:
            # Our request was refused as it is (a bad markup, a too long text): retrying the
            # same request cannot help.
            self._settle(claim, item, DeliveryState.FAILED, detail, tries=1)
            return True
        item.last_error = detail or "timeout"
        return self._retry(item)

    def _retry(self, item: _Item) -> bool:
        """Try a 5xx or a timeout again after a pause, or give up; True when given up."""
        item.tries += 1
        if item.claim.attempts + item.tries >= self.config.max_attempts:
            self._settle(item.claim, item, DeliveryState.FAILED, item.last_error, tries=0)
            return True
        DELIVERIES.labels("retried").inc()
        item.ready_at = time.monotonic() + self.config.backoff * 2 ** (item.tries - 1)
        heapq.heappush(self._heap, item)
        self._wake.set()
        return False

    def _settle(
        self,
        claim: Claim,
        item: _Item,
        state: DeliveryState,
        detail: str | None,
        tries: int = 0,
    ) -> None:
        self._outcomes.append(
            Outcome(claim.id, claim.participant_id, state, item.tries + tries, detail)
        )
        DELIVERIES.labels(state.value).inc()
        if len(self._outcomes) >= self.config.unrecorded_limit // 2:
            self._flushed.set()  # wake the flusher early

    async def _payload(self, claim: Claim) -> dict[str, Any] | None:
        if claim.broadcast_id is None:
            return claim.payload
        code = claim.language or self.runtime.default_language
        key = (claim.broadcast_id, code)
        cached = self._payloads.get(key)
        if cached is not None:
            return cached
        content = self._content.get(claim.broadcast_id)
        if content is None:
            async with self.runtime.sessionmaker() as session:
                found = await session.get(Broadcast, claim.broadcast_id)
                if found is None:
                    return None
                consultation = (
                    await session.get(Consultation, found.consultation_id)
                    if found.consultation_id
                    else None
                )
            content = self._content[claim.broadcast_id] = (found, consultation)
        payload = render.recipient_payload(content[0], content[1], code)
        self._payloads[key] = payload
        return payload

    # ------------------------------------------------------------------ writing outcomes

    async def _flush_loop(self) -> None:
        while not self._helpers_done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), self.config.flush_interval)
            self._flushed.clear()
            await self._flush()

    async def _flush(self) -> bool:
        """Write outcomes and releases; True when nothing is left to write."""
        if not self._outcomes and not self._to_release:
            return True
        outcomes, self._outcomes = self._outcomes, []
        releases, self._to_release = self._to_release, set()
        try:
            async with self._transaction() as session:
                await outbox.record(session, outcomes, self.runtime.clock())
                await outbox.release(session, self.id, releases)
        except Exception as error:
            # Kept and written later; sending waits meanwhile (the window stays full).
            logger.warning("Could not record delivery outcomes: %s", type(error).__name__)
            self._outcomes[:0] = outcomes
            self._to_release |= releases
            return False
        for outcome in outcomes:
            if self._unrecorded.pop(outcome.delivery_id, False) is not False:
                self._window.release()
                DELIVERY_IN_FLIGHT.dec()
        return True

    # ------------------------------------------------------------------ broadcasts

    async def _refresh_states(self) -> None:
        async with self.runtime.sessionmaker() as session:
            active = await outbox.active_broadcasts(session)
        self._running = {b.id or 0 for b in active if b.state == BroadcastState.RUNNING}

    async def _housekeeping(self) -> None:
        """Start due broadcasts, write their deliveries, finish, show progress, report."""
        now = self.runtime.clock()
        async with self._transaction() as session:
            for started in await outbox.start_due(session, now):
                logger.info("Broadcast %s starts", started.id)
        async with self.runtime.sessionmaker() as session:
            to_queue = [b.id or 0 for b in await outbox.broadcasts_to_queue(session)]
        for broadcast_id in to_queue:
            async with self._transaction() as session:
                found = await session.get(Broadcast, broadcast_id)
                if found is not None and found.queued_at is None:
                    written = await outbox.queue_batch(session, found, now)
                    if found.queued_at is not None:
                        logger.info("Broadcast %s: every delivery is queued", broadcast_id)
                    elif written:
                        self._hungry.set()
        held = self._busy_broadcasts()
        async with self.runtime.sessionmaker() as session:
            active = await outbox.active_broadcasts(session)
        for broadcast in active:
            if broadcast.state == BroadcastState.RUNNING and broadcast.id not in held:
                async with self._transaction() as session:
                    found = await session.get(Broadcast, broadcast.id)
                    if found is not None and await outbox.finish_if_done(session, found, now):
                        logger.info("Broadcast %s is done", found.id)
                        broadcast = found
            await self._show_progress(broadcast, now)
        await self._report(now)
        async with self.runtime.sessionmaker() as session:
            OUTBOX_DEPTH.set(await outbox.outbox_depth(session))

    def _busy_broadcasts(self) -> set[int | None]:
        """Broadcasts with rows in memory: waiting, in flight, or not yet recorded."""
        return {item.claim.broadcast_id for item in self._heap} | set(self._unrecorded.values())

    async def _counts_and_content(
        self, broadcast: Broadcast
    ) -> tuple[outbox.Counts, Consultation | None]:
        async with self.runtime.sessionmaker() as session:
            counts = await outbox.delivery_counts(session, broadcast.id or 0)
            consultation = (
                await session.get(Consultation, broadcast.consultation_id)
                if broadcast.consultation_id
                else None
            )
        return counts, consultation

    async def _show_progress(
        self, broadcast: Broadcast, now: datetime, *, final: bool = False
    ) -> None:
        if broadcast.chat_id is None or broadcast.progress_message_id is None:
            return
        shown_at, shown_text = self._progress_shown.get(broadcast.id or 0, (0.0, ""))
        if not final and time.monotonic() - shown_at < self.config.progress_interval:
            return
        counts, consultation = await self._counts_and_content(broadcast)
        with language(broadcast.staff_language):
            message = render.progress_message(broadcast, consultation, counts, self.runtime, now)
        if message.text == shown_text:
            return
        params: dict[str, Any] = {
            "chat_id": broadcast.chat_id,
            "message_id": broadcast.progress_message_id,
            "text": message.text,
            "parse_mode": "HTML",
        }
        if message.keyboard is not None:
            params["reply_markup"] = message.keyboard.to_dict()
        await self.pacer.wait()
        result = await self.api.call("editMessageText", params)
        if not result.ok and "not modified" not in result.description:
            logger.info("Progress of broadcast %s not shown: %s", broadcast.id, result.status)
        self._progress_shown[broadcast.id or 0] = (time.monotonic(), message.text)

    async def _report(self, now: datetime) -> None:
        async with self.runtime.sessionmaker() as session:
            finished = await outbox.unreported(session)
        for broadcast in finished:
            if broadcast.id in self._busy_broadcasts():
                continue  # report once the sends in flight are recorded
            await self._show_progress(broadcast, now, final=True)
            if broadcast.chat_id is not None:
                counts, consultation = await self._counts_and_content(broadcast)
                async with self.runtime.sessionmaker() as session:
                    sending = await outbox.sending_window(session, broadcast.id or 0)
                with language(broadcast.staff_language):
                    report = render.report_message(
                        broadcast, consultation, counts, self.runtime.timezone, sending
                    )
                await self.pacer.wait()
                result = await self.api.call(
                    "sendMessage",
                    {"chat_id": broadcast.chat_id, "text": report.text, "parse_mode": "HTML"},
                )
                if not result.ok:
                    logger.info("Report of broadcast %s not sent: %s", broadcast.id, result.status)
            async with self._transaction() as session:
                found = await session.get(Broadcast, broadcast.id)
                if found is not None:
                    found.reported_at = now
            self._progress_shown.pop(broadcast.id or 0, None)
            self._content.pop(broadcast.id or 0, None)
            logger.info("Broadcast %s reported (%s)", broadcast.id, broadcast.state)


class ChannelApi:
    """The worker's Bot API split by channel, as the bot's own transport is.

    Messages to web residents are stored in their chats (:class:`WebBotApi`), where they wait
    until the person comes back; the rest go to Telegram. Without a bot token, messages to
    Telegram chats fail at once (a 400, so the person is not marked unreachable).
    """

    def __init__(self, telegram: BotApi | None, web: WebBotApi) -> None:
        """Keep both ways."""
        self.telegram = telegram
        self.web = web

    async def call(
        self, method: str, params: dict[str, Any], upload: Upload | None = None
    ) -> ApiResult:
        """Call ``method`` in the channel of its chat; never raises."""
        if is_for_web(params):
            files = {}
            if upload is not None:
                files[upload.field] = Document(upload.filename, upload.content, upload.mime_type)
            answer = await self.web.call(method, params, files)
            body = answer.body
            return ApiResult(
                answer.ok,
                answer.status,
                str(body.get("description") or ""),
                None,
                body.get("result"),
            )
        if self.telegram is None:
            return ApiResult(False, 400, "Telegram is not connected (no BOT_TOKEN)")
        return await self.telegram.call(method, params, upload)

    async def close(self) -> None:
        """Close Telegram's pool."""
        if self.telegram is not None:
            await self.telegram.close()


def delivery_worker(
    settings: Settings, runtime: Runtime, engine: AsyncEngine, **config: Any
) -> DeliveryWorker:
    """The worker for this process: its own Bot API pool, leadership by the database."""
    worker_config = DeliveryConfig(rate=settings.broadcast_rate, **config)
    telegram = None
    if settings.bot_token is not None:
        telegram = BotApi(
            settings.api_base_url,
            settings.bot_token.get_secret_value(),
            # Requests in flight are the rate times Telegram's latency: a tenth of a second's
            # worth (Telegram answers in 30-100 ms) at least 8. Each idle connection costs
            # memory.
            connections=max(8, min(100, math.ceil(worker_config.rate / 10))),
            timeout=worker_config.request_timeout,
        )
    api = ChannelApi(telegram, WebBotApi(runtime))
    return DeliveryWorker(runtime, api, worker_config, leadership_for(engine))
