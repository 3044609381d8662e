"""``/outcome``: staff pick a closed consultation to tell its participants what came of it.

Writing and sending the outcome is the wizard in ``handlers/wizards/outcome.py``.
"""

from __future__ import annotations

from telegram import Update

from handlers.common import Reply, Scene, answer
from handlers.context import BotContext
from handlers.guards import requires
from handlers.i18n import current_language
from handlers.views.outcomes import closed_list
from models.followups import closed_consultations, count_outcome_audience
from models.roles import Role


@requires(Role.STAFF, "/outcome")
async def outcome_command(update: Update, context: BotContext) -> None:
    """``/outcome``: the closed consultations, each with how many asked to hear."""
    await answer(update, context, closed_consultations_list)


async def closed_consultations_list(scene: Scene) -> Reply:
    """The closed consultations to write an outcome for."""
    closed = await closed_consultations(scene.session, scene.now)
    counted = [(c, await count_outcome_audience(scene.session, c)) for c in closed]
    return Reply(send=[closed_list(counted, current_language())])
