"""Logging in and out, the language, and the home page.

``/dashboard`` in chat sends a link to ``GET /dashboard/login?t=...``. That page only shows a
"Log in" button: the link is used by the button's ``POST``, so a link preview or a browser
prefetching the link cannot use it up, and the cookie is set by a same-site request (a
``SameSite=Strict`` cookie set while following a link from Telegram would not be sent on the
next page).
"""

from __future__ import annotations

from aiohttp import web

from bot.dashboard.desk import DESK, PREFIX, VISIT
from bot.dashboard.guard import clear_cookie, page, public, set_cookie
from bot.dashboard.render import show
from bot.signing import sign
from handlers.i18n import LANGUAGES, set_language
from models import moderation as mod
from models.consultation import open_consultations
from models.dashboard import (
    SESSION_MAX_AGE,
    DashboardSession,
    end_session,
    open_session,
    redeem_login,
    set_session_language,
)
from models.roles import Role

#: Why someone is on the login page, as the ``why`` query parameter says.
REASONS = frozenset({"expired", "no_access", "used", "logged_out"})


@public
async def login_page(request: web.Request) -> web.Response:
    """The login page: a button for a link's token, else how to get one."""
    desk = request.app[DESK]
    set_language(desk.rt.default_language if desk.ready else desk.settings.default_language)
    token = request.query.get("t", "")
    why = request.query.get("why", "")
    valid = bool(token) and desk.ready and desk.unsign(token, desk.now()) is not None
    context = {
        "token": token if valid else "",
        "why": why if why in REASONS else ("used" if token and not valid else ""),
        "people": desk.sandbox_logins,
    }
    return show(request, "login.html", context)


@public
async def log_in(request: web.Request) -> web.StreamResponse:
    """Use a one-time link: open a session, or say the link cannot be used."""
    desk = request.app[DESK]
    form = await request.post()
    token = form.get("t")
    now = desk.now()
    login_id = desk.unsign(token, now) if isinstance(token, str) and desk.ready else None
    if login_id is None:
        return _back_to_login("used")
    async with desk.transaction() as db:
        opened = await redeem_login(db, login_id, now, desk.rt.admin_ids)
    if opened is None:
        return _back_to_login("used")
    return _logged_in(request, opened)


def _back_to_login(why: str) -> web.Response:
    return web.Response(status=303, headers={"Location": f"{PREFIX}/login?why={why}"})


def _logged_in(request: web.Request, opened: DashboardSession) -> web.Response:
    desk = request.app[DESK]
    response = web.Response(status=303, headers={"Location": f"{PREFIX}/"})
    value = sign(desk.secret, opened.id, opened.created_at + SESSION_MAX_AGE)
    set_cookie(response, request, desk, value)
    return response


@public
async def sandbox_log_in(request: web.Request) -> web.StreamResponse:
    """The sandbox's shortcut: log in as one of the page's people (only in the sandbox)."""
    desk = request.app[DESK]
    form = await request.post()
    wanted = form.get("user")
    person = next((p for p in desk.sandbox_logins if str(p.user_id) == wanted), None)
    if person is None or not desk.ready:
        raise web.HTTPNotFound()
    async with desk.transaction() as db:
        opened = await open_session(db, person.user_id, desk.now())
    return _logged_in(request, opened)


@page(None, "dashboard.logout")
async def log_out(request: web.Request) -> web.StreamResponse:
    """End the session."""
    desk = request.app[DESK]
    async with desk.transaction() as db:
        visit_session = await db.get(DashboardSession, request[VISIT].session.id)
        if visit_session is not None:
            await end_session(db, visit_session, desk.now())
    response = _back_to_login("logged_out")
    clear_cookie(response)
    return response


@page(None, "dashboard.language")
async def choose_language(request: web.Request) -> web.StreamResponse:
    """Show the dashboard in another language from now on."""
    form = await request.post()
    code = form.get("language")
    if isinstance(code, str) and code in LANGUAGES:
        desk = request.app[DESK]
        async with desk.transaction() as db:
            visit_session = await db.get(DashboardSession, request[VISIT].session.id)
            if visit_session is not None:
                await set_session_language(db, visit_session, code)
    back = form.get("back")
    target = back if isinstance(back, str) and back.startswith(f"{PREFIX}/") else f"{PREFIX}/"
    return web.Response(status=303, headers={"Location": target})


@page(None, "dashboard.home")
async def home(request: web.Request) -> web.Response:
    """What this person can do here, with what waits for them."""
    desk = request.app[DESK]
    visit = request[VISIT]
    async with desk.reading() as db:
        queue = await mod.queue_size(db) if visit.may(Role.MODERATOR) else 0
        running = await open_consultations(db, desk.now()) if visit.may(Role.STAFF) else []
    return show(request, "home.html", {"queue": queue, "running": running})


async def problem(request: web.Request, status: int, kind: str) -> web.Response:
    """A refusal page: not for this role (``role``), a missing CSRF token, or not found."""
    return show(request, "problem.html", {"kind": kind}, status=status)
