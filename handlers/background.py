"""Background questions for residents: offered once after a finished consultation, answered one
tap each, and kept under /privacy, where the person sees, changes or deletes them and can say
they never want to be drawn for a focus group.

Every step needs the person's consent to the privacy notice (:func:`handlers.privacy.consented`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update

from handlers import callbacks as cb
from handlers.common import Reply, Scene, answer, callback_data
from handlers.context import BotContext
from handlers.privacy import consented
from handlers.views import background as views
from handlers.views.outgoing import Outgoing
from models import profile
from models.focus_groups import never_drawn, set_lottery_choice
from models.participant import Participant


async def offer_after_completion(
    session: AsyncSession, person: Participant, now: datetime
) -> list[Outgoing]:
    """The offer of the background questions, once: never again after it was made."""
    if not await profile.should_offer(session, person.id or 0):
        return []
    await profile.mark_offered(session, person.id or 0, now)
    return [views.offer(await profile.background_questions(session))]


async def on_offer(update: Update, context: BotContext) -> None:
    """Start the questions, say no thanks, or act on the answers under /privacy."""
    data = cb.BackgroundOffer.unpack(callback_data(update))
    act = ACTIONS.get(data.action)
    if act is None:
        raise cb.InvalidCallback("unknown background action")
    await answer(update, context, lambda scene: _for_consenting(scene, act))


async def _for_consenting(
    scene: Scene, act: Callable[[Scene, Participant], Awaitable[Reply]]
) -> Reply:
    return await act(scene, await consented(scene.session, scene.participant))


async def _start(scene: Scene, person: Participant) -> Reply:
    """The first question, as a new message (the offer or the card stays to read)."""
    questions = await profile.background_questions(scene.session)
    if not questions:
        return Reply(notice=views.gone())
    answers = await profile.answers_of(scene.session, person.id or 0)
    return Reply(send=[views.question_message(questions[0], 1, len(questions), answers)])


async def _no_thanks(scene: Scene, person: Participant) -> Reply:
    await profile.decline(scene.session, person.id or 0, scene.now)
    return Reply(edit=views.declined())


async def _card(scene: Scene, person: Participant, notice: str | None = None) -> Reply:
    """The person's answers and choices, in place of the pressed message's."""
    session = scene.session
    questions = await profile.background_questions(session)
    if not questions:
        return Reply(send=[views.no_questions()])
    answers = await profile.answers_of(session, person.id or 0)
    may_draw = not await never_drawn(session, [person.id or 0])
    card = views.card(questions, answers, may_draw=may_draw)
    if notice is None:
        return Reply(send=[card])
    return Reply(edit=card, notice=notice)


async def _delete(scene: Scene, person: Participant) -> Reply:
    await profile.erase_background(scene.session, person.id or 0)
    return await _card(scene, person, views.deleted())


async def _never_draw(scene: Scene, person: Participant) -> Reply:
    await set_lottery_choice(scene.session, person.id or 0, may_draw=False, now=scene.now)
    return await _card(scene, person, views.draw_notice(may_draw=False))


async def _may_draw(scene: Scene, person: Participant) -> Reply:
    await set_lottery_choice(scene.session, person.id or 0, may_draw=True, now=scene.now)
    return await _card(scene, person, views.draw_notice(may_draw=True))


ACTIONS: dict[str, Callable[[Scene, Participant], Awaitable[Reply]]] = {
    "start": _start,
    "no": _no_thanks,
    "card": _card,
    "del": _delete,
    "draw0": _never_draw,
    "draw1": _may_draw,
}


async def on_answer(update: Update, context: BotContext) -> None:
    """Store a band (or "prefer not to say") and show the next question in place."""
    data = cb.BackgroundAnswer.unpack(callback_data(update))
    await answer(update, context, lambda scene: _take(scene, data))


async def _take(scene: Scene, data: cb.BackgroundAnswer) -> Reply:
    person = await consented(scene.session, scene.participant)
    band = data.option_id or None  # 0: "prefer not to say"
    try:
        following = await profile.answer_background(
            scene.session, person.id or 0, data.question_id, band, scene.now
        )
    except profile.UnknownBackground:
        return Reply(notice=views.gone())
    if following is None:
        return Reply(edit=views.thanks())
    questions = await profile.background_questions(scene.session)
    number = next(i for i, q in enumerate(questions, start=1) if q.id == following.id)
    answers = await profile.answers_of(scene.session, person.id or 0)
    return Reply(edit=views.question_message(following, number, len(questions), answers))
