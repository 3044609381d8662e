"""Broadcasts and events: each broadcast's progress, live, with pause and cancel; each event's
attendance and waiting list.

Progress is chat's own message (:func:`handlers.views.broadcast.progress_message`) beside the
numbers; the page asks for the table again every few seconds (htmx). Pause, resume and cancel
are :func:`models.outbox.control`, the function chat's buttons call. Attendance names nobody:
each person is the pseudonymous key of the exports.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dashboard.desk import DESK, PREFIX, VISIT, Desk
from bot.dashboard.guard import page
from bot.dashboard.render import show
from handlers.views import broadcast as broadcast_views
from handlers.views import events as event_views
from models import events, outbox
from models.arenas import Arena
from models.consultation import Consultation
from models.events import Event, EventState
from models.outbox import Broadcast, BroadcastState
from models.pseudonym import pseudonymizer
from models.roles import Role, audit


@dataclass(frozen=True)
class Progress:
    """One broadcast's line: its name, state, numbers and chat's progress text."""

    broadcast: Broadcast
    name: Markup
    sent: int
    failed: int
    remaining: int
    text: str

    @property
    def active(self) -> bool:
        """True while it can still be paused, resumed or cancelled."""
        return self.broadcast.state in outbox.ACTIVE_STATES


async def _progress(db: AsyncSession, desk: Desk, broadcast: Broadcast) -> Progress:
    counts = await outbox.delivery_counts(db, broadcast.id or 0)
    cid = broadcast.consultation_id
    consultation = await db.get(Consultation, cid) if cid else None
    unwritten = 0
    if broadcast.queued_at is None and broadcast.audience_size:
        unwritten = max(broadcast.audience_size - counts.total, 0)
    message = broadcast_views.progress_message(
        broadcast, consultation, counts, desk.rt, desk.now()
    )
    return Progress(
        broadcast,
        Markup(broadcast_views.label(broadcast, consultation)),  # noqa: S704 - escaped by the view
        counts.sent,
        counts.failed + counts.unreachable,
        counts.pending + unwritten,
        message.text,
    )


@page(Role.STAFF, "dashboard.broadcasts")
async def broadcasts(request: web.Request) -> web.Response:
    """Recent broadcasts with their progress (the table refreshes itself)."""
    desk = request.app[DESK]
    async with desk.reading() as db:
        rows = [await _progress(db, desk, b) for b in await outbox.recent_broadcasts(db)]
    # The table asks for its rows again every few seconds (htmx): then only they come back.
    template = "_broadcast_rows.html" if request.query.get("rows") == "1" else "broadcasts.html"
    problem = request.query.get("problem") == "state"
    return show(request, template, {"rows": rows, "problem": problem})


@page(Role.STAFF, "broadcast.control")
async def control(request: web.Request) -> web.StreamResponse:
    """Pause, resume or cancel a broadcast (cancelling asks first, on its own page)."""
    desk = request.app[DESK]
    action = request.match_info["action"]
    raw = request.match_info["id"]
    async with desk.transaction() as db:
        found = await db.get(Broadcast, int(raw)) if raw.isdecimal() and len(raw) < 10 else None
        if found is None or found.state == BroadcastState.DRAFT:
            raise web.HTTPNotFound()
        if action == "cancel-question":
            progress = await _progress(db, desk, found)
            return show(request, "cancel_broadcast.html", {"p": progress})
        if action not in outbox.CONTROLS:
            raise web.HTTPNotFound()
        done = await outbox.control(db, found, action, request[VISIT].user_id, desk.now())
    target = f"{PREFIX}/broadcasts" + ("" if done else "?problem=state")
    return web.Response(status=303, headers={"Location": target})


@page(Role.STAFF, "dashboard.events")
async def event_list(request: web.Request) -> web.Response:
    """Events with their answers: yes, maybe, no, waiting, and the places."""
    desk = request.app[DESK]
    async with desk.reading() as db:
        found = await events.recent_events(db)
        rows = [(event, await events.counts(db, event.id or 0)) for event in found]
    return show(request, "events.html", {"rows": rows, "now": desk.now()})


async def _event(request: web.Request, db: AsyncSession) -> Event:
    raw = request.match_info["id"]
    found = await db.get(Event, int(raw)) if raw.isdecimal() and len(raw) < 10 else None
    if found is None or found.state == EventState.DRAFT:
        raise web.HTTPNotFound()
    return found


@page(Role.STAFF, "event.attendance")
async def event_detail(request: web.Request) -> web.Response:
    """One event's counts and its attendance: pseudonymous keys, answers, the waiting list."""
    desk = request.app[DESK]
    async with desk.transaction() as db:
        event = await _event(request, db)
        arena = await db.get(Arena, event.arena_id)
        count = await events.counts(db, event.id or 0)
        key = await pseudonymizer(db)
        attendees = [
            (key(a.participant_id), a) for a in await events.attendance(db, event.id or 0)
        ]
    context = {"event": event, "arena": arena, "count": count, "attendees": attendees}
    return show(request, "event.html", context)


@page(Role.STAFF, "event.attendance")
async def attendance_csv(request: web.Request) -> web.Response:
    """The attendance list as CSV, as chat sends it; audited."""
    desk = request.app[DESK]
    async with desk.transaction() as db:
        event = await _event(request, db)
        key = await pseudonymizer(db)
        attendees = await events.attendance(db, event.id or 0)
        content = event_views.attendance_csv(attendees, key, desk.rt.timezone)
        actor = request[VISIT].user_id
        await audit(db, actor, "event.attendance", f"event:{event.id}", now=desk.now())
    return web.Response(
        body=content,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="event-{event.id}-attendance.csv"'},
    )
