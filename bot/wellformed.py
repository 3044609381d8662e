"""A check that an update has the shape the handlers rely on, before any handler sees it.

PTB turns JSON into objects without checking types: ``{"text": 5}`` becomes a message whose
``text`` is the number 5, and a handler calling ``text.strip()`` would fail deep inside a
transaction. Telegram never sends such updates, but a webhook is an open door, so updates are
checked at the door: a malformed one is logged (its id and the faulty field, no content) and
dropped, and Telegram is told 200 so it does not send it again forever.

Only fields the handlers read are checked; everything else may be anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from telegram import Chat, ChatMember, Message, MessageEntity, Update, User

Problem = str | None


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass, and not an id


def _optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def user_problem(user: Any) -> Problem:
    """What is wrong with a ``User``, or None."""
    if not isinstance(user, User):
        return "not a user"
    if not _is_int(user.id):
        return "id"
    if not isinstance(user.is_bot, bool):
        return "is_bot"
    if not isinstance(user.first_name, str):
        return "first_name"
    if not _optional_str(user.language_code):
        return "language_code"
    return None


def chat_problem(chat: Any) -> Problem:
    """What is wrong with a ``Chat``, or None."""
    if not isinstance(chat, Chat):
        return "not a chat"
    if not _is_int(chat.id):
        return "id"
    if not isinstance(chat.type, str):
        return "type"
    return None


def _entities_problem(entities: Iterable[Any]) -> Problem:
    for entity in entities:
        if not isinstance(entity, MessageEntity):
            return "not an entity"
        if not isinstance(entity.type, str):
            return "type"
        if not (_is_int(entity.offset) and _is_int(entity.length)):
            return "offset"
    return None


def message_problem(message: Any) -> Problem:
    """What is wrong with a ``Message``, or None."""
    if not isinstance(message, Message):
        return "not a message"
    if not _is_int(message.message_id):
        return "message_id"
    if not isinstance(message.date, datetime):
        return "date"
    problem = chat_problem(message.chat)
    if problem:
        return f"chat.{problem}"
    if message.from_user is not None:
        problem = user_problem(message.from_user)
        if problem:
            return f"from.{problem}"
    elif message.chat.type == Chat.PRIVATE:
        return "from"  # a private chat always has a sender; handlers answer them
    for name in ("text", "caption"):
        if not _optional_str(getattr(message, name)):
            return name
    for name in ("entities", "caption_entities"):
        problem = _entities_problem(getattr(message, name) or ())
        if problem:
            return f"{name}.{problem}"
    return None


def update_problem(update: Update) -> Problem:
    """What is wrong with an update, as a field path (``message.text``), or None."""
    if not _is_int(update.update_id):
        return "update_id"
    for name in ("message", "edited_message", "channel_post", "edited_channel_post"):
        message = getattr(update, name)
        if message is not None:
            problem = message_problem(message)
            if problem:
                return f"{name}.{problem}"
    query = update.callback_query
    if query is not None:
        if not isinstance(query.id, str):
            return "callback_query.id"
        if not _optional_str(query.data):
            return "callback_query.data"
        problem = user_problem(query.from_user)
        if problem:
            return f"callback_query.from.{problem}"
        if query.message is not None:
            if not _is_int(query.message.message_id):
                return "callback_query.message.message_id"
            problem = chat_problem(query.message.chat)
            if problem:
                return f"callback_query.message.chat.{problem}"
    answer = update.poll_answer
    if answer is not None:
        if not isinstance(answer.poll_id, str):
            return "poll_answer.poll_id"
        if not all(_is_int(option) for option in answer.option_ids or ()):
            return "poll_answer.option_ids"
        if answer.user is not None:
            problem = user_problem(answer.user)
            if problem:
                return f"poll_answer.user.{problem}"
    member = update.my_chat_member
    if member is not None:
        problem = chat_problem(member.chat) or user_problem(member.from_user)
        for name in ("old_chat_member", "new_chat_member"):
            status = getattr(member, name)
            if not isinstance(status, ChatMember) or not isinstance(status.status, str):
                problem = problem or name
            else:
                problem = problem or user_problem(status.user)
        if problem:
            return f"my_chat_member.{problem}"
    return None
