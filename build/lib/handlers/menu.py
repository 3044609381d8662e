"""The command menu Telegram shows next to the text box, published in each language."""

from __future__ import annotations

from telegram import Bot

from handlers.i18n import LANGUAGES, language
from handlers.views.menu import citizen_commands


async def publish_commands(bot: Bot, default_language: str) -> None:
    """Set the menu for each language, and the default language's for everyone else."""
    for code in LANGUAGES:
        with language(code):
            await bot.set_my_commands(citizen_commands(), language_code=code)
    with language(default_language):
        await bot.set_my_commands(citizen_commands())
