"""Roles in the chat: /grant and /revoke.

``authorized`` and ``refusal`` are the role check staff modules made by hand before roles were
declared on handlers (``@requires`` in :mod:`handlers.guards`); they go once none uses them.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update

from handlers.common import Outgoing, Reply, Scene, answer
from handlers.context import BotContext
from handlers.guards import requires
from handlers.i18n import _
from handlers.views import roles as views
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


@requires(Role.ADMIN, "/grant")
async def grant_role(update: Update, context: BotContext) -> None:
    """Give a role: ``/grant TELEGRAM_ID staff|moderator|admin`` (admins only)."""
    parsed = _parse_role_args(list(context.args or []))
    await answer(update, context, lambda scene: _change_role(scene, parsed, give=True))


@requires(Role.ADMIN, "/revoke")
async def revoke_role(update: Update, context: BotContext) -> None:
    """Take a role: ``/revoke TELEGRAM_ID staff|moderator|admin`` (admins only)."""
    parsed = _parse_role_args(list(context.args or []))
    await answer(update, context, lambda scene: _change_role(scene, parsed, give=False))


async def _change_role(scene: Scene, parsed: tuple[int, Role] | None, *, give: bool) -> Reply:
    if parsed is None:
        return Reply(send=[views.role_usage("/grant" if give else "/revoke")])
    user_id, role = parsed
    change = grant if give else revoke
    changed = await change(scene.session, user_id, role, by=scene.user_id, now=scene.now)
    return Reply(send=[views.role_changed(user_id, role.value, given=give, changed=changed)])
