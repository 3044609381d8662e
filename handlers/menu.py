"""The command menu Telegram shows next to the text box, in each language."""

from __future__ import annotations

from telegram import Bot, BotCommand

from handlers.i18n import LANGUAGES, _, language


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


async def publish_commands(bot: Bot, default_language: str) -> None:
    """Set the menu for each language, and the default language's for everyone else."""
    for code in LANGUAGES:
        with language(code):
            await bot.set_my_commands(citizen_commands(), language_code=code)
    with language(default_language):
        await bot.set_my_commands(citizen_commands())
