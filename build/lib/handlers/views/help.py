"""What the bot says about itself: what a citizen can do, and answers to what it cannot take."""

from __future__ import annotations

from handlers.i18n import _
from handlers.views.outgoing import Outgoing


def help_text() -> str:
    """What a citizen can do."""
    taking_part = _(
        "/arenas - meetings and groups you can join, and news you asked for\n"
        "/stop - no more messages from us (/start brings them back)"
    )
    return _(
        "<b>What you can do</b>\n"
        "/consultations - see what you can answer now\n"
        "/language - change language\n"
        "/privacy - what we store about you\n"
        "/mydata - get a copy of your data\n"
        "/delete - delete your data\n"
        "/cancel - take a break; continue later where you left off\n"
        "/help - this message"
    ) + ("\n" + taking_part)


def help_message() -> Outgoing:
    """The commands, as a message."""
    return Outgoing(help_text())


def welcome_back() -> Outgoing:
    """/start from someone who already agreed."""
    return Outgoing(_("Welcome back!"))


def consultation_not_found() -> Outgoing:
    """A consultation's link that leads nowhere."""
    return Outgoing(
        _("I could not find that consultation. It may have ended, or the link is wrong.")
    )


def unknown_command() -> Outgoing:
    """A command this bot does not have (or the person may not use: it reveals nothing)."""
    return Outgoing(_("I do not know that command. Send /help to see what I can do."))


def stale_button() -> str:
    """A button this bot does not know (old, garbled or forged)."""
    return _("This button does not work any more. Send /consultations to continue.")


def edited_message() -> Outgoing:
    """An edited message: edits are not read."""
    return Outgoing(
        _(
            "I do not read edited messages. To change an answer, use the buttons "
            "in the summary at the end."
        )
    )


def private_chat_please() -> str:
    """A command in a group: citizens talk to the bot in private."""
    return _("Please write to me in a private chat.")


def failure() -> str:
    """Something went wrong on our side."""
    return _("Sorry, something went wrong. Please try again.")
