"""The end of a consultation as one message: thanks, the summary, then the offers after it.

Finishing used to arrive as a run of messages (a lone tick, thanks, the follow-up offer, the
arena offer, the summary); now it is one message whose buttons change an answer or take an
offer. Taking an offer shows the whole message again, so it never loses its summary.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from handlers import callbacks as cb
from handlers.i18n import _
from handlers.views.arenas import followup_offer, offer_message
from handlers.views.consultation import response_language, summary_message
from handlers.views.languages import reading
from handlers.views.outgoing import Outgoing
from models.followups import Offers
from models.response import Position


def finished_message(position: Position, offers: Offers, *, thanks: bool) -> Outgoing:
    """Thanks (on finishing), the summary with its change buttons, and the offers below.

    In the response's language, as its questions were: one message, one language.
    """
    with reading(response_language(position)):
        return _finished_message(position, offers, thanks=thanks)


def _finished_message(position: Position, offers: Offers, *, thanks: bool) -> Outgoing:
    summary = summary_message(position)
    cid = position.view.id
    parts = []
    if thanks and position.view.consultation.as_poll:
        parts.append(_("Thank you! Your answer is saved."))  # one vote in a native poll
    elif thanks:
        parts.append(_("Thank you! Your answers are saved."))
    parts.append(summary.text)
    rows = list(summary.keyboard.inline_keyboard) if summary.keyboard else []
    followup = followup_offer(
        offers.consultation, offers.wanted, lambda v: cb.Finished(cid, "f", v)
    )
    said = [followup]
    if offers.arena is not None:
        said.append(offer_message(offers.arena, offers.joined, lambda v: cb.Finished(cid, "a", v)))
    for offer in said:
        parts.append(offer.text)
        if offer.keyboard is not None:
            rows.extend(offer.keyboard.inline_keyboard)
    return Outgoing("\n\n".join(parts), InlineKeyboardMarkup(rows))
