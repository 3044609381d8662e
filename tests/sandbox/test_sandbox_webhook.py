"""Webhook mode: the sandbox POSTs updates with the secret header and retries failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Conflict

from sandbox import Sandbox


@dataclass
class Receiver:
    """A webhook endpoint that fails its first ``failures`` requests with 500."""

    failures: int = 1
    url: str = ""
    received: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)
    accepted: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def handle(self, request: web.Request) -> web.Response:
        """Record the request; fail or accept it."""
        body = await request.json()
        self.received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), body))
        if self.failures > 0:
            self.failures -= 1
            return web.Response(status=500)
        await self.accepted.put(body)
        return web.Response()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """Serve a Receiver on a free local port."""
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/telegram", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/telegram"
    yield receiver
    await runner.cleanup()


async def test_webhook_delivers_with_secret_and_redelivers_after_500(
    sandbox: Sandbox, bot: Bot, user_id: int, receiver: Receiver
) -> None:
    assert await bot.set_webhook(receiver.url, secret_token="hemmelig-123")
    assert sandbox.webhook_url == receiver.url
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()

    await sandbox.send_text(user_id, "/start")
    await sandbox.send_text(user_id, "neste")
    first = await asyncio.wait_for(receiver.accepted.get(), 5)
    second = await asyncio.wait_for(receiver.accepted.get(), 5)

    # The failed first attempt is retried with the same update, before the next one.
    assert [body["update_id"] for _, body in receiver.received] == [
        first["update_id"],
        first["update_id"],
        second["update_id"],
    ]
    assert {secret for secret, _ in receiver.received} == {"hemmelig-123"}
    update = Update.de_json(first, bot)
    assert update.message is not None
    assert update.message.text == "/start"

    info = await bot.get_webhook_info()
    assert info.url == receiver.url
    assert info.pending_update_count == 0
    assert info.last_error_message is not None
    assert "500" in info.last_error_message
    assert (sandbox.stats.webhook_deliveries, sandbox.stats.webhook_failures) == (2, 1)

    assert await bot.delete_webhook()
    await sandbox.send_text(user_id, "polling again")
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["polling again"]


async def test_webhook_retries_when_the_receiver_is_down(
    sandbox: Sandbox, bot: Bot, user_id: int, receiver: Receiver
) -> None:
    await sandbox.send_text(user_id, "queued before the webhook")
    await bot.set_webhook(receiver.url.replace("/telegram", "/missing"))
    await asyncio.sleep(0.2)
    assert sandbox.pending_updates == 1
    assert sandbox.stats.webhook_failures >= 1

    receiver.failures = 0
    await bot.set_webhook(receiver.url, drop_pending_updates=True)
    await sandbox.send_text(user_id, "after")
    body = await asyncio.wait_for(receiver.accepted.get(), 5)
    assert body["message"]["text"] == "after"
    assert [secret for secret, _ in receiver.received] == [None]


async def test_a_method_in_the_webhook_answer_is_made_as_telegram_does(
    sandbox: Sandbox, bot: Bot, user_id: int
) -> None:
    """A webhook may answer an update with one Bot API call; the sandbox makes it."""
    pressed: asyncio.Queue[str] = asyncio.Queue()

    async def handle(request: web.Request) -> web.Response:
        query = (await request.json())["callback_query"]
        await pressed.put(query["id"])
        return web.json_response(
            {"method": "answerCallbackQuery", "callback_query_id": query["id"], "text": "Lagret"}
        )

    app = web.Application()
    app.router.add_post("/telegram", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        message = await bot.send_message(user_id, "Velg", reply_markup=_one_button())
        assert await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/telegram")
        query = await sandbox.press(user_id, "x:1", message.message_id)
        assert await asyncio.wait_for(pressed.get(), 5) == query
        answer = await sandbox.wait_for_callback_answer(query, 5)
        assert answer["text"] == "Lagret"
        assert sandbox.stats.calls["answercallbackquery"] == 1
    finally:
        await bot.delete_webhook()
        await runner.cleanup()


def _one_button() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="x:1")]])
