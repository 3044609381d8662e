"""The updates a resident's forms become, in the Bot API's shape, so PTB parses them as Telegram's.

A typed message or command is a ``message``; a pressed button a ``callback_query`` on the stored
message it was under (its data is read from the database, never from the form); a vote a
``poll_answer``. Update ids are ``WEB_UPDATE_BASE`` plus the number of the form
(:func:`models.webchat.claim_request`), far above Telegram's, so the exactly-once claim of
:mod:`models.updates` keeps working for both channels in one table.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.webchannel.botapi import message_json
from bot.webchannel.request import WEB_QUERY_PREFIX
from models.channels import WEB_ID_BASE
from models.webchat import WebMessage

WEB_UPDATE_BASE = WEB_ID_BASE
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}")
#: Residents have no name here; handlers never need one for them.
RESIDENT_NAME = "Web"

JSONDict = dict[str, Any]


def _user(user_id: int, language: str) -> JSONDict:
    return {"id": user_id, "is_bot": False, "first_name": RESIDENT_NAME, "language_code": language}


def _chat(chat_id: int) -> JSONDict:
    return {"id": chat_id, "type": "private", "first_name": RESIDENT_NAME}


def message_update(
    number: int, user_id: int, language: str, message_id: int, text: str, now: datetime
) -> JSONDict:
    """A typed message (a command when it starts with one, as Telegram marks it)."""
    message: JSONDict = {
        "message_id": message_id,
        "date": int(now.timestamp()),
        "chat": _chat(user_id),
        "from": _user(user_id, language),
        "text": text,
    }
    command = _COMMAND.match(text)
    if command:
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
    return {"update_id": WEB_UPDATE_BASE + number, "message": message}


def press_update(
    number: int, user_id: int, language: str, message: WebMessage, data: str
) -> JSONDict:
    """A press of a button (with ``data``) under a stored message of the chat."""
    return {
        "update_id": WEB_UPDATE_BASE + number,
        "callback_query": {
            "id": f"{WEB_QUERY_PREFIX}{user_id}:{number}",
            "from": _user(user_id, language),
            "chat_instance": str(user_id),
            "message": message_json(message),
            "data": data,
        },
    }


def vote_update(
    number: int, user_id: int, language: str, poll_id: str, option_ids: list[int]
) -> JSONDict:
    """A vote in a native poll (no options: the vote taken back)."""
    return {
        "update_id": WEB_UPDATE_BASE + number,
        "poll_answer": {
            "poll_id": poll_id,
            "user": _user(user_id, language),
            "option_ids": option_ids,
            "option_persistent_ids": [str(i) for i in option_ids],
        },
    }
