"""Arenas for citizens: ``/arenas``, ``/start a_<slug>``, and the answers to the offers.

Joining an arena is an opt-in (its :class:`models.arenas.Subscription` row records what and
when), and every place that offers it also offers to leave with one tap. At the end of a
consultation the person is asked whether they want to hear what came of it (a follow-up
opt-in, :mod:`models.followups`) and, when the consultation names an arena, whether they want
to join it (:func:`handlers.consult.after_completion`): one message with the summary, whose
offers are answered by :func:`on_finished`.
"""

from __future__ import annotations

from functools import partial

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update

from handlers import callbacks as cb
from handlers.common import Reply, Scene, answer, callback_data
from handlers.consent import resume, take_consent
from handlers.context import BotContext
from handlers.privacy import consented
from handlers.rsvp import citizen_card
from handlers.views import arenas as views
from handlers.views.finish import finished_message
from handlers.views.outgoing import Outgoing
from handlers.views.privacy import welcome
from models import events
from models.arenas import (
    Arena,
    find_arena,
    list_arenas,
    subscribe,
    subscribed_arena_ids,
    unsubscribe,
)
from models.consultation import Consultation
from models.followups import followups_of, offers_after, record_followup
from models.participant import Participant, has_consented
from models.response import UnknownQuestion, show_summary

#: Upcoming events shown with an arena (its card, or after joining).
EVENTS_SHOWN = 3


async def _arenas_list(session: AsyncSession, person: Participant) -> Outgoing:
    """Every arena with a join or leave button, then the follow-ups the person asked for."""
    arenas = await list_arenas(session)
    joined = await subscribed_arena_ids(session, person.id or 0)
    return views.arenas_message(arenas, joined, await followups_of(session, person))


async def _coming_up(scene: Scene, arena: Arena, person: Participant) -> list[Outgoing]:
    """The arena's next events, each with the person's answer."""
    session = scene.session
    coming = await events.upcoming(session, scene.now, arena_id=arena.id, limit=EVENTS_SHOWN)
    if not coming:
        return []
    cards = [
        await citizen_card(session, event, person, scene.runtime.timezone) for event in coming
    ]
    return [views.coming_up(), *cards]


async def _arena_or_list(scene: Scene, person: Participant, arena: Arena | None) -> list[Outgoing]:
    """An arena's card and its next events; the list of arenas when it no longer exists."""
    if arena is None:
        return [views.arena_not_found(), await _arenas_list(scene.session, person)]
    joined = arena.id in await subscribed_arena_ids(scene.session, person.id or 0)
    return [views.arena_card(arena, joined), *await _coming_up(scene, arena, person)]


# ---------------------------------------------------------------------- /arenas


async def show_arenas(update: Update, context: BotContext) -> None:
    """List the arenas to join or leave."""
    await answer(update, context, _show_arenas)


async def _show_arenas(scene: Scene) -> Reply:
    person = await consented(scene.session, scene.participant)
    return Reply(send=[await _arenas_list(scene.session, person)])


async def on_toggle(update: Update, context: BotContext) -> None:
    """Join or leave an arena; the message the button was on shows the new state."""
    data = cb.ArenaToggle.unpack(callback_data(update))
    if data.where not in ("l", "o", "c") or data.join not in (0, 1):
        raise cb.InvalidCallback("unknown arena action")
    await answer(update, context, lambda scene: _toggle(scene, data))


async def _toggle(scene: Scene, data: cb.ArenaToggle) -> Reply:
    session = scene.session
    person = await consented(session, scene.participant)
    arena = await session.get(Arena, data.arena_id)
    if arena is None:
        return Reply(notice=views.arena_gone())
    was_member = arena.id in await subscribed_arena_ids(session, person.id or 0)
    joined = bool(data.join)
    if joined:
        await subscribe(session, person.id or 0, arena.id or 0, scene.now)
    else:
        await unsubscribe(session, person.id or 0, arena.id or 0, scene.now)
    if data.where == "l":
        edit = await _arenas_list(session, person)
    elif data.where == "o":
        edit = views.offer_message(arena, joined)
    else:
        edit = views.arena_card(arena, joined)
    send = await _coming_up(scene, arena, person) if joined and not was_member else []
    return Reply(edit=edit, notice=views.membership_notice(arena, joined), send=send)


async def on_followup(update: Update, context: BotContext) -> None:
    """Record yes or no to hearing what came of a consultation; withdrawable with one tap."""
    data = cb.FollowUp.unpack(callback_data(update))
    if data.where not in ("o", "l") or data.wanted not in (0, 1):
        raise cb.InvalidCallback("unknown follow-up action")
    await answer(update, context, lambda scene: _followup(scene, data))


async def _followup(scene: Scene, data: cb.FollowUp) -> Reply:
    person = await consented(scene.session, scene.participant)
    consultation = await scene.session.get(Consultation, data.consultation_id)
    if consultation is None:
        return Reply(notice=views.consultation_gone())
    wanted = bool(data.wanted)
    await record_followup(scene.session, person, consultation, wanted, scene.now)
    if data.where == "l":
        edit = await _arenas_list(scene.session, person)
    else:
        edit = views.followup_offer(consultation, wanted)
    return Reply(edit=edit, notice=views.followup_notice(wanted))


async def on_finished(update: Update, context: BotContext) -> None:
    """Take an offer on the message that ended a consultation; show the message again."""
    data = cb.Finished.unpack(callback_data(update))
    if data.offer not in ("f", "a") or data.value not in (0, 1):
        raise cb.InvalidCallback("unknown offer")
    await answer(update, context, lambda scene: _finished(scene, data))


async def _finished(scene: Scene, data: cb.Finished) -> Reply:
    session, now = scene.session, scene.now
    person = await consented(session, scene.participant)
    try:
        position = await show_summary(session, person, data.consultation_id, now)
    except UnknownQuestion:
        return Reply(notice=views.consultation_gone())
    consultation = position.view.consultation
    offers = await offers_after(session, person.id or 0, consultation)
    wanted = bool(data.value)
    send: list[Outgoing] = []
    if data.offer == "f":
        await record_followup(session, person, consultation, wanted, now)
        offers.wanted, notice = wanted, views.followup_notice(wanted)
    elif offers.arena is not None:
        arena = offers.arena
        if wanted and not offers.joined:
            await subscribe(session, person.id or 0, arena.id or 0, now)
            send = await _coming_up(scene, arena, person)
        elif not wanted:
            await unsubscribe(session, person.id or 0, arena.id or 0, now)
        offers.joined, notice = wanted, views.membership_notice(arena, wanted)
    else:
        return Reply(notice=views.arena_gone())
    return Reply(edit=finished_message(position, offers, thanks=False), notice=notice, send=send)


# ---------------------------------------------------------------------- a_<slug> links


async def arena_link(scene: Scene, slug: str, source: str | None) -> Reply:
    """``/start a_<slug>``: the arena with its join button (after consent, if needed)."""
    arena = await find_arena(scene.session, slug)
    person = scene.participant
    if person is None or not await has_consented(scene.session, person):
        if arena is None:
            return Reply(send=[views.arena_not_found(), welcome(0, source or "")])
        return Reply(send=[welcome(source=source or "", arena_id=arena.id or 0)])
    reply = Reply()
    resumed = await resume(scene, person)
    if resumed is not None:
        reply.send.append(resumed)
    reply.send += await _arena_or_list(scene, person, arena)
    return reply


async def on_consent(update: Update, context: BotContext) -> None:
    """Store the decision on the privacy notice from an arena's link, then show the arena."""
    data = cb.ArenaConsent.unpack(callback_data(update))
    await answer(update, context, lambda scene: take_consent(scene, data, partial(_linked, data)))


async def _linked(data: cb.ArenaConsent, scene: Scene, person: Participant) -> list[Outgoing]:
    """After a yes: the arena the link pointed to."""
    arena = await scene.session.get(Arena, data.arena_id)
    return await _arena_or_list(scene, person, arena)
