"""Consultations as staff see them in /manage: the list, one consultation, results, exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from telegram import InlineKeyboardButton

from handlers import callbacks as cb
from handlers.i18n import _, current_language, ngettext
from handlers.views.broadcast import WIZARD_KEY as BROADCAST_WIZARD
from handlers.views.charts import bar_labels
from handlers.views.consultation import plain_title, title_of
from handlers.views.links import link_line
from handlers.views.moderation import label as moderation_label
from handlers.views.outgoing import Outgoing, button, keyboard, row, yes_or_no
from handlers.views.times import local_time, zone_name
from handlers.views.words import decimal, language_name, shorten
from models.base import localized
from models.channels import Channel
from models.consultation import Consultation, ConsultationView, Status, is_open
from models.consultation_file import QuestionType
from models.export import FORMATS
from models.masking import Part, render
from models.moderation import Status as ModerationStatus
from models.polls import can_be_poll
from models.results import DIRECT, ConsultationResults, QuestionResult

PAGE_SIZE = 8
# Telegram's limits: a message's text and a photo's caption, in characters.
MESSAGE_LIMIT = 4000
CAPTION_LIMIT = 1024
# Approved free texts shown per question in /results, and how much of each.
TEXTS_SHOWN = 3
TEXT_SHOWN = 160


# Room for a consultation's title on its button in the list.
TITLE_BUTTON = 40


def status_text(consultation: Consultation, now: datetime, zone: str) -> str:
    """Draft, open, closed; or when an open one opens or that its end time passed."""
    if consultation.status == Status.OPEN and not is_open(consultation, now):
        opens = consultation.opens_at
        if opens is not None and now < opens:
            when = f"{local_time(opens, zone, now)} ({zone_name(zone)})"
            return _("opens {date}").format(date=when)
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


def listing(
    rows: list[tuple[Consultation, int, int]],
    page: int,
    now: datetime,
    zone: str,
    *,
    flagged: int = 0,
) -> Outgoing:
    """A page of consultations (newest first) with their status and response counts.

    ``flagged``: texts moderators flagged for staff that nobody has handled yet.
    """
    if not rows and not flagged:
        return Outgoing(
            _(
                "No consultations yet. Send me a consultation file (.yaml), "
                "or make a poll with /newpoll."
            )
        )
    pages = max((len(rows) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 0), pages - 1)
    lines = [_("<b>Consultations</b>")]
    buttons = []
    if flagged:
        lines.insert(0, flagged_line(flagged) + "\n")
        buttons.append(row("⚑ " + _("Flagged texts"), cb.ShowFlags(0)))
    for consultation, started, completed in rows[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
        status = status_text(consultation, now, zone)
        lines.append(
            f"• <b>{title_of(consultation)}</b> ({status}): {_counts(started, completed)}"
        )
        label = "⚙ " + shorten(plain_title(consultation), TITLE_BUTTON)
        buttons.append(row(label, cb.ManageOne(consultation.id or 0)))
    if navigation := _page_buttons(page, pages):
        buttons.append(navigation)
    return Outgoing("\n".join(lines), keyboard(*buttons))


def _page_buttons(page: int, pages: int) -> list[InlineKeyboardButton]:
    """◀ and ▶ to the neighbouring pages of the list, where there are any."""
    navigation = []
    if page > 0:
        navigation.append(button("◀", cb.ManageList(page - 1)))
    if page < pages - 1:
        navigation.append(button("▶", cb.ManageList(page + 1)))
    return navigation


def flagged_line(flagged: int) -> str:
    """How many flagged texts wait for staff."""
    return "⚑ " + ngettext(
        "<b>{n} text flagged for staff</b> by the moderators waits for you.",
        "<b>{n} texts flagged for staff</b> by the moderators wait for you.",
        flagged,
    ).format(n=flagged)


def _status_row(consultation: Consultation, view: ConsultationView) -> list[InlineKeyboardButton]:
    cid = consultation.id or 0
    if consultation.status == Status.OPEN:
        # Closing a consultation people may be answering asks first (close_question).
        return [button(_("■ Close"), cb.SetStatus(cid, "close?"))]
    buttons = [button(_("▶ Open"), cb.SetStatus(cid, "open"))]
    if can_be_poll(view):
        buttons.append(button(_("▶ Open as Telegram poll"), cb.SetStatus(cid, "poll")))
    return buttons


def detail(
    view: ConsultationView,
    started: int,
    completed: int,
    now: datetime,
    zone: str,
    link: str,
) -> Outgoing:
    """One consultation: status, counts, its full link, and what staff can do with it."""
    consultation = view.consultation
    cid = consultation.id or 0
    questions = len(view.questions)
    lines = [
        f"<b>{title_of(consultation)}</b>",
        f"<code>{consultation.slug}</code> · {status_text(consultation, now, zone)}",
        ngettext("{n} question", "{n} questions", questions).format(n=questions),
        _counts(started, completed),
        link_line(link),
    ]
    all_texts = "⬇ " + _("XLSX with all texts and their moderation")
    return Outgoing(
        "\n".join(lines),
        keyboard(
            _status_row(consultation, view),
            row(_("📊 Results"), cb.ShowResults(cid)),
            row("🔳 " + _("Link and QR code for posters"), cb.ShowLink(cid)),
            row(_("📣 Broadcast"), cb.WizardStart(BROADCAST_WIZARD, cid, "")),
            [button(f"⬇ {fmt.upper()}", cb.ExportAs(cid, fmt)) for fmt in FORMATS],
            row(all_texts, cb.ExportAllTexts(cid, "xlsx")),
            row(_("◀ All consultations"), cb.ManageList(0)),
        ),
    )


def close_question(consultation: Consultation, started: int, completed: int) -> Outgoing:
    """Ask before closing a consultation that is open: nobody can answer it afterwards."""
    cid = consultation.id or 0
    unfinished = started - completed
    text = _("Close <b>{title}</b>? Nobody can answer it after that.").format(
        title=title_of(consultation)
    )
    if unfinished:
        text += " " + ngettext(
            "{n} person has started and not finished; they cannot finish it.",
            "{n} people have started and not finished; they cannot finish it.",
            unfinished,
        ).format(n=unfinished)
    return yes_or_no(
        text,
        (_("■ Yes, close it"), cb.SetStatus(cid, "closed")),
        (_("No, keep it open"), cb.ManageOne(cid)),
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


@dataclass(frozen=True)
class FreeTexts:
    """What /results shows of free texts: counts by moderation status, the first approved."""

    slug: str
    counts: dict[int, dict[ModerationStatus, int]] = field(default_factory=dict)
    """Per question id, how many texts have each moderation status."""
    approved: dict[int, list[tuple[Part, ...]]] = field(default_factory=dict)
    """Per question id, the first approved texts, split around personal data."""


def _free_text_lines(question: QuestionResult, texts: FreeTexts) -> list[str]:
    """How many texts, by moderation status, then the first approved ones and where the rest is."""
    moderation = texts.counts.get(question.question_id)
    line = ngettext("{n} text", "{n} texts", question.answered).format(n=question.answered)
    if moderation:
        line += f" ({_moderation_line(moderation)})"
    lines = ["  " + line]
    shown = texts.approved.get(question.question_id, [])
    for parts in shown:
        plain = render(parts, lambda kind: f"[{moderation_label(kind)}]")
        lines.append(f"  💬 <i>{escape(shorten(' '.join(plain.split()), TEXT_SHOWN))}</i>")
    approved = (moderation or {}).get(ModerationStatus.APPROVED, 0)
    if approved > len(shown):
        lines.append(
            "  "
            + _("The first {shown} of {n} approved texts. All of them: {command}").format(
                shown=len(shown),
                n=approved,
                command=f"<code>/export {escape(texts.slug)} xlsx</code>",
            )
        )
    return lines


def _tally_lines(question: QuestionResult, language: str, fallback: str) -> list[str]:
    """The counts of one choice or scale question: a scale's mean, or one line per option."""
    if question.type is QuestionType.SCALE:
        lines = []
        if question.mean is not None:
            lines.append("  " + _("Average: {mean}").format(mean=decimal(question.mean)))
        lines.append("  " + ", ".join(f"{t.key}: {t.count}" for t in question.tallies))
        return lines
    labels = bar_labels(question, language, fallback)
    return [
        f"  {escape(label)}: {tally.count} ({tally.percent:.0f} %)"
        for label, tally in zip(labels, question.tallies, strict=True)
    ]


def source_name(source: str) -> str:
    """A link source as staff read it; people who came without one are "without a link"."""
    return _("without a link") if source == DIRECT else source


def _question_lines(
    question: QuestionResult, language: str, fallback: str, texts: FreeTexts
) -> str:
    lines = [f"<b>{escape(localized(question.text, language, fallback))}</b>"]
    if question.type is QuestionType.FREE_TEXT:
        lines += _free_text_lines(question, texts)
    else:
        lines += _tally_lines(question, language, fallback)
    extra = []
    if question.skipped:
        extra.append(_("skipped by {n}").format(n=question.skipped))
    if question.stopped_here:
        extra.append(_("{n} stopped here").format(n=question.stopped_here))
    if extra:
        lines.append("  <i>" + ", ".join(extra) + "</i>")
    return "\n".join(lines)


def results_messages(
    results: ConsultationResults, texts: FreeTexts | None = None
) -> list[Outgoing]:
    """The results as messages, each within Telegram's limit, split between questions."""
    messages: list[Outgoing] = []
    current = ""
    for part in results_text(results, texts).split("\n\n"):
        if current and len(current) + 2 + len(part) > MESSAGE_LIMIT:
            messages.append(Outgoing(current))
            current = ""
        current = f"{current}\n\n{part}" if current else part[:MESSAGE_LIMIT]
    messages.append(Outgoing(current))
    return messages


def results_text(results: ConsultationResults, texts: FreeTexts | None = None) -> str:
    """Counts, percentages, completion, drop-off and sources, in the reader's language.

    ``texts``: free texts by moderation status, and the first approved ones to show.
    """
    texts = texts or FreeTexts(results.slug)
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
    parts.extend(_question_lines(q, language, fallback, texts) for q in results.questions)
    if results.sources:
        sources = [
            "  "
            + _("{source}: {started} started, {completed} completed").format(
                source=escape(source_name(s.source)), started=s.responses, completed=s.completed
            )
            for s in results.sources
        ]
        parts.append("\n".join([_("<b>Where people came from</b>"), *sources]))
    if any(c.channel != Channel.TELEGRAM for c in results.channels):
        parts.append(_channel_lines(results))
    if len(results.answered_in) > 1:
        parts.append(_language_lines(results))
    return "\n\n".join(parts)


def _language_lines(results: ConsultationResults) -> str:
    """Responses by the language they were answered in, and how to see one language's."""
    lines = [
        "  "
        + _("{source}: {started} started, {completed} completed").format(
            source=language_name(a.language) if a.language else "?",
            started=a.responses,
            completed=a.completed,
        )
        for a in results.answered_in
    ]
    hint = _("Results of one language: /results {slug} {code}").format(
        slug=results.slug, code=results.answered_in[-1].language
    )
    return "\n".join([_("<b>By the language answered in</b>"), *lines, f"<i>{hint}</i>"])


def not_a_language_of(consultation: Consultation) -> Outgoing:
    """``/results SLUG xx`` with a language the consultation is not in."""
    return Outgoing(
        _(
            "This consultation is in: {languages}. Write one of them, e.g. /results {slug} {code}."
        ).format(
            languages=", ".join(
                f"{language_name(code)} ({code})" for code in consultation.languages
            ),
            slug=consultation.slug,
            code=consultation.languages[0],
        )
    )


def filtered_heading(language: str) -> str:
    """The line above results narrowed to one language."""
    return _("Only the responses in {language}:").format(language=language_name(language))


def _channel_lines(results: ConsultationResults) -> str:
    """Responses by channel: Telegram and the web chat."""
    lines = [
        "  "
        + _("{source}: {started} started, {completed} completed").format(
            source=channel_name(c.channel), started=c.responses, completed=c.completed
        )
        for c in results.channels
    ]
    return "\n".join([_("<b>By channel</b>"), *lines])


def channel_name(channel: str) -> str:
    """How a channel is called in results: Telegram, or the municipality's web chat."""
    return "Telegram" if channel == Channel.TELEGRAM else _("web chat")


def answers_subtitle(question: QuestionResult) -> str:
    """The line under a chart's question: how many answered."""
    return ngettext("{n} answer", "{n} answers", question.answered).format(n=question.answered)


def chart_caption(question: QuestionResult, language: str, fallback: str) -> str:
    """The words of a chart, for whoever cannot see the picture: the question and its numbers.

    Telegram reads a photo's caption aloud to screen reader users; the picture itself says
    nothing to them.
    """
    question_text = shorten(localized(question.text, language, fallback), 300)
    lines = [answers_subtitle(question) + ":"]
    labels = bar_labels(question, language, fallback)
    if question.type is QuestionType.SCALE:
        # "1 (Helt uenig): 3", not the chart's "1: Helt uenig" followed by another colon.
        labels = [
            f"{t.key} ({label.split(': ', 1)[1]})" if ": " in label else label
            for t, label in zip(question.tallies, labels, strict=True)
        ]
    lines += [
        f"{shorten(label, 80)}: {tally.count} ({tally.percent:.0f} %)"
        for label, tally in zip(labels, question.tallies, strict=True)
    ]
    if question.type is QuestionType.SCALE and question.mean is not None:
        lines.append(_("Average: {mean}").format(mean=decimal(question.mean)))
    # Escaped after the cut, so no entity is cut in half.
    body = shorten("\n".join(lines), CAPTION_LIMIT - len(question_text) - 20)
    return f"<b>{escape(question_text)}</b>\n{escape(body)}"


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
