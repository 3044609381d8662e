"""Staff and focus groups: ``/focusgroup`` lists the drawn ones and the arenas to draw from.

Composing and drawing a group is the wizard in ``handlers/wizards/focus_group.py``; residents
answer their invitation in ``handlers/lottery.py``. A drawn group shows its composition against
the quotas (refreshed with 🔄) and sends its draw record, with which anyone can check the draw.
"""

from __future__ import annotations

from telegram import InputFile, Update

from handlers import callbacks as cb
from handlers.common import Reply, Scene, callback_data, deliver, run
from handlers.context import BotContext
from handlers.guards import requires
from handlers.views import focus_groups as views
from handlers.views.outgoing import Outgoing
from models.arenas import Arena, list_arenas
from models.focus_groups import FocusGroup, FocusState, composition, draw_record, drawn_groups
from models.profile import background_questions
from models.roles import Role, audit

MENU_SIZE = 8
ACTIONS = ("show", "csv", "list")


async def focus_menu(scene: Scene) -> Outgoing:
    """The drawn groups still to meet, with how many said yes, and the arenas to draw from."""
    session = scene.session
    groups = await drawn_groups(session, scene.now, MENU_SIZE)
    counted = [(g, sum(c.accepted for c in await composition(session, g))) for g in groups]
    arenas = (await list_arenas(session))[:MENU_SIZE]
    return views.menu(counted, arenas, scene.runtime.timezone, scene.now)


async def group_detail(scene: Scene, group: FocusGroup) -> Outgoing:
    """A drawn group against its quotas, now."""
    session = scene.session
    arena = await session.get(Arena, group.arena_id)
    counts = await composition(session, group)
    questions = await background_questions(session)
    return views.composition(group, arena, counts, questions, scene.runtime.timezone)


@requires(Role.STAFF, "focus.admin")
async def on_admin(update: Update, context: BotContext) -> None:
    """A drawn group's staff view: its composition, its draw record, back to the list."""
    data = cb.FocusAdmin.unpack(callback_data(update))
    if data.action not in ACTIONS:
        raise cb.InvalidCallback("unknown action")
    files: list[tuple[InputFile, str]] = []
    reply = await run(update, context, lambda scene: admin(scene, data, files))
    await deliver(update, context, reply)
    for file, caption in files:
        chat_id = update.effective_chat.id if update.effective_chat else 0
        await context.bot.send_document(chat_id, file, caption=caption)


async def admin(scene: Scene, data: cb.FocusAdmin, files: list[tuple[InputFile, str]]) -> Reply:
    """Carry out one staff action on a drawn group; a draw record goes into ``files``."""
    if data.action == "list":
        return Reply(edit=await focus_menu(scene))
    group = await scene.session.get(FocusGroup, data.group_id)
    if group is None or group.state != FocusState.DRAWN or group.seed is None:
        return Reply(notice=views.refused_notice("gone"))
    if data.action == "csv":
        rows = await draw_record(scene.session, group)
        name = f"focus-group-{group.id}-draw.csv"
        files.append(
            (InputFile(views.record_csv(rows), filename=name), views.record_caption(group.seed))
        )
        await audit(
            scene.session, scene.user_id, "focus.record", f"focus:{group.id}", now=scene.now
        )
        return Reply(notice=views.record_ready())
    return Reply(edit=await group_detail(scene, group))
