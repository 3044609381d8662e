"""Roles in the chat: admins give and take them with /grant and /revoke."""

from __future__ import annotations

from telegram import Update

from handlers.common import Reply, Scene, answer
from handlers.context import BotContext
from handlers.guards import requires
from handlers.views import roles as views
from models.roles import Role, grant, revoke


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
