"""Who may do what on the dashboard: sessions, roles and CSRF, checked on every request.

Every route declares what it needs with :func:`page` (a role, or any dashboard role) or
:func:`public` (the login pages, the static files). The middleware then, on every request:

1. finds the session from the signed cookie (forged, ended, idle or too old: none);
2. reads the person's roles again from the database, so a revoked role takes effect at once
   (no dashboard role left: the session ends and they are sent to the login page);
3. refuses a page their roles do not open (403, written to the audit log as ``denied``, as in
   chat);
4. refuses a state-changing request without the session's CSRF token (a form field or the
   ``X-CSRF-Token`` header htmx sends) or from another origin.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from bot.dashboard.desk import DESK, PREFIX, VISIT, Desk, Visit
from handlers.i18n import LANGUAGES, set_language
from models.dashboard import DASHBOARD_ROLES, current_session, end_session
from models.roles import Role, audit, roles_of

COOKIE = "medvirk_dashboard"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
#: Everything a page uses comes from this server; the browser enforces it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": with it Chromium sends "Origin: null" on form posts, which the CSRF
    # check must refuse. Nothing of the dashboard's addresses goes to another site either way.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True)
class Rule:
    """What a route needs: nothing (public), any dashboard role (None), or one role."""

    public: bool
    role: Role | None
    what: str


def page(role: Role | None, what: str) -> Callable[[H], H]:
    """Open the route to people with ``role`` (None: any dashboard role); ``what`` names it."""

    def mark(handler: H) -> H:
        handler.dashboard_rule = Rule(False, role, what)  # type: ignore[attr-defined]
        return handler

    return mark


def public(handler: H) -> H:
    """Open the route to everyone (the login pages)."""
    handler.dashboard_rule = Rule(True, None, "public")  # type: ignore[attr-defined]
    return handler


def rule_of(request: web.Request) -> Rule:
    """The route's rule; a route without one is closed to everyone (a safe default)."""
    if request.path.startswith((f"{PREFIX}/static/", f"{PREFIX}/vendor/")):
        return Rule(True, None, "static")
    if request.match_info.http_exception is not None:
        return Rule(False, None, "not found")  # a mistyped address: 404 once logged in
    handler: Any = request.match_info.handler
    found = getattr(handler, "dashboard_rule", None)
    return found if isinstance(found, Rule) else Rule(False, Role.ADMIN, "unknown")


def secure(request: web.Request, desk: Desk) -> bool:
    """Whether the browser talks to us over TLS (directly, or through the reverse proxy)."""
    return request.secure or desk.public_url.startswith("https://")


def set_cookie(response: web.StreamResponse, request: web.Request, desk: Desk, value: str) -> None:
    """The session cookie: signed, HttpOnly, SameSite=Strict, Secure over TLS."""
    response.set_cookie(
        COOKIE,
        value,
        path=f"{PREFIX}/",
        httponly=True,
        samesite="Strict",
        secure=secure(request, desk),
        max_age=12 * 3600,
    )


def clear_cookie(response: web.StreamResponse) -> None:
    """Forget the session cookie."""
    response.del_cookie(COOKIE, path=f"{PREFIX}/")


async def find_visit(request: web.Request, desk: Desk) -> tuple[Visit | None, str | None]:
    """The logged-in visit, or None and why not (``expired``, ``no_access``, or None)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None, None
    now = desk.now()
    session_id = desk.unsign(token, now)
    if session_id is None:
        return None, "expired"
    runtime = desk.rt
    async with desk.transaction() as db:
        found = await current_session(db, session_id, now, desk.idle)
        if found is None:
            return None, "expired"
        roles = await roles_of(db, found.telegram_user_id, runtime.admin_ids)
        if not roles & DASHBOARD_ROLES:
            await end_session(db, found, now)
            return None, "no_access"
        language = found.language or runtime.default_language
    return Visit(found.telegram_user_id, roles, found, language), None


def to_login(request: web.Request, reason: str | None) -> web.StreamResponse:
    """Send someone without a session to the login page (htmx follows ``HX-Redirect``)."""
    target = f"{PREFIX}/login" + (f"?why={reason}" if reason else "")
    if request.headers.get("HX-Request"):
        response = web.Response(status=401, headers={"HX-Redirect": target})
    elif request.method in SAFE_METHODS:
        response = web.Response(status=303, headers={"Location": target})
    else:
        response = web.Response(status=401, text="Log in through /dashboard in the bot.")
    if reason:
        clear_cookie(response)
    return response


async def csrf_ok(request: web.Request, visit: Visit, desk: Desk) -> bool:
    """Whether a state-changing request carries the session's token and comes from here."""
    origin = request.headers.get("Origin")
    if origin is not None and origin not in (_own_origin(request), desk.public_url):
        return False
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.post()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else ""
    return hmac.compare_digest(given.encode(), visit.csrf.encode())


def _own_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def refuse(request: web.Request, visit: Visit, desk: Desk, what: str, role: Role) -> None:
    """Write a refused page to the audit log, as chat does with a refused command."""
    async with desk.transaction() as db:
        await audit(db, visit.user_id, "denied", what, {"role": role.value}, now=desk.now())


Render = Callable[[web.Request, int, str], Awaitable[web.StreamResponse]]


def guard_middleware(problem_page: Render) -> Any:
    """The middleware checking every request; ``problem_page`` renders a refusal."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        rule = rule_of(request)
        desk = request.app[DESK]
        if rule.public:
            return await handler(request)
        if not desk.ready:
            raise web.HTTPServiceUnavailable(text="Medvirk is starting; try again in a moment.")
        visit, why = await find_visit(request, desk)
        if visit is None:
            return to_login(request, why)
        set_language(visit.language if visit.language in LANGUAGES else "nb")
        request[VISIT] = visit
        if not visit.may(rule.role):
            assert rule.role is not None
            await refuse(request, visit, desk, rule.what, rule.role)
            return await problem_page(request, 403, "role")
        if request.method not in SAFE_METHODS and not await csrf_ok(request, visit, desk):
            return await problem_page(request, 403, "csrf")
        return await handler(request)

    return guard


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every dashboard response: no caching, no framing, nothing from elsewhere."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
