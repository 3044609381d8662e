"""The residents' web chat pages: server-rendered, working with and without JavaScript.

Routes (the same aiohttp server as the webhook, :mod:`bot.web`):

- ``GET /`` the open consultations and arenas; ``GET /c/<slug>[?src=…]`` and ``GET /a/<slug>``
  the chat with a button that opens that consultation or arena (the same deep links and
  sources as Telegram's ``/start c_<slug>__<source>``); ``GET /chat`` the chat itself.
- ``POST /chat/send`` (typed text or a command), ``POST /chat/press`` (a button under a
  message), ``POST /chat/vote`` (a native poll), ``POST /language``: each checked (CSRF token,
  limits, size), turned into an update (:mod:`bot.webchannel.updates`) and handled by the bot's
  one application, exactly like a Telegram update. With htmx the answer is the changed part of
  the chat; without JavaScript a redirect back to the chat (POST, redirect, GET).
- ``GET /chat/updates`` messages that arrived meanwhile (htmx asks every 30 s);
  ``GET /chat/file/<id>`` a file the bot sent (``/mydata``).

Nothing here decides anything about the conversation: what a person may do and what they are
told is the handlers' work, the same for both channels.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web
from multidict import MultiDictProxy
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, Update

from bot.settings import Settings
from bot.webchannel.botapi import TEXT_LIMIT, tracking_changes
from bot.webchannel.identity import (
    LANGUAGE_COOKIE,
    Visitor,
    client_address,
    csrf_ok,
    csrf_token,
    is_secure,
    keep_session,
    new_nonce,
    read_visitor,
)
from bot.webchannel.limits import Limiter
from bot.webchannel.render import Shown, button_data, plain_text, shown
from bot.webchannel.updates import message_update, press_update, vote_update
from handlers.context import Runtime
from handlers.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    _,
    direction,
    gettext,
    guess_from_header,
    language,
    ngettext,
)
from handlers.views.times import date_text
from models.access_codes import Access
from models.arenas import find_arena, list_arenas
from models.base import localized
from models.consultation import find_consultation, is_open, open_consultations
from models.participant import find_participant, has_consented
from models.participant import set_language as store_language
from models.webchat import (
    NOTICE,
    RESIDENT,
    WebMessage,
    add_message,
    claim_request,
    find_message,
    has_messages,
    messages_after,
    messages_changed,
    recent_messages,
    set_poll,
)

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC_PREFIX = "/web/static"
VENDOR_PREFIX = "/web/vendor"
VENDOR_DIR = HERE.parent / "static" / "vendor"
HTMX_FILE = "htmx-2.0.11.min.js"
#: Messages shown on the chat page; older ones stay stored but are not drawn.
SHOWN_MESSAGES = 100
#: A form is a few hundred bytes; a long typed answer a few kilobytes.
MAX_FORM_BYTES = 32 * 1024
_SLUG = re.compile(r"^[a-z0-9-]{1,40}$")
_SOURCE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
_SECURITY_HEADERS = {
    # Nothing but Medvirk's own files; no inline script or style; not framed by anyone.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

TEMPLATES = web.AppKey("web_channel_templates", jinja2.Environment)


class Outcome(Protocol):
    """How handling an update went (:class:`bot.app.UpdateOutcome`)."""

    @property
    def redeliver(self) -> bool:
        """True when the handler failed."""


@dataclass
class WebChannel:
    """What the pages need of the running bot: its application, database and limits."""

    settings: Settings
    runtime: Runtime
    bot: Bot
    process: Callable[[Update], Awaitable[Outcome]]
    secret: bytes
    per_session: Limiter
    per_address: Limiter


CHANNEL = web.AppKey("web_channel", WebChannel)


def web_channel(
    settings: Settings,
    runtime: Runtime,
    bot: Bot,
    process: Callable[[Update], Awaitable[Outcome]],
    secret: bytes,
) -> WebChannel:
    """The pages' view of a running bot, with the limits from the settings."""
    return WebChannel(
        settings,
        runtime,
        bot,
        process,
        secret,
        Limiter(settings.web_limit_session),
        Limiter(settings.web_limit_address),
    )


def add_web_channel(app: web.Application) -> None:
    """Serve the web chat from ``app`` (``app[CHANNEL]`` is set once the bot runs)."""
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        app_key=TEMPLATES,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    app[TEMPLATES] = environment
    app.router.add_get("/", home)
    app.router.add_get("/c/{slug}", consultation_page)
    app.router.add_get("/a/{slug}", arena_page)
    app.router.add_get("/chat", chat_page)
    app.router.add_get("/chat/updates", updates)
    app.router.add_get("/chat/file/{id}", download)
    app.router.add_post("/chat/send", send)
    app.router.add_post("/chat/press", press)
    app.router.add_post("/chat/vote", vote)
    app.router.add_post("/language", choose_language)
    app.router.add_static(STATIC_PREFIX, HERE / "static", append_version=False)
    app.router.add_get(f"{VENDOR_PREFIX}/htmx.min.js", htmx)


# ---------------------------------------------------------------------- the frame of a page


@dataclass
class Page:
    """One request's page: who, in which language, and the frame every template shows."""

    request: web.Request
    channel: WebChannel
    visitor: Visitor
    language: str
    now: datetime
    status: int = 200
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def direction(self) -> str:
        """``rtl`` for a language written right to left."""
        return direction(self.language)

    @property
    def csrf(self) -> str:
        """The token every form carries."""
        return csrf_token(self.channel.secret, self.visitor)

    @property
    def site(self) -> str:
        """The page's name."""
        return self.channel.settings.web_title

    @property
    def contact(self) -> str:
        """How else to reach the municipality."""
        return self.channel.settings.web_contact or self.channel.settings.privacy_contact

    @property
    def languages(self) -> list[tuple[str, str]]:
        """Every UI language, by its own name."""
        return [(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES]

    @property
    def path(self) -> str:
        """Where this page is, to come back to."""
        return self.request.path_qs

    static = STATIC_PREFIX
    vendor = VENDOR_PREFIX

    @property
    def htmx(self) -> bool:
        """Whether the page asked with htmx (answer with a part of a page)."""
        return self.request.headers.get("HX-Request") == "true"

    def render(self, template: str, **context: Any) -> web.Response:
        """The template in the page's language, with the frame, headers and session cookie."""
        with language(self.language):
            body = (
                self.request.app[TEMPLATES]
                .get_template(template)
                .render(page=self, nonce=new_nonce, text_limit=TEXT_LIMIT, **context)
            )
        return self.finish(web.Response(text=body, content_type="text/html", status=self.status))

    def redirect(self, location: str) -> web.Response:
        """Back to a page (after a form without JavaScript)."""
        return self.finish(web.Response(status=303, headers={"Location": location}))

    def finish(self, response: web.Response) -> web.Response:
        """Add the security headers, and keep the session (renewed on every visit)."""
        response.headers.update(_SECURITY_HEADERS)
        settings = self.channel.settings
        keep_session(
            response,
            self.visitor,
            self.channel.secret,
            self.now,
            secure=is_secure(self.request, settings.web_trusted_proxies),
        )
        for name, value in self.cookies.items():
            response.set_cookie(
                name,
                value,
                max_age=365 * 24 * 3600,
                path="/",
                samesite="Lax",
                secure=is_secure(self.request, settings.web_trusted_proxies),
            )
        return response

    def problem(self, key: str) -> web.Response:
        """A plain page (or, in the chat, a line) saying what went wrong and what to do."""
        status, heading_of, explanation_of = PROBLEMS[key]
        heading, explanation = heading_of(), explanation_of()
        self.status = status
        if self.htmx:
            return self.render("_update.html", **_no_change(), status=explanation)
        return self.render(
            "problem.html",
            heading=heading,
            explanation=explanation,
            back="/chat",
            back_label=_("Back to the conversation"),
        )


def _no_change() -> dict[str, Any]:
    return {
        "appended": [],
        "replaced": [],
        "last_id": 0,
        "announcement": "",
        "toast": "",
        "controls": False,
        "drop_start": False,
        "draft": "",
        "commands": [],
    }


#: What went wrong, by name: the HTTP status, a heading and what the person can do.
PROBLEMS: dict[str, tuple[int, Callable[[], str], Callable[[], str]]] = {
    "busy": (
        429,
        lambda: _("Too many requests"),
        lambda: _(
            "You are going faster than we can follow. Please wait a few seconds and try again."
        ),
    ),
    "large": (
        413,
        lambda: _("Too long"),
        lambda: _("That was too long for us to take. Please shorten it and try again."),
    ),
    "stale": (
        403,
        lambda: _("Please try again"),
        lambda: _(
            "We could not take that: the page was too old, or your browser does not keep "
            "cookies for this site. Please go back to the conversation and try again."
        ),
    ),
    "no-consultation": (
        404,
        lambda: _("Consultation not found"),
        lambda: _("I could not find that consultation. It may have ended, or the link is wrong."),
    ),
    "no-arena": (
        404,
        lambda: _("Not found"),
        lambda: _("I could not find that group. The link may be wrong."),
    ),
    "no-file": (
        404,
        lambda: _("Not found"),
        lambda: _("That file is no longer here. Ask for it again in the conversation."),
    ),
    "no-language": (
        400,
        lambda: _("Please try again"),
        lambda: _("That language is not available."),
    ),
    "failed": (
        503,
        lambda: _("Something went wrong"),
        lambda: _("Sorry, something went wrong on our side. Please try again in a moment."),
    ),
}


class Refusal(Exception):
    """A request answered with a problem (a key of :data:`PROBLEMS`) instead of being handled."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


Handler = Callable[[Page], Awaitable[web.StreamResponse]]


def page(
    *, limited: bool = True
) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Wrap a route: find the visitor and language, apply the limits, never show a traceback."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @wraps(handler)
        async def route(request: web.Request) -> web.StreamResponse:
            channel = request.app.get(CHANNEL)
            if channel is None:  # starting or stopping
                raise web.HTTPServiceUnavailable(text="Starting; try again in a moment.")
            now = channel.runtime.clock()
            visitor = read_visitor(request, channel.secret, now)
            current = Page(request, channel, visitor, _requested_language(request, channel), now)
            try:
                if limited:
                    _check_limits(current)
                if request.method == "GET":
                    # A form's answer finds the language with the messages it shows.
                    async with _session(channel.runtime) as session:
                        current.language = await _language(session, current)
                return await handler(current)
            except Refusal as refusal:
                with language(current.language):
                    return current.problem(refusal.problem)
            except web.HTTPException:
                raise
            except Exception:
                # The person gets a plain page; the log gets the error, never their words.
                logger.exception("A web chat request failed (%s)", request.path)
                with language(current.language):
                    return current.problem("failed")

        return route

    return wrap


@contextlib.asynccontextmanager
async def _session(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A session for reading (no transaction lock: readers do not queue behind writers)."""
    async with runtime.sessionmaker() as session:
        yield session


@contextlib.asynccontextmanager
async def _transaction(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A writing transaction; on SQLite behind the handlers' writer lock."""
    lock = runtime.transaction_lock or contextlib.nullcontext()
    async with lock, runtime.sessionmaker() as session, session.begin():
        yield session


def _check_limits(current: Page) -> None:
    channel = current.channel
    address = client_address(current.request, channel.settings.web_trusted_proxies)
    allowed = channel.per_address.allow(address)
    if allowed and not current.visitor.new:
        allowed = channel.per_session.allow(current.visitor.user_id)
    if not allowed:
        raise Refusal("busy")


def _requested_language(request: web.Request, channel: WebChannel) -> str:
    """The language the browser asks for: the page's choice, else Accept-Language."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    header = request.headers.get("Accept-Language", "")
    return guess_from_header(header, channel.runtime.default_language)


async def _language(session: AsyncSession, current: Page) -> str:
    """The participant's language when they chose one; else what the browser asks for."""
    if current.visitor.new:
        return current.language
    participant = await find_participant(session, current.visitor.user_id)
    if participant is not None and participant.language in LANGUAGES:
        return participant.language or current.language
    return current.language


# ---------------------------------------------------------------------- pages


@page(limited=False)
async def home(current: Page) -> web.Response:
    """The open consultations and arenas, each a link into the chat."""
    _limit_pages(current)
    code = current.language
    async with _session(current.channel.runtime) as session:
        consultations = await open_consultations(session, current.now)
        arenas = await list_arenas(session)
        has_chat = not current.visitor.new and await has_messages(session, current.visitor.chat_id)
    zone = current.channel.runtime.timezone
    return current.render(
        "home.html",
        has_chat=has_chat,
        consultations=[
            {
                "slug": c.slug,
                "title": localized(c.title, code, c.languages[0]),
                "intro": _first_paragraph(localized(c.intro, code, c.languages[0])),
                "closes": _date(c.closes_at, zone) if c.closes_at else "",
                "needs_code": c.access == Access.CODE,
            }
            for c in consultations
        ],
        arenas=[
            {
                "slug": a.slug,
                "title": a.name_in(code),
                "intro": _first_paragraph(localized(a.description, code, code)),
            }
            for a in arenas
        ],
    )


def _limit_pages(current: Page) -> None:
    """Plain page views count against the client's address only (new visitors have no session)."""
    address = client_address(current.request, current.channel.settings.web_trusted_proxies)
    if not current.channel.per_address.allow(address):
        raise Refusal("busy")


def _first_paragraph(text: str) -> str:
    return plain_text(text.split("\n\n")[0]) if text else ""


def _date(moment: datetime, zone: str) -> str:
    return date_text(moment, zone)


@dataclass(frozen=True)
class Start:
    """The button that opens a consultation or arena, as its link does in Telegram."""

    label: str
    command: str


def _payload(kind: str, slug: str, source: str | None) -> str:
    return f"/start {kind}_{slug}" + (f"__{source}" if source else "")


def _source(current: Page) -> str | None:
    source = current.request.query.get("src")
    return source if source and _SOURCE.match(source) else None


@page(limited=False)
async def consultation_page(current: Page) -> web.Response:
    """The chat, with a button to start the consultation the link names."""
    _limit_pages(current)
    slug = current.request.match_info["slug"]
    async with _session(current.channel.runtime) as session:
        consultation = await find_consultation(session, slug) if _SLUG.match(slug) else None
    if consultation is None or not is_open(consultation, current.now):
        raise Refusal("no-consultation")
    title = localized(consultation.title, current.language, consultation.languages[0])
    start = Start(_("Start: {title}").format(title=title), _payload("c", slug, _source(current)))
    return await _chat(current, title, start)


@page(limited=False)
async def arena_page(current: Page) -> web.Response:
    """The chat, with a button to join the arena the link names."""
    _limit_pages(current)
    slug = current.request.match_info["slug"]
    async with _session(current.channel.runtime) as session:
        arena = await find_arena(session, slug) if _SLUG.match(slug) else None
    if arena is None:
        raise Refusal("no-arena")
    name = arena.name_in(current.language)
    start = Start(_("Join: {name}").format(name=name), _payload("a", slug, _source(current)))
    return await _chat(current, name, start)


@page(limited=False)
async def chat_page(current: Page) -> web.Response:
    """The conversation so far, the message box and the menu."""
    _limit_pages(current)
    return await _chat(current, None, None)


async def _chat(current: Page, heading: str | None, start: Start | None) -> web.Response:
    messages = []
    if not current.visitor.new:
        async with _session(current.channel.runtime) as session:
            messages = await recent_messages(session, current.visitor.chat_id, SHOWN_MESSAGES + 1)
    earlier = len(messages) > SHOWN_MESSAGES
    messages = messages[-SHOWN_MESSAGES:]
    if start is None and not messages:
        start = Start(_("Start"), "/start")
    transcript, toast = _without_toasts(messages)
    with language(current.language):
        return current.render(
            "chat.html",
            heading=heading or _("Your conversation with the municipality"),
            start=start,
            messages=transcript,
            toast=toast,
            earlier=earlier,
            last_id=messages[-1].id if messages else 0,
            status=current.request.query.get("status")
            and _status_text(current.request.query["status"]),
            draft="",
            commands=_commands(),
        )


def _commands() -> list[tuple[str, str]]:
    """The menu: the residents' commands, as buttons."""
    return [
        ("/consultations", _("Consultations")),
        ("/cancel", _("Take a break")),
        ("/arenas", _("Groups and meetings")),
        ("/privacy", _("Privacy")),
        ("/mydata", _("My data")),
        ("/delete", _("Delete my data")),
        ("/help", _("Help")),
    ]


_STATUSES: dict[str, Callable[[], str]] = {
    "gone": lambda: _("That button is no longer there. Here is the conversation as it is now."),
    "twice": lambda: _("That was sent already."),
    "failed": lambda: _("Sorry, something went wrong. Please try again."),
}


def _status_text(key: str) -> str:
    text = _STATUSES.get(key)
    return text() if text else ""


# ---------------------------------------------------------------------- actions


async def _form(current: Page) -> MultiDictProxy[str | Any]:
    """The posted form, if it is small enough and carries this session's CSRF token."""
    request = current.request
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        raise Refusal("large")
    try:
        form = await request.post()
    except (web.HTTPRequestEntityTooLarge, ValueError):
        raise Refusal("large") from None
    given = form.get("csrf")
    if not isinstance(given, str) or not csrf_ok(current.channel.secret, current.visitor, given):
        # A forged request, or a session that expired: nothing is done; the page (with a
        # fresh session when needed) lets the person try again.
        raise Refusal("stale")
    return form


def _nonce(form: MultiDictProxy[str | Any]) -> str:
    nonce = form.get("nonce")
    if not isinstance(nonce, str) or not _NONCE.match(nonce):
        raise Refusal("stale")
    return nonce


@dataclass
class Acted:
    """What an action changed in the chat."""

    changed: set[int] = field(default_factory=set)
    status: str | None = None  # a key of _STATUSES
    started: bool = False  # the start button was used


async def _act(
    current: Page,
    nonce: str,
    build: Callable[[AsyncSession, int], Awaitable[dict[str, Any] | None]],
) -> Acted:
    """Take a form once: store what it says, and hand its update to the bot.

    ``build`` runs in the transaction that claims the form's nonce and returns the update
    (None: nothing to hand over, e.g. a button that is gone).
    """
    channel = current.channel
    acted = Acted()
    async with _transaction(channel.runtime) as session:
        number = await claim_request(session, current.visitor.chat_id, nonce, current.now)
        if number is None:
            acted.status = "twice"
            return acted
        data = await build(session, number)
    if data is None:
        acted.status = "gone"
        return acted
    own = data.get("message", {}).get("message_id")
    if own:
        acted.changed.add(own)
    update = Update.de_json(data, channel.bot)
    with tracking_changes() as changes:
        outcome = await channel.process(update)
    acted.changed |= changes.ids
    if outcome.redeliver:
        acted.status = "failed"
    return acted


@page()
async def send(current: Page) -> web.Response:
    """Typed text or a command (the menu and the start button send commands too)."""
    form = await _form(current)
    nonce = _nonce(form)
    text = str(form.get("text") or "").strip()
    if not text:
        return await _answer(current, Acted())
    if len(text) > TEXT_LIMIT:
        return await _too_long(current, text)
    visitor, language_code = current.visitor, current.language
    # A command sent by a button (the start button, the menu) is not shown as typed.
    typed = form.get("via") != "button"

    async def build(session: AsyncSession, number: int) -> dict[str, Any]:
        message_id = 0  # a button's command: no message of the resident's to show
        if typed:
            own = await add_message(session, visitor.chat_id, RESIDENT, text, current.now)
            message_id = own.id or 0
        return message_update(
            number, visitor.user_id, language_code, message_id, text, current.now
        )

    acted = await _act(current, nonce, build)
    acted.started = text.startswith("/start")
    return await _answer(current, acted)


async def _too_long(current: Page, text: str) -> web.Response:
    """Keep the text in the box and say how long it may be: nothing is lost."""
    status = _("Your message is too long: at most {n} characters. Please shorten it.").format(
        n=TEXT_LIMIT
    )
    current.status = 400
    if current.htmx:
        return current.render(
            "_update.html",
            **{
                **_no_change(),
                "last_id": _after(current),
                "controls": True,
                "draft": text,
                "commands": _commands(),
            },
            status=status,
        )
    return await _chat_with(current, status=status, draft=text)


async def _chat_with(current: Page, *, status: str, draft: str) -> web.Response:
    async with _session(current.channel.runtime) as session:
        messages = await recent_messages(session, current.visitor.chat_id, SHOWN_MESSAGES)
    transcript, toast = _without_toasts(messages)
    return current.render(
        "chat.html",
        heading=_("Your conversation with the municipality"),
        start=None,
        messages=transcript,
        toast=toast,
        earlier=False,
        last_id=messages[-1].id if messages else 0,
        status=status,
        draft=draft,
        commands=_commands(),
    )


@page()
async def press(current: Page) -> web.Response:
    """A button under a message: its data is read from the stored message, never the form."""
    form = await _form(current)
    nonce = _nonce(form)
    message_id = str(form.get("message") or "")
    position = str(form.get("button") or "")
    visitor, language_code = current.visitor, current.language

    async def build(session: AsyncSession, number: int) -> dict[str, Any] | None:
        if not message_id.isdecimal():
            return None
        message = await find_message(session, visitor.chat_id, int(message_id))
        data = button_data(message, position) if message is not None else None
        if message is None or data is None:
            return None
        return press_update(number, visitor.user_id, language_code, message, data)

    return await _answer(current, await _act(current, f"{nonce}:{position}"[:32], build))


@page()
async def vote(current: Page) -> web.Response:
    """A vote in a native poll (no option ticked takes the vote back)."""
    form = await _form(current)
    nonce = _nonce(form)
    message_id = str(form.get("message") or "")
    options = [int(o) for o in form.getall("option", []) if isinstance(o, str) and o.isdecimal()]
    visitor, language_code = current.visitor, current.language

    async def build(session: AsyncSession, number: int) -> dict[str, Any] | None:
        if not message_id.isdecimal():
            return None
        message = await find_message(session, visitor.chat_id, int(message_id))
        poll = message.poll if message is not None else None
        if message is None or poll is None or poll.get("closed"):
            return None
        chosen = sorted({o for o in options if o < len(poll.get("options", []))})
        if not poll.get("multiple"):
            chosen = chosen[:1]
        await set_poll(session, message, chosen=chosen)
        return vote_update(number, visitor.user_id, language_code, str(poll["id"]), chosen)

    acted = await _act(current, nonce, build)
    if message_id.isdecimal():
        acted.changed.add(int(message_id))
    return await _answer(current, acted)


def _after(current: Page) -> int:
    """The newest message the page has (htmx sends it along: ``#last-id``)."""
    after = current.request.query.get("after") or ""
    return int(after) if after.isdecimal() else 0


async def _answer(current: Page, acted: Acted) -> web.Response:
    """After an action: the changed part of the chat (htmx), or back to the chat page."""
    if not current.htmx:
        anchor = f"#m-{min(acted.changed)}" if acted.changed else "#composer"
        status = f"?status={acted.status}" if acted.status else ""
        return current.redirect(f"/chat{status}{anchor}")
    form = await current.request.post()  # read before; aiohttp keeps it
    after_text = str(form.get("after") or "")
    after = int(after_text) if after_text.isdecimal() else 0
    return await _changes(current, after, acted)


async def _changes(current: Page, after: int, acted: Acted) -> web.Response:
    """The fragment for htmx: new messages, edited ones, and the fresh controls."""
    chat = current.visitor.chat_id
    async with _session(current.channel.runtime) as session:
        current.language = await _language(session, current)  # consent may have set it
        found = await messages_changed(session, chat, after, acted.changed, SHOWN_MESSAGES)
    new = [m for m in found if (m.id or 0) > after]
    edited = [m for m in found if (m.id or 0) <= after]
    appended, toast = _without_toasts(new)
    last_id = max([after, *(m.id or 0 for m in new)])
    status = _status_text(acted.status) if acted.status else ""
    return current.render(
        "_update.html",
        appended=appended,
        replaced=[shown(m) for m in edited],
        last_id=last_id,
        announcement=_announcement(appended, toast),
        toast=toast,
        status=status,
        controls=True,
        drop_start=acted.started,
        draft="",
        commands=_commands(),
    )


def _without_toasts(messages: list[WebMessage]) -> tuple[list[Shown], str]:
    """The transcript, and the newest toast when it is the newest message.

    A button's toast ("✓ Often") is a notice for a moment, as in Telegram, not a line of the
    conversation: since a step edits the question's message into the next question, a toast
    kept in the transcript would stand below the question it no longer belongs to.
    """
    transcript = [shown(m) for m in messages if m.sender != NOTICE]
    toast = messages[-1].text if messages and messages[-1].sender == NOTICE else ""
    return transcript, toast


def _announcement(appended: Iterable[Shown], toast: str) -> str:
    """What the screen reader says: the bot's new words, else the toast, not the person's own."""
    parts = [m.text for m in appended if not m.from_resident and m.text]
    parts += [m.poll.question for m in appended if m.poll is not None]
    return " ".join(parts or [toast])[:2000]


@page()
async def updates(current: Page) -> web.Response:
    """Messages that arrived since the page's newest (a reminder, a follow-up)."""
    if current.visitor.new:
        return current.finish(web.Response(status=204))
    after = _after(current)
    async with _session(current.channel.runtime) as session:
        new = await messages_after(session, current.visitor.chat_id, after, SHOWN_MESSAGES)
    if not new:
        return current.finish(web.Response(status=204))
    appended, _toast = _without_toasts(new)
    return current.render(
        "_update.html",
        **{
            **_no_change(),
            "appended": appended,
            "last_id": new[-1].id or 0,
            "announcement": _announcement(appended, ""),
        },
        status="",
    )


@page()
async def download(current: Page) -> web.StreamResponse:
    """A file the bot sent into this resident's chat (nobody else's)."""
    message_id = current.request.match_info["id"]
    message = None
    if message_id.isdecimal() and not current.visitor.new:
        async with _session(current.channel.runtime) as session:
            message = await find_message(session, current.visitor.chat_id, int(message_id))
    if message is None or message.file_content is None or not message.file_name:
        raise Refusal("no-file")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", message.file_name) or "file"
    response = web.Response(
        body=message.file_content,
        content_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )
    return current.finish(response)


@page()
async def choose_language(current: Page) -> web.Response:
    """Switch the page's language; a participant who consented keeps it for the chat too."""
    form = await _form(current)
    code = str(form.get("language") or "")
    if code not in LANGUAGES:
        raise Refusal("no-language")
    current.cookies[LANGUAGE_COOKIE] = code
    if not current.visitor.new:
        async with _transaction(current.channel.runtime) as session:
            participant = await find_participant(session, current.visitor.user_id)
            if participant is not None and await has_consented(session, participant):
                await store_language(session, participant, code)
    back = str(form.get("back") or "/")
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    return current.redirect(back)


async def htmx(request: web.Request) -> web.FileResponse:
    """The vendored htmx (bot/static/vendor)."""
    return web.FileResponse(VENDOR_DIR / HTMX_FILE)
