"""The shape of one outgoing message, and the keyboard pieces every view builds with."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.callbacks import CallbackData, PreviewOnly


@dataclass
class PollOut:
    """A native Telegram poll for one question of a person's response."""

    question: str
    options: list[str]
    multiple: bool
    response_id: int
    question_id: int


@dataclass
class Outgoing:
    """One message: HTML text and an optional inline keyboard, or a native poll."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None
    poll: PollOut | None = None


def button(text: str, data: CallbackData) -> InlineKeyboardButton:
    """One inline button carrying packed callback data."""
    return InlineKeyboardButton(text, callback_data=data.pack())


def row(text: str, data: CallbackData) -> list[InlineKeyboardButton]:
    """A keyboard row holding one button."""
    return [button(text, data)]


def keyboard(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    """An inline keyboard from rows of buttons."""
    return InlineKeyboardMarkup(list(rows))


def inert(
    markup: InlineKeyboardMarkup | None, consultation_id: int
) -> InlineKeyboardMarkup | None:
    """The same buttons, each only saying "this is a preview" when pressed (staff previews)."""
    if markup is None:
        return None
    data = PreviewOnly(consultation_id).pack()
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.text, callback_data=data) for b in line]
            for line in markup.inline_keyboard
        ]
    )


def yes_or_no(text: str, yes: tuple[str, CallbackData], no: tuple[str, CallbackData]) -> Outgoing:
    """A question with two buttons side by side: (label, data) to go ahead, and to keep back."""
    return Outgoing(text, InlineKeyboardMarkup([[button(*yes), button(*no)]]))
