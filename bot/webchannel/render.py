"""What the page shows of a stored message: the bot's HTML made safe, its buttons, poll and file.

The bot writes Telegram's HTML subset (``<b>``, ``<i>``, links, …) and escapes what people
typed. The page trusts neither: :func:`safe_html` parses the text and writes back only the
tags Telegram knows, without attributes but a link's ``http``/``https``/``mailto`` address;
everything else is escaped text. A resident's own messages are plain text (escaped by the
templates).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup

from models.webchat import BOT, RESIDENT, WebMessage

#: Telegram's formatting tags and what the page writes for them.
_TAGS = {
    "b": "strong",
    "strong": "strong",
    "i": "em",
    "em": "em",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-spoiler": "span",
}
_LINK_SCHEMES = ("http", "https", "mailto")


class _Sanitiser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if urlsplit(href).scheme.lower() in _LINK_SCHEMES:
                self.out.append(f'<a href="{html.escape(href)}" rel="noopener noreferrer">')
                self.open.append("a")
            else:
                self.open.append("")  # a link we do not follow: its text only
            return
        if tag == "span" and ("class", "tg-spoiler") in attrs:
            tag = "tg-spoiler"
        shown = _TAGS.get(tag)
        if shown is None:
            self.open.append("")
            return
        self.out.append(f"<{shown}>")
        self.open.append(shown)

    def handle_endtag(self, tag: str) -> None:
        if self.open:
            shown = self.open.pop()
            if shown:
                self.out.append(f"</{shown}>")

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))

    def close(self) -> None:
        super().close()
        while self.open:
            shown = self.open.pop()
            if shown:
                self.out.append(f"</{shown}>")


def safe_html(text: str) -> Markup:
    """The bot's Telegram HTML as safe markup for the page (unknown markup becomes text)."""
    parser = _Sanitiser()
    parser.feed(text)
    parser.close()
    return Markup("".join(parser.out))  # noqa: S704 - built from escaped text and known tags


def plain_text(text: str) -> str:
    """The text of the bot's HTML without markup (for the screen reader's announcement)."""
    parser = _Sanitiser()
    parser.feed(text)
    parser.close()
    return html.unescape("".join(part for part in parser.out if not part.startswith("<"))).strip()


@dataclass(frozen=True)
class Button:
    """A button under a message: pressed by its position, or a link."""

    label: str
    position: str  # "row.column"
    url: str | None = None


@dataclass(frozen=True)
class Poll:
    """A native poll as the page shows it: its options, and what the resident chose."""

    question: str
    options: list[str]
    multiple: bool
    closed: bool
    chosen: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Shown:
    """One message of the chat, ready for the template."""

    id: int
    sender: str
    html: Markup
    text: str
    rows: list[list[Button]]
    poll: Poll | None
    file_name: str | None
    file_available: bool
    at: datetime
    edited: bool

    @property
    def from_bot(self) -> bool:
        """A message of the bot (not the resident's, not a notice)."""
        return self.sender == BOT

    @property
    def from_resident(self) -> bool:
        """The resident's own message."""
        return self.sender == RESIDENT


def _rows(buttons: list[list[dict[str, Any]]] | None) -> list[list[Button]]:
    rows = []
    for r, line in enumerate(buttons or []):
        row = []
        for c, item in enumerate(line):
            url = item.get("url")
            if isinstance(url, str) and urlsplit(url).scheme.lower() not in ("http", "https"):
                continue  # a t.me or tg: link leads nowhere from the page
            row.append(Button(str(item.get("text", "")), f"{r}.{c}", url))
        if row:
            rows.append(row)
    return rows


def shown(message: WebMessage) -> Shown:
    """The page's view of a stored message."""
    poll = None
    if message.poll is not None:
        poll = Poll(
            str(message.poll.get("question", "")),
            [str(o) for o in message.poll.get("options", [])],
            bool(message.poll.get("multiple")),
            bool(message.poll.get("closed")),
            [int(i) for i in message.poll.get("chosen", [])],
        )
    body = message.text if message.sender != RESIDENT else html.escape(message.text)
    return Shown(
        id=message.id or 0,
        sender=message.sender,
        html=safe_html(body),
        text=plain_text(body) if message.sender != RESIDENT else message.text,
        rows=_rows(message.buttons),
        poll=poll,
        file_name=message.file_name,
        file_available=message.file_content is not None,
        at=message.created_at,
        edited=message.edited_at is not None,
    )


def button_data(message: WebMessage, position: str) -> str | None:
    """The callback data of the button at ``position`` ("row.column") of a message, if any."""
    row_text, _, column_text = position.partition(".")
    if not (row_text.isdecimal() and column_text.isdecimal()):
        return None
    rows = message.buttons or []
    row, column = int(row_text), int(column_text)
    if row >= len(rows) or column >= len(rows[row]):
        return None
    data = rows[row][column].get("callback_data")
    return data if isinstance(data, str) else None
