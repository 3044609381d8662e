"""The command menu Telegram shows next to the text box, as a citizen reads it."""

from __future__ import annotations

from telegram import BotCommand

from handlers.i18n import _


def citizen_commands() -> list[BotCommand]:
    """The commands a citizen sees, in the current language."""
    return [
        BotCommand("consultations", _("Consultations you can answer")),
        BotCommand("language", _("Change language")),
        BotCommand("privacy", _("What we store about you")),
        BotCommand("mydata", _("Get a copy of your data")),
        BotCommand("delete", _("Delete your data")),
        BotCommand("cancel", _("Take a break")),
        BotCommand("arenas", _("Meetings and groups to join")),
        BotCommand("stop", _("No more messages from us")),
        BotCommand("help", _("What you can do")),
        BotCommand("start", _("Start again")),
    ]
