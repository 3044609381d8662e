"""A person in the sandbox: sends, presses buttons by their label, waits for the bot."""

from __future__ import annotations

from typing import Any

from sandbox import Sandbox

Message = dict[str, Any]


class Citizen:
    """One Telegram user talking to the bot through the sandbox."""

    def __init__(self, sandbox: Sandbox, user_id: int, language_code: str | None = "nb") -> None:
        self.sandbox = sandbox
        self.id = user_id
        sandbox.add_user(user_id, first_name=f"Person{user_id}", language_code=language_code)
        self.cursor = sandbox.cursor

    async def send(self, text: str) -> None:
        """Type a message (a command when it starts with /)."""
        self.cursor = self.sandbox.cursor
        await self.sandbox.send_text(self.id, text)

    async def press(self, label: str) -> str:
        """Press the newest button whose label contains ``label``; return the query id."""
        message_id, data = self.button(label)
        return await self.press_data(data, message_id)

    async def press_data(self, data: str, message_id: int | None = None) -> str:
        """Press a button with this callback data (forged data is allowed); return the query id."""
        self.cursor = self.sandbox.cursor
        return await self.sandbox.press(self.id, data, message_id)

    def button(self, label: str) -> tuple[int, str]:
        """Find the newest button whose label contains ``label``."""
        for message in reversed(self.sandbox.messages(self.id)):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if label in button["text"]:
                        return message["message_id"], button["callback_data"]
        raise AssertionError(f"no button {label!r}; the chat shows:\n{self.transcript()}")

    def buttons(self) -> list[str]:
        """The labels of the newest message with buttons."""
        for message in reversed(self.sandbox.messages(self.id)):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            if rows:
                return [button["text"] for row in rows for button in row]
        return []

    async def expect(self, needle: str, timeout: float = 10.0) -> Message:  # noqa: ASYNC109
        """Wait for a message or edit since the last action whose text contains ``needle``."""
        return await self.sandbox.wait_for_message(
            self.id, needle, after=self.cursor, timeout=timeout
        )

    async def expect_button(self, label: str, timeout: float = 10.0) -> Message:  # noqa: ASYNC109
        """Wait for a message or edit since the last action with a button labelled ``label``."""

        def has_button(message: Message) -> bool:
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            return any(label in button["text"] for row in rows for button in row)

        return await self.sandbox.wait_for_message(
            self.id, has_button, after=self.cursor, timeout=timeout
        )

    async def notice(self, query_id: str, timeout: float = 10.0) -> str:  # noqa: ASYNC109
        """The toast text the bot answered a button press with."""
        answer = await self.sandbox.wait_for_callback_answer(query_id, timeout)
        return str(answer.get("text") or "")

    def texts(self) -> list[str]:
        """Every bot message in the chat, as shown now."""
        return [m.get("text") or m.get("caption") or "" for m in self.sandbox.messages(self.id)]

    def transcript(self) -> str:
        """The chat, for assertion messages."""
        return "\n---\n".join(self.texts()[-8:])
