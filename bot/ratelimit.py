"""The replies' rate limiter: PTB's AIORateLimiter plus Telegram's pace per private chat.

Telegram lets a bot send a short burst of messages to one chat, then about one a second. A
step is one message now, so a person's replies almost never wait; but a step that says two
things (an intro and the first question) or a person pressing fast must not meet a 429 either,
because AIORateLimiter halts *every* request for the ``retry_after`` it names: one person's
burst would hold back everyone's replies. So each private chat has a bucket of ``burst``
messages that refills one message per ``per_chat`` seconds; a message waits only when its
chat's bucket is empty, and the wait is that person's alone.

This is for replies only. Bulk sending (broadcasts, reminders) keeps its own steady pace of at
most one message a second per chat and ``BROADCAST_RATE`` overall (``bot/delivery.py``).

Web residents' chats are not Telegram's: their messages are stored, not sent, and pass at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter

from models.channels import is_web_id

#: Methods that put a message into a chat (edits and button answers are not limited so).
SENDS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendPoll",
        "sendAnimation",
        "sendAudio",
        "sendVideo",
        "sendVoice",
        "sendSticker",
        "sendMediaGroup",
        "sendLocation",
        "copyMessage",
        "forwardMessage",
    }
)
#: Messages one chat may get at once before the pace of one per ``per_chat`` seconds applies.
BURST = 3
_FORGET_AFTER = 1024  # chats remembered before full buckets are dropped

#: What the Bot API answers a request with (PTB's ``JSONDict``, spelled with public types).
Answer = bool | dict[str, Any] | list[dict[str, Any]]


class ChatBuckets:
    """A token bucket per chat: ``burst`` at once, then one per ``per_chat`` seconds."""

    def __init__(self, per_chat: float = 1.0, burst: int = BURST) -> None:
        """Every chat starts with a full bucket."""
        self.per_chat = per_chat
        self.burst = burst
        self._buckets: dict[int, tuple[float, float]] = {}  # chat -> (tokens, as of when)
        self._limit = _FORGET_AFTER

    def take(self, chat_id: int, now: float) -> float:
        """Take one message's token; return how long to wait before sending it.

        The token is reserved at once (the bucket may go below zero), so concurrent sends to
        one chat queue in order, each ``per_chat`` seconds after the one before.
        """
        if self.per_chat <= 0:
            return 0.0
        tokens, at = self._buckets.get(chat_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) / self.per_chat) - 1
        self._buckets[chat_id] = (tokens, now)
        if len(self._buckets) > self._limit:
            self._forget(now)
        return 0.0 if tokens >= 0 else -tokens * self.per_chat

    def _forget(self, now: float) -> None:
        """Drop the chats whose bucket has filled up again (they start full anyway)."""
        self._buckets = {
            chat: (tokens, at)
            for chat, (tokens, at) in self._buckets.items()
            if tokens + (now - at) / self.per_chat < self.burst
        }
        # Many chats busy at once: look again only when there are twice as many.
        self._limit = max(_FORGET_AFTER, 2 * len(self._buckets))

    def __len__(self) -> int:
        """How many chats are remembered."""
        return len(self._buckets)


# What a Bot API call returns, as PTB's BaseRateLimiter declares it (PTB names the same type
# in a private module, which may change in any release).
JSONDict = dict[str, Any]


class ReplyRateLimiter(AIORateLimiter):
    """AIORateLimiter that keeps Telegram's per-chat pace for messages to private chats.

    Args:
        per_chat: seconds per message once a chat's burst is used up.
        burst: messages a chat may get at once.
        **kwargs: AIORateLimiter's arguments.
    """

    def __init__(self, per_chat: float = 1.0, burst: int = BURST, **kwargs: Any) -> None:
        """Every chat starts with a full bucket."""
        super().__init__(**kwargs)
        self.buckets = ChatBuckets(per_chat, burst)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Answer]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Answer:
        """Wait while the chat's bucket is empty, then let AIORateLimiter handle the request."""
        chat_id = data.get("chat_id")
        if isinstance(chat_id, int) and is_web_id(chat_id):
            return await callback(*args, **kwargs)  # the web chat: no Telegram limits apply
        if endpoint in SENDS and isinstance(chat_id, int) and chat_id > 0:
            wait = self.buckets.take(chat_id, time.monotonic())
            if wait > 0:
                await asyncio.sleep(wait)
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
