"""The JSON driver API under /sandbox/api/, end to end with aiohttp's client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest

from sandbox import PIXEL_PNG, Sandbox


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    """Yield an HTTP client whose relative URLs point at the sandbox."""
    async with aiohttp.ClientSession(base_url=f"{sandbox.url}/") as session:
        yield session


async def call(
    client: aiohttp.ClientSession, method: str, path: str, status: int = 200, **kwargs: Any
) -> Any:
    """Make a driver request, check the status and return the JSON answer."""
    async with client.request(method, f"sandbox/api/{path}", **kwargs) as response:
        assert response.status == status, await response.text()
        return await response.json()


async def test_driver_plays_a_user_end_to_end(
    sandbox: Sandbox, bot: Bot, client: aiohttp.ClientSession
) -> None:
    user = await call(
        client, "POST", "users", 201, json={"first_name": "Ola", "language_code": "en"}
    )
    uid = user["id"]
    assert user["language_code"] == "en"
    listed = await call(client, "GET", "users")
    assert uid in [u["id"] for u in listed["users"]]

    sent = await call(client, "POST", f"users/{uid}/text", json={"text": "/start"})
    assert sent["message"]["entities"][0]["type"] == "bot_command"
    update = (await bot.get_updates())[-1]
    assert update.message is not None
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "en"

    # A page long-polls for events; the bot's reply arrives while it waits.
    cursor = sent["cursor"]
    events_request = asyncio.create_task(
        call(client, "GET", f"chats/{uid}/events", params={"after": cursor, "wait": 5})
    )
    await asyncio.sleep(0.05)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="consent:yes")]])
    question = await bot.send_message(uid, "Samtykker du?", reply_markup=markup)
    events = await events_request
    assert [e["kind"] for e in events["events"]] == ["message"]
    assert events["events"][0]["message"]["reply_markup"] == markup.to_dict()
    cursor = events["cursor"]

    pressed = await call(
        client, "POST", f"users/{uid}/press", json={"callback_data": "consent:yes"}
    )
    query = (await bot.get_updates(offset=update.update_id + 1))[-1].callback_query
    assert query is not None
    assert query.id == pressed["callback_query_id"]
    await query.answer("Takk")
    await bot.edit_message_text("Takk for samtykket", chat_id=uid, message_id=question.message_id)
    answer = await call(client, "GET", f"callback_answers/{query.id}")
    assert answer["answer"]["text"] == "Takk"

    events = await call(client, "GET", f"chats/{uid}/events", params={"after": cursor})
    assert [e["kind"] for e in events["events"]] == [
        "callback_query",
        "callback_answer",
        "edit",
    ]
    assert events["events"][-1]["message"]["text"] == "Takk for samtykket"
    messages = await call(client, "GET", f"chats/{uid}/messages")
    assert [m["text"] for m in messages["messages"]] == ["Takk for samtykket"]

    # Files: a user upload the bot can read, and a bot document the page can download.
    form = aiohttp.FormData()
    form.add_field("file", b"slug: holmen", filename="holmen.yaml", content_type="text/yaml")
    form.add_field("caption", "Ny høring")
    uploaded = await call(client, "POST", f"users/{uid}/document", data=form)
    file = await bot.get_file(uploaded["message"]["document"]["file_id"])
    assert bytes(await file.download_as_bytearray()) == b"slug: holmen"
    photo_form = aiohttp.FormData()
    photo_form.add_field("file", PIXEL_PNG, filename="a.png", content_type="image/png")
    photo = await call(client, "POST", f"users/{uid}/photo", data=photo_form)
    assert photo["message"]["photo"][0]["width"] == 1

    cursor = sandbox.cursor
    await bot.send_document(uid, b"a;b\n1;2\n", filename="resultater.csv")
    events = await call(client, "GET", f"chats/{uid}/events", params={"after": cursor})
    (url,) = events["events"][0]["files"].values()
    async with client.get(url.lstrip("/")) as response:
        assert response.status == 200
        assert await response.read() == b"a;b\n1;2\n"
        assert "resultater.csv" in response.headers["Content-Disposition"]


async def test_driver_votes_blocks_and_reads_commands_stats_and_faults(
    sandbox: Sandbox, bot: Bot, client: aiohttp.ClientSession, user_id: int
) -> None:
    poll = await bot.send_poll(user_id, "Enig?", ["Ja", "Nei"], is_anonymous=False)
    assert poll.poll is not None
    await call(
        client, "POST", f"users/{user_id}/vote", json={"poll_id": poll.poll.id, "option_ids": [1]}
    )
    counts = await call(client, "GET", f"polls/{poll.poll.id}")
    assert [o["voter_count"] for o in counts["options"]] == [0, 1]
    error = await call(
        client,
        "POST",
        f"users/{user_id}/vote",
        400,
        json={"poll_id": poll.poll.id, "option_ids": [5]},
    )
    assert "do not fit" in error["error"]
    await call(client, "POST", "users/777/vote", 404, json={"poll_id": "nope", "option_ids": [0]})

    await call(client, "POST", f"users/{user_id}/block")
    assert (await call(client, "GET", f"users/{user_id}"))["blocked"] is True
    await call(client, "POST", f"users/{user_id}/unblock")

    await bot.set_my_commands([BotCommand("start", "Start")], language_code="nb")
    commands = await call(client, "GET", "commands")
    assert commands["commands"] == [
        {
            "scope": "default",
            "language_code": "nb",
            "commands": [{"command": "start", "description": "Start"}],
        }
    ]

    fault = await call(
        client, "POST", "faults", 201, json={"method": "sendMessage", "status": 400}
    )
    assert fault["count"] == 1
    assert len((await call(client, "GET", "faults"))["faults"]) == 1
    with pytest.raises(BadRequest):
        await bot.send_message(user_id, "x")
    await call(client, "POST", "faults", 400, json={"bogus": 1})
    await call(client, "POST", "faults", 201, json={"status": 500, "count": 5})
    await call(client, "DELETE", "faults")
    await bot.send_message(user_id, "ok")

    stats = await call(client, "GET", "stats", params={"per_chat": "1"})
    assert stats["sends"] == 2
    assert stats["bad_requests"] == 1
    assert stats["per_chat"] == {str(user_id): 2}
    info = await call(client, "GET", "info")
    assert info["bot"]["username"] == "medvirk_bot"
    await call(client, "GET", "files/nope", 404)
    await call(client, "POST", f"users/{user_id}/text", 400, json={})
