"""Staff control a confirmed broadcast: show its progress, pause, resume or cancel it.

Composing a broadcast is the wizard in ``handlers/wizards/broadcast.py``; the delivery worker
(``bot/delivery.py``) sends it and edits the progress message these buttons sit under.
"""

from __future__ import annotations

from telegram import Update

from handlers import callbacks as cb
from handlers.common import Reply, Scene, answer, callback_data
from handlers.context import BotContext
from handlers.guards import requires
from handlers.i18n import _
from handlers.views import broadcast as views
from models import outbox
from models.consultation import Consultation
from models.outbox import Broadcast, BroadcastState
from models.roles import Role, audit

ACTIONS = ("show", "pause", "resume", "cancel", "cancel!")


@requires(Role.STAFF, "broadcast.control")
async def on_control(update: Update, context: BotContext) -> None:
    """Show, pause, resume or cancel a confirmed broadcast (any staff member may)."""
    data = cb.BroadcastControl.unpack(callback_data(update))
    if data.action not in ACTIONS:
        raise cb.InvalidCallback("unknown action")
    await answer(update, context, lambda scene: control(scene, data.broadcast_id, data.action))


async def control(scene: Scene, broadcast_id: int, action: str) -> Reply:
    """Carry out ``action`` on the broadcast and show its progress (or ask before cancelling)."""
    found = await scene.session.get(Broadcast, broadcast_id)
    if found is None or found.state == BroadcastState.DRAFT:
        return Reply(notice=_("That broadcast no longer exists."))
    if action == "cancel":
        if found.state not in outbox.ACTIVE_STATES:
            return Reply(notice=_("It has already ended."))
        counts = await outbox.delivery_counts(scene.session, broadcast_id)
        left = counts.pending + max((found.audience_size or 0) - counts.total, 0)
        return Reply(edit=views.cancel_question(found, left))
    notice = await _change(scene, found, action) if action != "show" else None
    counts = await outbox.delivery_counts(scene.session, broadcast_id)
    cid = found.consultation_id
    consultation = await scene.session.get(Consultation, cid) if cid else None
    progress = views.progress_message(found, consultation, counts, scene.runtime, scene.now)
    return Reply(edit=progress, notice=notice)


async def _change(scene: Scene, broadcast: Broadcast, action: str) -> str:
    """Pause, resume or cancel; say what happened."""
    change = {"pause": outbox.pause, "resume": outbox.resume, "cancel!": outbox.cancel}[action]
    if not await change(scene.session, broadcast, scene.now):
        return _("It is not in a state where that can be done.")
    name = "cancel" if action == "cancel!" else action
    await audit(
        scene.session,
        scene.user_id,
        f"broadcast.{name}",
        f"broadcast:{broadcast.id}",
        now=scene.now,
    )
    return {"pause": _("Paused."), "resume": _("Resumed."), "cancel!": _("Cancelled.")}[action]
