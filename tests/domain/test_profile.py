"""Background questions: the file, importing it again, answering, and the person's rights."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import privacy
from models.participant import get_or_create_participant
from models.profile import (
    ProfileAnswer,
    ProfileImportRefused,
    UnknownBackground,
    answer_background,
    answers_of,
    decline,
    erase_background,
    import_profile,
    mark_offered,
    should_offer,
)
from models.profile_file import ProfileFileError, parse_profile_file, special_category
from tests.auxil.background import NOW, PROFILE, add_profile, give_background

pytestmark = pytest.mark.postgres

EXAMPLE = Path(__file__).parents[2] / "examples" / "background" / "profile.yaml"


def _problems(text: str) -> list[str]:
    with pytest.raises(ProfileFileError) as refused:
        parse_profile_file(text)
    return refused.value.problems


def test_the_example_file_is_valid() -> None:
    questions = parse_profile_file(EXAMPLE.read_bytes())
    assert [q.key for q in questions] == ["age", "district", "housing"]
    assert questions[0].label == {"nb": "Alder", "nn": "Alder", "en": "Age"}
    assert [o.key for o in questions[1].options] == ["sentrum", "holmen", "nordby", "sorvik"]
    assert questions[1].options[3].text == {"nb": "Sørvik"}


def test_a_broken_file_is_refused_with_every_problem() -> None:
    problems = _problems(
        """
questions:
  - id: age
    type: single_choice
    text: How old?
    options: [{id: young, text: Young}]
  - id: Age
    text: {nb: Hvor?, se: Gos?}
    options:
      - {id: a, text: A}
      - {id: a, text: B}
      - {id: prefer_not, text: Vil ikke si}
  - {id: c, text: C, options: [{id: x, text: X}, {id: y, text: Y}], extra: 1}
"""
    )
    assert problems == [
        "questions[0].type: background questions are single choice; leave type out",
        "questions[0].options: needs at least 2 options, each with id and text",
        "questions[1].id: use 1-32 characters: lowercase a-z, 0-9, _ or -",
        "questions[1].text.se: unknown language (use nb, nn, en, pl, uk, lt, ar, so, ti)",
        "questions[1].options[1].id: 'a' is used twice in this question",
        'questions[1].options[2].id: Medvirk adds "prefer not to say" itself; leave it out',
        "questions[2].extra: unknown field (did you mean text?)",
    ]


def test_at_most_four_questions() -> None:
    question = "  - {{id: q{n}, text: Q, options: [{{id: a, text: A}}, {{id: b, text: B}}]}}\n"
    text = "questions:\n" + "".join(question.format(n=n) for n in range(5))
    assert _problems(text) == ["questions: at most 4 (age band, district and two more; has 5)"]


@pytest.mark.parametrize(
    ("question", "category"),
    [
        ("Hvilken etnisk bakgrunn har du?", "ethnic origin"),
        ("Hva er ditt fødeland?", "ethnic origin"),
        ("Har du innvandrerbakgrunn?", "ethnic origin"),
        ("Er du religiøs?", "religion or belief"),
        ("Hvordan er helsen din?", "health"),
        ("Har du en funksjonsnedsettelse?", "health"),
        ("What is your sexual orientation?", "sex life or sexual orientation"),
        ("Hvilket parti stemte du på?", "political opinion"),
        ("Er du med i en fagforening?", "trade union membership"),
    ],
)
def test_special_category_questions_are_refused(question: str, category: str) -> None:
    options = "[{id: a, text: A}, {id: b, text: B}]"
    text = f"questions:\n  - {{id: q, text: {question}, options: {options}}}\n"
    assert _problems(text) == [
        f"questions[0]: seems to ask about {category}, a special category of personal data; "
        "Medvirk does not ask that (docs/privacy.md)"
    ]


def test_ordinary_questions_are_not_mistaken_for_special_ones() -> None:
    for text in (
        "Hvor gammel er du?",
        "Hvilken bydel bor du i? (Helsfyr, Partille)",
        "Eier eller leier du?",
        "Hvor ofte bruker du partisipasjonsverktøy?",
    ):
        assert special_category(text) is None, text


async def test_importing_again_keeps_answers_and_refuses_to_drop_answered_ones(
    session: AsyncSession,
) -> None:
    questions = await add_profile(session)
    person = await get_or_create_participant(session, 1, 1)
    await give_background(session, questions, person.id or 0, {"age": "young"})
    await session.commit()
    # New texts, a new band and a new question: the answer stays.
    changed = PROFILE.replace("Ung", "Yngre") + (
        "  - id: housing\n    text: Eier du?\n"
        "    options: [{id: own, text: Eier}, {id: rent, text: Leier}]\n"
    )
    result = await import_profile(session, parse_profile_file(changed))
    assert (result.added, result.removed) == (["housing"], [])
    assert await answers_of(session, person.id or 0) == {
        questions[0].id: questions[0].by_key("young").id  # type: ignore[union-attr]
    }
    # Leaving out the answered question is refused, with the count; nothing changes.
    without_age = "questions:\n  - id: district" + PROFILE.split("  - id: district")[1]
    with pytest.raises(ProfileImportRefused) as refused:
        await import_profile(session, parse_profile_file(without_age))
    assert refused.value.problems == ["questions: 'age' has 1 answers and is not in the file"]
    # Unless asked for: the question goes, and its answers with it.
    await import_profile(session, parse_profile_file(without_age), remove_answered=True)
    assert await answers_of(session, person.id or 0) == {}


async def test_answering_with_prefer_not_to_say_and_changing_it(session: AsyncSession) -> None:
    questions = await add_profile(session)
    person = await get_or_create_participant(session, 2, 2)
    age, district = questions
    following = await answer_background(session, person.id or 0, age.id, None, NOW)
    assert following is not None
    assert following.key == "district"
    east = district.by_key("east")
    assert east is not None
    assert await answer_background(session, person.id or 0, district.id, east.id, NOW) is None
    young = age.by_key("young")
    assert young is not None
    await answer_background(session, person.id or 0, age.id, young.id, NOW)
    assert await answers_of(session, person.id or 0) == {age.id: young.id, district.id: east.id}
    rows = (await session.exec(select(ProfileAnswer))).all()
    assert len(rows) == 2  # changing replaced the answer
    # A band of another question, or a question that is gone, changes nothing.
    with pytest.raises(UnknownBackground):
        await answer_background(session, person.id or 0, age.id, east.id, NOW)
    with pytest.raises(UnknownBackground):
        await answer_background(session, person.id or 0, 987_654, None, NOW)


async def test_offered_once(session: AsyncSession) -> None:
    person = await get_or_create_participant(session, 3, 3)
    assert not await should_offer(session, person.id or 0)  # no questions yet
    await add_profile(session)
    assert await should_offer(session, person.id or 0)
    await mark_offered(session, person.id or 0, NOW)
    assert not await should_offer(session, person.id or 0)
    await decline(session, person.id or 0, NOW)
    assert not await should_offer(session, person.id or 0)


async def test_background_answers_are_in_my_data_and_erased(session: AsyncSession) -> None:
    questions = await add_profile(session)
    person = await get_or_create_participant(session, 4, 4)
    await give_background(session, questions, person.id or 0, {"age": "old", "district": None})
    await session.commit()
    data = await privacy.personal_data(session, person, "en")
    assert data["background"] == [
        {"question": "How old are you?", "answer": "Old"},
        {"question": "Where do you live?", "answer": None},
    ]
    assert len(data["records"]["profile_answer"]) == 2
    assert await erase_background(session, person.id or 0) == 2
    assert await answers_of(session, person.id or 0) == {}
    await give_background(session, questions, person.id or 0, {"age": "old"})
    await privacy.erase(session, person, NOW)
    await session.commit()
    assert (await session.exec(select(ProfileAnswer))).all() == []
