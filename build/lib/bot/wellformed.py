"""A check that an update has the shape the handlers rely on, before any handler sees it.

PTB turns JSON into objects without checking types: ``{"text": 5}`` becomes a message whose
``text`` is the number 5, and a handler calling ``text.strip()`` would fail deep inside a
transaction. Telegram never sends such updates, but a webhook is an open door, so updates are
checked at the door: a malformed one is logged (its id and the faulty field, no content) and
dropped, and Telegram is told 200 so it does not send it again forever.

Only fields the handlers read are checked; everything else may be anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from telegram import (
    CallbackQuery,
    Chat,
    ChatMember,
    ChatMemberUpdated,
    Message,
    MessageEntity,
    PollAnswer,
    Update,
    User,
)

Problem = str | None
#: A field's name and the test its value must pass.
FieldCheck = tuple[str, Callable[[Any], bool]]


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass, and not an id


def _optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is(kind: type) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, kind)


def _first_failing(value: Any, checks: Iterable[FieldCheck]) -> Problem:
    """The first field of ``value`` that fails its test, or None."""
    for name, valid in checks:
        if not valid(getattr(value, name)):
            return name
    return None


def _typed_problem(value: Any, kind: type, noun: str, checks: Iterable[FieldCheck]) -> Problem:
    """``not <noun>`` when ``value`` is no ``kind``, else its first failing field, or None."""
    return f"not {noun}" if not isinstance(value, kind) else _first_failing(value, checks)


def _nested(prefix: str, problem: Problem) -> Problem:
    return f"{prefix}.{problem}" if problem else None


_USER = (
    ("id", _is_int),
    ("is_bot", _is(bool)),
    ("first_name", _is(str)),
    ("language_code", _optional_str),
)
_CHAT = (("id", _is_int), ("type", _is(str)))
_ENTITY = (("type", _is(str)), ("offset", _is_int), ("length", _is_int))
_MESSAGE = (("message_id", _is_int), ("date", _is(datetime)))
_MESSAGE_TEXTS = (("text", _optional_str), ("caption", _optional_str))
_CALLBACK_QUERY = (("id", _is(str)), ("data", _optional_str))


def user_problem(user: Any) -> Problem:
    """What is wrong with a ``User``, or None."""
    return _typed_problem(user, User, "a user", _USER)


def chat_problem(chat: Any) -> Problem:
    """What is wrong with a ``Chat``, or None."""
    return _typed_problem(chat, Chat, "a chat", _CHAT)


def _entities_problem(entities: Iterable[Any]) -> Problem:
    for entity in entities:
        problem = _typed_problem(entity, MessageEntity, "an entity", _ENTITY)
        if problem:
            return problem
    return None


def message_problem(message: Any) -> Problem:
    """What is wrong with a ``Message``, or None."""
    problem = _typed_problem(message, Message, "a message", _MESSAGE) or _nested(
        "chat", chat_problem(message.chat)
    )
    if problem:
        return problem
    if message.from_user is not None:
        problem = _nested("from", user_problem(message.from_user))
    elif message.chat.type == Chat.PRIVATE:
        problem = "from"  # a private chat always has a sender; handlers answer them
    return (
        problem
        or _first_failing(message, _MESSAGE_TEXTS)
        or _nested("entities", _entities_problem(message.entities or ()))
        or _nested("caption_entities", _entities_problem(message.caption_entities or ()))
    )


def _callback_query_problem(query: CallbackQuery) -> Problem:
    problem = _first_failing(query, _CALLBACK_QUERY) or _nested(
        "from", user_problem(query.from_user)
    )
    if problem or query.message is None:
        return problem
    if not _is_int(query.message.message_id):
        return "message.message_id"
    return _nested("message.chat", chat_problem(query.message.chat))


def _poll_answer_problem(answer: PollAnswer) -> Problem:
    if not isinstance(answer.poll_id, str):
        return "poll_id"
    if not all(_is_int(option) for option in answer.option_ids or ()):
        return "option_ids"
    return None if answer.user is None else _nested("user", user_problem(answer.user))


def _chat_member_problem(member: ChatMemberUpdated) -> Problem:
    problem = chat_problem(member.chat) or user_problem(member.from_user)
    for name in ("old_chat_member", "new_chat_member"):
        status = getattr(member, name)
        if not isinstance(status, ChatMember) or not isinstance(status.status, str):
            problem = problem or name
        else:
            problem = problem or user_problem(status.user)
    return problem


#: The parts of an update the handlers read, and the check of each.
_PARTS: tuple[tuple[str, Callable[[Any], Problem]], ...] = (
    ("message", message_problem),
    ("edited_message", message_problem),
    ("channel_post", message_problem),
    ("edited_channel_post", message_problem),
    ("callback_query", _callback_query_problem),
    ("poll_answer", _poll_answer_problem),
    ("my_chat_member", _chat_member_problem),
)


def update_problem(update: Update) -> Problem:
    """What is wrong with an update, as a field path (``message.text``), or None."""
    if not _is_int(update.update_id):
        return "update_id"
    for name, check in _PARTS:
        part = getattr(update, name)
        problem = None if part is None else _nested(name, check(part))
        if problem:
            return problem
    return None
