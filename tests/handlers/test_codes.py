"""A closed consultation asks for the one-time code from the letter before its first question."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.access_codes import generate_codes
from models.response import Response
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import CLOSED, add_consultation
from tests.handlers.conftest import NOW, Harness

Sessions = async_sessionmaker[AsyncSession]


async def _closed_with_codes(sessionmaker: Sessions, count: int = 2) -> list[str]:
    async with sessionmaker() as session:
        consultation = await add_consultation(session, CLOSED)
        codes = await generate_codes(session, consultation.id or 0, count, NOW)
        await session.commit()
    return codes


async def _linked(harness: Harness, user_id: int) -> Citizen:
    person = harness.citizen(user_id)
    await harness.send(person, "/start c_skolevei__letter")
    await harness.press(person, "Ja, jeg godtar")
    return person


async def test_the_code_from_the_letter_opens_the_consultation_once(
    harness: Harness, sessionmaker: Sessions
) -> None:
    codes = await _closed_with_codes(sessionmaker)
    kari = await _linked(harness, 7101)
    assert "Skriv koden fra brevet ditt" in harness.last(kari)

    await harness.send(kari, "ZZZZZ-ZZZZZ")
    assert "Den koden stemmer ikke" in harness.last(kari)
    await harness.send(kari, codes[0].lower())
    assert "Er skoleveien trygg?" in harness.last(kari)
    await harness.press(kari, "Ja")
    # Typed text is an answer again, not a code.
    await harness.send(kari, "Fortau hele veien")
    assert "Takk" in "\n".join(harness.new_texts(kari))

    ola = await _linked(harness, 7102)
    await harness.send(ola, codes[0])
    assert "Den koden er brukt allerede" in harness.last(ola)
    async with sessionmaker() as session:
        responses = (await session.exec(select(Response))).all()
    assert [r.source for r in responses] == ["letter"]

    # Kari comes back through the link: where she left off, no code.
    await harness.send(kari, "/start c_skolevei")
    assert "Skriv koden" not in "\n".join(harness.new_texts(kari))


async def test_pausing_leaves_the_code_prompt(harness: Harness, sessionmaker: Sessions) -> None:
    await _closed_with_codes(sessionmaker)
    kari = await _linked(harness, 7103)
    await harness.send(kari, "/cancel")
    await harness.send(kari, "hei")
    assert "Den koden stemmer ikke" not in harness.last(kari)


async def test_a_resident_whose_language_it_lacks_picks_one_then_types_the_code(
    harness: Harness, sessionmaker: Sessions
) -> None:
    codes = await _closed_with_codes(sessionmaker)
    ola = harness.citizen(7110, "nn")
    await harness.send(ola, "/start c_skolevei__letter")
    await harness.press(ola, "Ja, eg godtek")
    # No Nynorsk: the choice comes first, and the code prompt follows in the language picked.
    assert ola.buttons() == ["Norsk bokmål", "English"]
    await harness.press(ola, "English")
    assert "type the code from your letter" in harness.last(ola)
    await harness.send(ola, codes[0])
    assert "Is the way to school safe?" in harness.last(ola)
    assert ola.buttons()[:2] == ["Yes", "No"]
    async with sessionmaker() as session:
        [response] = (await session.exec(select(Response))).all()
    assert (response.language, response.source) == ("en", "letter")
