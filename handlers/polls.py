"""Votes in native Telegram polls, and stopping polls when their consultation closes."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden

from handlers.arenas import after_completion
from handlers.common import Abort, Outgoing, Reply, Scene, answer
from handlers.context import BotContext
from handlers.i18n import _
from handlers.privacy import consented
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

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        now = scene.now
        person = await consented(session, participant)
        try:
            result = await polls.vote(session, person, poll_id, indexes, now)
        except ConsultationNotOpen as error:
            raise Abort(
                Reply(send=[Outgoing(_("This poll is closed, so your vote was not counted."))])
            ) from error
        except polls.UnknownPoll as error:
            raise Abort(
                Reply(send=[Outgoing(_("I do not know this poll any more. See /consultations."))])
            ) from error
        if result.retracted:
            return Reply(send=[Outgoing(_("Your vote is withdrawn."))])
        thanks = _("Thank you! Your answer is saved.")
        if not result.position.just_completed:
            return Reply(send=[Outgoing(thanks)])
        # No reminder to finish any more; the thanks asks whether to hear back (and the arena
        # of the consultation, if any, is offered after it).
        followup, *more = await after_completion(session, person, result.position, now)
        return Reply(send=[Outgoing(f"{thanks}\n\n{followup.text}", followup.keyboard), *more])

    await answer(update, context, action)


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
