"""A person blocks or unblocks the bot: Telegram tells with a ``my_chat_member`` update."""

from __future__ import annotations

from telegram import ChatMember, Update

from handlers.common import Reply, Scene, answer
from handlers.context import BotContext
from models.outbox import mark_unreachable

#: The bot's status in a private chat once the person blocked it (or deleted the chat).
GONE = (ChatMember.BANNED, ChatMember.LEFT)


async def on_my_chat_member(update: Update, context: BotContext) -> None:
    """Mark the person unreachable when they block the bot, reachable when they unblock it.

    Nothing is sent: a blocked bot cannot write, and an unblocked one waits for the person.
    Broadcasts then leave an unreachable person out instead of meeting a 403 for each.
    """
    change = update.my_chat_member
    if change is None or change.chat.type != change.chat.PRIVATE or update.effective_user is None:
        return
    blocked = change.new_chat_member.status in GONE
    await answer(update, context, lambda scene: _mark(scene, reachable=not blocked))


async def _mark(scene: Scene, *, reachable: bool) -> Reply:
    if scene.participant is not None:
        await mark_unreachable(scene.session, scene.user_id, scene.now, reachable=reachable)
    return Reply()
