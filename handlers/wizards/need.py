"""The need dialog: title → description → more languages → tags → district → time → people →
language → confirm, step by step; or a needs file at the first step.

Coordinators open it from ``/needs`` ("+ New need for <centre>"). Each typed answer is checked;
a time in the past or a number out of range is answered with what to write instead, and nothing
changes. Publishing invites the matching volunteers through the outbox, best matches first,
none more than the coordinator's weekly cap.
"""

from __future__ import annotations

from handlers.common import Abort, Reply, Scene
from handlers.i18n import LANGUAGES, _, current_language
from handlers.needs import need_detail
from handlers.views import needs as views
from handlers.views.outgoing import Outgoing
from handlers.views.volunteer import NeedTexts
from handlers.wizard import Attachment, End, Go, Result, Step, Turn, Typed, Wizard, begin
from handlers.wizards.upload import wanted
from handlers.wizards.when import parse_event_time
from models import matching, needs
from models.centres import (
    Centre,
    all_districts,
    all_tags,
    centres_of,
    district_of,
    list_centres,
    weekly_cap_of,
)
from models.drafts import open_draft
from models.matching import Matching
from models.need_file import NeedFileError, parse_need_file
from models.needs import DESCRIPTION_LIMIT, TITLE_LIMIT, Need, NeedProblem
from models.roles import Role, audit
from models.volunteers import SPOKEN

Draft = Turn[Need]


def _gone() -> str:
    return _("This draft is no longer open. Send /needs to start again.")


async def _centre(turn: Draft) -> Centre:
    centre = await turn.session.get(Centre, turn.subject.centre_id)
    assert centre is not None
    return centre


async def _open(where: Scene, centre_id: int, _arg: str) -> Reply:
    """Start a need of one of the coordinator's centres; ask for the title."""
    centre = next(
        (c for c in await centres_of(where.session, where.user_id) if c.id == centre_id), None
    )
    if centre is None:
        return Reply(notice=_("That centre is not one of yours."))
    draft = await needs.new_draft(
        where.session, centre, where.user_id, where.chat_id, current_language(), where.now
    )
    return await begin(NEED, where, draft, draft.id, step=f"title:{current_language()}")


async def _wrong(turn: Draft, problem: NeedProblem) -> Abort:
    """Roll back and say what is wrong; the step asks again."""
    text = Outgoing(views.problem_text(problem))
    return Abort(Reply(send=[text, *await NEED.ask(turn)]))


def _matching(turn: Draft, cap: int) -> Matching:
    return Matching(turn.now, turn.runtime.timezone, cap)


async def _cap(turn: Draft) -> int:
    return await weekly_cap_of(turn.session, turn.user_id, turn.runtime.volunteer_weekly_cap)


# ---------------------------------------------------------------------- texts per language


def _code(turn: Draft) -> str:
    return turn.param if turn.param in LANGUAGES else turn.subject.language


async def _ask_title(turn: Draft) -> Outgoing:
    first = not turn.subject.title
    return views.title_prompt(turn.subject, await _centre(turn), _code(turn), first=first)


async def _take_title(turn: Draft, typed: Typed) -> Result:
    try:
        title = needs.check_text(typed.text, TITLE_LIMIT)
    except NeedProblem as problem:
        raise await _wrong(turn, problem) from problem
    code = _code(turn)
    draft = turn.subject
    if not draft.title:
        draft.language = code
    draft.title = {**draft.title, code: title}
    return Go(f"description:{code}")


async def _ask_description(turn: Draft) -> Outgoing:
    return views.description_prompt(turn.subject, _code(turn))


async def _take_description(turn: Draft, typed: Typed) -> Result:
    try:
        text = needs.check_text(typed.text, DESCRIPTION_LIMIT)
    except NeedProblem as problem:
        raise await _wrong(turn, problem) from problem
    turn.subject.description = {**(turn.subject.description or {}), _code(turn): text}
    return Go("languages")


async def _no_description(turn: Draft, _arg: str) -> Result:
    return Go("languages", said=Outgoing(_("No description.")))


async def _ask_languages(turn: Draft) -> Outgoing:
    return views.languages_prompt(turn.subject)


async def _add_language(turn: Draft, code: str) -> Result:
    if code not in LANGUAGES:
        return Reply(notice=_("That step is behind you."))
    return Go(f"title:{code}")


async def _languages_done(turn: Draft, _arg: str) -> Result:
    return Go("tags")


# ---------------------------------------------------------------------- tags and district


async def _ask_tags(turn: Draft) -> Outgoing:
    return views.tags_prompt(turn.subject, all_tags([await _centre(turn)]))


async def _toggle_tag(turn: Draft, tag: str) -> Result:
    if tag not in (await _centre(turn)).tag_ids:
        return Reply(notice=_("That step is behind you."))
    draft = turn.subject
    draft.tags = [t for t in draft.tags if t != tag] if tag in draft.tags else [*draft.tags, tag]
    return Go("tags")


async def _tags_done(turn: Draft, _arg: str) -> Result:
    if not turn.subject.tags:
        return Reply(notice=views.problem_text(NeedProblem("tags")))
    return Go("district")


async def _districts(turn: Draft) -> list[str]:
    return all_districts(await list_centres(turn.session))


async def _ask_district(turn: Draft) -> Outgoing:
    return views.district_prompt(turn.subject, await _districts(turn))


async def _pick_district(turn: Draft, key: str) -> Result:
    district = district_of(key, await _districts(turn))
    if district is None:
        return Reply(notice=_("That step is behind you."))
    turn.subject.district = district
    return Go("time")


# ---------------------------------------------------------------------- time, people, language


async def _ask_time(turn: Draft) -> Outgoing:
    return views.time_prompt(turn.subject, turn.runtime.timezone)


async def _take_time(turn: Draft, typed: Typed) -> Result:
    zone = turn.runtime.timezone
    weekly = needs.parse_weekly(typed.text, turn.now, zone)
    parsed = weekly or parse_event_time(typed.text, turn.now, zone)
    if parsed is None:
        return Reply(send=[Outgoing(_("I could not read that time.")), await _ask_time(turn)])
    try:
        needs.check_times(parsed[0], parsed[1], turn.now)
    except NeedProblem as problem:
        raise await _wrong(turn, problem) from problem
    draft = turn.subject
    draft.starts_at, draft.ends_at, draft.weekly = parsed[0], parsed[1], weekly is not None
    return Go()


async def _ask_places(turn: Draft) -> Outgoing:
    return views.places_prompt(turn.subject)


async def _take_places(turn: Draft, typed: Typed) -> Result:
    number = typed.text.strip()
    try:
        # isdecimal, not isdigit: "²" is a digit that int() refuses.
        if not number.isdecimal() or len(number) > 4:
            raise NeedProblem("places")
        needs.check_places(int(number))
    except NeedProblem as problem:
        raise await _wrong(turn, problem) from problem
    turn.subject.places = int(number)
    return Go()


async def _ask_language(turn: Draft) -> Outgoing:
    return views.language_prompt(turn.subject)


async def _pick_language(turn: Draft, code: str) -> Result:
    if code != "-" and code not in SPOKEN:
        return Reply(notice=_("That step is behind you."))
    turn.subject.wished_language = None if code == "-" else code
    return Go("confirm")


# ---------------------------------------------------------------------- confirm and publish


async def _ask_confirm(turn: Draft) -> list[Outgoing]:
    cap = await _cap(turn)
    matches = await matching.count_matches(turn.session, turn.subject, _matching(turn, cap))
    centre = await _centre(turn)
    return views.confirm_screen(turn.subject, centre, matches, cap, turn.runtime.timezone)


async def _publish_one(turn: Draft, draft: Need, cap: int) -> int:
    """Publish one draft and audit it; how many volunteers are invited."""
    centre = await turn.session.get(Centre, draft.centre_id)
    assert centre is not None
    texts = NeedTexts(turn.runtime.timezone, {centre.id or 0: centre})
    invited = await matching.publish(
        turn.session, draft, _matching(turn, cap), texts, turn.runtime.default_language
    )
    detail = {"centre": centre.slug, "invited": invited}
    await audit(turn.session, turn.user_id, "need.publish", draft.ref, detail, now=turn.now)
    return invited


async def _publish(turn: Draft, _arg: str) -> Result:
    """Publish: invite the matching volunteers; a time that has passed is asked again."""
    try:
        invited = await _publish_one(turn, turn.subject, await _cap(turn))
    except NeedProblem as problem:
        if problem.code != "past":
            raise Abort(Reply(notice=views.problem_text(problem))) from problem
        return Go("time", said=Outgoing(views.problem_text(problem)))
    detail = await need_detail(turn, turn.subject, await _centre(turn))
    return End(Reply(edit=views.published(invited), send=[detail]))


# ---------------------------------------------------------------------- a needs file


async def _take_file(turn: Draft, document: Attachment) -> Result:
    """Check a needs file; its needs become drafts of this dialog, shown before publishing."""
    if not wanted(document.name, document.size) or document.content is None:
        return Reply(send=[views.not_a_needs_file()])
    session = turn.session
    mine = await centres_of(session, turn.user_id)
    districts = all_districts(await list_centres(session))
    try:
        specs = parse_need_file(document.content, mine, districts, turn.now, turn.runtime.timezone)
    except NeedFileError as error:
        return Reply(send=[views.file_problems(error.problems)])
    first = turn.subject
    specs[0].fill(first)
    for spec in specs[1:]:
        extra = await needs.new_draft(
            session, spec.centre, turn.user_id, turn.chat_id, first.staff_language, turn.now
        )
        extra.batch_of = first.id
        spec.fill(extra)
    await session.flush()
    return Go("batch")


async def _ask_batch(turn: Draft) -> Outgoing:
    cap = await _cap(turn)
    drafts = await needs.batch_drafts(turn.session, turn.subject)
    counted = [
        (draft, await matching.count_matches(turn.session, draft, _matching(turn, cap)))
        for draft in drafts
    ]
    centres = {c.id or 0: c for c in await list_centres(turn.session)}
    return views.batch_screen(counted, centres, cap, turn.runtime.timezone)


async def _publish_batch(turn: Draft, _arg: str) -> Result:
    """Publish every need of the file; one whose time passed meanwhile is left out."""
    cap = await _cap(turn)
    published, invited, refused = 0, 0, []
    for draft in await needs.batch_drafts(turn.session, turn.subject):
        try:
            invited += await _publish_one(turn, draft, cap)
            published += 1
        except NeedProblem:
            refused.append(draft.title_in(current_language()))
    return End(Reply(edit=views.batch_published(published, invited, refused)))


NEED: Wizard[Need] = Wizard(
    name="need",
    key=views.WIZARD_KEY,
    role=Role.COORDINATOR,
    steps={
        "title": Step(ask=_ask_title, text=_take_title, document=_take_file),
        "description": Step(
            ask=_ask_description, text=_take_description, buttons={"skip": _no_description}
        ),
        "languages": Step(
            ask=_ask_languages, buttons={"add": _add_language, "next": _languages_done}
        ),
        "tags": Step(ask=_ask_tags, buttons={"tag": _toggle_tag, "next": _tags_done}),
        "district": Step(ask=_ask_district, buttons={"district": _pick_district}),
        "time": Step(ask=_ask_time, text=_take_time),
        "places": Step(ask=_ask_places, text=_take_places),
        "language": Step(ask=_ask_language, buttons={"language": _pick_language}),
        "confirm": Step(ask=_ask_confirm, buttons={"publish": _publish}),
        "batch": Step(ask=_ask_batch, buttons={"publish": _publish_batch}),
    },
    load=lambda session, draft_id: open_draft(session, Need, draft_id),
    gone=_gone,
    opener=_open,
)
