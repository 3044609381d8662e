"""The command menus Telegram shows next to the text box: one per language, one per role holder.

Citizens get the menu of their language. Someone with a role gets their own menu in their chat
(``BotCommandScopeChat``), with their commands first: set when the bot starts, when a role is
given or taken in the chat, and whenever the person sends /start or /help (which also catches a
role given from the command line while the bot runs).
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommandScopeChat
from telegram.error import BadRequest, Forbidden

from handlers.context import Runtime
from handlers.i18n import LANGUAGES, language
from handlers.views.menu import citizen_commands, role_commands
from models.participant import find_participant
from models.roles import Role, role_holders, roles_of

logger = logging.getLogger(__name__)


async def publish_commands(bot: Bot, runtime: Runtime) -> None:
    """Set the menu for each language, the default for everyone else, and each role's own."""
    for code in LANGUAGES:
        with language(code):
            await bot.set_my_commands(citizen_commands(), language_code=code)
    with language(runtime.default_language):
        await bot.set_my_commands(citizen_commands())
    async with runtime.sessionmaker() as session:
        people = []
        for user_id in await role_holders(session, runtime.admin_ids):
            person = await find_participant(session, user_id)
            code = (person.language if person else None) or runtime.default_language
            people.append((user_id, await roles_of(session, user_id, runtime.admin_ids), code))
    for user_id, roles, code in people:
        await publish_menu(bot, user_id, roles, code)


async def publish_menu(bot: Bot, user_id: int, roles: set[Role], code: str) -> None:
    """Give one person the menu of their roles (none: the citizens' menu again)."""
    scope = BotCommandScopeChat(user_id)  # a private chat's id is the person's user id
    try:
        if roles:
            with language(code):
                await bot.set_my_commands(role_commands(roles), scope=scope)
        else:
            await bot.delete_my_commands(scope=scope)
    except (BadRequest, Forbidden) as error:
        # They never opened the bot ("chat not found") or blocked it: the menu comes with /start.
        logger.info("No command menu for a role holder: %s", type(error).__name__)
