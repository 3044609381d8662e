"""``/dashboard``: staff, moderators and admins get a one-time login link to the web dashboard.

The link names a login row (:mod:`models.dashboard`) and is signed by the runtime
(``Runtime.dashboard_link``); the dashboard itself is served by the runtime (``bot/dashboard``).
Anyone else gets the answer to an unknown command, as for every staff command.
"""

from __future__ import annotations

from telegram import Update

from handlers.common import Reply, Scene, answer
from handlers.context import BotContext
from handlers.guards import requires
from handlers.views import dashboard as views
from models.dashboard import LOGIN_TTL, issue_login
from models.roles import Role


@requires(Role.STAFF, "/dashboard", or_roles=(Role.MODERATOR,))
async def dashboard(update: Update, context: BotContext) -> None:
    """Send a one-time login link to the dashboard."""
    await answer(update, context, _login_link)


async def _login_link(scene: Scene) -> Reply:
    make_link = scene.runtime.dashboard_link
    if make_link is None:
        return Reply(send=[views.dashboard_off()])
    login = await issue_login(scene.session, scene.user_id, scene.now)
    url = make_link(login.id, login.expires_at)
    return Reply(send=[views.login_link(url, int(LOGIN_TTL.total_seconds() // 60))])
