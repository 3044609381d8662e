"""A moderator rejects a text for a reason in their own words: "✏ Another reason…".

A one-step dialog: the button under the reject reasons (in a private review) opens it for that
text and version; the moderator's next message is the reason. The text is rejected only if it
is still the version they saw and nobody decided first, as with any moderation button.
"""

from __future__ import annotations

from handlers.common import Reply, Scene
from handlers.i18n import _
from handlers.moderation import next_text
from handlers.views import moderation as views
from handlers.views.outgoing import Outgoing
from handlers.wizard import End, Result, Step, Turn, Typed, Wizard, begin
from models import moderation as mod
from models.moderation import NOTE_LIMIT, ItemView, Reason, Status
from models.roles import Role


async def _open(where: Scene, item_id: int, version: str) -> Reply:
    """Ask for the reason, if the text still waits in the version the moderator saw."""
    item = await mod.load_item(where.session, item_id)
    if item is None:
        return Reply(notice=views.text_gone())
    if not item.pending or str(item.version) != version:
        return Reply(notice=views.decided_before(mine=False))
    return await begin(REASON, where, item, item.id, step=f"reason:{version}")


async def _ask_reason(_turn: Turn[ItemView]) -> Outgoing:
    return views.reason_prompt()


async def _take_reason(turn: Turn[ItemView], typed: Typed) -> Result:
    note = " ".join(typed.text.split())
    if not note:
        return Reply(send=[Outgoing(_("Please write it as text."))])
    if len(note) > NOTE_LIMIT:
        return Reply(send=[views.reason_too_long()])
    try:
        item = await mod.decide(
            turn.session,
            turn.subject.id,
            int(turn.param),
            turn.user_id,
            Status.REJECTED,
            turn.now,
            Reason.OTHER,
            note=note,
        )
    except mod.ItemGone:
        return End(Reply(send=[Outgoing(views.text_gone()), await next_text(turn)]))
    except mod.ModerationError:
        return End(Reply(send=[Outgoing(views.decided_before(mine=False)), await next_text(turn)]))
    queue = await mod.queue_size(turn.session)
    decided = views.decided_message(
        item, queue, views.who(item, turn.user_id, "", in_group=False), undo=True
    )
    return End(Reply(send=[decided, await next_text(turn)]))


REASON: Wizard[ItemView] = Wizard(
    name="reason",
    key=views.REASON_WIZARD,
    role=Role.MODERATOR,
    steps={"reason": Step(ask=_ask_reason, text=_take_reason)},
    gone=views.text_gone,
    load=mod.load_item,
    cancel_deletes=False,
    opener=_open,
)
