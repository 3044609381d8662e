"""Staff run consultations: /manage (list, open, close), /results with charts, /export."""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime
from html import escape
from typing import BinaryIO, cast

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ParseMode

from handlers import callbacks as cb
from handlers.charts import bar_labels, result_charts
from handlers.common import Outgoing, Reply, Scene, answer, deliver, run
from handlers.context import BotContext
from handlers.i18n import _, current_language, ngettext
from handlers.render import title_of
from handlers.staff import authorized, refusal
from models.base import localized
from models.consultation import (
    Consultation,
    Status,
    change_status,
    find_consultation,
    is_open,
    list_consultations,
    load_consultation,
    response_counts,
)
from models.consultation_file import QuestionType
from models.export import FORMATS, Format, write_export
from models.moderation import Status as ModerationStatus
from models.moderation import text_counts
from models.polls import can_be_poll
from models.results import ConsultationResults, QuestionResult, consultation_results
from models.roles import Role, audit

logger = logging.getLogger(__name__)

PAGE_SIZE = 8


def _status_text(consultation: Consultation, now: datetime) -> str:
    if consultation.status == Status.OPEN and not is_open(consultation, now):
        opens = consultation.opens_at
        if opens is not None and now < opens:
            return _("opens {date}").format(date=f"{opens:%d.%m.%Y %H:%M} UTC")
        return _("closed by its end time")
    return {
        Status.DRAFT: _("draft"),
        Status.OPEN: _("open"),
        Status.CLOSED: _("closed"),
    }[Status(consultation.status)]


async def _listing(session: AsyncSession, page: int, now: datetime) -> Outgoing:
    rows = list(reversed(await list_consultations(session)))  # newest first
    if not rows:
        return Outgoing(
            _(
                "No consultations yet. Send me a consultation file (.yaml), "
                "or make a poll with /newpoll."
            )
        )
    pages = (len(rows) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(page, 0), pages - 1)
    lines = [_("<b>Consultations</b>")]
    buttons = []
    for consultation, responses, completed in rows[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
        lines.append(
            f"• <b>{title_of(consultation)}</b> ({_status_text(consultation, now)}): "
            + _("{started} started, {completed} completed").format(
                started=responses, completed=completed
            )
        )
        buttons.append(
            [
                InlineKeyboardButton(
                    "⚙ " + consultation.slug,
                    callback_data=cb.ManageOne(consultation.id or 0).pack(),
                )
            ]
        )
    navigation = []
    if page > 0:
        navigation.append(InlineKeyboardButton("◀", callback_data=cb.ManageList(page - 1).pack()))
    if page < pages - 1:
        navigation.append(InlineKeyboardButton("▶", callback_data=cb.ManageList(page + 1).pack()))
    if navigation:
        buttons.append(navigation)
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(buttons))


async def _detail(session: AsyncSession, consultation: Consultation, now: datetime) -> Outgoing:
    view = await load_consultation(session, consultation.id or 0)
    assert view is not None
    started, completed = await response_counts(session, consultation.id or 0)
    cid = consultation.id or 0
    lines = [
        f"<b>{title_of(consultation)}</b>",
        f"<code>{consultation.slug}</code> · {_status_text(consultation, now)}",
        ngettext("{n} question", "{n} questions", len(view.questions)).format(
            n=len(view.questions)
        ),
        _("{started} started, {completed} completed").format(started=started, completed=completed),
        _("Link: {link}").format(link=f"<code>?start=c_{consultation.slug}</code>"),
    ]
    status_row = []
    if consultation.status != Status.OPEN:
        status_row.append(
            InlineKeyboardButton(_("▶ Open"), callback_data=cb.SetStatus(cid, "open").pack())
        )
        if can_be_poll(view):
            status_row.append(
                InlineKeyboardButton(
                    _("▶ Open as Telegram poll"), callback_data=cb.SetStatus(cid, "poll").pack()
                )
            )
    else:
        status_row.append(
            InlineKeyboardButton(_("■ Close"), callback_data=cb.SetStatus(cid, "closed").pack())
        )
    keyboard = [
        status_row,
        [InlineKeyboardButton(_("📊 Results"), callback_data=cb.ShowResults(cid).pack())],
        [
            InlineKeyboardButton(
                _("📣 Broadcast"), callback_data=cb.WizardStart("b", cid, "").pack()
            )
        ],
        [
            InlineKeyboardButton(f"⬇ {fmt.upper()}", callback_data=cb.ExportAs(cid, fmt).pack())
            for fmt in FORMATS
        ],
        [
            InlineKeyboardButton(
                "⬇ " + _("XLSX with all texts and their moderation"),
                callback_data=cb.ExportAllTexts(cid, "xlsx").pack(),
            )
        ],
        [InlineKeyboardButton(_("◀ All consultations"), callback_data=cb.ManageList(0).pack())],
    ]
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(keyboard))


async def manage(update: Update, context: BotContext) -> None:
    """List the consultations with their status and answer counts."""

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "/manage"):
            return refusal(update)
        return Reply(send=[await _listing(session, 0, now)])

    await answer(update, context, action)


async def on_manage_list(update: Update, context: BotContext) -> None:
    """Show a page of the list in place."""
    data = cb.ManageList.unpack(_data(update))

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "manage.list"):
            return refusal(update)
        return Reply(edit=await _listing(session, data.page, now))

    await answer(update, context, action)


async def on_manage_one(update: Update, context: BotContext) -> None:
    """Show one consultation with its actions."""
    data = cb.ManageOne.unpack(_data(update))

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "manage.show"):
            return refusal(update)
        consultation = await session.get(Consultation, data.consultation_id)
        if consultation is None:
            return Reply(notice=_("That consultation no longer exists."))
        return Reply(edit=await _detail(session, consultation, now))

    await answer(update, context, action)


async def on_set_status(update: Update, context: BotContext) -> None:
    """Open or close a consultation from its /manage message."""
    data = cb.SetStatus.unpack(_data(update))
    if data.status not in ("open", "poll", "closed"):
        raise cb.InvalidCallback("unknown status")
    actor = update.effective_user.id if update.effective_user else None

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "manage.status"):
            return refusal(update)
        consultation = await session.get(Consultation, data.consultation_id)
        if consultation is None:
            return Reply(notice=_("That consultation no longer exists."))
        if data.status == "poll":
            view = await load_consultation(session, consultation.id or 0)
            assert view is not None
            if not can_be_poll(view):
                return Reply(
                    notice=_(
                        "Only a single question with 2-12 short options can be a Telegram poll."
                    )
                )
            consultation.as_poll = True
        elif data.status == "open":
            consultation.as_poll = False
        change_status(consultation, Status.CLOSED if data.status == "closed" else Status.OPEN, now)
        await audit(
            session, actor, f"consultation.{consultation.status}", consultation.slug, now=now
        )
        await session.flush()
        notice = _("Opened.") if consultation.status == Status.OPEN else _("Closed.")
        return Reply(edit=await _detail(session, consultation, now), notice=notice)

    await answer(update, context, action)


def _moderation_line(counts: dict[ModerationStatus, int]) -> str:
    """Free texts by moderation status, e.g. "approved: 5, waiting for review: 2"."""
    labels = {
        ModerationStatus.APPROVED: _("approved"),
        ModerationStatus.PENDING: _("waiting for review"),
        ModerationStatus.REJECTED: _("rejected"),
        ModerationStatus.FLAGGED: _("flagged for staff"),
    }
    return ", ".join(f"{label}: {counts[s]}" for s, label in labels.items() if counts.get(s))


def _question_lines(
    question: QuestionResult,
    language: str,
    fallback: str,
    moderation: dict[ModerationStatus, int] | None = None,
) -> str:
    lines = [f"<b>{escape(localized(question.text, language, fallback))}</b>"]
    if question.type is QuestionType.FREE_TEXT:
        line = ngettext("{n} text", "{n} texts", question.answered).format(n=question.answered)
        if moderation:
            line += f" ({_moderation_line(moderation)})"
        lines.append("  " + line)
    elif question.type is QuestionType.SCALE:
        if question.mean is not None:
            lines.append("  " + _("Average: {mean}").format(mean=f"{question.mean:.1f}"))
        lines.append("  " + ", ".join(f"{t.key}: {t.count}" for t in question.tallies))
    else:
        labels = bar_labels(question, language, fallback)
        lines.extend(
            f"  {escape(label)}: {tally.count} ({tally.percent:.0f} %)"
            for label, tally in zip(labels, question.tallies, strict=True)
        )
    extra = []
    if question.skipped:
        extra.append(_("skipped by {n}").format(n=question.skipped))
    if question.stopped_here:
        extra.append(_("{n} stopped here").format(n=question.stopped_here))
    if extra:
        lines.append("  <i>" + ", ".join(extra) + "</i>")
    return "\n".join(lines)


def results_text(
    results: ConsultationResults,
    moderation: dict[int, dict[ModerationStatus, int]] | None = None,
) -> str:
    """Counts, percentages, completion, drop-off and sources, in the reader's language.

    ``moderation``: free texts per question id and moderation status (texts are only counted).
    """
    language = current_language()
    fallback = results.languages[0]
    parts = [
        f"<b>{escape(results.title_in(language))}</b>",
        _("{started} started, {completed} completed ({rate} %)").format(
            started=results.started,
            completed=results.completed,
            rate=f"{results.completion_rate * 100:.0f}",
        ),
    ]
    parts.extend(
        _question_lines(q, language, fallback, (moderation or {}).get(q.question_id))
        for q in results.questions
    )
    if results.sources:
        sources = [
            "  "
            + _("{source}: {started} started, {completed} completed").format(
                source=escape(s.source), started=s.responses, completed=s.completed
            )
            for s in results.sources
        ]
        parts.append("\n".join([_("<b>Where people came from</b>"), *sources]))
    return "\n\n".join(parts)


async def on_results(update: Update, context: BotContext) -> None:
    """Show results and one chart per choice or scale question."""
    data = cb.ShowResults.unpack(_data(update))
    await _send_results(update, context, data.consultation_id, "manage.results")


async def results(update: Update, context: BotContext) -> None:
    """``/results SLUG``: results and charts; without a slug, the list to pick from."""
    slug = context.args[0] if context.args else None
    await _send_results(update, context, slug, "/results")


async def _send_results(
    update: Update, context: BotContext, which: int | str | None, what: str
) -> None:
    found: dict[str, ConsultationResults] = {}

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, what):
            return refusal(update)
        consultation = await _consultation(session, which)
        if consultation is None:
            if which is None:
                return Reply(send=[await _listing(session, 0, now)])
            return Reply(
                send=[Outgoing(_("There is no consultation with that name. See /manage."))]
            )
        counted = await consultation_results(session, consultation.id or 0)
        assert counted is not None
        found["results"] = counted
        free_texts = [q.question_id for q in counted.questions if q.type is QuestionType.FREE_TEXT]
        moderation = await text_counts(session, free_texts)
        return Reply(send=[Outgoing(results_text(counted, moderation))])

    reply = await run(update, context, action)
    await deliver(update, context, reply)
    counted = found.get("results")
    if counted is None or not counted.started:
        return
    chat_id = update.effective_chat.id if update.effective_chat else 0
    language = current_language()
    for chart in await result_charts(
        counted,
        language,
        subtitle=lambda q: ngettext("{n} answer", "{n} answers", q.answered).format(n=q.answered),
    ):
        await context.bot.send_photo(
            chat_id, InputFile(chart.png, filename=f"{chart.question_key}.png")
        )


async def _consultation(session: AsyncSession, which: int | str | None) -> Consultation | None:
    if which is None:
        return None
    if isinstance(which, int):
        return await session.get(Consultation, which)
    return await find_consultation(session, which)


async def on_export(update: Update, context: BotContext) -> None:
    """Export from the /manage message."""
    data = cb.ExportAs.unpack(_data(update))
    if data.format not in FORMATS:
        raise cb.InvalidCallback("unknown format")
    await _send_export(
        update, context, data.consultation_id, cast(Format, data.format), "manage.export"
    )


async def on_export_all_texts(update: Update, context: BotContext) -> None:
    """Export from the /manage message with every free text and its moderation status."""
    data = cb.ExportAllTexts.unpack(_data(update))
    if data.format not in FORMATS:
        raise cb.InvalidCallback("unknown format")
    await _send_export(
        update,
        context,
        data.consultation_id,
        cast(Format, data.format),
        "manage.export",
        all_texts=True,
    )


# The word after /export SLUG [FORMAT] that asks for every free text, not only approved ones.
ALL_TEXTS_WORDS = frozenset({"all", "alle"})


async def export(update: Update, context: BotContext) -> None:
    """``/export SLUG [csv|xlsx|json] [all]``: the responses as a file.

    Free texts are masked; only approved ones are included unless ``all`` is added, which
    includes every text with its moderation status.
    """
    args = [a.lower() for a in context.args or []]
    all_texts = bool(args) and args[-1] in ALL_TEXTS_WORDS
    if all_texts:
        args = args[:-1]
    fmt = args[1] if len(args) > 1 else "xlsx"
    if fmt not in FORMATS or len(args) > 2:
        fmt = ""
    await _send_export(
        update,
        context,
        args[0] if args else None,
        cast(Format, fmt),
        "/export",
        all_texts=all_texts,
    )


async def _send_export(
    update: Update,
    context: BotContext,
    which: int | str | None,
    fmt: Format,
    what: str,
    *,
    all_texts: bool = False,
) -> None:
    chat_id = update.effective_chat.id if update.effective_chat else 0
    actor = update.effective_user.id if update.effective_user else None
    with tempfile.TemporaryFile() as file:
        written: dict[str, object] = {}

        async def action(scene: Scene) -> Reply:
            session = scene.session
            now = scene.now
            if not await authorized(session, update, context, Role.STAFF, what):
                return refusal(update)
            if which is None or not fmt:
                return Reply(send=[Outgoing(_export_usage())])
            consultation = await _consultation(session, which)
            if consultation is None:
                return Reply(
                    send=[Outgoing(_("There is no consultation with that name. See /manage."))]
                )
            rows = await write_export(
                session, consultation.id or 0, fmt, cast(BinaryIO, file), all_texts=all_texts
            )
            await audit(
                session,
                actor,
                "consultation.export",
                consultation.slug,
                {"format": fmt, "rows": rows, **({"all_texts": True} if all_texts else {})},
                now=now,
            )
            written.update(slug=consultation.slug, rows=rows)
            return Reply(notice=_("Export ready.") if update.callback_query else None)

        reply = await run(update, context, action)
        await deliver(update, context, reply)
        if not written:
            return
        file.seek(0)
        rows = int(cast(int, written["rows"]))
        await context.bot.send_document(
            chat_id,
            InputFile(file, filename=f"{written['slug']}.{fmt}"),
            caption=ngettext("{n} response", "{n} responses", rows).format(n=rows),
            parse_mode=ParseMode.HTML,
        )


def _export_usage() -> str:
    return (
        _(
            "Write /export followed by the consultation's name and csv, xlsx or json, "
            "for example /export {example} xlsx. /manage lists them."
        ).format(example="holmen-frivilligsentral")
        + "\n"
        + _(
            "Written answers are included only when a moderator approved them. Add the word "
            "all at the end to get every written answer with its moderation status."
        )
    )


def _data(update: Update) -> str | None:
    return update.callback_query.data if update.callback_query else None
