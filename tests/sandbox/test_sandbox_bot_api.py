"""PTB's own Bot against the sandbox's Bot API: payloads, validation, limits and faults."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from sandbox import PIXEL_PNG, Sandbox

from .conftest import ptb_bot

KINDS = ("message", "callback_query", "poll_answer", "poll", "my_chat_member")


def keyboard(*data: str) -> InlineKeyboardMarkup:
    """Return a one-row inline keyboard with these callback data."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d) for d in data]])


async def test_get_me_and_wrong_token(sandbox: Sandbox, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "medvirk_bot"
    assert me.is_bot
    with pytest.raises(InvalidToken):
        async with ptb_bot(sandbox, "999:WRONG"):
            pass


async def test_unimplemented_method_is_a_400_not_a_404(bot: Bot, user_id: int) -> None:
    with pytest.raises(BadRequest, match=r"(?i)the sandbox does not implement getChat"):
        await bot.get_chat(user_id)


async def test_get_updates_long_polls_and_confirms_by_offset(
    sandbox: Sandbox, bot: Bot, user_id: int
) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=dtm.timedelta(seconds=0.3)) == ()
    assert time.monotonic() - started >= 0.25

    async def later() -> None:
        await asyncio.sleep(0.1)
        await sandbox.send_text(user_id, "hei")

    task = asyncio.create_task(later())
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    await task
    assert time.monotonic() - started < 2
    assert [u.message.text for u in updates if u.message] == ["hei"]

    # Unconfirmed updates come again; a higher offset drops them.
    assert (await bot.get_updates())[0].update_id == updates[0].update_id
    assert await bot.get_updates(offset=updates[-1].update_id + 1) == ()
    assert sandbox.pending_updates == 0

    # allowed_updates filters what is queued from then on.
    await bot.get_updates(allowed_updates=["callback_query"])
    await sandbox.send_text(user_id, "ignored")
    assert await bot.get_updates() == ()


async def test_newer_long_poll_terminates_older(sandbox: Sandbox, bot: Bot) -> None:
    # PTB's getUpdates connection pool holds one connection, so the rival needs its own Bot.
    async with ptb_bot(sandbox) as rival:
        older = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        newer = asyncio.create_task(rival.get_updates(timeout=5))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await older
        await sandbox.send_text(sandbox.users[0].id, "hei")
        assert len(await newer) == 1


async def test_edits_deletes_and_the_event_cursor(
    sandbox: Sandbox, bot: Bot, user_id: int
) -> None:
    cursor = sandbox.cursor
    sent = await bot.send_message(user_id, "Spørsmål 1/3", reply_markup=keyboard("a:1:x"))
    await bot.edit_message_reply_markup(user_id, sent.message_id, reply_markup=keyboard("a:1:y"))
    edited = await bot.edit_message_text(
        "Spørsmål 1/3 (endret)", chat_id=user_id, message_id=sent.message_id
    )
    assert not isinstance(edited, bool)
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "Spørsmål 1/3 (endret)", chat_id=user_id, message_id=sent.message_id
        )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=user_id, message_id=999)
    other = await bot.send_message(user_id, "Slettes")
    assert await bot.delete_message(user_id, other.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(user_id, other.message_id)

    events = sandbox.events(user_id, after=cursor)
    assert [event.kind for event in events] == ["message", "edit", "edit", "message", "delete"]
    # Each event keeps the state it announced; messages() shows the current state.
    assert events[0].message is not None
    assert events[0].message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a:1:x"
    assert events[1].message is not None
    assert events[1].message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a:1:y"
    assert [m["text"] for m in sandbox.messages(user_id)] == ["Spørsmål 1/3 (endret)"]
    assert "reply_markup" not in sandbox.messages(user_id)[0]
    assert sandbox.events(user_id, after=events[-2].seq) == events[-1:]


async def test_validation_like_telegram(sandbox: Sandbox, bot: Bot, user_id: int) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(1, "hei")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(user_id, " ")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(user_id, "x" * 4097)
    await bot.send_message(user_id, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(user_id, "hei", reply_markup=keyboard("x" * 65))
    with pytest.raises(BadRequest, match=r"(?i)unsupported start tag"):
        await bot.send_message(user_id, "a < b", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can.t find end tag"):
        await bot.send_message(user_id, "<b>fet", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)character '\.' is reserved"):
        await bot.send_message(user_id, "Takk for svaret.", parse_mode="MarkdownV2")
    await bot.send_message(user_id, r"*Takk* for svaret\.", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)can.t have more than 12 options"):
        await bot.send_poll(user_id, "?", [str(i) for i in range(13)])
    with pytest.raises(BadRequest, match=r"(?i)must not exceed 300"):
        await bot.send_poll(user_id, "x" * 301, ["a", "b"])
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(user_id, b"not an image")
    assert sandbox.stats.bad_requests == 10
    assert sandbox.stats.sends == 2


async def test_reply_keyboards_stay_out_of_the_message(
    sandbox: Sandbox, bot: Bot, user_id: int
) -> None:
    markup = ReplyKeyboardMarkup([["1", "2", "3"]], one_time_keyboard=True)
    message = await bot.send_message(user_id, "Velg", reply_markup=markup)
    assert message.reply_markup is None
    assert sandbox.reply_keyboard(user_id) == markup.to_dict()
    await bot.send_message(user_id, "Svar", reply_markup=ForceReply())
    assert sandbox.reply_keyboard(user_id) == {"force_reply": True}
    event = sandbox.events(user_id)[-1]
    assert event.data == {"reply_markup": {"force_reply": True}}


async def test_bot_documents_and_photos_are_downloadable(
    sandbox: Sandbox, bot: Bot, user_id: int
) -> None:
    content = b"slug,answers\nholmen,12\n"
    message = await bot.send_document(
        user_id, content, filename="holmen.csv", caption="Resultater"
    )
    assert message.document is not None
    assert message.document.file_name == "holmen.csv"
    file = await bot.get_file(message.document.file_id)
    assert bytes(await file.download_as_bytearray()) == content

    photo = await bot.send_photo(user_id, PIXEL_PNG, caption="Diagram")
    assert photo.photo[-1].width == 1
    photo_file = await photo.photo[-1].get_file()
    assert bytes(await photo_file.download_as_bytearray()) == PIXEL_PNG

    # A file_id is reused without another upload.
    again = await bot.send_document(user_id, message.document.file_id)
    assert again.document is not None
    assert again.document.file_id == message.document.file_id
    assert sandbox.file_content(message.document.file_id) == content
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(user_id, "no-such-file")
    assert [m.get("caption") for m in sandbox.messages(user_id)] == [
        "Resultater",
        "Diagram",
        None,
    ]


async def test_rate_limits_answer_429_with_retry_after(sandbox: Sandbox, bot: Bot) -> None:
    first, second = sandbox.users[0].id, sandbox.add_user().id
    sandbox.per_chat_rate = 1.0
    await bot.send_message(first, "1")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(first, "2")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    await bot.send_message(second, "other chats are not limited by chat 1")

    sandbox.per_chat_rate = None
    sandbox.global_rate = 3.0
    third = sandbox.add_user().id
    for _ in range(3):
        await bot.send_message(third, "burst")
    with pytest.raises(RetryAfter):
        await bot.send_message(third, "over")
    assert sandbox.stats.rate_limited == 2
    assert sandbox.stats.per_chat[third] == 3


async def test_injected_faults(sandbox: Sandbox, bot: Bot, user_id: int) -> None:
    sandbox.inject_fault(method="sendMessage", status=403)
    with pytest.raises(Forbidden):
        await bot.send_message(user_id, "x")
    sandbox.inject_fault(method="sendMessage", chat_id=user_id, status=500, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(user_id, "x")
    sandbox.inject_fault(status=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_poll(user_id, "?", ["a", "b"])
    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    sandbox.inject_fault(method="sendmessage", status=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(user_id, "x")
    assert sandbox.faults == []
    assert sandbox.messages(user_id) == []

    # A hang: the client times out, the send still happens afterwards (as on Telegram).
    cursor = sandbox.cursor
    sandbox.inject_fault(method="sendMessage", delay=0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(user_id, "sent late", read_timeout=0.1)
    assert (await sandbox.wait_for_message(user_id, after=cursor, timeout=3))["text"] == (
        "sent late"
    )
    stats = sandbox.stats
    assert (stats.forbidden, stats.server_errors, stats.rate_limited) == (1, 3, 1)


async def test_commands_are_recorded_per_scope_and_language(
    sandbox: Sandbox, bot: Bot, user_id: int
) -> None:
    citizen = [BotCommand("start", "Start"), BotCommand("help", "Hjelp")]
    await bot.set_my_commands(citizen)
    await bot.set_my_commands([BotCommand("start", "Start")], language_code="en")
    staff = [BotCommand("manage", "Administrer")]
    await bot.set_my_commands(staff, scope=BotCommandScopeChat(user_id))
    assert await bot.get_my_commands() == tuple(citizen)
    assert await bot.get_my_commands(scope=BotCommandScopeChat(user_id)) == tuple(staff)
    assert sandbox.get_commands() == [c.to_dict() for c in citizen]
    assert set(sandbox.commands) == {("default", ""), ("default", "en"), (f"chat:{user_id}", "")}
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])
    await bot.delete_my_commands(language_code="en")
    assert ("default", "en") not in sandbox.commands
    assert await bot.set_chat_menu_button()
    assert await bot.send_chat_action(user_id, "typing")


async def test_every_update_kind_parses_in_ptb(sandbox: Sandbox, bot: Bot, user_id: int) -> None:
    poll = await bot.send_poll(user_id, "Enig?", ["Ja", "Nei"], is_anonymous=False)
    assert poll.poll is not None
    await sandbox.send_text(user_id, "/start c_x")
    await sandbox.send_sticker(user_id)
    await sandbox.send_photo(user_id, caption="bilde")
    await sandbox.send_voice(user_id)
    await sandbox.send_document(user_id, "a.pdf", b"%PDF-1.4", "application/pdf")
    await sandbox.press(user_id, "a:1:2")
    await sandbox.press(user_id, "stale", message_id=999)
    await sandbox.vote(user_id, poll.poll.id, [0])
    await sandbox.vote(user_id, poll.poll.id, [])
    await sandbox.block(user_id)
    await sandbox.unblock(user_id)

    # PTB parses them all (one malformed update would make it fetch the batch forever).
    updates = await bot.get_updates(timeout=0)
    kinds = [
        next(kind for kind in KINDS if getattr(update, kind) is not None) for update in updates
    ]
    assert kinds == [
        "message", "message", "message", "message", "message", "callback_query",
        "callback_query", "poll_answer", "poll", "poll_answer", "poll",
        "my_chat_member", "my_chat_member",
    ]  # fmt: skip
    messages = [u.message for u in updates[:5]]
    assert messages[0] is not None
    assert messages[0].text == "/start c_x"
    assert messages[1] is not None
    assert messages[1].sticker is not None
    assert messages[2] is not None
    assert messages[2].photo[0].width == 1
    assert messages[3] is not None
    assert messages[3].voice is not None
    assert messages[4] is not None
    assert messages[4].document is not None
    stale = updates[6].callback_query
    assert stale is not None
    assert stale.message is not None
    assert not stale.message.is_accessible
    retracted = updates[9].poll_answer
    assert retracted is not None
    assert retracted.option_ids == ()
    assert updates[10].poll is not None
    assert updates[10].poll.total_voter_count == 0


async def test_keep_messages_bounds_memory_and_latency_delays_calls() -> None:
    async with Sandbox(keep_messages=2, latency=0.05) as sandbox:
        user = sandbox.add_user()
        async with ptb_bot(sandbox) as bot:
            started = time.monotonic()
            sent = [await bot.send_message(user.id, f"Melding {i}") for i in range(6)]
            assert time.monotonic() - started >= 6 * 0.05
            assert [m["text"] for m in sandbox.messages(user.id)] == ["Melding 4", "Melding 5"]
            assert len(sandbox.events(user.id)) < 2 * 4 * 2
            with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
                await bot.edit_message_text("x", chat_id=user.id, message_id=sent[0].message_id)
        assert sandbox.stats.sends == 6
        assert sandbox.stats.per_chat[user.id] == 6
        assert sandbox.stats.sustained_rate() > 0
        assert 0 < sandbox.stats.peak_rate() <= 6


async def test_poll_closes_itself_after_open_period(
    sandbox: Sandbox, bot: Bot, user_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    original = loop.call_later

    def hurried(delay: float, *args: Any) -> asyncio.TimerHandle:
        # Telegram's minimum open_period is 5 s; the test should not wait that long.
        return original(delay / 50, *args)

    monkeypatch.setattr(loop, "call_later", hurried)
    message = await bot.send_poll(
        user_id, "Raskt?", ["Ja", "Nei"], is_anonymous=False, open_period=5
    )
    assert message.poll is not None
    assert message.poll.close_date is not None
    closed = await sandbox.wait_for_event(user_id, lambda event: event.kind == "poll", timeout=2)
    assert closed.message is not None
    assert closed.message["poll"]["is_closed"] is True
    with pytest.raises(ValueError, match="closed"):
        await sandbox.vote(user_id, message.poll.id, [0])
    updates = await bot.get_updates()
    assert updates[-1].poll is not None
    assert updates[-1].poll.is_closed


async def test_groups_and_edited_user_messages(sandbox: Sandbox, bot: Bot, user_id: int) -> None:
    group = sandbox.add_group(-100123, "Nabolaget", [user_id])
    await sandbox.send_text(user_id, "/start@medvirk_bot", chat_id=group)
    private = await sandbox.send_text(user_id, "Første forslag")
    await sandbox.edit_user_message(user_id, private["message_id"], "Endret forslag")
    with pytest.raises(LookupError):
        await sandbox.edit_user_message(user_id, 999, "x")

    updates = await bot.get_updates()
    in_group = updates[0].message
    assert in_group is not None
    assert in_group.chat.type == "group"
    assert in_group.chat.title == "Nabolaget"
    assert in_group.from_user is not None
    assert in_group.from_user.id == user_id
    edited = updates[2].edited_message
    assert edited is not None
    assert edited.text == "Endret forslag"
    assert edited.edit_date is not None

    await bot.send_message(group, "Skriv til meg privat")
    assert sandbox.messages(group)[-1]["text"] == "Skriv til meg privat"
    assert [e.kind for e in sandbox.events(user_id)] == ["user_message", "user_edit"]
