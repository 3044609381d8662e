"""Roles in the chat: the check every staff command and button makes, /grant and /revoke."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update

from handlers.common import Outgoing, Reply, Scene, answer
from handlers.context import BotContext
from handlers.i18n import _
from models.roles import Role, audit, grant, has_role, revoke


def refusal(update: Update) -> Reply:
    """What someone without the role gets: the same as for an unknown command or button.

    It reveals nothing, not even that the command exists.
    """
    if update.callback_query is not None:
        return Reply(
            notice=_("This button does not work any more. Send /consultations to continue.")
        )
    return Reply(
        send=[Outgoing(_("I do not know that command. Send /help to see what I can do."))]
    )


async def authorized(
    session: AsyncSession, update: Update, context: BotContext, role: Role, what: str
) -> bool:
    """Check the sender's role on this update; log a refusal in the audit log."""
    user = update.effective_user
    assert user is not None
    if await has_role(session, user.id, role, context.runtime.admin_ids):
        return True
    await audit(
        session, user.id, "denied", what, {"role": role.value}, now=context.runtime.clock()
    )
    return False


def _parse_role_args(args: list[str]) -> tuple[int, Role] | None:
    # isdecimal: int() refuses "²"; 15 digits: Telegram ids fit, the database's BIGINT too.
    if len(args) != 2 or not args[0].isdecimal() or len(args[0]) > 15:
        return None
    try:
        return int(args[0]), Role(args[1].lower())
    except ValueError:
        return None


async def grant_role(update: Update, context: BotContext) -> None:
    """Give a role: ``/grant TELEGRAM_ID staff|moderator|admin`` (admins only)."""
    await _change_role(update, context, give=True)


async def revoke_role(update: Update, context: BotContext) -> None:
    """Take a role: ``/revoke TELEGRAM_ID staff|moderator|admin`` (admins only)."""
    await _change_role(update, context, give=False)


async def _change_role(update: Update, context: BotContext, *, give: bool) -> None:
    command = "/grant" if give else "/revoke"
    parsed = _parse_role_args(list(context.args or []))
    actor = update.effective_user.id if update.effective_user else None

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.ADMIN, command):
            return refusal(update)
        if parsed is None:
            return Reply(
                send=[
                    Outgoing(
                        _(
                            "Write {command} followed by the person's Telegram user number and "
                            "a role: staff, moderator or admin. People find their number "
                            "with /privacy."
                        ).format(command=command)
                    )
                ]
            )
        user_id, role = parsed
        if give:
            changed = await grant(session, user_id, role, by=actor, now=now)
            text = _("{user} is now {role}.") if changed else _("{user} already was {role}.")
        else:
            changed = await revoke(session, user_id, role, by=actor, now=now)
            text = (
                _("{user} is no longer {role}.")
                if changed
                else _("{user} did not have the role {role}.")
            )
        return Reply(send=[Outgoing(text.format(user=user_id, role=role.value))])

    await answer(update, context, action)
