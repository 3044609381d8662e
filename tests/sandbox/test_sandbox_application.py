"""A real PTB Application polls the sandbox: commands, buttons, polls, files, blocking."""

from __future__ import annotations

import asyncio

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Forbidden
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from sandbox import Sandbox

from .conftest import AnyApplication, Polling


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet with the payload and offer a consent button."""
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="consent:yes")]])
    payload = " ".join(context.args or [])
    await update.effective_message.reply_text(f"Hei! payload={payload}", reply_markup=keyboard)


async def button(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the press and replace the message text."""
    query = update.callback_query
    assert query is not None
    await query.answer("Takk!", show_alert=True)
    await query.edit_message_text(f"Du valgte {query.data}")


async def echo_document(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Download the user's document and say what it held."""
    message = update.effective_message
    assert message is not None
    assert message.document is not None
    file = await message.document.get_file()
    content = bytes(await file.download_as_bytearray())
    await message.reply_text(f"Fikk {message.document.file_name}: {content.decode()}")


async def test_start_command_reaches_command_handler(
    sandbox: Sandbox, user_id: int, application: AnyApplication, polling: Polling
) -> None:
    application.add_handler(CommandHandler("start", start))
    async with polling(application) as errors:
        cursor = sandbox.cursor
        await sandbox.send_text(user_id, "/start c_holmen__library")
        reply = await sandbox.wait_for_message(user_id, after=cursor, timeout=5)
        assert reply["text"] == "Hei! payload=c_holmen__library"
        assert reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "consent:yes"

        # A command addressed to the bot by name is a command too.
        cursor = sandbox.cursor
        await sandbox.send_text(user_id, "/start@medvirk_bot")
        assert (await sandbox.wait_for_message(user_id, "payload=", after=cursor))["text"] == (
            "Hei! payload="
        )
    assert errors == []
    assert sandbox.pending_updates == 0


async def test_press_reaches_callback_handler_and_edit_is_visible(
    sandbox: Sandbox, user_id: int, application: AnyApplication, polling: Polling
) -> None:
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(button))
    async with polling(application) as errors:
        await sandbox.send_text(user_id, "/start")
        sent = await sandbox.wait_for_message(user_id, "Hei!")

        cursor = sandbox.cursor
        query_id = await sandbox.press(user_id, "consent:yes")
        answer = await sandbox.wait_for_callback_answer(query_id, timeout=5)
        assert answer["text"] == "Takk!"
        assert answer["show_alert"] is True
        edited = await sandbox.wait_for_message(user_id, "Du valgte", after=cursor)
        assert edited["message_id"] == sent["message_id"]
        assert edited["edit_date"] >= sent["date"]
        assert "reply_markup" not in edited  # editMessageText without markup drops it

        kinds = [event.kind for event in sandbox.events(user_id, after=cursor)]
        assert kinds == ["callback_query", "callback_answer", "edit"]
        assert sandbox.messages(user_id)[-1]["text"] == "Du valgte consent:yes"

        # Forged data: no message holds it, so it arrives on the latest bot message.
        cursor = sandbox.cursor
        forged = await sandbox.press(user_id, "a:999:1")
        await sandbox.wait_for_callback_answer(forged, timeout=5)
        assert (await sandbox.wait_for_message(user_id, after=cursor))["text"] == (
            "Du valgte a:999:1"
        )
    assert errors == []


async def test_vote_arrives_as_poll_answer(
    sandbox: Sandbox, user_id: int, application: AnyApplication, polling: Polling
) -> None:
    answers: list[tuple[str, tuple[int, ...], tuple[str, ...]]] = []
    got_answer = asyncio.Event()

    async def on_answer(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        answer = update.poll_answer
        assert answer is not None
        answers.append((answer.poll_id, answer.option_ids, answer.option_persistent_ids))
        got_answer.set()

    application.add_handler(PollAnswerHandler(on_answer))
    async with polling(application) as errors:
        message = await application.bot.send_poll(
            user_id,
            "Hva burde sentralen tilby?",
            ["Leksehjelp", "Språkkafé", "Turgrupper"],
            is_anonymous=False,
            allows_multiple_answers=True,
        )
        assert message.poll is not None
        assert message.poll.allows_revoting is True
        await sandbox.vote(user_id, message.poll.id, [0, 2])
        await asyncio.wait_for(got_answer.wait(), 5)
        poll = sandbox.poll(message.poll.id)
        assert poll is not None
        assert [option["voter_count"] for option in poll["options"]] == [1, 0, 1]

        stopped = await application.bot.stop_poll(user_id, message.message_id)
        assert stopped.is_closed
        assert stopped.total_voter_count == 1
    assert answers == [(message.poll.id, (0, 2), ("0", "2"))]
    assert errors == []


async def test_user_document_is_fetched_by_the_bot(
    sandbox: Sandbox, user_id: int, application: AnyApplication, polling: Polling
) -> None:
    application.add_handler(MessageHandler(filters.Document.ALL, echo_document))
    async with polling(application) as errors:
        cursor = sandbox.cursor
        sent = await sandbox.send_document(user_id, "holmen.yaml", b"slug: holmen")
        assert sent["document"]["file_name"] == "holmen.yaml"
        reply = await sandbox.wait_for_message(user_id, after=cursor, timeout=5)
        assert reply["text"] == "Fikk holmen.yaml: slug: holmen"
    assert errors == []


async def test_block_gives_my_chat_member_and_403(
    sandbox: Sandbox, user_id: int, application: AnyApplication, polling: Polling
) -> None:
    statuses: list[tuple[str, str]] = []
    changed = asyncio.Event()

    async def on_member(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        member = update.my_chat_member
        assert member is not None
        statuses.append((member.old_chat_member.status, member.new_chat_member.status))
        changed.set()

    application.add_handler(ChatMemberHandler(on_member, ChatMemberHandler.MY_CHAT_MEMBER))
    async with polling(application) as errors:
        await sandbox.block(user_id)
        await asyncio.wait_for(changed.wait(), 5)
        changed.clear()
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await application.bot.send_message(user_id, "Påminnelse")

        await sandbox.unblock(user_id)
        await asyncio.wait_for(changed.wait(), 5)
        await application.bot.send_message(user_id, "Velkommen tilbake")
    assert statuses == [("member", "kicked"), ("kicked", "member")]
    assert sandbox.stats.forbidden == 1
    assert errors == []
