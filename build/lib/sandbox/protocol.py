"""Bot API request parsing and Telegram-like validation for the offline sandbox.

Telegram accepts parameters as a JSON body, an urlencoded form or multipart data. PTB sends
forms in which every non-string value is JSON-encoded, so each accessor here takes either
the native JSON value or its string form. The validators reproduce the checks (and the
error descriptions) of the real server that catch bot bugs cheaply: text length, callback
data size, HTML and MarkdownV2 markup, poll limits.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
POLL_QUESTION_LIMIT = 300
POLL_OPTION_LIMIT = 100
POLL_MIN_OPTIONS = 2
POLL_MAX_OPTIONS = 12
UPLOAD_LIMIT = 50 * 1024 * 1024
COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class ApiError(Exception):
    """A Bot API error answer: the HTTP status, Telegram's description, maybe retry_after."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None):
        """Keep the parts of the error answer.

        Args:
            status: HTTP status and ``error_code``.
            description: Telegram-style description, e.g. ``"Bad Request: chat not found"``.
            retry_after: seconds to wait, sent in ``parameters`` (429 answers).
        """
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """Return the JSON body Telegram sends with this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(text: str) -> ApiError:
    """Build a 400 answer with Telegram's ``Bad Request:`` prefix."""
    return ApiError(400, f"Bad Request: {text}")


@dataclass(slots=True)
class Upload:
    """A file received in a multipart request."""

    content: bytes
    filename: str | None
    content_type: str | None


class Params:
    """Parameters of one Bot API call, whichever way they were encoded."""

    __slots__ = ("_files", "_values")

    def __init__(self, values: Mapping[str, Any], files: Mapping[str, Upload] | None = None):
        """Wrap decoded values and uploaded files.

        Args:
            values: parameter name to a native JSON value or its string form.
            files: multipart file parts by field name.
        """
        self._values = values
        self._files = files or {}

    def raw(self, name: str) -> Any:
        """Return the value as received, or None when absent."""
        return self._values.get(name)

    def has(self, name: str) -> bool:
        """Tell whether the parameter was given (and is not null)."""
        return self._values.get(name) is not None or name in self._files

    def string(self, name: str, *, required: bool = False) -> str | None:
        """Return a string parameter."""
        value = self._values.get(name)
        if value is None:
            if required:
                raise bad_request(f"{name} is empty")
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, *, required: bool = False) -> int | None:
        """Return an integer parameter."""
        value = self._values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise bad_request(f"field {name!r} must be an integer")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"field {name!r} must be an integer") from None

    def number(self, name: str) -> float | None:
        """Return a number parameter."""
        value = self._values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"field {name!r} must be a number") from None

    def flag(self, name: str, default: bool = False) -> bool:
        """Return a boolean parameter (``true``/``false`` in forms)."""
        value = self._values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in {"true", "1"}

    def structured(self, name: str) -> Any:
        """Return a JSON-typed parameter (object or array), decoding its string form."""
        value = self._values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def file(self, name: str) -> Upload | str | None:
        """Return an uploaded file, or the file_id/URL string given instead."""
        if name in self._files:
            return self._files[name]
        value = self._values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = self._files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f"file {value!r} not found in the request")
            return upload
        if value is None:
            return None
        if not isinstance(value, str):
            raise bad_request(f"invalid file in field {name!r}")
        return value


def utf16_len(text: str) -> int:
    """Return the length in UTF-16 code units, the unit of Telegram's offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[dict[str, Any]]:
    """Return the bot_command entity a client adds to a text starting with ``/command``."""
    match = re.match(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?", text)
    if match is None:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]


_HTML_TAGS = frozenset(
    {
        "a", "b", "blockquote", "code", "del", "em", "i", "ins", "pre", "s", "span",
        "strike", "strong", "tg-emoji", "tg-spoiler", "tg-time", "u",
    }
)  # fmt: skip
_HTML_TOKEN = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*>|<")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def plain_html(text: str) -> str:
    """Check Telegram HTML markup and return the visible text.

    Raises:
        ApiError: with Telegram's "can't parse entities" description.
    """
    stack: list[str] = []
    parts: list[str] = []
    position = 0
    for match in _HTML_TOKEN.finditer(text):
        parts.append(text[position : match.start()])
        position = match.end()
        offset = _byte_offset(text, match.start())
        if match.group(0) == "<":
            raise bad_request(
                f"can't parse entities: Unsupported start tag at byte offset {offset}"
            )
        name = match.group(2).lower()
        if name not in _HTML_TAGS:
            raise bad_request(
                f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {offset}'
            )
        if not match.group(1):
            stack.append(name)
        elif not stack or stack[-1] != name:
            expected = f'expected "</{stack[-1]}>", ' if stack else ""
            raise bad_request(
                f"can't parse entities: Unmatched end tag at byte offset {offset}, "
                f'{expected}found "</{name}>"'
            )
        else:
            stack.pop()
    if stack:
        raise bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    parts.append(text[position:])
    return html.unescape("".join(parts))


_MD_ALWAYS_ESCAPED = frozenset("#+-={}.!()]")
_MD_ENTITY_NAMES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough"}


def _reserved(char: str) -> ApiError:
    return bad_request(
        f"can't parse entities: Character '{char}' is reserved and must be escaped with "
        "the preceding '\\'"
    )


def plain_markdown_v2(text: str) -> str:
    """Check MarkdownV2 escaping and balance cheaply and return the visible text.

    It catches what breaks bots in practice (an unescaped ``.``, ``-`` or ``!``, an
    unclosed ``*``) without being a full parser.

    Raises:
        ApiError: with Telegram's "can't parse entities" description.
    """
    out: list[str] = []
    open_marks: list[tuple[str, int]] = []  # each open mark and where it opened
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            out.append(text[i + 1 : i + 2])
            i += 2
        elif char == "`":
            i = _code_end(text, i, out)
        elif char == "[":
            open_marks.append(("[", i))
            i += 1
        elif char == "]" and open_marks and open_marks[-1][0] == "[":
            i = _link_end(text, i)
            open_marks.pop()
        elif char in "*_~|":
            i = _toggle_mark(text, i, open_marks)
        elif char == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # a quote
        elif char in _MD_ALWAYS_ESCAPED or char in ">[":
            raise _reserved(char)
        else:
            out.append(char)
            i += 1
    if open_marks:
        raise _unclosed(text, *open_marks[-1])
    return "".join(out)


def _unclosed(text: str, mark: str, index: int) -> ApiError:
    name = {"||": "Spoiler", "[": "TextUrl"}.get(mark) or _MD_ENTITY_NAMES[mark]
    return bad_request(
        f"can't parse entities: Can't find end of {name} entity at byte offset "
        f"{_byte_offset(text, index)}"
    )


def _code_end(text: str, start: int, out: list[str]) -> int:
    """Read the code span or block at ``start`` into ``out``; where it ends."""
    fence = "```" if text.startswith("```", start) else "`"
    end = _find_unescaped(text, fence, start + len(fence))
    if end < 0:
        raise bad_request(
            "can't parse entities: Can't find end of Code entity at byte offset "
            f"{_byte_offset(text, start)}"
        )
    out.append(text[start + len(fence) : end].replace("\\`", "`").replace("\\\\", "\\"))
    return end + len(fence)


def _link_end(text: str, start: int) -> int:
    """Where the ``](url)`` of a link at ``start`` ends."""
    if not text.startswith("(", start + 1):
        raise _reserved("]")
    end = _find_unescaped(text, ")", start + 2)
    if end < 0:
        raise bad_request("can't parse entities: Can't find end of a URL")
    return end + 1


def _toggle_mark(text: str, start: int, open_marks: list[tuple[str, int]]) -> int:
    """Open or close the emphasis mark at ``start``; where it ends."""
    mark = text[start : start + 2] if text.startswith(("__", "||"), start) else text[start]
    if mark == "|":
        raise _reserved("|")
    if open_marks and open_marks[-1][0] == mark:
        open_marks.pop()
    else:
        open_marks.append((mark, start))
    return start + len(mark)


def _find_unescaped(text: str, needle: str, start: int) -> int:
    i = start
    while True:
        i = text.find(needle, i)
        if i < 0:
            return -1
        backslashes = 0
        j = i - 1
        while j >= start and text[j] == "\\":
            backslashes += 1
            j -= 1
        if backslashes % 2 == 0:
            return i
        i += 1


def visible_text(text: str, parse_mode: str | None) -> str:
    """Validate markup for parse_mode and return the text a reader would see."""
    if not parse_mode:
        return text
    mode = parse_mode.lower()
    if mode == "html":
        return plain_html(text)
    if mode == "markdownv2":
        return plain_markdown_v2(text)
    if mode == "markdown":
        return text
    raise bad_request(f"unsupported parse_mode {parse_mode!r}")


def check_text(text: str | None, parse_mode: str | None) -> str:
    """Validate a message text (1..4096 characters after parsing) and return it."""
    visible = "" if text is None else visible_text(text, parse_mode)
    if text is None or not visible.strip():
        raise bad_request("message text is empty")
    if utf16_len(visible) > TEXT_LIMIT:
        raise bad_request("message is too long")
    return text


def check_caption(caption: str | None, parse_mode: str | None) -> None:
    """Validate an optional media caption (up to 1024 characters after parsing)."""
    if caption is not None and utf16_len(visible_text(caption, parse_mode)) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validate reply_markup and return it, or None when absent.

    Raises:
        ApiError: for a malformed keyboard or callback_data outside 1..64 bytes.
    """
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                _check_inline_button(button)
        return markup
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays'
            )
        return markup
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not button["text"]:
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
            raise bad_request("BUTTON_DATA_INVALID")
        return
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"^(https?|tg)://\S+$", url):
            raise bad_request("BUTTON_URL_INVALID")
        return
    actions = {
        "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay",
    }  # fmt: skip
    if not actions.intersection(button):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )


def poll_option_texts(options: Any) -> list[str]:
    """Validate sendPoll options (strings or InputPollOption objects) and return the texts."""
    if not isinstance(options, list):
        raise bad_request("can't parse options JSON object")
    texts: list[str] = []
    for option in options:
        text = option.get("text") if isinstance(option, dict) else option
        if not isinstance(text, str) or not text.strip():
            raise bad_request("poll options must be non-empty")
        if utf16_len(text) > POLL_OPTION_LIMIT:
            raise bad_request("poll options length must not exceed 100")
        texts.append(text)
    if len(texts) < POLL_MIN_OPTIONS:
        raise bad_request("poll must have at least 2 option")
    if len(texts) > POLL_MAX_OPTIONS:
        raise bad_request("poll can't have more than 12 options")
    return texts


def check_poll_question(question: str | None) -> str:
    """Validate a poll question (1..300 characters)."""
    if question is None or not question.strip():
        raise bad_request("poll question must be non-empty")
    if utf16_len(question) > POLL_QUESTION_LIMIT:
        raise bad_request("poll question length must not exceed 300")
    return question


def image_size(content: bytes) -> tuple[int, int]:
    """Return (width, height) of a PNG, JPEG, GIF or WebP image.

    Raises:
        ApiError: ``IMAGE_PROCESS_FAILED`` when the bytes are not an image, like Telegram.
    """
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    if content[:6] in (b"GIF87a", b"GIF89a") and len(content) >= 10:
        return int.from_bytes(content[6:8], "little"), int.from_bytes(content[8:10], "little")
    if content.startswith(b"RIFF") and content[8:12] == b"WEBP":
        return 512, 512
    if content.startswith(b"\xff\xd8"):
        size = _jpeg_size(content)
        if size is not None:
            return size
    raise bad_request("IMAGE_PROCESS_FAILED")


def _jpeg_size(content: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(content):
        if content[i] != 0xFF:
            return None
        marker = content[i + 1]
        length = int.from_bytes(content[i + 2 : i + 4], "big")
        # SOF0..SOF15 carry the frame size; C4, C8 and CC are other tables.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(content[i + 5 : i + 7], "big")
            width = int.from_bytes(content[i + 7 : i + 9], "big")
            return width, height
        i += 2 + length
    return None
