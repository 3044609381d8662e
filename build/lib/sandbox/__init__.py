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

See :mod:`sandbox.server` for the Python API and :mod:`sandbox.driver` for the
JSON routes under ``/sandbox/api/``; :class:`Sandbox` is the one with both. The web chat page
(:mod:`sandbox.webchat`) is added by whoever starts a sandbox to try the bot in a browser:
``medvirk sandbox`` does, in the runtime (``bot/sandbox_run.py``).

The package is the stand-in for Telegram and nothing else: it imports only the standard
library and aiohttp, never the bot (an import-linter contract in ``pyproject.toml``).
"""

from aiohttp import web

from sandbox.driver import add_driver_routes, event_json, file_url
from sandbox.protocol import ApiError
from sandbox.server import PIXEL_PNG, BotApiServer
from sandbox.state import Fault, SandboxEvent, SandboxStats, SandboxUser, StoredFile


class Sandbox(BotApiServer):
    """The fake Bot API server with the JSON driver routes under ``/sandbox/api/``."""

    def _create_app(self) -> web.Application:
        # Mounted here, above both modules: the driver is a layer over the server.
        app = super()._create_app()
        add_driver_routes(app, self)
        return app


__all__ = [
    "PIXEL_PNG",
    "ApiError",
    "BotApiServer",
    "Fault",
    "Sandbox",
    "SandboxEvent",
    "SandboxStats",
    "SandboxUser",
    "StoredFile",
    "event_json",
    "file_url",
]
