"""Consultations as staff see them in /manage: the list, one consultation, results, exports."""

from __future__ import annotations

from datetime import datetime
from html import escape

from telegram import InlineKeyboardButton

from handlers import callbacks as cb
from handlers.i18n import _, current_language, ngettext
from handlers.views.broadcast import WIZARD_KEY as BROADCAST_WIZARD
from handlers.views.charts import bar_labels
from handlers.views.consultation import title_of
from handlers.views.outgoing import Outgoing, button, keyboard, row
from models.base import localized
from models.consultation import Consultation, ConsultationView, Status, is_open
from models.consultation_file import QuestionType
from models.export import FORMATS
from models.moderation import Status as ModerationStatus
from models.polls import can_be_poll
from models.results import ConsultationResults, QuestionResult

PAGE_SIZE = 8


def status_text(consultation: Consultation, now: datetime) -> str:
    """Draft, open, closed; or when an open one opens or that its end time passed."""
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


def _counts(started: int, completed: int) -> str:
    return _("{started} started, {completed} completed").format(
        started=started, completed=completed
    )


def listing(rows: list[tuple[Consultation, int, int]], page: int, now: datetime) -> Outgoing:
    """A page of consultations (newest first) with their status and response counts."""
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
    for consultation, started, completed in rows[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
        status = status_text(consultation, now)
        lines.append(
            f"• <b>{title_of(consultation)}</b> ({status}): {_counts(started, completed)}"
        )
        buttons.append(row("⚙ " + consultation.slug, cb.ManageOne(consultation.id or 0)))
    navigation = []
    if page > 0:
        navigation.append(button("◀", cb.ManageList(page - 1)))
    if page < pages - 1:
        navigation.append(button("▶", cb.ManageList(page + 1)))
    if navigation:
        buttons.append(navigation)
    return Outgoing("\n".join(lines), keyboard(*buttons))


def _status_row(consultation: Consultation, view: ConsultationView) -> list[InlineKeyboardButton]:
    cid = consultation.id or 0
    if consultation.status == Status.OPEN:
        return [button(_("■ Close"), cb.SetStatus(cid, "closed"))]
    buttons = [button(_("▶ Open"), cb.SetStatus(cid, "open"))]
    if can_be_poll(view):
        buttons.append(button(_("▶ Open as Telegram poll"), cb.SetStatus(cid, "poll")))
    return buttons


def detail(view: ConsultationView, started: int, completed: int, now: datetime) -> Outgoing:
    """One consultation: status, counts, its link, and what staff can do with it."""
    consultation = view.consultation
    cid = consultation.id or 0
    questions = len(view.questions)
    lines = [
        f"<b>{title_of(consultation)}</b>",
        f"<code>{consultation.slug}</code> · {status_text(consultation, now)}",
        ngettext("{n} question", "{n} questions", questions).format(n=questions),
        _counts(started, completed),
        _("Link: {link}").format(link=f"<code>?start=c_{consultation.slug}</code>"),
    ]
    all_texts = "⬇ " + _("XLSX with all texts and their moderation")
    return Outgoing(
        "\n".join(lines),
        keyboard(
            _status_row(consultation, view),
            row(_("📊 Results"), cb.ShowResults(cid)),
            row(_("📣 Broadcast"), cb.WizardStart(BROADCAST_WIZARD, cid, "")),
            [button(f"⬇ {fmt.upper()}", cb.ExportAs(cid, fmt)) for fmt in FORMATS],
            row(all_texts, cb.ExportAllTexts(cid, "xlsx")),
            row(_("◀ All consultations"), cb.ManageList(0)),
        ),
    )


def status_changed(consultation: Consultation) -> str:
    """The toast after opening or closing."""
    return _("Opened.") if consultation.status == Status.OPEN else _("Closed.")


def not_a_poll() -> str:
    """Why a consultation cannot be opened as a native poll."""
    return _("Only a single question with 2-12 short options can be a Telegram poll.")


def no_such_consultation() -> Outgoing:
    """A slug that names no consultation."""
    return Outgoing(_("There is no consultation with that name. See /manage."))


def consultation_gone() -> str:
    """A button of a consultation that was removed."""
    return _("That consultation no longer exists.")


# ---------------------------------------------------------------------- results


def _moderation_line(counts: dict[ModerationStatus, int]) -> str:
    """Free texts by moderation status, e.g. "approved: 5, waiting for review: 2"."""
    labels = {
        ModerationStatus.APPROVED: _("approved"),
        ModerationStatus.PENDING: _("waiting for review"),
        ModerationStatus.REJECTED: _("rejected"),
        ModerationStatus.FLAGGED: _("flagged for staff"),
    }
    return ", ".join(f"{label}: {counts[s]}" for s, label in labels.items() if counts.get(s))


def _tally_lines(
    question: QuestionResult,
    language: str,
    fallback: str,
    moderation: dict[ModerationStatus, int] | None,
) -> list[str]:
    """The counts of one question: texts by status, a scale's mean, or one line per option."""
    if question.type is QuestionType.FREE_TEXT:
        line = ngettext("{n} text", "{n} texts", question.answered).format(n=question.answered)
        if moderation:
            line += f" ({_moderation_line(moderation)})"
        return ["  " + line]
    if question.type is QuestionType.SCALE:
        lines = []
        if question.mean is not None:
            lines.append("  " + _("Average: {mean}").format(mean=f"{question.mean:.1f}"))
        lines.append("  " + ", ".join(f"{t.key}: {t.count}" for t in question.tallies))
        return lines
    labels = bar_labels(question, language, fallback)
    return [
        f"  {escape(label)}: {tally.count} ({tally.percent:.0f} %)"
        for label, tally in zip(labels, question.tallies, strict=True)
    ]


def _question_lines(
    question: QuestionResult,
    language: str,
    fallback: str,
    moderation: dict[ModerationStatus, int] | None = None,
) -> str:
    lines = [f"<b>{escape(localized(question.text, language, fallback))}</b>"]
    lines += _tally_lines(question, language, fallback, moderation)
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


def answers_subtitle(question: QuestionResult) -> str:
    """The line under a chart's question: how many answered."""
    return ngettext("{n} answer", "{n} answers", question.answered).format(n=question.answered)


# ---------------------------------------------------------------------- exports


def export_usage() -> Outgoing:
    """How to write /export."""
    return Outgoing(
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


def export_ready() -> str:
    """The toast when an export's file follows."""
    return _("Export ready.")


def export_caption(rows: int) -> str:
    """The line under an export's file."""
    return ngettext("{n} response", "{n} responses", rows).format(n=rows)
