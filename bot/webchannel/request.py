"""PTB's transport, split by channel: web residents' chats to the database, the rest to Telegram.

The bot's one PTB application sends every Bot API call through :class:`ChannelRequest`. A call
about a web resident's chat (its ``chat_id`` is a web id, or it answers a web button press) is
answered in-process by :class:`bot.webchannel.botapi.WebBotApi`; every other call goes to
Telegram over HTTP as before. Without a bot token (the web chat alone) there is no Telegram, and
calls about Telegram chats are refused as "chat not found".

So the handlers send to "the chat of the update" and never learn which channel it is.
"""

from __future__ import annotations

import json
from typing import Any

from telegram.request import BaseRequest, RequestData

from bot.webchannel.botapi import WebBotApi
from models.channels import is_web_id
from models.webchat import Document

#: Callback query ids of web button presses start with this (bot.webchannel.updates).
WEB_QUERY_PREFIX = "web-"


def is_for_web(params: dict[str, Any]) -> bool:
    """Whether a call's parameters name a web resident's chat or button press."""
    chat_id = params.get("chat_id")
    if isinstance(chat_id, int | str) and str(chat_id).lstrip("-").isdecimal():
        return is_web_id(int(chat_id))
    query = params.get("callback_query_id")
    return isinstance(query, str) and query.startswith(WEB_QUERY_PREFIX)


def _files(request_data: RequestData | None) -> dict[str, Document]:
    """The uploaded files of a call, by parameter name."""
    if request_data is None or not request_data.contains_files:
        return {}
    files = {}
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        data = content if isinstance(content, bytes) else content.read()
        files[name] = Document(filename or name, data, mime_type or "application/octet-stream")
    return files


class ChannelRequest(BaseRequest):
    """Answer web residents' calls from the database and pass the others to Telegram.

    Args:
        web: the web chat's Bot API.
        telegram: PTB's HTTP transport to Telegram; None when there is no bot token.
    """

    def __init__(self, web: WebBotApi, telegram: BaseRequest | None) -> None:
        """Keep both ways."""
        self.web = web
        self.telegram = telegram

    @property
    def read_timeout(self) -> float | None:
        """Telegram's read timeout (the web chat answers at once)."""
        return self.telegram.read_timeout if self.telegram is not None else None

    async def initialize(self) -> None:
        """Open Telegram's connection pool."""
        if self.telegram is not None:
            await self.telegram.initialize()

    async def shutdown(self) -> None:
        """Close Telegram's connection pool."""
        if self.telegram is not None:
            await self.telegram.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        # The timeouts are PTB's "float, None or not given" (its type lives in a private
        # module); they pass through to Telegram untouched.
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send the call to the channel it is about."""
        params = request_data.parameters if request_data is not None else {}
        if self.telegram is not None and not is_for_web(params):
            return await self.telegram.do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        if method != "POST":
            return 404, b'{"ok": false, "error_code": 404, "description": "Not Found"}'
        api_method = url.rstrip("/").rsplit("/", 1)[-1]
        answer = await self.web.call(api_method, dict(params), _files(request_data))
        return answer.status, json.dumps(answer.body, ensure_ascii=False).encode()
