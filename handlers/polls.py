"""Votes in native Telegram polls, and stopping polls when their consultation closes."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden

from handlers.common import Abort, Reply, Scene, answer
from handlers.consult import after_completion
from handlers.context import BotContext
from handlers.privacy import consented
from handlers.views import consultation as views
from handlers.views.outgoing import Outgoing
from models import polls
from models.response import ConsultationNotOpen

logger = logging.getLogger(__name__)


async def on_poll_answer(update: Update, context: BotContext) -> None:
    """Store a vote as the person's answer."""
    poll_answer = update.poll_answer
    assert poll_answer is not None
    if poll_answer.user is None:  # a vote on behalf of a channel: not a person we can reply to
        logger.info("Ignored a poll vote from a chat in update %s", update.update_id)
        return
    poll_id, indexes = poll_answer.poll_id, list(poll_answer.option_ids)
    await answer(update, context, lambda scene: _vote(scene, poll_id, indexes))


async def _vote(scene: Scene, poll_id: str, indexes: list[int]) -> Reply:
    person = await consented(scene.session, scene.participant)
    try:
        result = await polls.vote(scene.session, person, poll_id, indexes, scene.now)
    except (ConsultationNotOpen, polls.UnknownPoll) as error:
        closed = isinstance(error, ConsultationNotOpen)
        raise Abort(Reply(send=[Outgoing(views.vote_refused(closed=closed))])) from error
    if not result.retracted and result.position.just_completed:
        # No reminder to finish any more; one message thanks, shows the answer and asks
        # whether to hear back (and to join the consultation's arena, if it names one).
        return Reply(
            send=await after_completion(scene.session, person, result.position, scene.now)
        )
    return Reply(send=views.vote_taken(withdrawn=result.retracted))


async def stop_closed_polls(context: BotContext) -> None:
    """Close in Telegram every poll whose consultation has closed (a scheduled job)."""
    runtime = context.runtime
    async with runtime.sessionmaker() as session:
        due = await polls.polls_to_stop(session, runtime.clock())
    stopped = []
    for poll in due:
        try:
            await context.bot.stop_poll(poll.chat_id, poll.message_id)
        except (BadRequest, Forbidden):
            # Already closed, deleted, or the person blocked the bot: nothing left to stop.
            logger.info("Poll message %s could not be stopped; marking it stopped", poll.id)
        stopped.append(poll.id or 0)
    if stopped:
        async with runtime.sessionmaker() as session, session.begin():
            await polls.mark_stopped(session, stopped, runtime.clock())
        logger.info("Stopped %d polls of closed consultations", len(stopped))
