"""Admins: roles (grant, revoke) and the audit log with filters.

Granting and revoking are :func:`models.roles.grant` and :func:`~models.roles.revoke`, as
``/grant`` and ``/revoke`` in chat; a revoked role takes effect on the person's next request,
here and in chat.
"""

from __future__ import annotations

from aiohttp import web

from bot.dashboard.desk import DESK, PREFIX, VISIT
from bot.dashboard.guard import page
from bot.dashboard.render import parse_local, show
from models.roles import AuditFilter, Role, audit_actions, audit_lines, grant, list_grants, revoke

#: Telegram ids are positive and fit in 15 digits (the database's BIGINT too).
ID_DIGITS = 15


def _telegram_id(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdecimal() and len(text) <= ID_DIGITS else None


@page(Role.ADMIN, "dashboard.roles")
async def roles(request: web.Request) -> web.Response:
    """Everyone's roles, and a form to give one."""
    desk = request.app[DESK]
    async with desk.reading() as db:
        grants = await list_grants(db)
    context = {
        "grants": grants,
        "admins": sorted(desk.rt.admin_ids),
        "roles": [r.value for r in Role],
        "done": request.query.get("done", ""),
    }
    return show(request, "roles.html", context)


@page(Role.ADMIN, "/grant")
async def change_role(request: web.Request) -> web.StreamResponse:
    """Give or take a role (``give`` or ``take`` in the URL); audited as in chat."""
    desk = request.app[DESK]
    form = await request.post()
    user_id = _telegram_id(form.get("user"))
    role = form.get("role")
    if user_id is None or role not in Role.__members__.values():
        return web.Response(status=303, headers={"Location": f"{PREFIX}/admin/roles?done=bad"})
    change = grant if request.match_info["change"] == "give" else revoke
    async with desk.transaction() as db:
        changed = await change(
            db, user_id, Role(str(role)), by=request[VISIT].user_id, now=desk.now()
        )
    done = "changed" if changed else "unchanged"
    return web.Response(status=303, headers={"Location": f"{PREFIX}/admin/roles?done={done}"})


@page(Role.ADMIN, "dashboard.audit")
async def audit_log(request: web.Request) -> web.Response:
    """The audit log, newest first, filtered by who, what, on what and when."""
    desk = request.app[DESK]
    query = request.query
    zone = desk.rt.timezone
    try:
        since = parse_local(query.get("since", ""), zone)
        until = parse_local(query.get("until", ""), zone)
    except ValueError:
        since = until = None
    only = AuditFilter(
        actor=_telegram_id(query.get("actor")),
        action=query.get("action", "")[:64],
        target=query.get("target", "")[:100],
        since=since,
        until=until,
    )
    before = _telegram_id(query.get("before"))
    async with desk.reading() as db:
        lines = await audit_lines(db, only, before=before)
        actions = await audit_actions(db)
    context = {"lines": lines, "actions": actions, "query": query, "only": only}
    return show(request, "audit.html", context)
