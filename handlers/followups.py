"""Follow-ups for residents: ``/stop``, and the one reminder to finish a consultation.

"You said, we did" (``/outcome``) is in ``handlers/outcomes.py`` and its wizard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers import callbacks as cb
from handlers.common import Outgoing, Reply, Scene, answer
from handlers.context import BotContext
from handlers.i18n import _
from handlers.i18n import language as writing_in
from models.base import localized
from models.consultation import Consultation
from models.followups import stop_messages
from models.reminders import (
    FINISH_BATCH,
    Unfinished,
    cancel_pointless_finish_reminders,
    queue_finish_reminders,
    unfinished_to_remind,
)
from models.stops import stopped_at

logger = logging.getLogger(__name__)

Payload = dict[str, object]

#: Seconds between looks for people to remind to finish (every replica looks; one writes).
FINISH_REMINDER_TICK = 30.0


# ---------------------------------------------------------------------- /stop


async def stop(update: Update, context: BotContext) -> None:
    """``/stop``: no more messages that are not replies; unsent ones end at once."""

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        now = scene.now
        if participant is None:
            return Reply(send=[Outgoing(_("We store nothing about you, so we send you nothing."))])
        if await stopped_at(session, participant.id or 0) is not None:
            return Reply(
                send=[
                    Outgoing(
                        _("You already get no messages from us. Send /start to get them again.")
                    )
                ]
            )
        await stop_messages(session, participant, now)
        return Reply(
            send=[
                Outgoing(
                    _(
                        "Done: we send you no more messages: no invitations, reminders or news. "
                        "Your answers, arenas and follow-ups are kept. "
                        "Send /start to get messages again."
                    )
                )
            ]
        )

    await answer(update, context, action)


# ---------------------------------------------------------------------- the reminder to finish


def finish_payload(consultation: Consultation, language: str) -> Payload:
    """The one reminder to finish a consultation, in ``language``."""
    with writing_in(language):
        title = escape(localized(consultation.title, language, consultation.languages[0]))
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
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("▶ Continue"),
                        callback_data=cb.OpenConsultation(consultation.id or 0).pack(),
                    )
                ]
            ]
        )
        return {"text": text, "parse_mode": "HTML", "reply_markup": keyboard.to_dict()}


async def remind_unfinished(context: BotContext) -> None:
    """Queue the reminder to finish for everyone due one (a job; every replica runs it).

    One transaction per batch; the first also cancels waiting reminders that became
    pointless (finished, or the consultation closed).
    """
    runtime = context.runtime
    policy = runtime.reminder_policy()
    if policy.finish_after is None:
        return
    now = runtime.clock()
    queued = 0
    first = True
    while True:
        lock = runtime.transaction_lock
        if lock is not None:
            await lock.acquire()
        try:
            async with runtime.sessionmaker() as session, session.begin():
                if first:
                    cancelled = await cancel_pointless_finish_reminders(session, now)
                    if cancelled:
                        logger.info("Cancelled %d reminders to finish", cancelled)
                    first = False
                due = await unfinished_to_remind(session, now, policy.finish_after)
                titles = {
                    cid: await session.get(Consultation, cid)
                    for cid in {c.consultation_id for c in due}
                }
                queued += await queue_finish_reminders(
                    session, due, now, policy, _payload_for(titles, policy.language_of)
                )
        finally:
            if lock is not None:
                lock.release()
        if len(due) < FINISH_BATCH:
            break
    if queued:
        logger.info("Queued %d reminders to finish a consultation", queued)


def _payload_for(
    consultations: dict[int, Consultation | None], language_of: Callable[[str | None], str]
) -> Callable[[Unfinished], dict[str, object]]:
    rendered: dict[tuple[int, str], dict[str, object]] = {}

    def payload(item: Unfinished) -> dict[str, object]:
        code = language_of(item.language)
        key = (item.consultation_id, code)
        if key not in rendered:
            consultation = consultations[item.consultation_id]
            assert consultation is not None
            rendered[key] = finish_payload(consultation, code)
        return rendered[key]

    return payload
