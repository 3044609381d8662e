"""The Bot API, answered by the web chat: what the bot "sends" is stored for the page to show.

The conversation (``handlers/``) talks to Telegram through PTB's ``Bot``. For the web channel a
second PTB application runs the same handlers with :class:`bot.webchannel.request.WebRequest`
in place of HTTP, and every call ends here: ``sendMessage`` appends a message to the resident's
chat in the database (:mod:`models.webchat`), ``editMessageText`` replaces it, a button's toast
becomes a short notice, a document becomes a download. The delivery worker (reminders,
follow-ups, broadcasts) hands web residents' messages to the same :meth:`WebBotApi.call`.

Only web residents' chats exist here (:func:`models.channels.is_web_id`); any other chat is
"not found", so nothing meant for Telegram is ever stored or shown on the page.

Each call is its own short transaction, as each is its own HTTP request to Telegram; on SQLite
it queues on the handlers' writer lock.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.context import Runtime
from models.channels import is_web_id
from models.webchat import (
    BOT,
    NOTICE,
    Document,
    WebMessage,
    add_message,
    delete_message,
    edit_message,
    find_message,
    set_poll,
)

#: Telegram's limits, kept so the web chat refuses what Telegram would.
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
TOAST_LIMIT = 200
#: The bot as getMe tells it; the id is outside Telegram's and the residents' ranges.
BOT_USER = {
    "id": 1,
    "is_bot": True,
    "first_name": "Medvirk",
    "username": "medvirk_web",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

JSONDict = dict[str, Any]


@dataclass
class Answer:
    """A Bot API answer: the HTTP status and the JSON body Telegram would send."""

    status: int
    body: JSONDict

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == 200


def _ok(result: object) -> Answer:
    return Answer(200, {"ok": True, "result": result})


def _error(status: int, description: str) -> Answer:
    return Answer(status, {"ok": False, "error_code": status, "description": description})


class Refused(Exception):
    """A call Telegram would refuse (400 unless said otherwise)."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.description = description
        self.status = status


@dataclass
class Changes:
    """The messages a request changed in its chat: new ones and edited ones, by id."""

    ids: set[int] = field(default_factory=set)


_changes: ContextVar[Changes | None] = ContextVar("web_changes", default=None)


@contextlib.contextmanager
def tracking_changes() -> Iterator[Changes]:
    """Collect the ids of the messages stored or edited inside the block (this task's)."""
    changes = Changes()
    token = _changes.set(changes)
    try:
        yield changes
    finally:
        _changes.reset(token)


def _note(message: WebMessage) -> None:
    changes = _changes.get()
    if changes is not None and message.id is not None:
        changes.ids.add(message.id)


def message_json(message: WebMessage) -> JSONDict:
    """The ``Message`` object of a stored message, as PTB parses it."""
    data: JSONDict = {
        "message_id": message.id,
        "date": int(message.created_at.timestamp()),
        "chat": {"id": message.chat_id, "type": "private", "first_name": "Web"},
        "from": BOT_USER,
    }
    if message.edited_at is not None:
        data["edit_date"] = int(message.edited_at.timestamp())
    if message.file_name is not None:
        data["document"] = {
            "file_id": f"web-{message.id}",
            "file_unique_id": f"web-{message.id}",
            "file_name": message.file_name,
            "mime_type": message.file_type or "application/octet-stream",
        }
        if message.text:
            data["caption"] = message.text
    elif message.poll is not None:
        data["poll"] = poll_json(message.poll)
    else:
        data["text"] = message.text
    if message.buttons:
        data["reply_markup"] = {"inline_keyboard": message.buttons}
    return data


def poll_json(poll: JSONDict) -> JSONDict:
    """The ``Poll`` object of a stored poll (votes are not counted on the page)."""
    return {
        "id": poll["id"],
        "question": poll["question"],
        "options": [
            {"text": text, "voter_count": 0, "persistent_id": str(index)}
            for index, text in enumerate(poll["options"])
        ],
        "total_voter_count": 0,
        "is_closed": bool(poll.get("closed")),
        "is_anonymous": False,
        "type": "regular",
        "allows_multiple_answers": bool(poll.get("multiple")),
        "allows_revoting": True,
        "members_only": False,
    }


def _keyboard(params: JSONDict) -> list[list[dict[str, str]]] | None:
    """The inline keyboard of ``reply_markup``: rows of buttons with text and data or a URL."""
    markup = params.get("reply_markup")
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list):
        return None  # a reply keyboard or its removal: the page has no such thing
    keyboard = []
    for row in rows:
        if not isinstance(row, list):
            raise Refused("Bad Request: can't parse inline keyboard button")
        buttons = []
        for item in row:
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise Refused("Bad Request: can't parse inline keyboard button")
            button = {"text": item["text"]}
            for kind in ("callback_data", "url"):
                if isinstance(item.get(kind), str):
                    button[kind] = item[kind]
            buttons.append(button)
        keyboard.append(buttons)
    return keyboard


def _chat(params: JSONDict) -> int:
    """The web resident's chat a call is for; anyone else's is "not found"."""
    try:
        chat_id = int(params.get("chat_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Refused("Bad Request: chat not found") from None
    if not is_web_id(chat_id):
        raise Refused("Bad Request: chat not found")
    return chat_id


def _text(params: JSONDict, key: str, limit: int) -> str:
    text = params.get(key)
    if text is None:
        return ""
    text = str(text)
    if len(text) > limit:
        raise Refused(f"Bad Request: {key} is too long")
    return text


Handler = Callable[[AsyncSession, JSONDict, dict[str, Document]], Awaitable[object]]


class WebBotApi:
    """The Bot API subset the bot uses, stored into the web chats; see the module docstring."""

    def __init__(self, runtime: Runtime) -> None:
        """Store through the handlers' database (and, on SQLite, their writer lock)."""
        self.runtime = runtime
        self._methods: dict[str, Handler] = {
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_text,
            "editmessagereplymarkup": self._edit_markup,
            "editmessagecaption": self._edit_caption,
            "deletemessage": self._delete,
            "answercallbackquery": self._toast,
            "senddocument": self._send_document,
            "sendphoto": self._send_document,
            "sendpoll": self._send_poll,
            "stoppoll": self._stop_poll,
        }

    async def call(
        self, method: str, params: JSONDict, files: dict[str, Document] | None = None
    ) -> Answer:
        """Answer one Bot API call as Telegram would: never raises for a refused call."""
        name = method.lower()
        if name == "getme":
            return _ok(BOT_USER)
        if name in ("setmycommands", "deletemycommands", "setchatmenubutton", "deletewebhook"):
            return _ok(True)  # the page has its own menu
        if name == "getmycommands":
            return _ok([])
        if name == "answercallbackquery" and not str(params.get("text") or "").strip():
            return _ok(True)  # a press answered without a toast: nothing to show or store
        handler = self._methods.get(name)
        if handler is None:
            return _error(400, f"Bad Request: the web chat does not support {method}")
        try:
            async with self._transaction() as session:
                return _ok(await handler(session, params, files or {}))
        except Refused as refused:
            return _error(refused.status, refused.description)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        lock = self.runtime.transaction_lock or contextlib.nullcontext()
        async with lock, self.runtime.sessionmaker() as session, session.begin():
            yield session

    async def _send_message(
        self, session: AsyncSession, params: JSONDict, files: dict[str, Document]
    ) -> JSONDict:
        chat_id = _chat(params)
        text = _text(params, "text", TEXT_LIMIT)
        if not text.strip():
            raise Refused("Bad Request: message text is empty")
        message = await add_message(
            session, chat_id, BOT, text, self.runtime.clock(), buttons=_keyboard(params)
        )
        _note(message)
        return message_json(message)

    async def _existing(self, session: AsyncSession, params: JSONDict) -> WebMessage:
        chat_id = _chat(params)
        try:
            message_id = int(params.get("message_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise Refused("Bad Request: message to edit not found") from None
        message = await find_message(session, chat_id, message_id)
        if message is None:
            raise Refused("Bad Request: message to edit not found")
        return message

    async def _edit(self, session: AsyncSession, params: JSONDict, text: str | None) -> JSONDict:
        message = await self._existing(session, params)
        buttons = _keyboard(params)
        if (text is None or text == message.text) and buttons == message.buttons:
            raise Refused(
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message"
            )
        edited = await edit_message(
            session,
            message.chat_id,
            message.id or 0,
            self.runtime.clock(),
            text=text,
            buttons=buttons,
        )
        assert edited is not None
        _note(edited)
        return message_json(edited)

    async def _edit_text(
        self, session: AsyncSession, params: JSONDict, files: dict[str, Document]
    ) -> JSONDict:
        text = _text(params, "text", TEXT_LIMIT)
        if not text.strip():
            raise Refused("Bad Request: message text is empty")
        return await self._edit(session, params, text)

    async def _edit_caption(
        self, session: AsyncSession, params: JSONDict, files: dict[str, Document]
    ) -> JSONDict:
        return await self._edit(session, params, _text(params, "caption", CAPTION_LIMIT))

    async def _edit_markup(
        self, session: AsyncSession, params: JSONDict, files: dict[str, Document]
    ) -> JSONDict:
        return await self._edit(session, params, None)

    async def _delete(
        self, session: AsyncSession, params: JSONDict, files: dict[str, Document]
    ) -> bool:
        message = await self._existing(session, params)
        await delete_message(session, message.chat_id, message.id or 0)
        return True

    async def _toast(
        self, session: AsyncSession, params: JSONDict, files: dict[str, Document]
    ) -> bool:
        # The query id is "web-<chat id>:<form number>" (bot.webchannel.updates): the chat.
        query = str(params.get("callback_query_id") or "").removeprefix("web-")
        chat_text, _, _number = query.partition(":")
        text = _text(params, "text", TOAST_LIMIT)
        if text.strip() and chat_text.isdecimal() and is_web_id(int(chat_text)):
            _note(await add_message(session, int(chat_text), NOTICE, text, self.runtime.clock()))
        return True

    async def _send_document(
        self, session: AsyncSession, params: JSONDict, files: dict[str, Document]
    ) -> JSONDict:
        chat_id = _chat(params)
        document = files.get("document") or files.get("photo")
        if document is None:
            # A file id from Telegram (a forwarded upload) means nothing here.
            raise Refused("Bad Request: wrong file identifier/HTTP URL specified")
        message = await add_message(
            session,
            chat_id,
            BOT,
            _text(params, "caption", CAPTION_LIMIT),
            self.runtime.clock(),
            buttons=_keyboard(params),
            document=document,
        )
        _note(message)
        return message_json(message)

    async def _send_poll(
        self, session: AsyncSession, params: JSONDict, files: dict[str, Document]
    ) -> JSONDict:
        chat_id = _chat(params)
        options = params.get("options")
        if not isinstance(options, list) or not 2 <= len(options) <= 12:
            raise Refused("Bad Request: poll must have 2 to 12 options")
        texts = [str(o.get("text") if isinstance(o, dict) else o) for o in options]
        poll = {
            "id": secrets.token_hex(8),
            "question": _text(params, "question", 300),
            "options": texts,
            "multiple": bool(params.get("allows_multiple_answers")),
            "closed": False,
            "chosen": [],
        }
        message = await add_message(session, chat_id, BOT, "", self.runtime.clock(), poll=poll)
        _note(message)
        return message_json(message)

    async def _stop_poll(
        self, session: AsyncSession, params: JSONDict, files: dict[str, Document]
    ) -> JSONDict:
        message = await self._existing(session, params)
        if message.poll is None:
            raise Refused("Bad Request: message with poll to stop not found")
        if message.poll.get("closed"):
            raise Refused("Bad Request: poll has already been closed")
        stopped = await set_poll(session, message, closed=True)
        _note(stopped)
        assert stopped.poll is not None
        return poll_json(stopped.poll)
