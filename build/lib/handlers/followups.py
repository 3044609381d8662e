"""Follow-ups for residents: ``/stop``, and the one reminder to finish a consultation.

"You said, we did" (``/outcome``) is in ``handlers/outcomes.py`` and its wizard.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from telegram import Update

from handlers.common import Reply, Scene, answer
from handlers.context import BotContext, Runtime
from handlers.views import reminders as reminder_views
from handlers.views.reminders import Payload, finish_payload
from models.consultation import Consultation
from models.followups import stop_messages
from models.reminders import (
    FINISH_BATCH,
    ReminderPolicy,
    Unfinished,
    cancel_pointless_finish_reminders,
    queue_finish_reminders,
    unfinished_to_remind,
)
from models.stops import stopped_at

logger = logging.getLogger(__name__)

#: Seconds between looks for people to remind to finish (every replica looks; one writes).
FINISH_REMINDER_TICK = 30.0


# ---------------------------------------------------------------------- /stop


async def stop(update: Update, context: BotContext) -> None:
    """``/stop``: no more messages that are not replies; unsent ones end at once."""
    await answer(update, context, _stop)


async def _stop(scene: Scene) -> Reply:
    person = scene.participant
    if person is None:
        return Reply(send=[reminder_views.nothing_to_stop()])
    if await stopped_at(scene.session, person.id or 0) is not None:
        return Reply(send=[reminder_views.stopped(already=True)])
    await stop_messages(scene.session, person, scene.now)
    return Reply(send=[reminder_views.stopped(already=False)])


# ---------------------------------------------------------------------- the reminder to finish


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
        added, due = await _remind_batch(runtime, policy, policy.finish_after, now, first=first)
        queued += added
        first = False
        if due < FINISH_BATCH:
            break
    if queued:
        logger.info("Queued %d reminders to finish a consultation", queued)


async def _remind_batch(
    runtime: Runtime, policy: ReminderPolicy, after: timedelta, now: datetime, *, first: bool
) -> tuple[int, int]:
    """Queue the reminders of one batch of people due one; how many queued, how many due."""
    lock = runtime.transaction_lock or contextlib.nullcontext()
    async with lock, runtime.sessionmaker() as session, session.begin():
        if first:
            cancelled = await cancel_pointless_finish_reminders(session, now)
            if cancelled:
                logger.info("Cancelled %d reminders to finish", cancelled)
        due = await unfinished_to_remind(session, now, after)
        titles = {
            cid: await session.get(Consultation, cid) for cid in {c.consultation_id for c in due}
        }
        queued = await queue_finish_reminders(
            session, due, now, policy, _payload_for(titles, policy.language_of)
        )
    return queued, len(due)


def _payload_for(
    consultations: dict[int, Consultation | None], language_of: Callable[[str | None], str]
) -> Callable[[Unfinished], Payload]:
    """Render each reminder once per consultation and language, however many get it."""
    rendered: dict[tuple[int, str], Payload] = {}

    def payload(item: Unfinished) -> Payload:
        code = language_of(item.language)
        key = (item.consultation_id, code)
        if key not in rendered:
            consultation = consultations[item.consultation_id]
            assert consultation is not None
            rendered[key] = finish_payload(consultation, code)
        return rendered[key]

    return payload
