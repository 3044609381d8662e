"""The event dialog: title → time → place → description → capacity → confirm, step by step.

Staff open it from ``/event`` ("+ <arena>"). Each typed answer is checked; a time in the past
or a capacity of zero is answered with what to write instead, and nothing changes. Publishing
invites the arena's subscribers through the outbox, with a calendar file.
"""

from __future__ import annotations

from handlers.common import Abort, Reply, Scene
from handlers.events import event_detail
from handlers.i18n import _, current_language
from handlers.views import events as views
from handlers.views.outgoing import Outgoing
from handlers.wizard import End, Go, Result, Step, Turn, Typed, Wizard, begin
from handlers.wizards.when import parse_event_time
from models import events
from models.arenas import Arena
from models.drafts import open_draft
from models.events import (
    DESCRIPTION_LIMIT,
    PLACE_LIMIT,
    TITLE_LIMIT,
    Event,
    EventProblem,
)
from models.roles import Role, audit

Draft = Turn[Event]


def _gone() -> str:
    return _("This draft is no longer open. Send /event to start again.")


async def _open(where: Scene, arena_id: int, _arg: str) -> Reply:
    """Start an event draft for the arena; ask for the title."""
    arena = await where.session.get(Arena, arena_id)
    if arena is None:
        return Reply(notice=_("That arena no longer exists."))
    draft = await events.new_draft(
        where.session, arena.id or 0, where.user_id, where.chat_id, current_language(), where.now
    )
    return await begin(EVENT, where, draft, draft.id)


async def _wrong(turn: Draft, problem: EventProblem) -> Abort:
    """Roll back and say what is wrong; the step asks again."""
    text = Outgoing(views.problem_text(problem))
    return Abort(Reply(send=[text, *await EVENT.ask(turn)]))


async def _text_field(turn: Draft, typed: Typed, field: str, limit: int) -> Result:
    """Store a checked text in the draft's ``field`` and go on."""
    try:
        setattr(turn.subject, field, events.check_text(typed.text, limit))
    except EventProblem as problem:
        raise await _wrong(turn, problem) from problem
    return Go()


# ---------------------------------------------------------------------- title, time, place


async def _ask_title(turn: Draft) -> Outgoing:
    arena = await turn.session.get(Arena, turn.subject.arena_id)
    return views.title_prompt(turn.subject, arena)


async def _take_title(turn: Draft, typed: Typed) -> Result:
    return await _text_field(turn, typed, "title", TITLE_LIMIT)


async def _ask_time(turn: Draft) -> Outgoing:
    return views.time_prompt(turn.subject, turn.runtime.timezone)


async def _take_time(turn: Draft, typed: Typed) -> Result:
    parsed = parse_event_time(typed.text, turn.now, turn.runtime.timezone)
    if parsed is None:
        return Reply(send=[Outgoing(_("I could not read that time.")), await _ask_time(turn)])
    try:
        events.check_times(parsed[0], parsed[1], turn.now)
    except EventProblem as problem:
        raise await _wrong(turn, problem) from problem
    turn.subject.starts_at, turn.subject.ends_at = parsed
    return Go()


async def _ask_place(turn: Draft) -> Outgoing:
    return views.place_prompt(turn.subject)


async def _take_place(turn: Draft, typed: Typed) -> Result:
    return await _text_field(turn, typed, "place", PLACE_LIMIT)


# ---------------------------------------------------------------------- description, capacity


async def _ask_description(turn: Draft) -> Outgoing:
    return views.description_prompt(turn.subject)


async def _take_description(turn: Draft, typed: Typed) -> Result:
    return await _text_field(turn, typed, "description", DESCRIPTION_LIMIT)


async def _no_description(turn: Draft, _arg: str) -> Result:
    turn.subject.description = None
    return Go(said=Outgoing(_("No description.")))


async def _ask_capacity(turn: Draft) -> Outgoing:
    return views.capacity_prompt(turn.subject)


async def _take_capacity(turn: Draft, typed: Typed) -> Result:
    number = typed.text.strip()
    try:
        # isdecimal, not isdigit: "²" is a digit that int() refuses; the length keeps it in
        # the column's range.
        if not number.lstrip("-").isdecimal() or len(number) > 9:
            raise EventProblem("capacity")
        events.check_capacity(int(number))
    except EventProblem as problem:
        raise await _wrong(turn, problem) from problem
    turn.subject.capacity = int(number)
    return Go()


async def _no_limit(turn: Draft, _arg: str) -> Result:
    turn.subject.capacity = None
    return Go(said=Outgoing(_("No limit.")))


# ---------------------------------------------------------------------- confirm


async def _ask_confirm(turn: Draft) -> list[Outgoing]:
    arena = await turn.session.get(Arena, turn.subject.arena_id)
    assert arena is not None
    invitees = await events.count_invitees(turn.session, arena.id or 0)
    return views.confirm_screen(turn.subject, arena, invitees, turn.runtime.timezone)


async def _publish(turn: Draft, _arg: str) -> Result:
    """Publish: invite the arena's subscribers; a time that has passed is asked again."""
    draft, runtime = turn.subject, turn.runtime
    texts = views.EventTexts(runtime.timezone)
    try:
        invited = await events.publish(
            turn.session, draft, turn.now, texts, runtime.reminder_policy()
        )
    except EventProblem as problem:
        if problem.code != "past":
            raise Abort(Reply(notice=views.problem_text(problem))) from problem
        return Go("time", said=Outgoing(views.problem_text(problem)))
    detail = {"arena_id": draft.arena_id, "invited": invited}
    await audit(
        turn.session, turn.user_id, "event.publish", f"event:{draft.id}", detail, now=turn.now
    )
    return End(Reply(edit=views.published(invited), send=[await event_detail(turn, draft)]))


EVENT: Wizard[Event] = Wizard(
    name="event",
    key=views.WIZARD_KEY,
    role=Role.STAFF,
    steps={
        "title": Step(ask=_ask_title, text=_take_title),
        "time": Step(ask=_ask_time, text=_take_time),
        "place": Step(ask=_ask_place, text=_take_place),
        "description": Step(
            ask=_ask_description, text=_take_description, buttons={"skip": _no_description}
        ),
        "capacity": Step(ask=_ask_capacity, text=_take_capacity, buttons={"nolimit": _no_limit}),
        "confirm": Step(ask=_ask_confirm, buttons={"publish": _publish}),
    },
    load=lambda session, draft_id: open_draft(session, Event, draft_id),
    gone=_gone,
    opener=_open,
)
