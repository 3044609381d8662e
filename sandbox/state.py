"""In-memory state of the offline sandbox: users, chats, events, files, faults and stats.

Everything here is sized for a 100,000-recipient broadcast: per-chat structures are created
lazily and bounded when the sandbox is told to keep few messages, and message dicts are
shared (never copied) between a chat's current state and its event log.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

JSONDict = dict[str, Any]


def fields_json(item: Any) -> JSONDict:
    """A dataclass's fields as a dict, values shared, not copied (unlike ``asdict``)."""
    return {each.name: getattr(item, each.name) for each in fields(item)}


#: Event kinds that record something the bot did.
BOT_EVENT_KINDS = frozenset(
    {"message", "edit", "delete", "poll", "callback_answer", "chat_action"}
)


@dataclass(slots=True)
class SandboxUser:
    """A simulated Telegram user; their private chat has the same id."""

    id: int
    first_name: str = "Test"
    language_code: str | None = "nb"
    last_name: str | None = None
    username: str | None = None
    blocked: bool = False

    def to_json(self) -> JSONDict:
        """Return the Bot API ``User`` object."""
        return {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            **self._given("last_name", "username", "language_code"),
        }

    def chat_json(self) -> JSONDict:
        """Return the Bot API ``Chat`` object of the private chat with this user."""
        return {
            "id": self.id,
            "type": "private",
            "first_name": self.first_name,
            **self._given("last_name", "username"),
        }

    def _given(self, *names: str) -> JSONDict:
        """The optional fields among ``names`` that are set (Telegram leaves out the others)."""
        return {name: value for name in names if (value := getattr(self, name))}


@dataclass(slots=True, frozen=True)
class SandboxEvent:
    """One thing that happened in a chat, numbered by a sandbox-wide cursor.

    Kinds: ``message`` (the bot sent ``message``), ``edit`` (the bot changed it; ``message``
    is the new state), ``delete``, ``poll`` (votes changed a poll), ``callback_answer``,
    ``chat_action``, and from the user's side ``user_message``, ``user_edit``,
    ``callback_query``, ``poll_answer`` and ``member`` (blocked or unblocked the bot).
    """

    seq: int
    kind: str
    chat_id: int
    date: float
    message: JSONDict | None = None
    data: JSONDict | None = None

    @property
    def from_bot(self) -> bool:
        """Tell whether the bot caused this event."""
        return self.kind in BOT_EVENT_KINDS

    def to_json(self) -> JSONDict:
        """Return the event as JSON for the driver API."""
        return {**fields_json(self), "from_bot": self.from_bot, "data": self.data or {}}

    def describe(self) -> str:
        """Return a one-line summary for error messages."""
        text = ""
        if self.message is not None:
            msg = self.message
            text = msg.get("text") or msg.get("caption") or ""
            if "poll" in msg:
                text = f"[poll] {msg['poll']['question']}"
            elif "document" in msg:
                text = f"[document {msg['document'].get('file_name')}] {text}"
            elif "photo" in msg:
                text = f"[photo] {text}"
            buttons = [
                button.get("callback_data") or button.get("url")
                for row in msg.get("reply_markup", {}).get("inline_keyboard", [])
                for button in row
            ]
            if buttons:
                text += f" buttons={buttons}"
        elif self.data:
            text = repr(self.data)
        if len(text) > 160:
            text = text[:157] + "..."
        return f"#{self.seq} {self.kind}: {text}"


@dataclass(slots=True)
class StoredFile:
    """A file held in memory, downloadable through getFile and the file URL."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    mime_type: str | None = None
    file_name: str | None = None

    def to_json(self) -> JSONDict:
        """Return the Bot API ``File`` object (relative path, as Telegram sends it)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }


@dataclass(slots=True)
class Fault:
    """An injected failure for the next ``count`` matching Bot API calls."""

    method: str | None = None
    chat_id: int | None = None
    status: int = 500
    count: int = 1
    retry_after: int | None = None
    delay: float = 0.0
    description: str | None = None

    def matches(self, method: str, chat_id: Any) -> bool:
        """Tell whether a call to ``method`` for ``chat_id`` is hit by this fault."""
        if self.method is not None and self.method.lower() != method:
            return False
        return self.chat_id is None or str(self.chat_id) == str(chat_id)

    def to_json(self) -> JSONDict:
        """Return the fault as JSON for the driver API."""
        return fields_json(self)


class TokenBucket:
    """A token bucket: ``rate`` sends per second with bursts of up to ``max(capacity, rate)``."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, now: float, capacity: float = 1.0) -> None:
        """Start full at time ``now``."""
        self.rate = rate
        self.capacity = max(1.0, capacity, rate)
        self.tokens = self.capacity
        self.stamp = now

    def wait_time(self, now: float) -> float:
        """Refill and return how long to wait before one token is there (0 = now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        """Spend one token; call after ``wait_time`` returned 0."""
        self.tokens -= 1.0


class Signal:
    """Wake every coroutine waiting for "something new" (updates, chat events)."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        """Start with nobody waiting."""
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        """Wake all current waiters."""
        if self._waiters:
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._waiters.clear()

    async def wait(self, seconds: float) -> None:
        """Wait until notified or ``seconds`` passed, whichever comes first."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, max(seconds, 0.0))
        except TimeoutError:
            pass
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)


class ChatState:
    """A chat: the bot's current messages, recent user messages and the event log.

    A private chat has the id of its ``user``; a group has ``members`` instead.
    """

    __slots__ = (
        "bot_messages",
        "bucket",
        "events",
        "id",
        "json",
        "members",
        "next_message_id",
        "reply_keyboard",
        "user",
        "user_messages",
    )

    def __init__(
        self,
        chat_id: int,
        json: JSONDict,
        user: SandboxUser | None = None,
        members: set[int] | None = None,
    ) -> None:
        """Create an empty chat: private with ``user``, or a group of ``members``."""
        self.id = chat_id
        self.json = json
        self.user = user
        self.members = members
        self.next_message_id = 1
        self.bot_messages: dict[int, JSONDict] = {}
        self.user_messages: dict[int, JSONDict] = {}
        self.events: list[SandboxEvent] | None = None
        self.bucket: TokenBucket | None = None
        self.reply_keyboard: JSONDict | None = None

    @property
    def blocked(self) -> bool:
        """Tell whether the private chat's user blocked the bot."""
        return self.user is not None and self.user.blocked

    def take_message_id(self) -> int:
        """Return the next message id; both sides of a chat share the sequence."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass(slots=True)
class PollState:
    """A poll the bot sent: where it is and who voted for what."""

    poll_id: str
    chat_id: int
    message_id: int
    poll: JSONDict
    votes: dict[int, list[int]] = field(default_factory=dict)
    closer: asyncio.TimerHandle | None = None


@dataclass
class SandboxStats:
    """Counters for benchmarks and tests.

    Attributes:
        sends: successful sendMessage/sendPoll/sendDocument/sendPhoto calls.
        per_chat: successful sends per chat id.
        rate_limited: 429 answers (rate limit or injected).
        forbidden: 403 answers (blocked users or injected).
        server_errors: 5xx answers (injected).
        bad_requests: 400 answers.
        calls: Bot API calls per method name (lower case).
        send_times: ``time.monotonic()`` of each successful send, in order.
        answered_in_webhook: Bot API calls a webhook made in its answer to an update, per
            method name (lower case; counted in ``calls`` too).
        webhook_deliveries: updates the webhook receiver accepted.
        webhook_failures: webhook attempts answered non-2xx or failed.
    """

    sends: int = 0
    per_chat: Counter[int] = field(default_factory=Counter)
    rate_limited: int = 0
    forbidden: int = 0
    server_errors: int = 0
    bad_requests: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    send_times: array[float] = field(default_factory=lambda: array("d"))
    answered_in_webhook: Counter[str] = field(default_factory=Counter)
    webhook_deliveries: int = 0
    webhook_failures: int = 0

    def record_send(self, chat_id: int) -> None:
        """Count one successful send to ``chat_id``."""
        self.sends += 1
        self.per_chat[chat_id] += 1
        self.send_times.append(time.monotonic())

    def record_error(self, status: int) -> None:
        """Count one error answer by its HTTP status."""
        if status == 429:
            self.rate_limited += 1
        elif status == 403:
            self.forbidden += 1
        elif status >= 500:
            self.server_errors += 1
        elif status == 400:
            self.bad_requests += 1

    def sustained_rate(self) -> float:
        """Return sends per second between the first and the last send (0 if < 2 sends)."""
        times = self.send_times
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def peak_rate(self, window: float = 1.0) -> float:
        """Return the most sends seen in any ``window`` seconds, divided by ``window``."""
        times = self.send_times
        best = 0
        start = 0
        for end, stamp in enumerate(times):
            while stamp - times[start] > window:
                start += 1
            best = max(best, end - start + 1)
        return best / window

    def reset(self) -> None:
        """Zero every counter."""
        self.sends = 0
        self.per_chat.clear()
        self.rate_limited = self.forbidden = self.server_errors = self.bad_requests = 0
        self.calls.clear()
        self.answered_in_webhook.clear()
        self.send_times = array("d")
        self.webhook_deliveries = self.webhook_failures = 0

    def to_json(self, *, per_chat: bool = False) -> JSONDict:
        """Return the counters as JSON; ``per_chat`` adds the (possibly huge) per-chat map."""
        data: JSONDict = {
            "sends": self.sends,
            "chats": len(self.per_chat),
            "rate_limited": self.rate_limited,
            "forbidden": self.forbidden,
            "server_errors": self.server_errors,
            "bad_requests": self.bad_requests,
            "calls": dict(self.calls),
            "sustained_rate": round(self.sustained_rate(), 2),
            "webhook_deliveries": self.webhook_deliveries,
            "webhook_failures": self.webhook_failures,
        }
        if per_chat:
            data["per_chat"] = {str(chat): count for chat, count in self.per_chat.items()}
        return data


def retry_after_seconds(wait: float) -> int:
    """Round a wait up to whole seconds, at least 1, as Telegram's retry_after is."""
    return max(1, math.ceil(wait))
