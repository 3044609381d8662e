""" "You said, we did": what residents get about a consultation's outcome, and staff's screens."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import callbacks as cb
from handlers.i18n import _, ngettext
from handlers.i18n import language as writing_in
from handlers.views.outgoing import Outgoing, row
from models.base import localized
from models.consultation import Consultation
from models.followups import OUTCOME_LIMIT, Outcome

Payload = dict[str, object]

# The outcome wizard's key in callback data (handlers/wizards/outcome.py).
WIZARD_KEY = "o"


def title_of(consultation: Consultation, language: str) -> str:
    """The consultation's title in ``language`` (or its first), escaped."""
    return escape(localized(consultation.title, language, consultation.languages[0]))


def outcome_payloads(outcome: Outcome, consultation: Consultation, language: str) -> list[Payload]:
    """What one person gets: the notice, then the document if there is one."""
    with writing_in(language):
        title = title_of(consultation, language)
        text = "\n\n".join(
            [
                _("📢 <b>You said, we did</b>: {title}").format(title=title),
                _("You asked to hear what came of this consultation. Here it is:"),
                outcome.text or "",
                "<i>" + _("Thank you for taking part!") + "</i>",
            ]
        )
        payloads: list[Payload] = [{"text": text, "parse_mode": "HTML"}]
        if outcome.document_file_id:
            payloads.append(
                {"document": outcome.document_file_id, "caption": title, "parse_mode": "HTML"}
            )
        return payloads


def closed_list(closed: Sequence[tuple[Consultation, int]], language: str) -> Outgoing:
    """The closed consultations to tell about, with how many asked to hear."""
    if not closed:
        return Outgoing(
            _(
                "No consultation is closed yet. Close one in /manage first; then "
                "tell the people who answered what came of it."
            )
        )
    lines = [_("<b>You said, we did</b>"), _("Which consultation is it about?")]
    rows = []
    for consultation, size in closed:
        asked = ngettext("{n} asked to hear", "{n} asked to hear", size).format(n=size)
        lines.append(f"• {title_of(consultation, language)}: {asked}")
        start = cb.WizardStart(WIZARD_KEY, consultation.id or 0, "")
        rows.append(row("📢 " + consultation.slug, start))
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows))


def _wizard_row(draft: Outcome, text: str, choice: str) -> list[InlineKeyboardButton]:
    return row(text, cb.WizardButton(WIZARD_KEY, draft.id or 0, choice, ""))


def _cancel_row(draft: Outcome) -> list[InlineKeyboardButton]:
    return _wizard_row(draft, _("✖ Cancel"), "drop")


def text_prompt(draft: Outcome, title: str) -> Outgoing:
    """Ask what came of the consultation."""
    text = _(
        "<b>What came of {title}?</b>\nWrite it as your next message: what was decided and "
        "why. Links are fine. At most {n} characters."
    ).format(title=title, n=OUTCOME_LIMIT)
    return Outgoing(text, InlineKeyboardMarkup([_cancel_row(draft)]))


def document_prompt(draft: Outcome) -> Outgoing:
    """Offer to attach a document."""
    text = _("Add a document, for example the decision as a PDF? Send it now, or press Skip.")
    rows = [_wizard_row(draft, _("Skip ▶"), "skip"), _cancel_row(draft)]
    return Outgoing(text, InlineKeyboardMarkup(rows))


def confirm_screen(draft: Outcome, preview: Payload, size: int) -> list[Outgoing]:
    """The notice as people will get it, how many, and the button that sends it."""
    lines = [_("<b>Ready</b>")]
    if draft.document_name:
        lines.append(_("With the document {name}.").format(name=escape(draft.document_name)))
    if size:
        lines.append(
            ngettext(
                "{n} person answered and asked to hear what came of it.",
                "{n} people answered and asked to hear what came of it.",
                size,
            ).format(n=size)
        )
        send = ngettext("✅ Send to {n} person", "✅ Send to {n} people", size).format(n=size)
    else:
        lines.append(_("Nobody has asked to hear what came of it, so nobody gets it."))
        send = _("✅ Save it anyway")
    rows = [_wizard_row(draft, send, "send"), _cancel_row(draft)]
    return [
        Outgoing(_("<b>Preview</b>:")),
        Outgoing(str(preview["text"])),
        Outgoing("\n".join(lines), InlineKeyboardMarkup(rows)),
    ]


def sent(count: int) -> Outgoing:
    """The confirmation that replaces the send button."""
    return Outgoing(
        ngettext(
            "✅ Sent. {n} person gets what came of it.",
            "✅ Sent. {n} people get what came of it.",
            count,
        ).format(n=count)
    )
