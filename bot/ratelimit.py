"""The replies' rate limiter: PTB's AIORateLimiter plus one message a second per private chat.

Telegram allows about one message a second in a chat. A step that answers with two messages
(a thank-you and the summary, the intro and the first question) would otherwise meet a 429 for
the second, and AIORateLimiter halts *every* request for the ``retry_after`` it names: one
person's two-message step would hold back everyone's replies. Spacing the messages to each
private chat before sending keeps that 429 from happening; the wait is that person's alone.

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
_FORGET_AFTER = 1024  # chats remembered before old entries are dropped

# What a Bot API call returns, as PTB's BaseRateLimiter declares it (PTB names the same type
# in a private module, which may change in any release).
JSONDict = dict[str, Any]


class ReplyRateLimiter(AIORateLimiter):
    """AIORateLimiter that also spaces messages to one private chat ``per_chat`` seconds apart.

    Args:
        per_chat: seconds from Telegram's answer to one message to the next message to the
            same private chat.
        **kwargs: AIORateLimiter's arguments.
    """

    def __init__(self, per_chat: float = 1.0, **kwargs: Any) -> None:
        """Remember no chats yet."""
        super().__init__(**kwargs)
        self._per_chat = per_chat
        self._next_slot: dict[int, float] = {}

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Wait for the chat's next free slot, then let AIORateLimiter handle the request."""
        chat_id = data.get("chat_id")
        if isinstance(chat_id, int) and is_web_id(chat_id):
            return await callback(*args, **kwargs)  # the web chat: no Telegram limits apply
        if endpoint in SENDS and isinstance(chat_id, int) and chat_id > 0:
            now = time.monotonic()
            # Reserve the slot before waiting, so concurrent sends to one chat queue in order.
            slot = max(now, self._next_slot.get(chat_id, 0.0))
            self._next_slot[chat_id] = slot + self._per_chat
            if len(self._next_slot) > _FORGET_AFTER:
                self._next_slot = {c: t for c, t in self._next_slot.items() if t > now}
            if slot > now:
                await asyncio.sleep(slot - now)
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            finally:
                # Counted from the answer: Telegram saw the message at the latest then, and a
                # request that took long to arrive must not bring the next one too close.
                done = time.monotonic() + self._per_chat
                self._next_slot[chat_id] = max(self._next_slot.get(chat_id, 0.0), done)
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
