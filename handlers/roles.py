"""Roles in the chat: admins give and take them with /grant and /revoke.

The person's command menu follows at once: their role's commands, or the citizens' again.
"""

from __future__ import annotations

from functools import partial

from telegram import Update

from handlers.common import Reply, Scene, deliver, run
from handlers.context import BotContext
from handlers.guards import requires
from handlers.menu import publish_menu
from handlers.views import roles as views
from models.participant import find_participant
from models.roles import Role, grant, revoke, roles_of

#: Whose menu to set after the change: their id, roles and language.
Changed = list[tuple[int, set[Role], str]]


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
    await _change(update, context, give=True)


@requires(Role.ADMIN, "/revoke")
async def revoke_role(update: Update, context: BotContext) -> None:
    """Take a role: ``/revoke TELEGRAM_ID staff|moderator|admin`` (admins only)."""
    await _change(update, context, give=False)


async def _change(update: Update, context: BotContext, *, give: bool) -> None:
    """Change the role in the update's transaction; then the person's menu follows."""
    parsed = _parse_role_args(list(context.args or []))
    changed: Changed = []
    action = partial(_change_role, parsed=parsed, changed=changed, give=give)
    await deliver(update, context, await run(update, context, action))
    for user_id, roles, code in changed:
        await publish_menu(context.bot, user_id, roles, code)


async def _change_role(
    scene: Scene, *, parsed: tuple[int, Role] | None, changed: Changed, give: bool
) -> Reply:
    if parsed is None:
        return Reply(send=[views.role_usage("/grant" if give else "/revoke")])
    user_id, role = parsed
    change = grant if give else revoke
    done = await change(scene.session, user_id, role, by=scene.user_id, now=scene.now)
    if done:
        runtime = scene.runtime
        person = await find_participant(scene.session, user_id)
        code = (person.language if person else None) or runtime.default_language
        changed.append((user_id, await roles_of(scene.session, user_id, runtime.admin_ids), code))
    return Reply(send=[views.role_changed(user_id, role.value, given=give, changed=done)])
