"""Staff run consultations at their desk: the list, upload with preview, open, close, schedule,
links and QR codes per source, and exports.

Each page makes the same domain calls as chat (``/manage``, the upload dialog, ``/export``), so
the same checks apply and the same lines reach the audit log.
"""

from __future__ import annotations

import re
import tempfile
from typing import BinaryIO, cast
from urllib.parse import quote

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dashboard.desk import DESK, PREFIX, VISIT
from bot.dashboard.guard import page
from bot.dashboard.render import message_buttons, parse_local, qr_file, qr_svg, show
from handlers.i18n import LANGUAGE_NAMES, yes_no_words
from handlers.views import authoring
from handlers.views.moderation import placeholder
from models.consultation import (
    Consultation,
    ConsultationView,
    ImportRefused,
    ScheduleProblem,
    Status,
    change_status_for,
    import_consultation,
    list_consultations,
    load_consultation,
    response_counts,
    schedule,
)
from models.consultation_file import MAX_FILE_BYTES, ConsultationFileError, parse_consultation_file
from models.export import FORMATS, Format, export_for
from models.pseudonym import instance_secret
from models.results import DIRECT, source_names
from models.roles import Role, audit

#: A deep-link source: what Telegram allows in a start payload, kept short.
SOURCE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
CHUNK = 64 * 1024


async def _consultation(request: web.Request, db: AsyncSession) -> Consultation:
    """The consultation the URL names, or 404."""
    raw = request.match_info["id"]
    found = await db.get(Consultation, int(raw)) if raw.isdecimal() and len(raw) < 10 else None
    if found is None:
        raise web.HTTPNotFound()
    return found


@page(Role.STAFF, "dashboard.consultations")
async def listing(request: web.Request) -> web.Response:
    """Every consultation with its status, dates, counts and languages, newest first."""
    desk = request.app[DESK]
    async with desk.reading() as db:
        rows = list(reversed(await list_consultations(db)))
    return show(request, "consultations.html", {"rows": rows, "now": desk.now()})


@page(Role.STAFF, "dashboard.upload")
async def upload_form(request: web.Request) -> web.Response:
    """The upload form."""
    return show(request, "upload.html", {"limit_kb": MAX_FILE_BYTES // 1024})


@page(Role.STAFF, "consultation.upload")
async def upload(request: web.Request) -> web.Response:
    """Check a consultation file as chat does; save it as a draft and preview every language."""
    desk = request.app[DESK]
    form = await request.post()
    field = form.get("file")
    content = field.file.read(MAX_FILE_BYTES + 1) if isinstance(field, web.FileField) else b""
    context: dict[str, object] = {"limit_kb": MAX_FILE_BYTES // 1024}
    if not content or len(content) > MAX_FILE_BYTES:
        context["problems"] = [authoring.too_large().text if content else ""]
        context["empty"] = not content
        return show(request, "upload.html", context, status=400)
    try:
        spec = parse_consultation_file(content)
    except ConsultationFileError as error:
        context["problems"] = error.problems
        return show(request, "upload.html", context, status=400)
    async with desk.transaction() as db:
        try:
            stored, created = await import_consultation(db, spec)
        except ImportRefused as error:
            context["locked"] = ", ".join(error.keys)
            return show(request, "upload.html", context, status=409)
        actor = request[VISIT].user_id
        await audit(db, actor, "consultation.upload", stored.slug, now=desk.now())
        view = await load_consultation(db, stored.id or 0)
        assert view is not None
        context.update(view=view, created=created, preview=_preview(view))
    return show(request, "upload.html", context)


def _preview(view: ConsultationView) -> list[tuple[str, list[list[str]], str | None]]:
    """Chat's preview (every question in every language): text, button labels, language.

    Chat's preview is which languages are complete, then per language a heading in the
    reader's language, the introduction and each question; the page marks the latter with
    their language, for screen readers.
    """
    per_language = 2 + len(view.questions)
    languages = view.consultation.languages
    complete, *messages = authoring.preview(view)
    return [(complete.text, [], None)] + [
        (message.text, message_buttons(message), None if index % per_language == 0 else code)
        for index, message in enumerate(messages)
        for code in [languages[min(index // per_language, len(languages) - 1)]]
    ]


@page(Role.STAFF, "dashboard.consultation")
async def detail(request: web.Request) -> web.Response:
    """One consultation: status, window, counts, what can be done, links and QR codes."""
    desk = request.app[DESK]
    async with desk.reading() as db:
        consultation = await _consultation(request, db)
        view = await load_consultation(db, consultation.id or 0)
        started, completed = await response_counts(db, consultation.id or 0)
        sources = await source_names(db, consultation.id or 0)
    wanted = request.query.get("source", "").strip()
    bad_source = bool(wanted) and not SOURCE.match(wanted)
    named = [s for s in sources if s != DIRECT]
    if wanted and not bad_source and wanted not in named:
        named.append(wanted)
    links = [_link(request, consultation, source) for source in [None, *named]]
    context = {
        "c": consultation,
        "view": view,
        "started": started,
        "completed": completed,
        "links": links,
        "bad_source": bad_source,
        "formats": FORMATS,
        "now": desk.now(),
        "language_names": LANGUAGE_NAMES,
        "problem": request.query.get("problem", ""),
    }
    return show(request, "consultation.html", context)


def _link(
    request: web.Request, consultation: Consultation, source: str | None
) -> dict[str, object]:
    desk = request.app[DESK]
    payload = f"c_{consultation.slug}" + (f"__{source}" if source else "")
    url = f"https://t.me/{desk.bot_username}?start={payload}"
    qr = f"{PREFIX}/consultations/{consultation.id}/qr.svg" + (
        f"?source={quote(source)}" if source else ""
    )
    return {"source": source, "url": url, "qr": qr_svg(url, url), "download": qr}


@page(Role.STAFF, "dashboard.qr")
async def qr_download(request: web.Request) -> web.Response:
    """A link's QR code as an SVG file, to put on a poster."""
    desk = request.app[DESK]
    async with desk.reading() as db:
        consultation = await _consultation(request, db)
    source = request.query.get("source") or None
    if source is not None and not SOURCE.match(source):
        raise web.HTTPNotFound()
    url = _link(request, consultation, source)["url"]
    name = f"{consultation.slug}{'-' + source if source else ''}.svg"
    return web.Response(
        body=qr_file(str(url)),
        content_type="image/svg+xml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _to_detail(consultation: Consultation, problem: str = "") -> web.Response:
    target = f"{PREFIX}/consultations/{consultation.id}" + (
        f"?problem={problem}" if problem else ""
    )
    return web.Response(status=303, headers={"Location": target})


async def _change_status(request: web.Request, status: Status) -> web.StreamResponse:
    """Open or close the consultation, as /manage does; audited."""
    desk = request.app[DESK]
    async with desk.transaction() as db:
        consultation = await _consultation(request, db)
        actor = request[VISIT].user_id
        await change_status_for(db, consultation, status, actor, desk.now())
    return _to_detail(consultation)


@page(Role.STAFF, "manage.status")
async def open_now(request: web.Request) -> web.StreamResponse:
    """Open the consultation now (its time window, if any, still applies)."""
    return await _change_status(request, Status.OPEN)


@page(Role.STAFF, "manage.status")
async def close_question(request: web.Request) -> web.Response:
    """Ask before closing: people in the middle of it cannot finish."""
    desk = request.app[DESK]
    async with desk.reading() as db:
        consultation = await _consultation(request, db)
        started, completed = await response_counts(db, consultation.id or 0)
    context = {"c": consultation, "unfinished": started - completed}
    return show(request, "close.html", context)


@page(Role.STAFF, "manage.status")
async def close(request: web.Request) -> web.StreamResponse:
    """Close the consultation (confirmed on the page before)."""
    return await _change_status(request, Status.CLOSED)


@page(Role.STAFF, "consultation.schedule")
async def set_schedule(request: web.Request) -> web.StreamResponse:
    """Publish for a time window: it opens and closes by itself."""
    desk = request.app[DESK]
    form = await request.post()
    zone = desk.rt.timezone
    async with desk.transaction() as db:
        consultation = await _consultation(request, db)
        try:
            opens = parse_local(str(form.get("opens", "")), zone)
            closes = parse_local(str(form.get("closes", "")), zone)
            await schedule(db, consultation, opens, closes, request[VISIT].user_id, desk.now())
        except ScheduleProblem as error:
            return _to_detail(consultation, error.code)
        except ValueError:
            return _to_detail(consultation, "not_a_time")
    return _to_detail(consultation)


@page(Role.STAFF, "manage.export")
async def export(request: web.Request) -> web.StreamResponse:
    """Download the responses as CSV, XLSX or JSON, streamed from a temporary file.

    The file is written in one transaction (as ``/export`` does, audited), then sent in chunks
    after the commit: memory stays flat however many responses there are, and a slow download
    holds no database lock.
    """
    desk = request.app[DESK]
    fmt = request.query.get("format", "")
    if fmt not in FORMATS:
        raise web.HTTPNotFound()
    all_texts = request.query.get("all") == "1"
    with tempfile.TemporaryFile() as file:
        async with desk.transaction() as db:
            await instance_secret(db)  # the pseudonyms' key exists before the long write
        async with desk.transaction() as db:
            consultation = await _consultation(request, db)
            await export_for(
                db,
                consultation.id or 0,
                cast(Format, fmt),
                cast(BinaryIO, file),
                actor=request[VISIT].user_id,
                now=desk.now(),
                all_texts=all_texts,
                yes_no=yes_no_words(consultation.languages[0]),
                placeholder=placeholder,
                zone=desk.rt.timezone,
                factor=desk.rt.underrepresented_factor,
            )
        return await _stream(request, file, f"{consultation.slug}.{fmt}", CONTENT_TYPES[fmt])


async def _stream(
    request: web.Request, file: object, name: str, content_type: str
) -> web.StreamResponse:
    readable = cast(BinaryIO, file)
    size = readable.seek(0, 2)
    readable.seek(0)
    response = web.StreamResponse(
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Length": str(size),
        }
    )
    await response.prepare(request)
    while chunk := readable.read(CHUNK):
        await response.write(chunk)
    await response.write_eof()
    return response
