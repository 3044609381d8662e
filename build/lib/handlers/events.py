"""Staff and events: ``/event`` lists the upcoming ones; each has counts, a list and cancel.

Creating an event is the wizard in ``handlers/wizards/event.py``; residents answer invitations
in ``handlers/rsvp.py``. Staff see counts and a pseudonymous attendance list (CSV).
"""

from __future__ import annotations

from telegram import InputFile, Update

from handlers import callbacks as cb
from handlers.common import Reply, Scene, answer, callback_data, deliver, run
from handlers.context import BotContext
from handlers.guards import requires
from handlers.i18n import _, ngettext
from handlers.views import events as views
from handlers.views.outgoing import Outgoing
from models import events
from models.arenas import Arena, list_arenas
from models.events import Event, EventProblem, EventState
from models.pseudonym import pseudonymizer
from models.roles import Role, audit

MENU_SIZE = 8
ACTIONS = ("show", "csv", "cancel", "cancel!", "list")


@requires(Role.STAFF, "/event")
async def event_command(update: Update, context: BotContext) -> None:
    """``/event``: the upcoming events, and the arenas to create one for."""
    await answer(update, context, lambda scene: _menu_reply(scene, edit=False))


async def _menu_reply(scene: Scene, *, edit: bool) -> Reply:
    menu = await events_menu(scene)
    return Reply(edit=menu) if edit else Reply(send=[menu])


async def events_menu(scene: Scene) -> Outgoing:
    """The upcoming events with their counts, and the arenas to create one for."""
    coming = await events.upcoming(scene.session, scene.now, limit=MENU_SIZE)
    counted = [(event, await events.counts(scene.session, event.id or 0)) for event in coming]
    arenas = (await list_arenas(scene.session))[:MENU_SIZE]
    return views.events_menu(counted, arenas, scene.runtime.timezone, scene.now)


@requires(Role.STAFF, "event.admin")
async def on_admin(update: Update, context: BotContext) -> None:
    """A published event's staff view: counts, attendance CSV, cancel, back to the list."""
    data = cb.EventAdmin.unpack(callback_data(update))
    if data.action not in ACTIONS:
        raise cb.InvalidCallback("unknown action")
    files: list[InputFile] = []
    reply = await run(update, context, lambda scene: admin(scene, data, files))
    await deliver(update, context, reply)
    for file in files:
        await context.bot.send_document(
            update.effective_chat.id if update.effective_chat else 0,
            file,
            caption=_("Pseudonymous: each person is a key, the same in every export."),
        )


async def admin(scene: Scene, data: cb.EventAdmin, files: list[InputFile]) -> Reply:
    """Carry out one staff action on a published event; a CSV goes into ``files``."""
    if data.action == "list":
        return await _menu_reply(scene, edit=True)
    event = await scene.session.get(Event, data.event_id)
    if event is None or event.state == EventState.DRAFT:
        return Reply(notice=_("That event no longer exists."))
    if data.action == "csv":
        key = await pseudonymizer(scene.session)
        attendees = await events.attendance(scene.session, event.id or 0)
        content = views.attendance_csv(attendees, key, scene.runtime.timezone)
        files.append(InputFile(content, filename=f"event-{event.id}-attendance.csv"))
        await audit(
            scene.session, scene.user_id, "event.attendance", f"event:{event.id}", now=scene.now
        )
        return Reply(notice=_("Attendance list ready."))
    if data.action == "cancel":
        if event.state != EventState.PUBLISHED:
            return Reply(notice=_("It has already ended."))
        count = await events.counts(scene.session, event.id or 0)
        return Reply(edit=views.cancel_question(event, count.yes + count.maybe + count.waiting))
    notice = None
    if data.action == "cancel!":
        notice = await _cancel(scene, event)
        if notice is None:
            return Reply(notice=_("It is not in a state where that can be done."))
    return Reply(edit=await event_detail(scene, event), notice=notice)


async def _cancel(scene: Scene, event: Event) -> str | None:
    """Cancel the event and tell who answered; None when it cannot be cancelled."""
    runtime = scene.runtime
    try:
        told = await events.cancel(
            scene.session,
            event,
            scene.now,
            views.EventTexts(runtime.timezone),
            runtime.reminder_policy(),
        )
    except EventProblem:
        return None
    await audit(
        scene.session,
        scene.user_id,
        "event.cancel",
        f"event:{event.id}",
        {"told": told},
        now=scene.now,
    )
    return ngettext(
        "Cancelled. {n} person is told.", "Cancelled. {n} people are told.", told
    ).format(n=told)


async def event_detail(scene: Scene, event: Event) -> Outgoing:
    """A published event for staff, with its counts now."""
    arena = await scene.session.get(Arena, event.arena_id)
    count = await events.counts(scene.session, event.id or 0)
    return views.event_detail(event, arena, count, scene.runtime.timezone, scene.now)
