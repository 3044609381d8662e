"""Messages nobody asked for just then: the reminder to finish, and /stop and its undoing."""

from __future__ import annotations

from html import escape

from handlers import callbacks as cb
from handlers.i18n import _
from handlers.i18n import language as writing_in
from handlers.views.outgoing import Outgoing, keyboard, row
from models.base import localized
from models.consultation import Consultation

Payload = dict[str, object]


def finish_payload(consultation: Consultation, language: str) -> Payload:
    """The one reminder to finish a consultation, in ``language`` (an outbox payload)."""
    title = escape(localized(consultation.title, language, consultation.languages[0]))
    with writing_in(language):
        text = "\n\n".join(
            [
                _(
                    "You started <b>{title}</b> but did not finish. Your answers are saved: "
                    "continue where you left off?"
                ).format(title=title),
                "<i>"
                + _("This is the only reminder. Send /stop if you want no messages from us.")
                + "</i>",
            ]
        )
        buttons = keyboard(row(_("▶ Continue"), cb.OpenConsultation(consultation.id or 0)))
        return {"text": text, "parse_mode": "HTML", "reply_markup": buttons.to_dict()}


def stopped(*, already: bool) -> Outgoing:
    """After /stop: nothing more is sent unasked (or nothing was)."""
    if already:
        return Outgoing(_("You already get no messages from us. Send /start to get them again."))
    return Outgoing(
        _(
            "Done: we send you no more messages: no invitations, reminders or news. "
            "Your answers, arenas and follow-ups are kept. "
            "Send /start to get messages again."
        )
    )


def nothing_to_stop() -> Outgoing:
    """/stop from someone the bot stores nothing about."""
    return Outgoing(_("We store nothing about you, so we send you nothing."))


def resumed() -> Outgoing:
    """Someone who had sent /stop is back."""
    return Outgoing(_("You will get messages from us again: invitations, reminders and news."))
