"""What an attacker or a broken client sends the webhook: answered 200 "dropped" or 403, never
500, never a traceback, and never a loop of redeliveries (issue #14, items 3 and 4)."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web import SECRET_HEADER
from handlers import callbacks as cb
from models.response import Answer
from sandbox import Sandbox
from tests.auxil.updates import JSON, press_update, text_update
from tests.runtime.conftest import SECRET, Webhook
from tests.runtime.test_webhook import ANNA, scales_with_anna

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("no_reply_spacing")]


def _document(update_id: int, file_name: Any) -> JSON:
    update = text_update(update_id, ANNA, "x")
    message = update["message"]
    del message["text"]
    message["document"] = {"file_id": "f1", "file_unique_id": "u1", "file_name": file_name}
    return update


def _without_message(update_id: int, data: str) -> JSON:
    update = press_update(update_id, ANNA, data)
    del update["callback_query"]["message"]
    update["callback_query"]["inline_message_id"] = "inline-1"
    return update


def _text_as_object(update_id: int) -> JSON:
    update = text_update(update_id, ANNA, "x")
    update["message"]["text"] = {"nested": "object"}
    return update


def _reply_text_as_object(update_id: int) -> JSON:
    update = text_update(update_id, ANNA, "5")
    quoted = copy.deepcopy(update["message"])
    quoted["text"] = {"nested": "object"}
    update["message"]["reply_to_message"] = quoted
    return update


def _huge_id(update_id: int) -> JSON:
    return text_update(2**63 + update_id, ANNA, "/start")


def _huge_user(update_id: int) -> JSON:
    update = text_update(update_id, ANNA, "/start")
    update["message"]["from"]["id"] = 2**64
    update["message"]["chat"]["id"] = 2**64
    return update


def _huge_message_id(update_id: int) -> JSON:
    return press_update(update_id, ANNA, cb.ManageList(0).pack(), message_id=2**40)


@pytest.mark.parametrize(
    "make",
    [
        _huge_id,
        _huge_user,
        _huge_message_id,
        _text_as_object,
        _reply_text_as_object,
        lambda n: _document(n, 12345),
        lambda n: _document(n, ["a"]),
        lambda n: _without_message(n, cb.PickLanguage("en").pack()),
        lambda n: _without_message(n, cb.GiveConsent(1, "nb", 0, "").pack()),
        lambda n: _without_message(n, cb.ManageList(0).pack()),
        lambda n: _without_message(n, "zz:1"),
        lambda n: press_update(n, ANNA, "a:999999999999:1"),
        lambda n: press_update(n, ANNA, "n:999999999999:999999999999"),
    ],
    ids=[
        "update id of 2^63",
        "user id of 2^64",
        "message id of 2^40",
        "text as an object",
        "quoted text as an object",
        "integer file_name",
        "list file_name",
        "language button without message",
        "consent button without message",
        "staff button without message",
        "unknown button without message",
        "question id past 32 bits",
        "ids past 32 bits",
    ],
)
async def test_a_fuzzed_update_is_acknowledged_never_failed(
    sandbox: Sandbox,
    webhook: Webhook,
    db: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
    make: Any,
) -> None:
    await scales_with_anna(sandbox, db)
    assert await webhook.post(text_update(69, ANNA, "/help")) == 200  # a message to press on
    update = make(70)
    query = update.get("callback_query")
    if query is not None:  # a press the sandbox knows, so the bot can answer it
        query["id"] = await sandbox.press(ANNA, query["data"])
    with caplog.at_level(logging.WARNING):
        assert await webhook.post(update) == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text
    assert "Traceback" not in str(sandbox.messages(ANNA))


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b"{not json", b"[1, 2]", b"\xff\xfe", b'"just a string"', b"null"],
    ids=["100,000 [", "not JSON", "a list", "not UTF-8", "a string", "null"],
)
async def test_a_body_that_is_no_update_is_dropped_with_one_warning(
    webhook: Webhook, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    with caplog.at_level(logging.WARNING):
        async with webhook.http.post(
            webhook.url(), data=body, headers={SECRET_HEADER: SECRET}
        ) as response:
            assert response.status == 200
            assert await response.text() == "dropped"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].levelno == logging.WARNING
    assert not warnings[0].exc_info


async def test_a_secret_header_of_non_utf8_bytes_is_refused_without_a_traceback(
    webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    # aiohttp's client refuses such a header, so the request is written by hand.
    host, port = webhook.server.host, webhook.server.port
    import asyncio

    reader, writer = await asyncio.open_connection(host, port)
    body = b'{"update_id": 1}'
    writer.write(
        b"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Telegram-Bot-Api-Secret-Token: \xff\xfe\xc3\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    with caplog.at_level(logging.WARNING):
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()
    writer.close()
    assert b" 403 " in status_line
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(
    "poison", ["Mitt svar\x00 med NUL", "Et ensomt \ud800 surrogat"], ids=["NUL", "surrogate"]
)
async def test_poison_text_is_cleaned_at_the_door_and_the_answer_kept(
    sandbox: Sandbox,
    webhook: Webhook,
    db: async_sessionmaker[AsyncSession],
    poison: str,
) -> None:
    await scales_with_anna(sandbox, db)
    # A typed "5" with poison after it: the digit answers the scale.
    assert await webhook.post(text_update(80, ANNA, "5" + poison[-3:])) == 200
    update = text_update(81, ANNA, poison)
    assert await webhook.post(update) == 200
    assert await webhook.post(update) == 200  # a redelivery changes nothing
    texts = [m.get("text") or "" for m in sandbox.messages(ANNA)]
    assert not any("noe gikk galt" in t for t in texts), texts
    async with db() as session:
        stored = (await session.exec(select(Answer.text))).all()
    assert all("\x00" not in (t or "") for t in stored)


async def test_a_permanent_database_error_is_answered_once_and_not_redelivered(
    sandbox: Sandbox,
    webhook: Webhook,
    db: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sqlalchemy.exc import DataError

    from models import response as flow

    await scales_with_anna(sandbox, db)

    async def refused(*args: object, **kwargs: object) -> None:
        raise DataError("INSERT ...", {}, Exception("value out of range"))

    monkeypatch.setattr(flow, "type_answer", refused)
    update = text_update(90, ANNA, "6")
    with caplog.at_level(logging.CRITICAL):
        assert await webhook.post(update) == 200  # Telegram must not send it again
        assert await webhook.post(update) == 200  # and if it does, no second apology
    apologies = [m for m in sandbox.messages(ANNA) if "gikk galt" in (m.get("text") or "")]
    assert len(apologies) == 1
