"""The sandbox's HTTP driver API: JSON routes under ``/sandbox/api/`` to play users.

A thin layer over :class:`sandbox.server.BotApiServer` for a browser chat page and for
tools outside the test process. Every answer is JSON; errors are ``{"error": "..."}`` with
404 (unknown user, chat, poll or file) or 400 (bad input).

Routes (``{uid}`` is a user id, which is also their chat id):

=======  ==========================================  ==========================================
GET      /sandbox/api/info                           bot user, cursor, webhook, pending updates
GET      /sandbox/api/users                          ``{"users": [...]}``
POST     /sandbox/api/users                          JSON ``{user_id?, first_name?,
                                                     language_code?, last_name?, username?}``
GET      /sandbox/api/users/{uid}                    one user
POST     /sandbox/api/users/{uid}/text               JSON ``{text}``
POST     /sandbox/api/users/{uid}/sticker            JSON ``{emoji?}``
POST     /sandbox/api/users/{uid}/photo              multipart ``file?``, ``caption?``
POST     /sandbox/api/users/{uid}/voice              multipart ``file?``, ``duration?``
POST     /sandbox/api/users/{uid}/document           multipart ``file``, ``caption?``
POST     /sandbox/api/users/{uid}/press              JSON ``{callback_data, message_id?}``
POST     /sandbox/api/users/{uid}/vote               JSON ``{poll_id, option_ids}``
POST     /sandbox/api/users/{uid}/block|unblock
GET      /sandbox/api/chats/{uid}/messages           the bot's messages as they are now
GET      /sandbox/api/chats/{uid}/events             ``?after=N&wait=S`` long poll (S <= 60)
GET      /sandbox/api/callback_answers/{query_id}    the bot's answer or null
GET      /sandbox/api/polls/{poll_id}                a poll with its vote counts
GET      /sandbox/api/files/{file_id}                the file's bytes
GET      /sandbox/api/commands                       what setMyCommands set
GET      /sandbox/api/stats                          counters; ``?per_chat=1`` adds per chat
GET|POST|DELETE  /sandbox/api/faults                 list, inject (JSON like inject_fault), clear
=======  ==========================================  ==========================================

User actions answer ``{"message": ..., "cursor": N}`` (or ``callback_query_id``); events
answer ``{"events": [...], "cursor": N}``; pass that cursor as the next ``after``. Each event
carries the bot's own ``Message`` object (inline keyboard, poll, document, photo) and, for
messages with files, ``files``: a map of file_id to a download URL on this server.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.server import BotApiServer
from sandbox.state import JSONDict, SandboxEvent, SandboxUser

PREFIX = "/sandbox/api"
MAX_WAIT = 60.0
_FILE_KEYS = ("document", "sticker", "voice", "audio", "video", "animation")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DriverError(Exception):
    """A driver request that cannot be served; becomes a JSON error answer."""

    def __init__(self, status: int, message: str) -> None:
        """Keep the HTTP status and the message."""
        super().__init__(message)
        self.status = status


def add_driver_routes(app: web.Application, sandbox: BotApiServer) -> None:
    """Add the ``/sandbox/api/`` routes for ``sandbox`` to ``app``."""
    driver = _Driver(sandbox)
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/info", driver.info),
        ("GET", "/users", driver.list_users),
        ("POST", "/users", driver.create_user),
        ("GET", "/users/{user_id}", driver.get_user),
        ("POST", "/users/{user_id}/text", driver.send_text),
        ("POST", "/users/{user_id}/sticker", driver.send_sticker),
        ("POST", "/users/{user_id}/photo", driver.send_photo),
        ("POST", "/users/{user_id}/voice", driver.send_voice),
        ("POST", "/users/{user_id}/document", driver.send_document),
        ("POST", "/users/{user_id}/press", driver.press),
        ("POST", "/users/{user_id}/vote", driver.vote),
        ("POST", "/users/{user_id}/block", driver.block),
        ("POST", "/users/{user_id}/unblock", driver.unblock),
        ("GET", "/chats/{chat_id}/messages", driver.messages),
        ("GET", "/chats/{chat_id}/events", driver.events),
        ("GET", "/callback_answers/{query_id}", driver.callback_answer),
        ("GET", "/polls/{poll_id}", driver.poll),
        ("GET", "/files/{file_id}", driver.file),
        ("GET", "/commands", driver.commands),
        ("GET", "/stats", driver.stats),
        ("GET", "/faults", driver.list_faults),
        ("POST", "/faults", driver.add_fault),
        ("DELETE", "/faults", driver.clear_faults),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, PREFIX + path, _json_errors(handler))


def _json_errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except DriverError as error:
            return web.json_response({"error": str(error)}, status=error.status)
        except LookupError as error:
            return web.json_response({"error": str(error.args[0])}, status=404)
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)

    return wrapped


def file_url(file_id: str) -> str:
    """Return the driver URL (relative to the sandbox root) that downloads a file."""
    return f"{PREFIX}/files/{file_id}"


def event_json(event: SandboxEvent) -> JSONDict:
    """Return an event as JSON, with download URLs for the files its message carries."""
    data = event.to_json()
    message = event.message
    if message is not None:
        files = {
            message[key]["file_id"]: file_url(message[key]["file_id"])
            for key in _FILE_KEYS
            if key in message
        }
        for size in message.get("photo", ()):
            files[size["file_id"]] = file_url(size["file_id"])
        if files:
            data["files"] = files
    return data


def _user_json(user: SandboxUser) -> JSONDict:
    return {**user.to_json(), "blocked": user.blocked}


class _Driver:
    """Request handlers bound to one sandbox."""

    def __init__(self, sandbox: BotApiServer) -> None:
        self.sandbox = sandbox

    def _answer(self, message: JSONDict, status: int = 200) -> web.Response:
        return web.json_response(
            {"message": message, "cursor": self.sandbox.cursor}, status=status
        )

    async def info(self, _request: web.Request) -> web.Response:
        """Describe the bot and the sandbox state."""
        sandbox = self.sandbox
        return web.json_response(
            {
                "bot": sandbox.bot_user,
                "cursor": sandbox.cursor,
                "webhook_url": sandbox.webhook_url,
                "pending_updates": sandbox.pending_updates,
            }
        )

    async def list_users(self, _request: web.Request) -> web.Response:
        """List the users."""
        return web.json_response({"users": [_user_json(u) for u in self.sandbox.users]})

    async def create_user(self, request: web.Request) -> web.Response:
        """Create a user from a JSON body."""
        body = await _json_body(request)
        user = self.sandbox.add_user(
            _optional_int(body.get("user_id"), "user_id"),
            str(body.get("first_name") or "Test"),
            body.get("language_code", "nb"),
            last_name=body.get("last_name"),
            username=body.get("username"),
        )
        return web.json_response(_user_json(user), status=201)

    async def get_user(self, request: web.Request) -> web.Response:
        """Return one user."""
        return web.json_response(_user_json(self.sandbox.user(_path_int(request, "user_id"))))

    async def send_text(self, request: web.Request) -> web.Response:
        """Send a text as the user."""
        body = await _json_body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise DriverError(400, "text is required")
        return self._answer(await self.sandbox.send_text(_path_int(request, "user_id"), text))

    async def send_sticker(self, request: web.Request) -> web.Response:
        """Send a sticker as the user."""
        body = await _json_body(request)
        user_id = _path_int(request, "user_id")
        return self._answer(await self.sandbox.send_sticker(user_id, body.get("emoji") or "👍"))

    async def send_photo(self, request: web.Request) -> web.Response:
        """Send a photo (multipart ``file``, or a default picture) as the user."""
        form = await _form(request)
        user_id = _path_int(request, "user_id")
        return self._answer(
            await self.sandbox.send_photo(user_id, form.content(), caption=form.text("caption"))
        )

    async def send_voice(self, request: web.Request) -> web.Response:
        """Send a voice note (multipart ``file``, ``duration``) as the user."""
        form = await _form(request)
        user_id = _path_int(request, "user_id")
        duration = _optional_int(form.fields.get("duration"), "duration") or 2
        return self._answer(
            await self.sandbox.send_voice(user_id, form.content(), duration=duration)
        )

    async def send_document(self, request: web.Request) -> web.Response:
        """Send a file (multipart ``file``, ``caption``) as the user."""
        form = await _form(request)
        upload = form.upload()
        if upload is None:
            raise DriverError(400, "multipart field 'file' is required")
        message = await self.sandbox.send_document(
            _path_int(request, "user_id"),
            upload.filename,
            upload.content,
            upload.mime_type,
            caption=form.text("caption"),
        )
        return self._answer(message)

    async def press(self, request: web.Request) -> web.Response:
        """Press an inline button as the user."""
        body = await _json_body(request)
        data = body.get("callback_data")
        if not isinstance(data, str):
            raise DriverError(400, "callback_data is required")
        query_id = await self.sandbox.press(
            _path_int(request, "user_id"),
            data,
            _optional_int(body.get("message_id"), "message_id"),
        )
        return web.json_response({"callback_query_id": query_id, "cursor": self.sandbox.cursor})

    async def vote(self, request: web.Request) -> web.Response:
        """Vote in a poll as the user."""
        body = await _json_body(request)
        options = body.get("option_ids")
        if not isinstance(options, list) or not all(isinstance(o, int) for o in options):
            raise DriverError(400, "option_ids must be a list of integers")
        await self.sandbox.vote(_path_int(request, "user_id"), str(body.get("poll_id")), options)
        return web.json_response({"ok": True, "cursor": self.sandbox.cursor})

    async def block(self, request: web.Request) -> web.Response:
        """Block the bot as the user."""
        await self.sandbox.block(_path_int(request, "user_id"))
        return web.json_response({"ok": True, "cursor": self.sandbox.cursor})

    async def unblock(self, request: web.Request) -> web.Response:
        """Unblock the bot as the user."""
        await self.sandbox.unblock(_path_int(request, "user_id"))
        return web.json_response({"ok": True, "cursor": self.sandbox.cursor})

    async def messages(self, request: web.Request) -> web.Response:
        """Return the bot's messages in a chat as they are now."""
        chat_id = _path_int(request, "chat_id")
        return web.json_response(
            {"messages": self.sandbox.messages(chat_id), "cursor": self.sandbox.cursor}
        )

    async def events(self, request: web.Request) -> web.Response:
        """Return a chat's events after a cursor, long-polling up to ``wait`` seconds."""
        chat_id = _path_int(request, "chat_id")
        after = _optional_int(request.query.get("after"), "after") or 0
        try:
            wait = min(float(request.query.get("wait") or 0), MAX_WAIT)
        except ValueError:
            raise DriverError(400, "wait must be a number") from None
        found = await self.sandbox.wait_events(chat_id, after, wait)
        return web.json_response(
            {"events": [event_json(event) for event in found], "cursor": self.sandbox.cursor}
        )

    async def callback_answer(self, request: web.Request) -> web.Response:
        """Return the bot's answer to a callback query (null while unanswered)."""
        answer = self.sandbox.callback_answers(request.match_info["query_id"])
        return web.json_response({"answer": answer})

    async def poll(self, request: web.Request) -> web.Response:
        """Return a poll with its vote counts."""
        poll = self.sandbox.poll(request.match_info["poll_id"])
        if poll is None:
            raise DriverError(404, "no such poll")
        return web.json_response(poll)

    async def file(self, request: web.Request) -> web.Response:
        """Return a stored file's bytes."""
        stored = self.sandbox.stored_file(request.match_info["file_id"])
        if stored is None:
            raise DriverError(404, "no such file")
        headers = {}
        if stored.file_name:
            quoted = stored.file_name.replace('"', "")
            headers["Content-Disposition"] = f'inline; filename="{quoted}"'
        return web.Response(
            body=stored.content,
            content_type=stored.mime_type or "application/octet-stream",
            headers=headers,
        )

    async def commands(self, _request: web.Request) -> web.Response:
        """Return what setMyCommands set, per scope and language."""
        listing = [
            {"scope": scope, "language_code": language, "commands": commands}
            for (scope, language), commands in self.sandbox.commands.items()
        ]
        return web.json_response({"commands": listing})

    async def stats(self, request: web.Request) -> web.Response:
        """Return the delivery counters."""
        per_chat = request.query.get("per_chat") in ("1", "true")
        return web.json_response(self.sandbox.stats.to_json(per_chat=per_chat))

    async def list_faults(self, _request: web.Request) -> web.Response:
        """List pending faults."""
        return web.json_response({"faults": [f.to_json() for f in self.sandbox.faults]})

    async def add_fault(self, request: web.Request) -> web.Response:
        """Inject a fault (fields as for ``BotApiServer.inject_fault``)."""
        body = await _json_body(request)
        allowed = {"method", "chat_id", "status", "count", "retry_after", "delay", "description"}
        unknown = set(body) - allowed
        if unknown:
            raise DriverError(400, f"unknown fields: {sorted(unknown)}")
        try:
            fault = self.sandbox.inject_fault(**body)
        except TypeError as error:
            raise DriverError(400, str(error)) from None
        return web.json_response(fault.to_json(), status=201)

    async def clear_faults(self, _request: web.Request) -> web.Response:
        """Remove every pending fault."""
        self.sandbox.clear_faults()
        return web.json_response({"faults": []})


def _path_int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise DriverError(400, f"{name} must be an integer") from None


def _optional_int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DriverError(400, f"{name} must be an integer") from None


async def _json_body(request: web.Request) -> JSONDict:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError:
        raise DriverError(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise DriverError(400, "the body must be a JSON object")
    return body


@dataclass(frozen=True)
class _Upload:
    """A file sent in a multipart body."""

    filename: str
    content: bytes
    mime_type: str | None


@dataclass(frozen=True)
class _Form:
    """A multipart, urlencoded or JSON body: text fields, and files as :class:`_Upload`."""

    fields: dict[str, str | _Upload]

    def text(self, name: str) -> str | None:
        """The text field ``name``, or None."""
        value = self.fields.get(name)
        return value if isinstance(value, str) else None

    def upload(self) -> _Upload | None:
        """The file sent as ``file``, or None."""
        value = self.fields.get("file")
        return value if isinstance(value, _Upload) else None

    def content(self) -> bytes | None:
        """The bytes of the file sent as ``file``, or None."""
        upload = self.upload()
        return upload.content if upload else None


async def _form(request: web.Request) -> _Form:
    """Read a multipart/urlencoded (or JSON) body."""
    if not request.body_exists:
        return _Form({})
    if request.content_type == "application/json":
        return _Form({k: str(v) for k, v in (await _json_body(request)).items()})
    fields: dict[str, str | _Upload] = {}
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            with value.file:
                fields[key] = _Upload(value.filename, value.file.read(), value.content_type)
        elif isinstance(value, str):
            fields[key] = value
        else:
            fields[key] = bytes(value).decode()
    return _Form(fields)
