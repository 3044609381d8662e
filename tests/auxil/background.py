"""A small invented municipality with background questions, and people who answered.

Residents (1,000), by age and district:

=========  =====  =====  =====  =====
age        east   west   north  all
=========  =====  =====  =====  =====
young      200    100    100    400
old        200    300    100    600
=========  =====  =====  =====  =====

The consultation ``benches`` asks a yes/no question (``trees``) and a scale (``agree``, 1-5).
22 people answered it; nobody from the north:

===========  ======  ====  ===  =====  =================
age          dist.   who   yes  agree  source
===========  ======  ====  ===  =====  =================
young        east    10    8    5      5 poster, 5 library
old          east    5     1    1      (none)
old          west    5     2    3      (none)
(not said)   east    2     1    5      (none)
===========  ======  ====  ===  =====  =================

docs/representation.md works the expected numbers out by hand; tests/domain check them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from models import response as flow
from models.consultation import Consultation
from models.participant import Participant, get_or_create_participant
from models.population import import_population, parse_population_file
from models.profile import (
    BackgroundQuestion,
    answer_background,
    background_questions,
    import_profile,
)
from models.profile_file import parse_profile_file
from tests.auxil.consultations import add_consultation

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)

PROFILE = """
questions:
  - id: age
    label: {nb: Alder, en: Age}
    text: {nb: Hvor gammel er du?, en: How old are you?}
    options:
      - {id: young, text: {nb: Ung, en: Young}}
      - {id: old, text: {nb: Gammel, en: Old}}
  - id: district
    label: {nb: Bydel, en: District}
    text: {nb: Hvor bor du?, en: Where do you live?}
    options:
      - {id: east, text: {nb: Øst, en: East}}
      - {id: west, text: {nb: Vest, en: West}}
      - {id: north, text: {nb: Nord, en: North}}
"""
CROSS_TABLE = b"""age,district,count
young,east,200
young,west,100
young,north,100
old,east,200
old,west,300
old,north,100
"""
AGE_MARGIN = b"age;count\nyoung;400\nold;600\n"
DISTRICT_MARGIN = b"district,count\neast,400\nwest,400\nnorth,200\n"

BENCHES = """
slug: benches
title: {nb: Benker, en: Benches}
questions:
  - {id: trees, type: yes_no, text: {nb: Flere trær?, en: More trees?}}
  - id: agree
    type: scale
    min: 1
    max: 5
    text: {nb: Kommunen bør sette ut benker., en: The municipality should put out benches.}
"""

#: (age, district, how many, how many say yes, agree, sources)
GROUPS: list[tuple[str | None, str, int, int, int, list[str | None]]] = [
    ("young", "east", 10, 8, 5, ["poster"] * 5 + ["library"] * 5),
    ("old", "east", 5, 1, 1, [None] * 5),
    ("old", "west", 5, 2, 3, [None] * 5),
    (None, "east", 2, 1, 5, [None] * 2),
]
FIRST_ID = 7_401_000_000


@dataclass
class BackgroundSample:
    """The consultation, the background questions and the people, by group."""

    consultation: Consultation
    questions: list[BackgroundQuestion]
    people: list[tuple[Participant, str | None, str]]

    @property
    def consultation_id(self) -> int:
        """The consultation's id."""
        assert self.consultation.id is not None
        return self.consultation.id


async def add_profile(session: AsyncSession, text: str = PROFILE) -> list[BackgroundQuestion]:
    """Import the background questions and commit."""
    await import_profile(session, parse_profile_file(text))
    await session.commit()
    return await background_questions(session)


async def add_population(session: AsyncSession, *files: bytes) -> None:
    """Import population tables (the cross table by default) and commit."""
    questions = await background_questions(session)
    for data in files or (CROSS_TABLE,):
        await import_population(session, parse_population_file(data, questions), "test", NOW)
    await session.commit()


async def give_background(
    session: AsyncSession,
    questions: list[BackgroundQuestion],
    participant_id: int,
    bands: dict[str, str | None],
) -> None:
    """Answer background questions as the person (None: "prefer not to say")."""
    for question in questions:
        if question.key not in bands:
            continue
        band = bands[question.key]
        option = question.by_key(band) if band is not None else None
        await answer_background(
            session, participant_id, question.id, option.id if option else None, NOW
        )


def _option(position: flow.Position, key: str) -> int:
    assert position.question is not None
    option = next(o for o in position.question.options if o.key == key)
    assert option.id is not None
    return option.id


async def build_background_sample(session: AsyncSession, *population: bytes) -> BackgroundSample:
    """Store the profile, the population (the cross table by default), the consultation and
    its 22 respondents; commit."""
    questions = await add_profile(session)
    await add_population(session, *population)
    consultation = await add_consultation(session, BENCHES)
    assert consultation.id is not None
    people = []
    user_id = FIRST_ID
    for age, district, count, yes, agree, sources in GROUPS:
        for index in range(count):
            user_id += 1
            person = await get_or_create_participant(session, user_id, user_id)
            await give_background(
                session, questions, person.id or 0, {"age": age, "district": district}
            )
            p = await flow.start(session, person, consultation.id, source=sources[index], now=NOW)
            assert p.question is not None
            p = await flow.choose(
                session, person, p.question.id, _option(p, "yes" if index < yes else "no"), NOW
            )
            assert p.question is not None
            await flow.rate(session, person, p.question.id, agree, NOW)
            people.append((person, age, district))
    await session.commit()
    return BackgroundSample(consultation, questions, people)
