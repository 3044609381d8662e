"""The offline sandbox's core: a fake Telegram Bot API server and a driver to play its users.

The real bot (PTB) talks to :class:`BotApiServer` over real HTTP as if it were
``api.telegram.org``: ``{url}/bot{token}/{method}`` and ``{url}/file/bot{token}/{path}``.
Tests and benchmarks drive the other side in-process (``send_text``, ``press``, ``vote``,
``block``) and read what the bot did (``messages``, ``events``, ``wait_for_message``);
:mod:`sandbox.driver` exposes the same under ``/sandbox/api/`` for a browser page, and
:class:`sandbox.Sandbox` is this server with those routes mounted.

Every event in every chat gets a number from one sandbox-wide cursor (:attr:`BotApiServer.cursor`),
so "everything in chat X since N" (new messages, edits, deletions, callback answers) is one
call. Message dicts are immutable snapshots: an edit stores a new dict, so events keep the
state they announced. Treat every dict the sandbox returns as read-only.

Unlike Telegram: chats are private (chat id == user id) unless made with ``add_group``; a
sent message keeps its ``parse_mode`` and its text as given (markup is validated, not
converted to entities); only inline keyboards appear in ``reply_markup`` (other keyboards are
in the event's ``data`` and :meth:`BotApiServer.reply_keyboard`); webhook updates are delivered one
at a time, in order; one client reaches ~700-800 sends/s through PTB on two cores (PTB and
httpx are the limit; the sandbox itself serves ~3,700/s to a bare aiohttp client).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import mimetypes
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Self

import aiohttp
from aiohttp import web

from sandbox.protocol import (
    CALLBACK_ANSWER_LIMIT,
    COMMAND_RE,
    SECRET_TOKEN_RE,
    UPLOAD_LIMIT,
    ApiError,
    Params,
    Upload,
    bad_request,
    check_caption,
    check_poll_question,
    check_reply_markup,
    check_text,
    command_entities,
    image_size,
    poll_option_texts,
)
from sandbox.state import (
    ChatState,
    Fault,
    JSONDict,
    PollState,
    SandboxEvent,
    SandboxStats,
    SandboxUser,
    Signal,
    StoredFile,
    TokenBucket,
    retry_after_seconds,
)

logger = logging.getLogger(__name__)

ALL_UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "message_reaction", "message_reaction_count",
        "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
        "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
        "my_chat_member", "chat_member", "chat_join_request", "chat_boost",
        "removed_chat_boost",
    }
)  # fmt: skip
#: What Telegram sends when allowed_updates was never set or set to ``[]``.
DEFAULT_UPDATE_TYPES = ALL_UPDATE_TYPES - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
#: Wildcard faults skip these: polling runs all the time and would swallow them at random.
_POLLING_METHODS = frozenset({"getupdates", "getme"})
_ERROR_DESCRIPTIONS = {
    400: "Bad Request: injected fault",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: injected fault",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_BLOCKED = "Forbidden: bot was blocked by the user"
_WEBHOOK_BACKOFF = 0.05
_WEBHOOK_MAX_BACKOFF = 2.0
_MAX_LONG_POLL = 60.0
# 1x1 transparent PNG, the default picture a simulated user sends.
PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)

BotMethod = Callable[[Params], Awaitable[Any]]
MessagePredicate = Callable[[JSONDict], bool]
EventPredicate = Callable[[SandboxEvent], bool]


@dataclass(slots=True)
class WebhookState:
    """The webhook set by setWebhook and its delivery task."""

    url: str
    secret_token: str | None
    max_connections: int
    task: asyncio.Task[None] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


class BotApiServer:
    """A fake Telegram Bot API server with a driver for simulated users.

    Serve it with :meth:`start` (or mount :attr:`app` in any aiohttp runner) and point the
    bot at ``f"{url}/bot"`` and ``f"{url}/file/bot"``.

    Attributes:
        app: the aiohttp application with the Bot API and file routes.
        token: the only bot token accepted; others get 401 Unauthorized.
        bot_user: the bot's ``User`` object (getMe).
        global_rate: sends per second across all chats before 429 (None: unlimited).
        per_chat_rate: sends per second per chat before 429 (None: unlimited).
        per_chat_burst: sends one chat may get at once before ``per_chat_rate`` applies
            (Telegram tolerates a short burst; 1: none).
        keep_messages: bot messages kept per chat (None: all; 0: none, only counters).
            Events are kept up to four times that. Evicted messages cannot be edited.
        latency: seconds every Bot API call waits before it is handled.
        webhook_timeout: seconds a webhook POST may take before it counts as failed.
        stats: delivery counters (:class:`SandboxStats`).
        url: the root URL once started, e.g. ``http://127.0.0.1:41234``.
    """

    def __init__(
        self,
        token: str = "123456:SANDBOX",  # noqa: S107 - a fake token for a fake server
        *,
        bot_username: str = "medvirk_bot",
        bot_name: str = "Medvirk",
        global_rate: float | None = None,
        per_chat_rate: float | None = None,
        per_chat_burst: int = 1,
        keep_messages: int | None = None,
        latency: float = 0.0,
        webhook_timeout: float = 10.0,
    ) -> None:
        """Create an empty sandbox (no users, no updates); nothing listens until start()."""
        self.token = token
        bot_id = token.split(":", 1)[0]
        self.bot_user: JSONDict = {
            "id": int(bot_id) if bot_id.isdigit() else 123456,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.global_rate = global_rate
        self.per_chat_rate = per_chat_rate
        self.per_chat_burst = per_chat_burst
        self.keep_messages = keep_messages
        self.latency = latency
        self.webhook_timeout = webhook_timeout
        self.stats = SandboxStats()
        self.url: str | None = None

        self._events_limit = None if keep_messages is None else 4 * keep_messages
        self._init_people()
        self._init_updates()
        self._init_things()
        self._faults: list[Fault] = []
        self._global_bucket: TokenBucket | None = None

        self._methods = self._bot_methods()
        self.app = self._create_app()

    def _init_people(self) -> None:
        """No users and no chats yet."""
        self._users: dict[int, SandboxUser] = {}
        self._chats: dict[int, ChatState] = {}
        self._user_ids = itertools.count(1_000_001)
        self._seq = 0
        self._chat_signals: dict[int, Signal] = {}
        self._markup_cache: tuple[str, JSONDict | None] | None = None
        self._last_text = ""

    def _init_updates(self) -> None:
        """Not listening, no updates waiting, no webhook: long polling until the bot sets one."""
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._updates: deque[JSONDict] = deque()
        self._update_ids = itertools.count(1)
        self._updates_signal = Signal()
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._poll_generation = 0
        self._webhook: WebhookState | None = None
        self._session: aiohttp.ClientSession | None = None

    def _init_things(self) -> None:
        """No files, polls, button presses, commands or menu buttons yet."""
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_numbers = itertools.count(1)
        self._polls: dict[str, PollState] = {}
        self._poll_numbers = itertools.count(5_000_001)
        self._callbacks: dict[str, JSONDict] = {}
        self._callback_numbers = itertools.count(1)
        self._callback_signal = Signal()
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._menu_buttons: dict[int | None, JSONDict] = {}

    def _bot_methods(self) -> dict[str, BotMethod]:
        """The Bot API methods served, by lower-case name (Telegram ignores the case)."""
        return {
            name.lower(): method
            for name, method in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "sendPoll": self._send_poll,
                "stopPoll": self._stop_poll,
                "sendDocument": self._send_document,
                "sendPhoto": self._send_photo,
                "deleteMessage": self._delete_message,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "getFile": self._get_file,
                "setChatMenuButton": self._set_chat_menu_button,
                "getChatMenuButton": self._get_chat_menu_button,
                "sendChatAction": self._send_chat_action,
            }.items()
        }

    # ------------------------------------------------------------------ lifecycle

    def _create_app(self) -> web.Application:
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port) and return the root URL."""
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_port = runner.addresses[0][1]
        shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)  # noqa: S104
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        self.url = f"http://{shown}:{bound_port}"
        logger.info("Sandbox Bot API listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """End long polls and webhook delivery, stop listening and free the resources."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        else:
            await self._on_shutdown(self.app)
            await self._on_cleanup(self.app)

    async def __aenter__(self) -> Self:
        """Start on a free local port."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop."""
        await self.stop()

    async def _on_shutdown(self, _app: web.Application) -> None:
        # Wake long polls and waiters first: aiohttp waits for running handlers after this.
        self._closing.set()
        self._updates_signal.notify()
        self._callback_signal.notify()
        for signal in self._chat_signals.values():
            signal.notify()

    async def _on_cleanup(self, _app: web.Application) -> None:
        hook, self._webhook = self._webhook, None
        if hook is not None:
            await _cancel(hook.task)
        for state in self._polls.values():
            if state.closer is not None:
                state.closer.cancel()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    @property
    def closing(self) -> bool:
        """Tell whether stop() began."""
        return self._closing.is_set()

    # ------------------------------------------------------------------ users and chats

    def add_user(
        self,
        user_id: int | None = None,
        first_name: str = "Test",
        language_code: str | None = "nb",
        *,
        last_name: str | None = None,
        username: str | None = None,
    ) -> SandboxUser:
        """Create a user and their private chat (chat id == user id).

        Args:
            user_id: the Telegram id; None picks the next free one from 1,000,001.
            first_name: shown in ``from`` and ``chat``.
            language_code: the client language PTB sees in ``from.language_code``.
            last_name: optional.
            username: optional, without ``@``.

        Raises:
            ValueError: when the id is taken.
        """
        if user_id is None:
            user_id = next(self._user_ids)
            while user_id in self._users:
                user_id = next(self._user_ids)
        elif user_id in self._users:
            raise ValueError(f"user {user_id} exists")
        user = SandboxUser(user_id, first_name, language_code, last_name, username)
        self._users[user_id] = user
        self._chats[user_id] = ChatState(user_id, user.chat_json(), user)
        return user

    def add_users(
        self, count: int, *, first_name: str = "Test", language_code: str | None = "nb"
    ) -> list[SandboxUser]:
        """Create ``count`` users at once (benchmark audiences)."""
        return [self.add_user(None, first_name, language_code) for _ in range(count)]

    def add_group(
        self, chat_id: int | None = None, title: str = "Gruppe", member_ids: Iterable[int] = ()
    ) -> int:
        """Create a group chat with the bot and these users in it; return its id.

        Args:
            chat_id: a negative id; None picks the next free one from -100.
            title: the group's title.
            member_ids: users who can write there (users are created when unknown).

        Raises:
            ValueError: when the id is taken or not negative.
        """
        if chat_id is None:
            chat_id = -100 - len(self._chats)
            while chat_id in self._chats:
                chat_id -= 1
        elif chat_id >= 0 or chat_id in self._chats:
            raise ValueError(f"group id {chat_id} must be negative and unused")
        members = set()
        for user_id in member_ids:
            self._user_chat(user_id)
            members.add(user_id)
        json: JSONDict = {"id": chat_id, "type": "group", "title": title}
        self._chats[chat_id] = ChatState(chat_id, json, members=members)
        return chat_id

    def user(self, user_id: int) -> SandboxUser:
        """Return a user.

        Raises:
            LookupError: for an unknown id.
        """
        try:
            return self._users[user_id]
        except KeyError:
            raise LookupError(f"no sandbox user {user_id}") from None

    @property
    def users(self) -> list[SandboxUser]:
        """All users, oldest first."""
        return list(self._users.values())

    def _chat_for(self, user_id: int, chat_id: int | None) -> ChatState:
        private = self._user_chat(user_id)
        if chat_id is None or chat_id == user_id:
            return private
        chat = self._chats.get(chat_id)
        if chat is None or chat.members is None:
            raise LookupError(f"no group {chat_id}")
        chat.members.add(user_id)
        return chat

    def _user_chat(self, user_id: int) -> ChatState:
        # A new person writing to the bot is normal, so user actions create users on demand.
        chat = self._chats.get(user_id)
        if chat is None:
            self.add_user(user_id)
            chat = self._chats[user_id]
        return chat

    # ------------------------------------------------------------------ acting as users

    async def send_text(self, user_id: int, text: str, *, chat_id: int | None = None) -> JSONDict:
        """Send a text from the user; ``/cmd args`` gets a bot_command entity like a client.

        Args:
            user_id: the sender.
            text: what they type.
            chat_id: a group to write in (see :meth:`add_group`); None: their private chat.

        Returns:
            The ``Message`` the bot receives in a ``message`` update.
        """
        return self._user_message(user_id, _text_fields(text), chat_id)

    async def edit_user_message(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> JSONDict:
        """Edit a text the user sent earlier; the bot gets an ``edited_message`` update.

        Raises:
            LookupError: when the sandbox holds no such message from this user.
        """
        chat = self._chats.get(user_id if chat_id is None else chat_id)
        old = None if chat is None else chat.user_messages.get(message_id)
        if chat is None or old is None or old["from"]["id"] != user_id:
            raise LookupError(f"no message {message_id} from user {user_id} to edit")
        new = {k: v for k, v in old.items() if k not in ("text", "entities")}
        new.update(_text_fields(text))
        new["edit_date"] = int(time.time())
        chat.user_messages[message_id] = new
        self._record(chat, "user_edit", new)
        self._enqueue("edited_message", new)
        return new

    async def send_sticker(
        self, user_id: int, emoji: str = "👍", *, chat_id: int | None = None
    ) -> JSONDict:
        """Send a sticker from the user."""
        stored = self._store_file(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "stickers", None, "image/webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
            "emoji": emoji,
        }
        return self._user_message(user_id, {"sticker": sticker}, chat_id)

    async def send_photo(
        self,
        user_id: int,
        content: bytes | None = None,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSONDict:
        """Send a photo (PNG, JPEG, GIF or WebP bytes; default a 1x1 PNG) from the user.

        Raises:
            ValueError: when ``content`` is not an image.
        """
        content = PIXEL_PNG if content is None else content
        try:
            width, height = image_size(content)
        except ApiError:
            raise ValueError("photo content is not a PNG, JPEG, GIF or WebP image") from None
        stored = self._store_file(content, "photos", None, None)
        fields: JSONDict = {"photo": [_photo_size(stored, width, height)]}
        if caption is not None:
            fields["caption"] = caption
        return self._user_message(user_id, fields, chat_id)

    async def send_voice(
        self,
        user_id: int,
        content: bytes | None = None,
        *,
        duration: int = 2,
        chat_id: int | None = None,
    ) -> JSONDict:
        """Send a voice note (any bytes; default a stub Ogg header) from the user."""
        content = b"OggS\x00" if content is None else content
        stored = self._store_file(content, "voice", None, "audio/ogg")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(content),
            "duration": duration,
            "mime_type": "audio/ogg",
        }
        return self._user_message(user_id, {"voice": voice}, chat_id)

    async def send_document(
        self,
        user_id: int,
        filename: str,
        content: bytes,
        mime_type: str | None = None,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSONDict:
        """Send a file from the user; the bot can fetch it with getFile and download it."""
        mime_type = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        stored = self._store_file(content, "documents", filename, mime_type)
        fields: JSONDict = {"document": _document(stored)}
        if caption is not None:
            fields["caption"] = caption
        return self._user_message(user_id, fields, chat_id)

    def _user_message(
        self, user_id: int, fields: JSONDict, chat_id: int | None = None
    ) -> JSONDict:
        chat = self._chat_for(user_id, chat_id)
        if chat.blocked:
            # Writing to a blocked bot is the client's "Restart" button: it unblocks first.
            self._set_blocked(chat, blocked=False)
        message: JSONDict = {
            "message_id": chat.take_message_id(),
            "from": self.user(user_id).to_json(),
            "chat": chat.json,
            "date": int(time.time()),
        }
        message.update(fields)
        self._keep(chat.user_messages, message)
        self._record(chat, "user_message", message)
        self._enqueue("message", message)
        return message

    async def press(
        self,
        user_id: int,
        callback_data: str,
        message_id: int | None = None,
        *,
        chat_id: int | None = None,
    ) -> str:
        """Press an inline button as the user; returns the callback query id.

        Args:
            user_id: who presses.
            callback_data: the button's data; forged data is allowed.
            message_id: the bot message the button is on. None: the latest bot message with
                such a button, else the latest bot message. A message the sandbox no longer
                holds is sent as an inaccessible message (date 0), like a very old one.
            chat_id: a group the message is in; None: the user's private chat.

        Raises:
            LookupError: when the chat has no bot message at all.
        """
        chat = self._chat_for(user_id, chat_id)
        message = _pressed_message(chat, callback_data, message_id)
        query_id = str(next(self._callback_numbers))
        query = {
            "id": query_id,
            "from": self.user(user_id).to_json(),
            "message": message,
            "chat_instance": str(-chat.id - 10**12),
            "data": callback_data,
        }
        self._expect_answer(chat, query_id, message["message_id"], callback_data)
        self._enqueue("callback_query", query)
        return query_id

    def _expect_answer(self, chat: ChatState, query_id: str, message_id: int, data: str) -> None:
        """Record a callback query, which waits for the bot's answerCallbackQuery."""
        self._callbacks[query_id] = {
            "chat_id": chat.id,
            "message_id": message_id,
            "data": data,
            "answer": None,
        }
        self._record(
            chat,
            "callback_query",
            data={"id": query_id, "data": data, "message_id": message_id},
        )

    async def vote(self, user_id: int, poll_id: str, option_ids: list[int]) -> None:
        """Vote in a poll the bot sent (``[]`` retracts); sends poll_answer and poll updates.

        Raises:
            LookupError: for an unknown poll.
            ValueError: for a closed poll, bad options, or a changed vote the poll forbids.
        """
        state = self._polls.get(poll_id)
        if state is None:
            raise LookupError(f"no poll {poll_id!r}")
        poll = state.poll
        _check_vote(state, user_id, option_ids)
        new_poll = _counted(state, user_id, option_ids)
        self._replace_poll(state, new_poll, "poll")
        self._user_chat(user_id)
        if not poll["is_anonymous"]:
            answer = {
                "poll_id": poll_id,
                "user": self.user(user_id).to_json(),
                "option_ids": list(option_ids),
                "option_persistent_ids": [poll["options"][i]["persistent_id"] for i in option_ids],
            }
            self._record(self._chats[state.chat_id], "poll_answer", data=answer)
            self._enqueue("poll_answer", answer)
        self._enqueue("poll", new_poll)

    async def block(self, user_id: int) -> None:
        """Block the bot as the user: a my_chat_member update, then 403 on sends to them."""
        self._set_blocked(self._user_chat(user_id), blocked=True)

    async def unblock(self, user_id: int) -> None:
        """Unblock the bot as the user: a my_chat_member update back to member."""
        self._set_blocked(self._user_chat(user_id), blocked=False)

    def _set_blocked(self, chat: ChatState, *, blocked: bool) -> None:
        user = chat.user
        if user is None or user.blocked == blocked:
            return
        user.blocked = blocked
        kicked = {"user": self.bot_user, "status": "kicked", "until_date": 0}
        member = {"user": self.bot_user, "status": "member"}
        update = {
            "chat": chat.json,
            "from": user.to_json(),
            "date": int(time.time()),
            "old_chat_member": member if blocked else kicked,
            "new_chat_member": kicked if blocked else member,
        }
        self._record(chat, "member", data={"status": "kicked" if blocked else "member"})
        self._enqueue("my_chat_member", update)

    # ------------------------------------------------------------------ reading what happened

    @property
    def cursor(self) -> int:
        """The number of the latest event in any chat; pass it as ``after`` later."""
        return self._seq

    def messages(self, chat_id: int) -> list[JSONDict]:
        """Return the bot's messages in a chat as they are now (edits applied, no deleted)."""
        chat = self._chats.get(chat_id)
        return [] if chat is None else list(chat.bot_messages.values())

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """Return one bot message as it is now, or None."""
        chat = self._chats.get(chat_id)
        return None if chat is None else chat.bot_messages.get(message_id)

    def reply_keyboard(self, chat_id: int) -> JSONDict | None:
        """Return the custom reply keyboard (``keyboard``/``force_reply``) shown in a chat."""
        chat = self._chats.get(chat_id)
        return None if chat is None else chat.reply_keyboard

    def events(self, chat_id: int, after: int = 0) -> list[SandboxEvent]:
        """Return a chat's events numbered above ``after``, oldest first."""
        chat = self._chats.get(chat_id)
        if chat is None or not chat.events:
            return []
        found: list[SandboxEvent] = []
        for event in reversed(chat.events):
            if event.seq <= after:
                break
            found.append(event)
        found.reverse()
        return found

    async def wait_events(
        self, chat_id: int, after: int = 0, wait: float = 0.0
    ) -> list[SandboxEvent]:
        """Return a chat's events above ``after``, waiting up to ``wait`` seconds for one."""
        deadline = time.monotonic() + wait
        while True:
            found = self.events(chat_id, after)
            remaining = deadline - time.monotonic()
            if found or remaining <= 0 or self.closing:
                return found
            await self._chat_signal(chat_id).wait(remaining)

    async def wait_for_event(
        self,
        chat_id: int,
        predicate: EventPredicate | None = None,
        *,
        # A per-call deadline reads better in tests than an asyncio.timeout block.
        timeout: float = 10.0,  # noqa: ASYNC109
        after: int = 0,
    ) -> SandboxEvent:
        """Return the first event in a chat above ``after`` that matches ``predicate``.

        Raises:
            TimeoutError: listing what the chat got, when nothing matched in time.
        """
        deadline = time.monotonic() + timeout
        seen = after
        while True:
            for event in self.events(chat_id, seen):
                if predicate is None or predicate(event):
                    return event
                seen = event.seq
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closing:
                got = self.events(chat_id, after)
                listing = "\n  ".join(event.describe() for event in got[-20:]) or "nothing"
                raise TimeoutError(
                    f"no matching event in chat {chat_id} within {timeout:g} s after cursor "
                    f"{after}; the chat got:\n  {listing}"
                )
            await self._chat_signal(chat_id).wait(remaining)

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: MessagePredicate | str | None = None,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109
        after: int = 0,
    ) -> JSONDict:
        """Return the first bot message or edit in a chat above ``after`` that matches.

        Args:
            chat_id: the chat to watch.
            predicate: a test on the message dict, or a string its text or caption contains.
            timeout: seconds to wait.
            after: a cursor (:attr:`cursor` taken before acting); 0 looks at all events.

        Raises:
            TimeoutError: listing what the chat got, when nothing matched in time.
        """
        if isinstance(predicate, str):
            needle = predicate

            def check(message: JSONDict) -> bool:
                return needle in (message.get("text") or message.get("caption") or "")

            test: MessagePredicate | None = check
        else:
            test = predicate

        def matches(event: SandboxEvent) -> bool:
            return (
                event.kind in ("message", "edit")
                and event.message is not None
                and (test is None or test(event.message))
            )

        event = await self.wait_for_event(chat_id, matches, timeout=timeout, after=after)
        return event.message or {}

    def callback_answers(self, query_id: str | None = None) -> Any:
        """Return what answerCallbackQuery said.

        Args:
            query_id: one callback query id (from :meth:`press`).

        Returns:
            For one id: ``{"text", "show_alert", "url", "cache_time"}`` or None if not
            answered yet. Without an id: a dict of every answered query id to its answer.
        """
        if query_id is not None:
            entry = self._callbacks.get(query_id)
            return None if entry is None else entry["answer"]
        return {
            key: entry["answer"]
            for key, entry in self._callbacks.items()
            if entry["answer"] is not None
        }

    async def wait_for_callback_answer(
        self,
        query_id: str,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> JSONDict:
        """Wait until the bot answered a callback query and return the answer.

        Raises:
            TimeoutError: when the bot did not answer in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            answer = self.callback_answers(query_id)
            if answer is not None:
                return dict(answer)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closing:
                raise TimeoutError(f"callback query {query_id} not answered in {timeout:g} s")
            await self._callback_signal.wait(remaining)

    def poll(self, poll_id: str) -> JSONDict | None:
        """Return a poll's current state (votes counted), or None."""
        state = self._polls.get(poll_id)
        return None if state is None else state.poll

    def file_content(self, file_id: str) -> bytes:
        """Return the bytes of a stored file.

        Raises:
            LookupError: for an unknown file id.
        """
        stored = self._files.get(file_id)
        if stored is None:
            raise LookupError(f"no file {file_id!r}")
        return stored.content

    def stored_file(self, file_id: str) -> StoredFile | None:
        """Return a stored file with its name and MIME type, or None."""
        return self._files.get(file_id)

    @property
    def commands(self) -> dict[tuple[str, str], list[JSONDict]]:
        """What setMyCommands set, by (scope, language_code); scope like ``default``,
        ``all_private_chats`` or ``chat:42``; language ``""`` for all languages."""
        return {key: list(value) for key, value in self._commands.items()}

    def get_commands(self, scope: str = "default", language_code: str = "") -> list[JSONDict]:
        """Return the commands set for one scope key and language."""
        return list(self._commands.get((scope, language_code), []))

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by getUpdates or accepted by the webhook."""
        return len(self._updates)

    @property
    def webhook_url(self) -> str | None:
        """The webhook URL set by the bot, or None in polling mode."""
        return None if self._webhook is None else self._webhook.url

    # ------------------------------------------------------------------ faults

    def inject_fault(
        self,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        status: int = 500,
        count: int = 1,
        retry_after: int | None = None,
        delay: float = 0.0,
        description: str | None = None,
    ) -> Fault:
        """Make the next ``count`` matching Bot API calls fail.

        Args:
            method: a Bot API method (any case); None matches every method except
                getUpdates and getMe, which polling calls all the time.
            chat_id: only calls with this chat_id.
            status: the HTTP status and error_code to answer (403, 429, 500, 502, ...).
            count: how many calls to hit.
            retry_after: ``parameters.retry_after`` (429 defaults to 1).
            delay: instead of an error, hold the call this many seconds and then handle it
                normally (a client timeout; the send may still happen, as on Telegram).
            description: overrides the Telegram-like default description.
        """
        fault = Fault(method, chat_id, status, count, retry_after, delay, description)
        self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """Pending faults."""
        return list(self._faults)

    async def _apply_fault(self, method: str, params: Params) -> None:
        chat_id = params.raw("chat_id")
        for fault in self._faults:
            if fault.method is None and method in _POLLING_METHODS:
                continue
            if not fault.matches(method, chat_id):
                continue
            fault.count -= 1
            if fault.count <= 0:
                self._faults.remove(fault)
            if fault.delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.delay)
                return
            retry_after = fault.retry_after
            if fault.status == 429 and retry_after is None:
                retry_after = 1
            description = fault.description or (
                f"Too Many Requests: retry after {retry_after}"
                if fault.status == 429
                else _ERROR_DESCRIPTIONS.get(fault.status, f"Error {fault.status}")
            )
            raise ApiError(fault.status, description, retry_after=retry_after)

    # ------------------------------------------------------------------ internals

    def _record(
        self,
        chat: ChatState,
        kind: str,
        message: JSONDict | None = None,
        data: JSONDict | None = None,
    ) -> SandboxEvent:
        self._seq += 1
        event = SandboxEvent(self._seq, kind, chat.id, time.time(), message, data)
        limit = self._events_limit
        if limit != 0:
            events = chat.events
            if events is None:
                events = chat.events = []
            events.append(event)
            # A list trimmed in batches: O(1) amortized, and far smaller than a deque per chat.
            if limit is not None and len(events) >= 2 * limit:
                del events[:-limit]
        signal = self._chat_signals.get(chat.id)
        if signal is not None:
            signal.notify()
        return event

    def _chat_signal(self, chat_id: int) -> Signal:
        signal = self._chat_signals.get(chat_id)
        if signal is None:
            signal = self._chat_signals[chat_id] = Signal()
        return signal

    def _keep(self, store: dict[int, JSONDict], message: JSONDict) -> None:
        limit = self.keep_messages
        if limit == 0:
            return
        store[message["message_id"]] = message
        if limit is not None and len(store) > limit:
            del store[next(iter(store))]

    def _enqueue(self, kind: str, payload: JSONDict) -> None:
        if kind not in self._allowed_updates:
            return
        self._updates.append({"update_id": next(self._update_ids), kind: payload})
        self._updates_signal.notify()

    def _set_allowed_updates(self, allowed: Any) -> None:
        if allowed is None:
            return
        if not isinstance(allowed, list):
            raise bad_request("can't parse allowed_updates JSON object")
        self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES

    def _store_file(
        self, content: bytes, folder: str, file_name: str | None, mime_type: str | None
    ) -> StoredFile:
        number = next(self._file_numbers)
        suffix = PurePosixPath(file_name).suffix if file_name else ""
        if not suffix:
            suffix = (mimetypes.guess_extension(mime_type) if mime_type else None) or ""
            if folder == "photos":
                suffix = ".jpg" if content.startswith(b"\xff\xd8") else ".png"
        stored = StoredFile(
            file_id=f"SBX{folder[:3].upper()}{number:09d}",
            file_unique_id=f"U{number:09d}",
            file_path=f"{folder}/file_{number}{suffix}",
            content=content,
            mime_type=mime_type,
            file_name=file_name,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _drop_file(self, stored: StoredFile) -> None:
        self._files.pop(stored.file_id, None)
        self._files_by_path.pop(stored.file_path, None)

    def _check_rate(self, chat: ChatState) -> None:
        if self.global_rate is None and self.per_chat_rate is None:
            return
        now = time.monotonic()
        wait = 0.0
        chat_bucket = global_bucket = None
        if self.per_chat_rate:
            chat_bucket = chat.bucket
            if chat_bucket is None or chat_bucket.rate != self.per_chat_rate:
                chat_bucket = chat.bucket = TokenBucket(
                    self.per_chat_rate, now, capacity=self.per_chat_burst
                )
            wait = chat_bucket.wait_time(now)
        if self.global_rate:
            global_bucket = self._global_bucket
            if global_bucket is None or global_bucket.rate != self.global_rate:
                global_bucket = self._global_bucket = TokenBucket(self.global_rate, now)
            wait = max(wait, global_bucket.wait_time(now))
        if wait > 0:
            seconds = retry_after_seconds(wait)
            raise ApiError(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)
        if chat_bucket is not None:
            chat_bucket.take()
        if global_bucket is not None:
            global_bucket.take()

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle_bot_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            error = ApiError(401, "Unauthorized")
            return web.json_response(error.payload(), status=error.status)
        name = request.match_info["method"]
        method = name.lower()
        self.stats.calls[method] += 1
        try:
            params = await _read_params(request)
            if self._faults:
                await self._apply_fault(method, params)
            if self.latency > 0:
                await asyncio.sleep(self.latency)
            handler = self._methods.get(method)
            if handler is None:
                raise bad_request(f"the sandbox does not implement {name}")
            result = await handler(params)
        except ApiError as error:
            self.stats.record_error(error.status)
            return web.json_response(error.payload(), status=error.status)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self._files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(
            body=stored.content, content_type=stored.mime_type or "application/octet-stream"
        )

    def _target_chat(self, params: Params) -> ChatState:
        raw = params.raw("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self._chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat.blocked:
            raise ApiError(403, _BLOCKED)
        return chat

    def _bot_message(self, chat: ChatState, params: Params) -> JSONDict:
        message_id = params.integer("message_id")
        if params.has("inline_message_id"):
            raise bad_request("the sandbox does not implement inline messages")
        if message_id is None:
            raise bad_request("message_id is empty")
        message = chat.bot_messages.get(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        return message

    def _send(self, chat: ChatState, params: Params, fields: JSONDict) -> JSONDict:
        """Validate the common send parameters, apply the rate limits and store a message."""
        markup = self._reply_markup(params)
        reply_to = self._reply_target(chat, params)
        self._check_rate(chat)
        message: JSONDict = {
            "message_id": chat.take_message_id(),
            "from": self.bot_user,
            "chat": chat.json,
            "date": int(time.time()),
        }
        message.update(fields)
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        extra: JSONDict | None = None
        if markup is not None:
            if "inline_keyboard" in markup:
                if markup["inline_keyboard"]:
                    message["reply_markup"] = markup
            else:
                # PTB's Message only parses inline keyboards; Telegram never echoes others.
                chat.reply_keyboard = None if markup.get("remove_keyboard") else markup
                extra = {"reply_markup": markup}
        if params.flag("disable_notification"):
            extra = {**(extra or {}), "disable_notification": True}
        self._keep(chat.bot_messages, message)
        self._record(chat, "message", message, extra)
        self.stats.record_send(chat.id)
        return message

    def _reply_markup(self, params: Params) -> JSONDict | None:
        raw = params.raw("reply_markup")
        if not isinstance(raw, str):
            return check_reply_markup(raw)
        # A broadcast repeats one keyboard: share one parsed copy instead of 100,000.
        cached = self._markup_cache
        if cached is not None and cached[0] == raw:
            return cached[1]
        markup = check_reply_markup(params.structured("reply_markup"))
        self._markup_cache = (raw, markup)
        return markup

    def _reply_target(self, chat: ChatState, params: Params) -> JSONDict | None:
        reply = params.structured("reply_parameters")
        allow_missing = params.flag("allow_sending_without_reply")
        message_id: Any = None
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
        elif params.has("reply_to_message_id"):
            message_id = params.integer("reply_to_message_id")
        if message_id is None:
            return None
        target = chat.bot_messages.get(message_id) or chat.user_messages.get(message_id)
        if target is None:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return {key: value for key, value in target.items() if key != "reply_to_message"}

    def _edit(self, chat: ChatState, old: JSONDict, new: JSONDict) -> JSONDict:
        if {k: v for k, v in old.items() if k != "edit_date"} == new:
            raise bad_request(_NOT_MODIFIED)
        new["edit_date"] = int(time.time())
        chat.bot_messages[new["message_id"]] = new
        self._record(chat, "edit", new)
        return new

    def _replace_poll(self, state: PollState, poll: JSONDict, kind: str) -> JSONDict | None:
        state.poll = poll
        chat = self._chats[state.chat_id]
        old = chat.bot_messages.get(state.message_id)
        if old is None:
            self._record(chat, kind, data={"poll": poll})
            return None
        new = {**old, "poll": poll}
        chat.bot_messages[state.message_id] = new
        self._record(chat, kind, new)
        return new

    def _close_poll(self, state: PollState, kind: str) -> JSONDict:
        if state.closer is not None:
            state.closer.cancel()
            state.closer = None
        poll = {**state.poll, "is_closed": True}
        self._replace_poll(state, poll, kind)
        self._enqueue("poll", poll)
        return poll

    def _file_param(self, params: Params, name: str, folder: str) -> tuple[StoredFile, bool]:
        value = params.file(name)
        if value is None:
            raise bad_request(f"there is no {name} in the request")
        if isinstance(value, Upload):
            mime_type = value.content_type
            if not mime_type or mime_type == "application/octet-stream":
                guessed = mimetypes.guess_type(value.filename or "")[0]
                mime_type = guessed or mime_type
            file_name = value.filename if folder == "documents" else None
            return self._store_file(value.content, folder, file_name, mime_type), True
        stored = self._files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored, False

    # ------------------------------------------------------------------ Bot API methods

    async def _get_me(self, _params: Params) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: Params) -> list[JSONDict]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.integer("offset") or 0
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = min(params.number("timeout") or 0.0, _MAX_LONG_POLL)
        self._set_allowed_updates(params.structured("allowed_updates"))
        updates = self._updates
        if offset > 0:
            while updates and updates[0]["update_id"] < offset:
                updates.popleft()
        elif offset < 0:
            while len(updates) > -offset:
                updates.popleft()
        # Telegram ends an older long poll when another getUpdates arrives.
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.notify()
        if not updates and timeout > 0:
            deadline = time.monotonic() + timeout
            while not updates and not self.closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                await self._updates_signal.wait(remaining)
                if generation != self._poll_generation or self._webhook is not None:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that "
                        "only one bot instance is running",
                    )
        return list(itertools.islice(updates, limit))

    async def _set_webhook(self, params: Params) -> bool:
        url = params.string("url") or ""
        drop = params.flag("drop_pending_updates")
        if not url:
            return await self._remove_webhook(drop)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.string("secret_token")
        if secret is not None and not SECRET_TOKEN_RE.match(secret):
            raise bad_request("secret token contains unallowed characters")
        self._set_allowed_updates(params.structured("allowed_updates"))
        if drop:
            self._updates.clear()
        old = self._webhook
        hook = WebhookState(url, secret, params.integer("max_connections") or 40)
        self._webhook = hook
        if old is not None:
            await _cancel(old.task)
        hook.task = asyncio.create_task(self._deliver_webhook(hook), name="sandbox-webhook")
        self._poll_generation += 1
        self._updates_signal.notify()
        return True

    async def _delete_webhook(self, params: Params) -> bool:
        return await self._remove_webhook(params.flag("drop_pending_updates"))

    async def _remove_webhook(self, drop: bool) -> bool:
        hook, self._webhook = self._webhook, None
        if hook is not None:
            await _cancel(hook.task)
        if drop:
            self._updates.clear()
        return True

    async def _get_webhook_info(self, _params: Params) -> JSONDict:
        hook = self._webhook
        info: JSONDict = {
            "url": "" if hook is None else hook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            info["allowed_updates"] = sorted(self._allowed_updates)
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    async def _deliver_webhook(self, hook: WebhookState) -> None:
        """POST updates to the webhook one at a time, in order, retrying each until 2xx."""
        backoff = _WEBHOOK_BACKOFF
        while self._webhook is hook and not self.closing:
            if not self._updates:
                await self._updates_signal.wait(1.0)
                continue
            update = self._updates[0]
            error = await self._post_update(hook, update)
            if error is None:
                self.stats.webhook_deliveries += 1
                if self._updates and self._updates[0] is update:
                    self._updates.popleft()
                backoff = _WEBHOOK_BACKOFF
                continue
            self.stats.webhook_failures += 1
            hook.last_error_date = int(time.time())
            hook.last_error_message = error
            logger.debug("Webhook delivery of update %s failed: %s", update["update_id"], error)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _WEBHOOK_MAX_BACKOFF)

    async def _post_update(self, hook: WebhookState, update: JSONDict) -> str | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)
            )
        headers = {}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with self._session.post(hook.url, json=update, headers=headers) as response:
                body = await response.read()
                if 200 <= response.status < 300:
                    await self.execute_webhook_answer(response.content_type, body)
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"Connection failed: {exc!r}"

    async def execute_webhook_answer(self, content_type: str, body: bytes) -> None:
        """Make the Bot API call a webhook answered with, as Telegram does.

        A webhook may answer an update with one method call as a JSON object with ``method``
        and its parameters. Telegram makes the call and never says how it went; so does this.
        """
        if content_type != "application/json":
            return
        try:
            values = json.loads(body)
        except ValueError:
            return
        if not isinstance(values, dict) or not isinstance(values.get("method"), str):
            return
        method = values.pop("method").lower()
        self.stats.calls[method] += 1
        self.stats.answered_in_webhook[method] += 1
        handler = self._methods.get(method)
        if handler is None:
            return
        try:
            await handler(Params(values))
        except ApiError as error:
            self.stats.record_error(error.status)

    async def _send_message(self, params: Params) -> JSONDict:
        chat = self._target_chat(params)
        parse_mode = params.string("parse_mode")
        text = check_text(params.string("text"), parse_mode)
        if text == self._last_text:
            text = self._last_text  # one string object for a broadcast's identical texts
        self._last_text = text
        fields: JSONDict = {"text": text}
        _add_formatting(fields, params, parse_mode, "entities")
        preview = params.structured("link_preview_options")
        if preview:
            fields["link_preview_options"] = preview
        return self._send(chat, params, fields)

    async def _edit_message_text(self, params: Params) -> JSONDict:
        chat = self._target_chat(params)
        old = self._bot_message(chat, params)
        if "text" not in old:
            raise bad_request("there is no text in the message to edit")
        parse_mode = params.string("parse_mode")
        text = check_text(params.string("text"), parse_mode)
        markup = _inline_markup(params)
        dropped = {"text", "entities", "parse_mode", "link_preview_options", "reply_markup"}
        new = {k: v for k, v in old.items() if k not in dropped and k != "edit_date"}
        new["text"] = text
        _add_formatting(new, params, parse_mode, "entities")
        preview = params.structured("link_preview_options")
        if preview:
            new["link_preview_options"] = preview
        if markup:
            new["reply_markup"] = markup
        return self._edit(chat, old, new)

    async def _edit_message_reply_markup(self, params: Params) -> JSONDict:
        chat = self._target_chat(params)
        old = self._bot_message(chat, params)
        markup = _inline_markup(params)
        new = {k: v for k, v in old.items() if k not in ("reply_markup", "edit_date")}
        if markup:
            new["reply_markup"] = markup
        return self._edit(chat, old, new)

    async def _answer_callback_query(self, params: Params) -> bool:
        query_id = params.string("callback_query_id", required=True)
        entry = self._callbacks.get(query_id or "")
        if entry is None or entry["answer"] is not None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.string("text")
        if text is not None and len(text) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        answer = {
            "text": text,
            "show_alert": params.flag("show_alert"),
            "url": params.string("url"),
            "cache_time": params.integer("cache_time") or 0,
        }
        entry["answer"] = answer
        chat = self._chats.get(entry["chat_id"])
        if chat is not None:
            self._record(chat, "callback_answer", data={"callback_query_id": query_id, **answer})
        self._callback_signal.notify()
        return True

    async def _send_poll(self, params: Params) -> JSONDict:
        chat = self._target_chat(params)
        poll = _poll_from(params, str(next(self._poll_numbers)))
        closes_in = _poll_closing(params, poll)
        message = self._send(chat, params, {"poll": poll})
        state = PollState(poll["id"], chat.id, message["message_id"], poll)
        self._polls[state.poll_id] = state
        if closes_in is not None and not poll["is_closed"]:
            state.closer = asyncio.get_running_loop().call_later(
                closes_in, self._close_poll, state, "poll"
            )
        return message

    async def _stop_poll(self, params: Params) -> JSONDict:
        chat = self._target_chat(params)
        message_id = params.integer("message_id", required=True)
        message = chat.bot_messages.get(message_id or 0)
        state = (
            None
            if message is None or "poll" not in message
            else self._polls.get(message["poll"]["id"])
        )
        if state is None:
            raise bad_request("message with poll to stop not found")
        if state.poll["is_closed"]:
            raise bad_request("poll has already been closed")
        markup = _inline_markup(params)
        if markup is not None:
            old = chat.bot_messages[state.message_id]
            chat.bot_messages[state.message_id] = {**old, "reply_markup": markup}
        return self._close_poll(state, "edit")

    async def _send_document(self, params: Params) -> JSONDict:
        return self._send_file(params, "document", "documents", _document_fields)

    async def _send_photo(self, params: Params) -> JSONDict:
        return self._send_file(params, "photo", "photos", _photo_fields)

    def _send_file(
        self,
        params: Params,
        name: str,
        folder: str,
        describe: Callable[[StoredFile, bool], JSONDict],
    ) -> JSONDict:
        """Send the file in parameter ``name`` with its caption; a new file is dropped on error.

        ``describe`` makes the message's fields from the stored file and whether it is new.
        """
        chat = self._target_chat(params)
        parse_mode = params.string("parse_mode")
        caption = params.string("caption")
        check_caption(caption, parse_mode)
        stored, created = self._file_param(params, name, folder)
        try:
            fields = describe(stored, created)
            _add_caption(fields, params, caption, parse_mode)
            return self._send(chat, params, fields)
        except ApiError:
            if created:
                self._drop_file(stored)
            raise

    async def _delete_message(self, params: Params) -> bool:
        chat = self._target_chat(params)
        message_id = params.integer("message_id", required=True)
        if chat.bot_messages.pop(message_id or 0, None) is not None:
            from_bot = True
        elif chat.user_messages.pop(message_id or 0, None) is not None:
            from_bot = False
        else:
            raise bad_request("message to delete not found")
        self._record(chat, "delete", data={"message_id": message_id, "from_bot": from_bot})
        return True

    async def _set_my_commands(self, params: Params) -> bool:
        commands = params.structured("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            if (
                not isinstance(command, dict)
                or not COMMAND_RE.match(str(command.get("command", "")))
                or not 1 <= len(str(command.get("description", ""))) <= 256
            ):
                raise bad_request("BOT_COMMAND_INVALID")
        key = _commands_key(params)
        if commands:
            self._commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self._commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: Params) -> list[JSONDict]:
        return list(self._commands.get(_commands_key(params), []))

    async def _delete_my_commands(self, params: Params) -> bool:
        self._commands.pop(_commands_key(params), None)
        return True

    async def _get_file(self, params: Params) -> JSONDict:
        stored = self._files.get(params.string("file_id", required=True) or "")
        if stored is None:
            raise bad_request("invalid file_id")
        return stored.to_json()

    async def _set_chat_menu_button(self, params: Params) -> bool:
        button = params.structured("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or "type" not in button:
            raise bad_request("can't parse menu button JSON object")
        chat_id = params.integer("chat_id")
        if chat_id is not None and chat_id not in self._chats:
            raise bad_request("chat not found")
        self._menu_buttons[chat_id] = button
        return True

    async def _get_chat_menu_button(self, params: Params) -> JSONDict:
        chat_id = params.integer("chat_id")
        return (
            self._menu_buttons.get(chat_id) or self._menu_buttons.get(None) or {"type": "commands"}
        )

    async def _send_chat_action(self, params: Params) -> bool:
        chat = self._target_chat(params)
        action = params.string("action", required=True)
        self._record(chat, "chat_action", data={"action": action})
        return True


async def _read_params(request: web.Request) -> Params:
    """Merge query, JSON, form and multipart parameters like the Bot API does."""
    values: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON body") from None
            if not isinstance(body, dict):
                raise bad_request("the JSON body must be an object")
            values.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    with value.file:
                        content = value.file.read()
                    files[key] = Upload(content, value.filename, value.content_type)
                elif isinstance(value, bytes | bytearray):
                    values[key] = bytes(value).decode()
                else:
                    values[key] = value
    return Params(values, files)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _text_fields(text: str) -> JSONDict:
    fields: JSONDict = {"text": text}
    entities = command_entities(text)
    if entities:
        fields["entities"] = entities
    return fields


def _find_button(messages: Iterable[JSONDict], callback_data: str) -> JSONDict | None:
    for message in reversed(list(messages)):
        for row in message.get("reply_markup", {}).get("inline_keyboard", ()):
            for button in row:
                if button.get("callback_data") == callback_data:
                    return message
    return None


def _inline_markup(params: Params) -> JSONDict | None:
    markup = check_reply_markup(params.structured("reply_markup"))
    if markup is None:
        return None
    if "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    return markup if markup["inline_keyboard"] else None


def _add_formatting(fields: JSONDict, params: Params, parse_mode: str | None, key: str) -> None:
    entities = params.structured(key)
    if entities:
        fields[key] = entities
    if parse_mode:
        fields["parse_mode"] = parse_mode


def _add_caption(
    fields: JSONDict, params: Params, caption: str | None, parse_mode: str | None
) -> None:
    if caption:
        fields["caption"] = caption
        _add_formatting(fields, params, parse_mode, "caption_entities")


def _document(stored: StoredFile) -> JSONDict:
    document: JSONDict = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.content),
    }
    if stored.file_name:
        document["file_name"] = stored.file_name
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    return document


def _poll_from(params: Params, poll_id: str) -> JSONDict:
    """The ``Poll`` object sendPoll's parameters describe (without its closing time)."""
    question = check_poll_question(params.string("question"))
    texts = poll_option_texts(params.structured("options"))
    poll_type = params.string("type") or "regular"
    if poll_type not in ("regular", "quiz"):
        raise bad_request("poll type is invalid")
    poll: JSONDict = {
        "id": poll_id,
        "question": question,
        "options": [
            {"text": text, "voter_count": 0, "persistent_id": str(index)}
            for index, text in enumerate(texts)
        ],
        "total_voter_count": 0,
        "is_closed": params.flag("is_closed"),
        "is_anonymous": params.flag("is_anonymous", default=True),
        "type": poll_type,
        "allows_multiple_answers": params.flag("allows_multiple_answers"),
        "allows_revoting": params.flag("allows_revoting", default=poll_type == "regular"),
        "members_only": params.flag("members_only"),
    }
    if poll_type == "quiz":
        correct = params.structured("correct_option_ids")
        if not isinstance(correct, list) or not correct:
            raise bad_request("quiz poll must have correct_option_ids")
        poll["correct_option_ids"] = correct
        explanation = params.string("explanation")
        if explanation:
            poll["explanation"] = explanation
    for key in ("question_entities", "description", "description_entities"):
        value = params.structured(key) if key.endswith("entities") else params.string(key)
        if value:
            poll[key] = value
    return poll


def _poll_closing(params: Params, poll: JSONDict) -> float | None:
    """Seconds until the poll closes by itself (``open_period``/``close_date``), or None.

    Sets the poll's ``open_period`` and ``close_date`` fields.
    """
    now = time.time()
    open_period = params.integer("open_period")
    close_date = params.integer("close_date")
    if open_period is not None:
        if not 5 <= open_period <= 2_628_000:
            raise bad_request("poll open period must be between 5 and 2628000 seconds")
        poll["open_period"] = open_period
        poll["close_date"] = int(now) + open_period
        return open_period
    if close_date is not None:
        if not 5 <= close_date - now <= 2_628_000:
            raise bad_request("poll close date must be 5 to 2628000 seconds in the future")
        poll["close_date"] = close_date
        return close_date - now
    return None


def _pressed_message(chat: ChatState, callback_data: str, message_id: int | None) -> JSONDict:
    """The message whose button is pressed (see :meth:`BotApiServer.press`)."""
    if message_id is not None:
        return chat.bot_messages.get(message_id) or {
            "chat": chat.json,
            "message_id": message_id,
            "date": 0,
        }
    message = _find_button(chat.bot_messages.values(), callback_data)
    if message is None and chat.bot_messages:
        message = next(reversed(chat.bot_messages.values()))
    if message is None:
        raise LookupError(f"chat {chat.id} has no bot message to press a button on")
    return message


def _check_vote(state: PollState, user_id: int, option_ids: list[int]) -> None:
    """Refuse a vote the poll does not take (see :meth:`BotApiServer.vote`)."""
    poll, poll_id = state.poll, state.poll_id
    if poll["is_closed"]:
        raise ValueError(f"poll {poll_id} is closed")
    count = len(poll["options"])
    if len(set(option_ids)) != len(option_ids) or any(
        not 0 <= option < count for option in option_ids
    ):
        raise ValueError(f"options {option_ids} do not fit a poll with {count} options")
    if len(option_ids) > 1 and not poll["allows_multiple_answers"]:
        raise ValueError(f"poll {poll_id} allows one answer")
    previous = state.votes.get(user_id)
    if previous is not None and not poll["allows_revoting"]:
        raise ValueError(f"poll {poll_id} does not allow changing a vote")
    if previous is None and not option_ids:
        raise ValueError("nothing to retract")


def _counted(state: PollState, user_id: int, option_ids: list[int]) -> JSONDict:
    """Record the person's vote (``[]`` retracts it); the poll with the new counts."""
    poll = state.poll
    counts = [option["voter_count"] for option in poll["options"]]
    for option in state.votes.get(user_id) or ():
        counts[option] -= 1
    for option in option_ids:
        counts[option] += 1
    if option_ids:
        state.votes[user_id] = list(option_ids)
    else:
        state.votes.pop(user_id, None)
    return {
        **poll,
        "options": [
            {**option, "voter_count": counts[i]} for i, option in enumerate(poll["options"])
        ],
        "total_voter_count": len(state.votes),
    }


def _document_fields(stored: StoredFile, _created: bool) -> JSONDict:
    return {"document": _document(stored)}


def _photo_fields(stored: StoredFile, created: bool) -> JSONDict:
    width, height = image_size(stored.content)
    if created and not (stored.mime_type or "").startswith("image/"):
        stored.mime_type = mimetypes.guess_type(stored.file_path)[0]
    return {"photo": [_photo_size(stored, width, height)]}


def _photo_size(stored: StoredFile, width: int, height: int) -> JSONDict:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.content),
        "width": width,
        "height": height,
    }


def _commands_key(params: Params) -> tuple[str, str]:
    scope = params.structured("scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    key = str(scope["type"])
    for part in ("chat_id", "user_id"):
        if part in scope:
            key += f":{scope[part]}"
    return key, params.string("language_code") or ""
