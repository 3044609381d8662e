"""Residents answer an event's invitation: yes, maybe, no, or the waiting list of a full one."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update

from handlers import callbacks as cb
from handlers.common import Abort, Reply, Scene, answer, callback_data
from handlers.context import BotContext
from handlers.i18n import _
from handlers.privacy import consented
from handlers.views.events import EventTexts, event_card, rsvp_notice
from handlers.views.outgoing import Outgoing
from models import events
from models.arenas import Arena
from models.events import Event, RsvpAnswer, RsvpRefused
from models.participant import Participant

CHOICES = {
    "yes": RsvpAnswer.YES,
    "maybe": RsvpAnswer.MAYBE,
    "no": RsvpAnswer.NO,
    "wait": RsvpAnswer.WAITING,
}


async def on_rsvp(update: Update, context: BotContext) -> None:
    """Take a tap on yes, maybe, no or the waiting list; show the answer in place."""
    data = cb.RsvpChoice.unpack(callback_data(update))
    choice = CHOICES.get(data.answer)
    if choice is None:
        raise cb.InvalidCallback("unknown answer")
    await answer(update, context, lambda scene: reply_to_invitation(scene, data.event_id, choice))


async def reply_to_invitation(scene: Scene, event_id: int, choice: RsvpAnswer) -> Reply:
    """Record the person's answer and show the event with it."""
    person = await consented(scene.session, scene.participant)
    runtime = scene.runtime
    try:
        result = await events.answer(
            scene.session,
            event_id,
            person,
            choice,
            scene.now,
            EventTexts(runtime.timezone),
            runtime.reminder_policy(),
        )
    except RsvpRefused as refused:
        raise Abort(_refused(refused, runtime.timezone)) from refused
    arena = await scene.session.get(Arena, result.event.arena_id)
    card = event_card(
        result.event,
        arena,
        runtime.timezone,
        current=result.answer,
        position=result.position,
        full=result.full,
    )
    return Reply(edit=card, notice=rsvp_notice(result.answer, full=result.full))


def _refused(refused: RsvpRefused, zone: str) -> Reply:
    if refused.reason == "cancelled" and refused.event is not None:
        return Reply(
            notice=_("This event is cancelled."), edit=event_card(refused.event, None, zone)
        )
    if refused.reason == "started":
        return Reply(notice=_("This event has already started, so answers are closed."))
    return Reply(notice=_("This event no longer exists."))


async def citizen_card(
    session: AsyncSession, event: Event, participant: Participant, zone: str
) -> Outgoing:
    """An event with the person's current answer, for /arenas and an arena's link."""
    rsvp = await events.rsvp_of(session, event.id or 0, participant.id or 0)
    arena = await session.get(Arena, event.arena_id)
    position = await events.waiting_position(session, rsvp) if rsvp else None
    return event_card(
        event,
        arena,
        zone,
        current=RsvpAnswer(rsvp.answer) if rsvp else None,
        position=position,
    )
