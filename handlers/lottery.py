"""Residents drawn by lot for a focus group answer their invitation: yes, no, or never again.

A no (or "never") draws the next in line of the same group at once, in the same transaction
(:func:`models.focus_groups.reply`); "never" also records that the person never wants to be
drawn, which they can take back under /privacy.
"""

from __future__ import annotations

from telegram import Update

from handlers import callbacks as cb
from handlers.common import Abort, Reply, Scene, answer, callback_data
from handlers.context import BotContext
from handlers.privacy import consented
from handlers.views import focus_groups as views
from models.arenas import Arena
from models.focus_groups import FocusAnswer, FocusRefused, reply

ANSWERS = {"yes": FocusAnswer.YES, "no": FocusAnswer.NO, "never": FocusAnswer.NEVER}


async def on_reply(update: Update, context: BotContext) -> None:
    """Take a tap on an invitation and show the answer in place."""
    data = cb.FocusReply.unpack(callback_data(update))
    choice = ANSWERS.get(data.answer)
    if choice is None:
        raise cb.InvalidCallback("unknown answer")
    await answer(update, context, lambda scene: _reply(scene, data.group_id, choice))


async def _reply(scene: Scene, group_id: int, choice: FocusAnswer) -> Reply:
    person = await consented(scene.session, scene.participant)
    runtime = scene.runtime
    texts = views.FocusTexts(runtime.timezone)
    try:
        result = await reply(
            scene.session,
            group_id,
            person.id or 0,
            choice,
            scene.now,
            texts,
            runtime.reminder_policy(),
        )
    except FocusRefused as refused:
        raise Abort(Reply(notice=views.refused_notice(refused.reason))) from refused
    arena = await scene.session.get(Arena, result.group.arena_id)
    card = views.invitation_card(result.group, arena, runtime.timezone, result.member.state)
    notice = views.reply_notice(result.member.state, never=choice == FocusAnswer.NEVER)
    return Reply(edit=card, notice=notice)
