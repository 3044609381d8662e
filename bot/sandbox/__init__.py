"""Offline sandbox: a fake Telegram Bot API server the real bot talks to over HTTP.

Start one in a test, point PTB at it and act as users::

    async with Sandbox() as sandbox:
        app = (
            ApplicationBuilder()
            .token(sandbox.token)
            .base_url(f"{sandbox.url}/bot")
            .base_file_url(f"{sandbox.url}/file/bot")
            .build()
        )
        ...
        cursor = sandbox.cursor
        await sandbox.send_text(user.id, "/start")
        reply = await sandbox.wait_for_message(user.id, "Velkommen", after=cursor)

See :mod:`bot.sandbox.server` for the Python API and :mod:`bot.sandbox.driver` for the
JSON routes under ``/sandbox/api/``. ``medvirk sandbox`` (:mod:`bot.sandbox.launch`) runs it with
the real bot and a web chat page (:mod:`bot.sandbox.webchat`) to try the bot in a browser.
"""

from bot.sandbox.driver import event_json, file_url
from bot.sandbox.protocol import ApiError
from bot.sandbox.server import PIXEL_PNG, Sandbox
from bot.sandbox.state import Fault, SandboxEvent, SandboxStats, SandboxUser, StoredFile

__all__ = [
    "PIXEL_PNG",
    "ApiError",
    "Fault",
    "Sandbox",
    "SandboxEvent",
    "SandboxStats",
    "SandboxUser",
    "StoredFile",
    "event_json",
    "file_url",
]
