"""The focus-group dialog: title → time → place → seats → shared by → seats per group → draw.

Staff open it from ``/focusgroup`` ("+ <arena>"): the group is drawn from that arena's members.
The seats are shared among groups of residents (strata: combinations of background answers,
e.g. age x district) like the population, and staff may change the shares by typing them.
Drawing stores a random seed, draws each stratum by lot (:mod:`models.lottery`) and invites
those drawn through the outbox, in one transaction.
"""

from __future__ import annotations

from collections import Counter

from handlers.common import Abort, Reply, Scene
from handlers.focus_groups import focus_menu, group_detail
from handlers.i18n import _, current_language
from handlers.views import focus_groups as views
from handlers.views.outgoing import Outgoing
from handlers.wizard import End, Go, Result, Step, Turn, Typed, Wizard, begin
from handlers.wizards.when import parse_when
from models import focus_groups as focus
from models.arenas import Arena
from models.drafts import open_draft
from models.focus_groups import PLACE_LIMIT, TITLE_LIMIT, FocusGroup, FocusProblem
from models.profile import background_questions
from models.roles import Role, audit

Draft = Turn[FocusGroup]


def _gone() -> str:
    return _("This draft is no longer open. Send /focusgroup to start again.")


async def _open(where: Scene, arena_id: int, _arg: str) -> Reply:
    """``/focusgroup``: the menu; "+ <arena>": a new draft drawn from that arena."""
    if not arena_id:
        return Reply(send=[await focus_menu(where)])
    arena = await where.session.get(Arena, arena_id)
    if arena is None:
        return Reply(notice=_("That arena no longer exists."))
    draft = await focus.new_draft(
        where.session, arena.id or 0, where.user_id, where.chat_id, current_language(), where.now
    )
    return await begin(FOCUS, where, draft, draft.id)


async def _wrong(turn: Draft, problem: FocusProblem) -> Abort:
    """Roll back and say what is wrong; the step asks again."""
    return Abort(Reply(send=[Outgoing(views.problem_text(problem)), *await FOCUS.ask(turn)]))


async def _text_field(turn: Draft, typed: Typed, field: str, limit: int) -> Result:
    try:
        setattr(turn.subject, field, focus.check_text(typed.text, limit))
    except FocusProblem as problem:
        raise await _wrong(turn, problem) from problem
    return Go()


# ---------------------------------------------------------------------- title, time, place, seats


async def _ask_title(turn: Draft) -> Outgoing:
    return views.title_prompt(turn.subject, await turn.session.get(Arena, turn.subject.arena_id))


async def _take_title(turn: Draft, typed: Typed) -> Result:
    return await _text_field(turn, typed, "title", TITLE_LIMIT)


async def _ask_time(turn: Draft) -> Outgoing:
    return views.time_prompt(turn.subject, turn.runtime.timezone)


async def _take_time(turn: Draft, typed: Typed) -> Result:
    when = parse_when(typed.text, turn.now, turn.runtime.timezone)
    if when is None:
        return Reply(send=[Outgoing(_("I could not read that time.")), await _ask_time(turn)])
    if when <= turn.now:
        raise await _wrong(turn, FocusProblem("past"))
    turn.subject.starts_at = when
    return Go()


async def _ask_place(turn: Draft) -> Outgoing:
    return views.place_prompt(turn.subject)


async def _take_place(turn: Draft, typed: Typed) -> Result:
    return await _text_field(turn, typed, "place", PLACE_LIMIT)


async def _ask_seats(turn: Draft) -> Outgoing:
    return views.seats_prompt(turn.subject)


async def _take_seats(turn: Draft, typed: Typed) -> Result:
    try:
        turn.subject.seats = focus.check_seats(typed.text)
    except FocusProblem as problem:
        raise await _wrong(turn, problem) from problem
    return Go()


# ---------------------------------------------------------------------- strata and quotas


async def _ask_strata(turn: Draft) -> Outgoing:
    return views.strata_prompt(turn.subject, await background_questions(turn.session))


async def _toggle(turn: Draft, key: str) -> Result:
    """Share the seats by this background question, or no longer."""
    keys = [q.key for q in await background_questions(turn.session)]
    if key not in keys:
        return Reply(notice=_("That question no longer exists."))
    chosen = set(turn.subject.strata) ^ {key}
    # In the order of the questions, so "age x district" always reads the same way.
    turn.subject.strata = [k for k in keys if k in chosen]
    return Go("strata")


async def _shared(turn: Draft, _arg: str) -> Result:
    turn.subject.quotas = await focus.proposed_quotas(turn.session, turn.subject)
    return Go("quotas")


async def _ask_quotas(turn: Draft) -> Outgoing:
    pool = Counter(c.stratum for c in await focus.pool(turn.session, turn.subject))
    questions = await background_questions(turn.session)
    return views.quotas_prompt(turn.subject, dict(pool), questions)


async def _take_quotas(turn: Draft, typed: Typed) -> Result:
    """Seats typed for some groups, one per line; the total becomes the number of seats."""
    questions = await background_questions(turn.session)
    try:
        quotas = focus.read_quotas(typed.text, questions, turn.subject)
    except focus.QuotaLinesError as error:
        return Reply(send=[views.quota_problems(error.problems), await _ask_quotas(turn)])
    turn.subject.quotas = quotas
    turn.subject.seats = sum(quotas.values())
    if not turn.subject.seats:
        raise await _wrong(turn, FocusProblem("quotas"))
    return Go("quotas", said=Outgoing(_("Saved.")))


async def _quotas_ok(turn: Draft, _arg: str) -> Result:
    return Go("confirm")


# ---------------------------------------------------------------------- confirm and draw


async def _ask_confirm(turn: Draft) -> Outgoing:
    session = turn.session
    arena = await session.get(Arena, turn.subject.arena_id)
    pool = await focus.pool(session, turn.subject)
    questions = await background_questions(session)
    return views.confirm_screen(turn.subject, arena, len(pool), questions, turn.runtime.timezone)


async def _draw(turn: Draft, _arg: str) -> Result:
    """Draw by lot and invite those drawn; the message becomes the group's composition."""
    group, runtime = turn.subject, turn.runtime
    try:
        invited = await focus.draw_group(
            turn.session,
            group,
            turn.now,
            views.FocusTexts(runtime.timezone),
            runtime.reminder_policy(),
        )
    except FocusProblem as problem:
        if problem.code == "past":
            return Go("time", said=Outgoing(views.problem_text(problem)))
        raise Abort(Reply(notice=views.problem_text(problem))) from problem
    detail = {
        "arena_id": group.arena_id,
        "seed": group.seed,
        "invited": invited,
        "quotas": group.quotas,
    }
    await audit(
        turn.session, turn.user_id, "focus.draw", f"focus:{group.id}", detail, now=turn.now
    )
    return End(Reply(edit=await group_detail(turn, group), notice=views.drawn_notice(invited)))


FOCUS: Wizard[FocusGroup] = Wizard(
    name="focus",
    key=views.WIZARD_KEY,
    role=Role.STAFF,
    steps={
        "title": Step(ask=_ask_title, text=_take_title),
        "time": Step(ask=_ask_time, text=_take_time),
        "place": Step(ask=_ask_place, text=_take_place),
        "seats": Step(ask=_ask_seats, text=_take_seats),
        "strata": Step(ask=_ask_strata, buttons={"dim": _toggle, "next": _shared}),
        "quotas": Step(ask=_ask_quotas, text=_take_quotas, buttons={"ok": _quotas_ok}),
        "confirm": Step(ask=_ask_confirm, buttons={"draw": _draw}),
    },
    load=lambda session, draft_id: open_draft(session, FocusGroup, draft_id),
    gone=_gone,
    opener=_open,
)
