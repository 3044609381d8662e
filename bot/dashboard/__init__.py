"""The staff dashboard: a web page for staff, moderators and admins, under ``/dashboard/``.

Mounted on the web server (``bot/web.py``; the sandbox's server in ``medvirk sandbox``) and
connected to the running bot, whose database sessions, clock and settings it shares. Pages are
rendered on the server (aiohttp-jinja2, ``templates/``), with htmx (``bot/static/vendor``) for
the parts that change in place; nothing is loaded from elsewhere. Every route declares who may
use it (:mod:`bot.dashboard.guard`); ``docs/dashboard.md`` describes it for its users.

=========================================  =========  ==========================================
route                                      who        what
=========================================  =========  ==========================================
GET  /login?t=…, POST /login               anyone     the one-time link's page, and using it
POST /logout, POST /language               logged in  end the session; choose the language
GET  /                                     logged in  what this person can do
GET  /consultations[/upload]               staff      the list; the upload form
POST /consultations/upload                 staff      check, save as draft, preview
GET  /consultations/{id}                   staff      status, window, links and QR codes
POST /consultations/{id}/open|close|schedule staff    change it (close asks first: GET close)
GET  /consultations/{id}/results           staff      numbers, charts, filters, free texts
GET  /consultations/{id}/export?format=…   staff      CSV, XLSX, JSON (``all=1``: every text)
GET  /consultations/{id}/qr.svg            staff      a link's QR code to print
GET  /broadcasts, POST /broadcasts/{id}/…  staff      progress; pause, resume, cancel
GET  /events[/{id}[/attendance.csv]]       staff      attendance and the waiting list
GET  /moderation, POST /moderation/…       moderator  the queue: decide, undo, next
GET  /admin/roles, POST /admin/roles/…     admin      roles: give, take
GET  /admin/audit                          admin      the audit log with filters
POST /sandbox-login                        anyone     only in the sandbox: log in as its people
=========================================  =========  ==========================================
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot.dashboard import admin, consultations, login, moderation, outreach, results
from bot.dashboard.desk import DESK, PREFIX, Desk, SandboxLogin
from bot.dashboard.guard import guard_middleware, security_headers
from bot.dashboard.render import setup
from bot.settings import Settings
from handlers.context import Runtime

if TYPE_CHECKING:
    from telegram import Bot

STATIC = Path(__file__).parent / "static"
VENDOR = Path(__file__).parents[1] / "static" / "vendor"
#: The largest request body: a consultation file (256 KB) in a form, with room to spare.
MAX_BODY = 1024 * 1024

__all__ = ["PREFIX", "Dashboard", "SandboxLogin"]


class Dashboard:
    """The dashboard's aiohttp application, to mount before serving and connect once running."""

    def __init__(self, settings: Settings, sandbox_logins: tuple[SandboxLogin, ...] = ()) -> None:
        """Build the application; ``sandbox_logins`` only in the sandbox."""
        self.desk = Desk(settings, sandbox_logins)
        self.app = web.Application(
            middlewares=[guard_middleware(login.problem)], client_max_size=MAX_BODY
        )
        self.app[DESK] = self.desk
        self.app.on_response_prepare.append(security_headers)
        setup(self.app)
        _routes(self.app.router, sandbox=bool(sandbox_logins))

    def mount(self, server: web.Application) -> None:
        """Serve the dashboard under ``/dashboard/`` of ``server`` (before it starts)."""
        server.add_subapp(f"{PREFIX}/", self.app)
        server.router.add_get(PREFIX, _to_slash)

    async def connect(self, runtime: Runtime, bot: Bot, public_url: str) -> None:
        """Use the running bot: its database, clock and settings; login links to ``public_url``."""
        await self.desk.connect(runtime, bot, public_url)


async def _to_slash(_request: web.Request) -> web.StreamResponse:
    return web.Response(status=308, headers={"Location": f"{PREFIX}/"})


def _routes(router: web.UrlDispatcher, *, sandbox: bool) -> None:
    get, post = router.add_get, router.add_post
    get("/login", login.login_page)
    post("/login", login.log_in)
    post("/logout", login.log_out)
    post("/language", login.choose_language)
    get("/", login.home)
    get("/consultations", consultations.listing)
    get("/consultations/upload", consultations.upload_form)
    post("/consultations/upload", consultations.upload)
    get("/consultations/{id}", consultations.detail)
    post("/consultations/{id}/open", consultations.open_now)
    get("/consultations/{id}/close", consultations.close_question)
    post("/consultations/{id}/close", consultations.close)
    post("/consultations/{id}/schedule", consultations.set_schedule)
    get("/consultations/{id}/qr.svg", consultations.qr_download)
    get("/consultations/{id}/export", consultations.export)
    get("/consultations/{id}/results", results.results)
    get("/broadcasts", outreach.broadcasts)
    get("/broadcasts/{id}/{action:cancel-question}", outreach.control)
    post("/broadcasts/{id}/{action}", outreach.control)
    get("/events", outreach.event_list)
    get("/events/{id}", outreach.event_detail)
    get("/events/{id}/attendance.csv", outreach.attendance_csv)
    get("/moderation", moderation.review)
    post("/moderation/decide", moderation.decide)
    post("/moderation/undo", moderation.undo)
    post("/moderation/skip", moderation.skip)
    get("/admin/roles", admin.roles)
    post("/admin/roles/{change:give|take}", admin.change_role)
    get("/admin/audit", admin.audit_log)
    router.add_static("/static/", STATIC, append_version=True)
    router.add_static("/vendor/", VENDOR, append_version=True)
    if sandbox:
        post("/sandbox-login", login.sandbox_log_in)
