"""Staff run consultations: /manage (list, open, close), /results with charts, /export.

Results are made in the update's transaction; their charts are sent after it committed, like
every reply. An export is checked and audited in the update's transaction and written after
it, in a read transaction of its own, with its rows built in a worker thread.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from typing import BinaryIO, cast

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InputFile, Update
from telegram.constants import ParseMode

from handlers import callbacks as cb
from handlers.common import Reply, Scene, answer, callback_data, deliver, run
from handlers.context import BotContext, Runtime
from handlers.guards import requires
from handlers.i18n import current_language, yes_no_words
from handlers.views import links
from handlers.views import manage as views
from handlers.views import moderation as moderation_views
from handlers.views import representation as represented
from handlers.views.charts import result_charts
from handlers.views.consultation import plain_title
from handlers.views.outgoing import Outgoing
from models.arenas import find_arena
from models.consultation import (
    Consultation,
    Status,
    change_status_for,
    find_consultation,
    list_consultations,
    load_consultation,
    response_counts,
)
from models.consultation_file import QuestionType
from models.export import FORMATS, Format, export_file_name, write_export
from models.moderation import approved_texts, count_open_flags, text_counts
from models.polls import can_be_poll
from models.profile import background_questions
from models.pseudonym import instance_secret
from models.representation import representation
from models.results import ALL, ConsultationResults, ResultFilter, consultation_results
from models.roles import Role, audit

logger = logging.getLogger(__name__)

#: Responses an export in the bot reads at a time: the rows come back to the event loop, so a
#: smaller batch keeps each of its stalls short (the command line reads 1,000).
EXPORT_BATCH = 200
# The word after /export SLUG [FORMAT] that asks for every free text, not only approved ones.
ALL_TEXTS_WORDS = frozenset({"all", "alle"})


async def _listing(scene: Scene, page: int) -> Outgoing:
    rows = list(reversed(await list_consultations(scene.session)))  # newest first
    flagged = await count_open_flags(scene.session)
    return views.listing(rows, page, scene.now, scene.runtime.timezone, flagged=flagged)


def _link(scene: Scene, slug: str, kind: str = "c", source: str | None = None) -> str:
    return links.deep_link(scene.bot_username, links.payload(kind, slug, source))


async def _detail(scene: Scene, consultation: Consultation) -> Outgoing:
    view = await load_consultation(scene.session, consultation.id or 0)
    assert view is not None
    started, completed = await response_counts(scene.session, consultation.id or 0)
    link = _link(scene, consultation.slug)
    return views.detail(view, started, completed, scene.now, scene.runtime.timezone, link)


async def _consultation(session: AsyncSession, which: int | str | None) -> Consultation | None:
    if which is None:
        return None
    if isinstance(which, int):
        return await session.get(Consultation, which)
    return await find_consultation(session, which)


# ---------------------------------------------------------------------- /manage


@requires(Role.STAFF, "/manage")
async def manage(update: Update, context: BotContext) -> None:
    """List the consultations with their status and answer counts."""
    await answer(update, context, _first_page)


async def _first_page(scene: Scene) -> Reply:
    return Reply(send=[await _listing(scene, 0)])


@requires(Role.STAFF, "manage.list")
async def on_manage_list(update: Update, context: BotContext) -> None:
    """Show a page of the list in place."""
    data = cb.ManageList.unpack(callback_data(update))
    await answer(update, context, lambda scene: _page(scene, data.page))


async def _page(scene: Scene, page: int) -> Reply:
    return Reply(edit=await _listing(scene, page))


@requires(Role.STAFF, "manage.show")
async def on_manage_one(update: Update, context: BotContext) -> None:
    """Show one consultation with its actions."""
    data = cb.ManageOne.unpack(callback_data(update))
    await answer(update, context, lambda scene: _show(scene, data.consultation_id))


async def _show(scene: Scene, consultation_id: int) -> Reply:
    consultation = await scene.session.get(Consultation, consultation_id)
    if consultation is None:
        return Reply(notice=views.consultation_gone())
    return Reply(edit=await _detail(scene, consultation))


@requires(Role.STAFF, "manage.status")
async def on_set_status(update: Update, context: BotContext) -> None:
    """Open or close a consultation from its /manage message."""
    data = cb.SetStatus.unpack(callback_data(update))
    if data.status not in ("open", "poll", "closed", "close?"):
        raise cb.InvalidCallback("unknown status")
    await answer(update, context, lambda scene: _set_status(scene, data))


async def _set_status(scene: Scene, data: cb.SetStatus) -> Reply:
    """Open (as chat questions or a native poll) or close; audited."""
    session = scene.session
    consultation = await session.get(Consultation, data.consultation_id)
    if consultation is None:
        return Reply(notice=views.consultation_gone())
    if data.status == "close?":
        started, completed = await response_counts(session, consultation.id or 0)
        return Reply(edit=views.close_question(consultation, started, completed))
    if data.status == "poll":
        view = await load_consultation(session, consultation.id or 0)
        assert view is not None
        if not can_be_poll(view):
            return Reply(notice=views.not_a_poll())
        consultation.as_poll = True
    elif data.status == "open":
        consultation.as_poll = False
    status = Status.CLOSED if data.status == "closed" else Status.OPEN
    await change_status_for(session, consultation, status, scene.user_id, scene.now)
    edit = await _detail(scene, consultation)
    return Reply(edit=edit, notice=views.status_changed(consultation))


# ---------------------------------------------------------------------- /results


@requires(Role.STAFF, "manage.results")
async def on_results(update: Update, context: BotContext) -> None:
    """Show results and one chart per choice or scale question."""
    data = cb.ShowResults.unpack(callback_data(update))
    await _send_results(update, context, data.consultation_id)


@requires(Role.STAFF, "/results")
async def results(update: Update, context: BotContext) -> None:
    """``/results SLUG [LANGUAGE]``: results and charts, of every response or of those given in
    one language; without a slug, the list to pick from."""
    args = list(context.args or [])
    only = ResultFilter(language=args[1].lower()) if len(args) > 1 else ALL
    await _send_results(update, context, args[0] if args else None, only)


async def _send_results(
    update: Update, context: BotContext, which: int | str | None, only: ResultFilter = ALL
) -> None:
    """Count in the update's transaction; the charts follow once the text went out.

    Last comes who answered against who lives here, read in a session of its own after the
    update's transaction: it visits every answer (seconds with a million of them), and on SQLite
    the update's transaction holds the one write lock everyone else waits for.
    """
    counted: list[ConsultationResults] = []
    reply = await run(update, context, lambda scene: _results(scene, which, counted, only))
    await deliver(update, context, reply)
    if not counted or not counted[0].started:
        return
    chat_id = update.effective_chat.id if update.effective_chat else 0
    found = counted[0]
    language, fallback = current_language(), found.languages[0]
    charts = await result_charts(found, language, subtitle=views.answers_subtitle)
    charted = [q for q in found.questions if q.has_chart]
    for chart, question in zip(charts, charted, strict=True):
        await context.bot.send_photo(
            chat_id,
            InputFile(chart.png, filename=f"{chart.question_key}.png"),
            caption=views.chart_caption(question, language, fallback),
            parse_mode=ParseMode.HTML,
        )
    compared = await _representation(context.runtime, counted[0].consultation_id)
    if compared is not None:
        await context.bot.send_message(chat_id, compared.text, parse_mode=ParseMode.HTML)


async def _results(
    scene: Scene,
    which: int | str | None,
    counted: list[ConsultationResults],
    only: ResultFilter = ALL,
) -> Reply:
    consultation = await _consultation(scene.session, which)
    if consultation is None:
        if which is None:
            return Reply(send=[await _listing(scene, 0)])
        return Reply(send=[views.no_such_consultation()])
    if only.language is not None and only.language not in consultation.languages:
        return Reply(send=[views.not_a_language_of(consultation)])
    found = await consultation_results(scene.session, consultation.id or 0, only)
    assert found is not None
    counted.append(found)
    free_texts = [q.question_id for q in found.questions if q.type is QuestionType.FREE_TEXT]
    within = only.response_ids(found.consultation_id) if only.narrows else None
    texts = views.FreeTexts(
        found.slug,
        await text_counts(scene.session, free_texts, within=within),
        await approved_texts(scene.session, free_texts, views.TEXTS_SHOWN, within=within),
    )
    shown = views.results_messages(found, texts)
    if only.language is not None:
        shown[0].text = views.filtered_heading(only.language) + "\n\n" + shown[0].text
    return Reply(send=shown)


# ---------------------------------------------------------------------- /link


@requires(Role.STAFF, "/link")
async def link(update: Update, context: BotContext) -> None:
    """``/link SLUG [SOURCE]``: a consultation's or arena's full link, and its QR code."""
    args = list(context.args or [])
    which = args[0].lower() if args else None
    source = args[1] if len(args) > 1 else None
    await _send_link(update, context, which, source)


@requires(Role.STAFF, "manage.link")
async def on_link(update: Update, context: BotContext) -> None:
    """The link and QR code of the consultation shown in /manage."""
    data = cb.ShowLink.unpack(callback_data(update))
    await _send_link(update, context, data.consultation_id, None)


async def _send_link(
    update: Update, context: BotContext, which: int | str | None, source: str | None
) -> None:
    """Find what the link opens in the update's transaction; the QR code follows the text."""
    made: list[str] = []
    reply = await run(update, context, lambda scene: _link_reply(scene, which, source, made))
    await deliver(update, context, reply)
    if made:
        chat_id = update.effective_chat.id if update.effective_chat else 0
        await context.bot.send_photo(
            chat_id,
            InputFile(links.qr_png(made[0]), filename="qr.png"),
            caption=links.qr_caption(made[0]),
            parse_mode=ParseMode.HTML,
        )


async def _link_reply(
    scene: Scene, which: int | str | None, source: str | None, made: list[str]
) -> Reply:
    if which is None:
        return Reply(send=[links.link_usage()])
    consultation = await _consultation(scene.session, which)
    arena = None
    if consultation is None and isinstance(which, str):
        arena = await find_arena(scene.session, which)
    if consultation is not None:
        kind, slug, title = "c", consultation.slug, plain_title(consultation)
    elif arena is not None:
        kind, slug, title = "a", arena.slug, arena.name_in(current_language())
    else:
        return Reply(send=[links.nothing_named()])
    if not links.fits(kind, slug, source):
        return Reply(send=[links.bad_source()])
    made.append(_link(scene, slug, kind, source))
    return Reply(send=[links.link_message(title, made[0], source=source)])


async def _representation(runtime: Runtime, consultation_id: int) -> Outgoing | None:
    """Who answered against who lives here, when there are background questions."""
    async with runtime.sessionmaker() as session:
        questions = await background_questions(session)
        if not questions:
            return None
        factor = runtime.underrepresented_factor
        found = await representation(session, consultation_id, factor)
    if found is None or not found.available:
        return Outgoing(represented.no_population())
    return Outgoing(represented.representation_text(found, questions))


# ---------------------------------------------------------------------- /export


@dataclass(frozen=True)
class ExportRequest:
    """Which consultation to export (a slug, an id, or None: not said), how, and with what."""

    which: int | str | None
    format: str
    all_texts: bool = False


def parse_export_args(args: list[str]) -> ExportRequest:
    """``/export SLUG [csv|xlsx|json] [all]``; an empty format when the words do not fit."""
    words = [a.lower() for a in args]
    all_texts = bool(words) and words[-1] in ALL_TEXTS_WORDS
    if all_texts:
        words = words[:-1]
    fmt = words[1] if len(words) > 1 else "xlsx"
    if fmt not in FORMATS or len(words) > 2:
        fmt = ""
    return ExportRequest(words[0] if words else None, fmt, all_texts)


@requires(Role.STAFF, "manage.export")
async def on_export(update: Update, context: BotContext) -> None:
    """Export from the /manage message."""
    data = cb.ExportAs.unpack(callback_data(update))
    if data.format not in FORMATS:
        raise cb.InvalidCallback("unknown format")
    await _send_export(update, context, ExportRequest(data.consultation_id, data.format))


@requires(Role.STAFF, "manage.export")
async def on_export_all_texts(update: Update, context: BotContext) -> None:
    """Export from the /manage message with every free text and its moderation status."""
    data = cb.ExportAllTexts.unpack(callback_data(update))
    if data.format not in FORMATS:
        raise cb.InvalidCallback("unknown format")
    request = ExportRequest(data.consultation_id, data.format, all_texts=True)
    await _send_export(update, context, request)


@requires(Role.STAFF, "/export")
async def export(update: Update, context: BotContext) -> None:
    """``/export SLUG [csv|xlsx|json] [all]``: the responses as a file.

    Free texts are masked; only approved ones are included unless ``all`` is added, which
    includes every text with its moderation status.
    """
    await _send_export(update, context, parse_export_args(list(context.args or [])))


async def _send_export(update: Update, context: BotContext, request: ExportRequest) -> None:
    """Check and audit the request in the update's transaction; then write and send the file.

    The file is written after that transaction, in a read-only transaction of its own and with
    its rows built in a worker thread (:func:`models.export.write_export`): on SQLite the
    writers' queue is not held for the seconds an export takes, and residents' answers go on.
    """
    chosen: list[Consultation] = []
    reply = await run(update, context, lambda scene: _export(scene, request, chosen))
    await deliver(update, context, reply)
    if not chosen:
        return
    consultation = chosen[0]
    runtime = context.runtime
    with tempfile.TemporaryFile() as file:
        async with runtime.sessionmaker() as session, session.begin():
            fmt = cast(Format, request.format)
            rows = await write_export(
                session,
                consultation.id or 0,
                fmt,
                cast(BinaryIO, file),
                batch_size=EXPORT_BATCH,
                all_texts=request.all_texts,
                yes_no=yes_no_words(consultation.languages[0]),
                placeholder=moderation_views.placeholder,
                zone=runtime.timezone,
                factor=runtime.underrepresented_factor,
            )
        file.seek(0)
        await context.bot.send_document(
            update.effective_chat.id if update.effective_chat else 0,
            InputFile(
                file,
                filename=f"{export_file_name(consultation.slug, all_texts=request.all_texts)}"
                f".{request.format}",
            ),
            caption=views.export_caption(rows),
            parse_mode=ParseMode.HTML,
        )


async def _export(scene: Scene, request: ExportRequest, chosen: list[Consultation]) -> Reply:
    """Find the consultation asked for and audit its export; the file is written after."""
    if request.which is None or not request.format:
        return Reply(send=[views.export_usage()])
    consultation = await _consultation(scene.session, request.which)
    if consultation is None:
        return Reply(send=[views.no_such_consultation()])
    # The pseudonyms' secret is made (once ever) here, in a transaction that writes.
    await instance_secret(scene.session)
    details = {"format": request.format, **({"all_texts": True} if request.all_texts else {})}
    slug = consultation.slug
    await audit(scene.session, scene.user_id, "consultation.export", slug, details, now=scene.now)
    chosen.append(consultation)
    on_button = scene.message_id is not None
    return Reply(notice=views.export_ready() if on_button else None)
