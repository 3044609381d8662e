"""The answering rules: next question, branching, idempotent answers, resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import response as flow
from models.answers import Answer, AnswerChoice, Response
from models.consultation import (
    ImportRefused,
    Status,
    import_consultation,
    is_open,
    load_consultation,
    open_consultations,
    set_status,
)
from models.consultation_file import parse_consultation_file
from models.participant import get_or_create_participant
from tests.auxil.consultations import EVERY_TYPE, add_consultation

pytestmark = pytest.mark.postgres

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


async def _person(session: AsyncSession, user_id: int = 1001) -> flow.Participant:
    participant = await get_or_create_participant(session, user_id, user_id)
    await session.commit()
    return participant


def _keys(position: flow.Position) -> str | None:
    return position.question.question.key if position.question else None


def _option(position: flow.Position, key: str) -> int:
    assert position.question is not None
    return next(o.id for o in position.question.options if o.key == key)  # type: ignore[return-value]


async def test_the_branch_is_skipped_when_its_condition_fails(session: AsyncSession) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    position = await flow.start(session, person, consultation.id, source="poster", now=NOW)
    assert _keys(position) == "use"
    assert position.progress() == (1, 5)
    position = await flow.choose(
        session, person, position.question.id, _option(position, "never"), NOW
    )
    # "activities" is only for those who would use the park.
    assert _keys(position) == "agree"
    assert position.progress() == (2, 4)


async def test_the_branch_is_asked_when_its_condition_holds(session: AsyncSession) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    position = await flow.start(session, person, consultation.id, source=None, now=NOW)
    position = await flow.choose(
        session, person, position.question.id, _option(position, "often"), NOW
    )
    assert _keys(position) == "activities"
    assert position.progress() == (2, 5)


async def test_a_whole_consultation_completes_with_a_summary(session: AsyncSession) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    p = await flow.start(session, person, consultation.id, source="library", now=NOW)
    p = await flow.choose(session, person, p.question.id, _option(p, "often"), NOW)
    qid = p.question.id
    await flow.toggle(session, person, qid, _option(p, "play"), NOW)
    await flow.toggle(session, person, qid, _option(p, "sport"), NOW)
    with pytest.raises(flow.AnswerRejected) as rejected:
        await flow.toggle(session, person, qid, _option(p, "rest"), NOW)
    assert rejected.value.problem is flow.Problem.TOO_MANY
    p = await flow.finish_choices(session, person, qid, NOW)
    assert _keys(p) == "agree"
    p = await flow.type_answer(session, person, " 4 ", NOW)
    assert _keys(p) == "trees"
    p = await flow.type_answer(session, person, "Ja", NOW)
    assert _keys(p) == "idea"
    p = await flow.type_answer(session, person, "Benker og en grillplass", NOW)
    assert p.at_summary
    assert p.just_completed
    await session.commit()

    response = (await session.exec(select(Response))).one()
    assert response.completed_at == NOW
    assert response.source == "library"
    answers = {a.question_id: a for a in (await session.exec(select(Answer))).all()}
    assert len(answers) == 5
    view = p.view
    assert answers[view.by_key("agree").id].number == 4
    assert answers[view.by_key("idea").id].text == "Benker og en grillplass"
    chosen = (await session.exec(select(AnswerChoice))).all()
    assert len(chosen) == 4  # use + two activities + trees


async def test_answering_twice_replaces_the_answer(session: AsyncSession) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    p = await flow.start(session, person, consultation.id, source=None, now=NOW)
    first = p.question.id
    p = await flow.choose(session, person, first, _option(p, "never"), NOW)
    p = await flow.back(session, person, p.question.id, NOW)
    assert p.question.id == first
    p = await flow.choose(session, person, first, _option(p, "often"), NOW)
    await session.commit()
    rows = (await session.exec(select(Answer).where(Answer.question_id == first))).all()
    assert len(rows) == 1
    assert (await session.exec(select(func.count()).select_from(AnswerChoice))).one() == 1


async def test_the_database_refuses_a_second_answer_row(session: AsyncSession) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    p = await flow.start(session, person, consultation.id, source=None, now=NOW)
    session.add(Answer(response_id=p.response.id, question_id=p.question.id, number=1))
    session.add(Answer(response_id=p.response.id, question_id=p.question.id, number=2))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_a_repeated_button_press_is_stale_and_changes_nothing(session: AsyncSession) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    p = await flow.start(session, person, consultation.id, source=None, now=NOW)
    first, never = p.question.id, _option(p, "never")
    await flow.choose(session, person, first, never, NOW)
    with pytest.raises(flow.StaleQuestion) as stale:
        await flow.choose(session, person, first, _option(p, "often"), NOW)
    assert _keys(stale.value.position) == "agree"


async def test_forged_options_and_questions_are_refused(session: AsyncSession) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    p = await flow.start(session, person, consultation.id, source=None, now=NOW)
    other_question = p.view.by_key("trees")
    with pytest.raises(flow.UnknownQuestion):
        await flow.choose(session, person, p.question.id, other_question.options[0].id, NOW)
    with pytest.raises(flow.UnknownQuestion):
        await flow.choose(session, person, 999_999, 1, NOW)
    with pytest.raises(flow.UnknownQuestion):
        await flow.rate(session, person, p.question.id, 3, NOW)


async def test_resume_returns_to_the_same_question_in_a_new_session(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        consultation = await add_consultation(session)
        person = await _person(session)
        p = await flow.start(session, person, consultation.id, source=None, now=NOW)
        p = await flow.choose(session, person, p.question.id, _option(p, "never"), NOW)
        assert await flow.leave(session, person) == consultation.id
        await session.commit()
    async with sessionmaker() as session:
        person = await get_or_create_participant(session, 1001, 1001)
        assert await flow.current_position(session, person, NOW) is None
        p = await flow.start(session, person, consultation.id, source=None, now=NOW)
        assert _keys(p) == "agree"
        assert p.progress() == (2, 4)


async def test_free_text_over_the_limit_is_refused_and_not_stored(session: AsyncSession) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    p = await flow.start(session, person, consultation.id, source=None, now=NOW)
    p = await flow.choose(session, person, p.question.id, _option(p, "never"), NOW)
    p = await flow.rate(session, person, p.question.id, 3, NOW)
    p = await flow.choose(session, person, p.question.id, _option(p, "no"), NOW)
    assert _keys(p) == "idea"
    with pytest.raises(flow.AnswerRejected) as rejected:
        await flow.type_answer(session, person, "x" * 201, NOW)
    assert rejected.value.problem is flow.Problem.TOO_LONG
    assert rejected.value.limit == 200
    idea = p.view.by_key("idea").id
    assert (await session.exec(select(Answer).where(Answer.question_id == idea))).first() is None


async def test_required_questions_cannot_be_skipped(session: AsyncSession) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    p = await flow.start(session, person, consultation.id, source=None, now=NOW)
    with pytest.raises(flow.AnswerRejected) as rejected:
        await flow.skip(session, person, p.question.id, NOW)
    assert rejected.value.problem is flow.Problem.REQUIRED


async def test_editing_from_the_summary_asks_newly_visible_questions(
    session: AsyncSession,
) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    p = await flow.start(session, person, consultation.id, source=None, now=NOW)
    use = p.question.id
    p = await flow.choose(session, person, use, _option(p, "never"), NOW)
    p = await flow.rate(session, person, p.question.id, 2, NOW)
    p = await flow.type_answer(session, person, "nei", NOW)
    p = await flow.skip(session, person, p.question.id, NOW)
    assert p.at_summary
    p = await flow.edit(session, person, use, NOW)
    p = await flow.choose(session, person, use, _option(p, "often"), NOW)
    # The branch opened by the new answer is asked before going back to the summary.
    assert _keys(p) == "activities"
    p = await flow.toggle(session, person, p.question.id, _option(p, "rest"), NOW)
    p = await flow.finish_choices(session, person, p.question.id, NOW)
    assert p.at_summary
    assert not p.just_completed  # completed once, earlier


async def test_a_changed_answer_drops_answers_of_questions_now_hidden(
    session: AsyncSession,
) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    p = await flow.start(session, person, consultation.id, source=None, now=NOW)
    use = p.question.id
    p = await flow.choose(session, person, use, _option(p, "often"), NOW)
    activities = p.question.id
    p = await flow.toggle(session, person, activities, _option(p, "play"), NOW)
    p = await flow.finish_choices(session, person, activities, NOW)
    p = await flow.back(session, person, p.question.id, NOW)
    p = await flow.back(session, person, p.question.id, NOW)
    assert p.question.id == use
    p = await flow.choose(session, person, use, _option(p, "never"), NOW)
    assert activities not in p.answers


async def test_closed_and_not_yet_open_consultations_take_no_answers(
    session: AsyncSession,
) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    p = await flow.start(session, person, consultation.id, source=None, now=NOW)
    await set_status(session, "park", Status.CLOSED)
    with pytest.raises(flow.ConsultationNotOpen):
        await flow.choose(session, person, p.question.id, _option(p, "never"), NOW)
    timed = parse_consultation_file(
        EVERY_TYPE.replace("slug: park", "slug: later\nopens: 2027-02-01T08:00:00+01:00")
    )
    later, _ = await import_consultation(session, timed, publish=True)
    assert not is_open(later, NOW)
    assert is_open(later, NOW + timedelta(days=30))
    assert [c.slug for c in await open_consultations(session, NOW)] == []
    with pytest.raises(flow.ConsultationNotOpen):
        await flow.start(session, person, later.id, source=None, now=NOW)


async def test_reimport_is_refused_when_it_changes_an_answered_question(
    session: AsyncSession,
) -> None:
    consultation = await add_consultation(session)
    person = await _person(session)
    p = await flow.start(session, person, consultation.id, source=None, now=NOW)
    await flow.choose(session, person, p.question.id, _option(p, "never"), NOW)
    await session.commit()
    changed = parse_consultation_file(
        EVERY_TYPE.replace("Ville du brukt parken?", "Liker du parker?")
    )
    with pytest.raises(ImportRefused, match="use"):
        await import_consultation(session, changed)
    await session.rollback()
    # Changing a question nobody answered yet is fine, and keeps the answers.
    reworded = parse_consultation_file(EVERY_TYPE.replace("Har du andre ideer?", "Noe mer?"))
    await import_consultation(session, reworded)
    await session.commit()
    view = await load_consultation(session, consultation.id)
    assert view.by_key("idea").question.text["nb"] == "Noe mer?"
    assert [q.question.key for q in view.questions] == [
        "use",
        "activities",
        "agree",
        "trees",
        "idea",
    ]
    assert (await session.exec(select(func.count()).select_from(Answer))).one() == 1
