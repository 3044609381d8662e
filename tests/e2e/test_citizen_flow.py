"""A citizen answers a consultation end to end: real bot, real HTTP, the sandbox as Telegram."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.consultation import Consultation
from models.participant import Consent, Participant
from models.response import Answer, AnswerChoice, Response
from sandbox import Sandbox
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation

pytestmark = pytest.mark.postgres


async def consent(citizen: Citizen, start: str = "/start") -> None:
    """Start the bot and accept the privacy notice."""
    await citizen.send(start)
    await citizen.expect("Før vi begynner")
    await citizen.press("Ja, jeg godtar")
    await citizen.expect("Takk!")


async def test_a_citizen_answers_every_question_type(
    sandbox: Sandbox, db: async_sessionmaker[AsyncSession], bot: None
) -> None:
    async with db() as session:
        await add_consultation(session)
    kari = Citizen(sandbox, 5001)
    await consent(kari, "/start c_park__library")
    await kari.expect("Fem korte spørsmål.")
    await kari.expect("1/5")

    before = len(kari.texts())
    query = await kari.press("Ofte")
    await kari.expect("2/5")
    # A step is one message: the question's message becomes the next question, and a toast
    # says what was taken.
    assert await kari.notice(query) == "✓ Ofte"
    assert len(kari.texts()) == before

    await kari.press("Leke")
    await kari.expect_button("☑️ Leke")
    await kari.press("Idrett")
    await kari.expect_button("☑️ Idrett")
    query = await kari.press("Slappe av")
    assert "høyst 2" in await kari.notice(query)
    await kari.press("Ferdig")
    await kari.expect("3/5")

    await kari.press("◀ Tilbake")
    await kari.expect_button("☑️ Leke")  # the previous question again, with its ticks
    await kari.press("Ferdig")
    await kari.expect("3/5")

    await kari.press("4")
    await kari.expect("4/5")
    await kari.send("ja")
    await kari.expect("5/5")
    await kari.press("Hopp over")
    summary = await kari.expect("Svarene dine: Ny park")
    assert "Leke, Idrett" in summary["text"]
    assert "(hoppet over)" in summary["text"]

    # Change the free-text answer from the summary.
    await kari.press("Endre 5")
    await kari.expect("5/5")
    await kari.send("Flere benker, takk")
    summary = await kari.expect("Svarene dine: Ny park")
    assert "Flere benker, takk" in summary["text"]

    async with db() as session:
        response = (await session.exec(select(Response))).one()
        assert response.source == "library"
        assert response.completed_at is not None
        answers = (await session.exec(select(Answer))).all()
        assert len(answers) == 5
        assert {a.text for a in answers if a.text} == {"Flere benker, takk"}
        assert {a.number for a in answers if a.number} == {4}
        assert len((await session.exec(select(AnswerChoice))).all()) == 4
        participant = (await session.exec(select(Participant))).one()
        assert participant.telegram_user_id == 5001
        assert participant.source == "library"


async def test_declining_stores_only_the_decision(
    sandbox: Sandbox, db: async_sessionmaker[AsyncSession], bot: None
) -> None:
    ola = Citizen(sandbox, 5002)
    await ola.send("/start c_park__poster")
    await ola.expect("Før vi begynner")
    await ola.press("Nei takk")
    await ola.expect("send /start")
    async with db() as session:
        participant = (await session.exec(select(Participant))).one()
        assert participant.language is None
        assert participant.source is None
        consent = (await session.exec(select(Consent))).one()
        assert consent.granted is False
        assert (await session.exec(select(Response))).all() == []
    await ola.send("/consultations")
    await ola.expect("godta personvernerklæringen")


async def test_language_follows_telegram_and_can_be_changed(
    sandbox: Sandbox, db: async_sessionmaker[AsyncSession], bot: None
) -> None:
    async with db() as session:
        await add_consultation(session)
    emma = Citizen(sandbox, 5003, language_code="en-GB")
    await emma.send("/start")
    await emma.expect("Before we start")
    # Switching before consent re-renders the notice and stores nothing.
    await emma.press("Norsk nynorsk")
    await emma.expect("Før vi byrjar")
    async with db() as session:
        assert (await session.exec(select(Participant))).all() == []
    await emma.press("Ja, eg godtek")
    await emma.expect("Opne undersøkingar")
    await emma.send("/language")
    await emma.expect("Vel språk")
    await emma.press("English")
    await emma.expect("Language: English")
    await emma.press("Ny park")  # the button shows the title in the first language
    await emma.expect("Would you use the park?")
    async with db() as session:
        assert (await session.exec(select(Participant))).one().language == "en"


async def test_cancel_and_resume_where_you_left_off(
    sandbox: Sandbox, db: async_sessionmaker[AsyncSession], bot: None
) -> None:
    async with db() as session:
        await add_consultation(session)
    per = Citizen(sandbox, 5004)
    await consent(per, "/start c_park")
    await per.expect("1/5")
    await per.press("Aldri")
    await per.expect("2/4")
    await per.send("/cancel")
    await per.expect("Satt på pause")
    await per.send("3")
    await per.expect("Det forsto jeg ikke")
    await per.send("/consultations")
    await per.expect("Åpne undersøkelser")
    await per.press("Ny park")
    await per.expect("Velkommen tilbake! Her er du der du slapp.")
    await per.expect("2/4")


async def test_an_unknown_deep_link_gets_a_polite_answer(
    sandbox: Sandbox, db: async_sessionmaker[AsyncSession], bot: None
) -> None:
    async with db() as session:
        await add_consultation(session)
    lise = Citizen(sandbox, 5005)
    await consent(lise)
    await lise.expect("Åpne undersøkelser")
    await lise.send("/start c_finnes-ikke__poster")
    await lise.expect("Jeg fant ikke den undersøkelsen")
    await lise.expect("Åpne undersøkelser")


async def test_twenty_citizens_at_once_each_get_their_own_answers(
    sandbox: Sandbox, db: async_sessionmaker[AsyncSession], bot: None
) -> None:
    async with db() as session:
        await add_consultation(session)
    people = [Citizen(sandbox, 6000 + i) for i in range(20)]

    async def answer(person: Citizen, number: int) -> None:
        await consent(person, f"/start c_park__src{number % 3}")
        await person.expect("1/5")
        await person.press("Aldri")
        await person.expect("2/4")
        await person.press(str(1 + number % 5))
        await person.expect("3/4")
        await person.press("Ja" if number % 2 else "Nei")
        await person.expect("4/4")
        await person.send(f"Idé nummer {number}")
        await person.expect("Svarene dine: Ny park")

    await asyncio.gather(*(answer(person, n) for n, person in enumerate(people)))

    async with db() as session:
        rows = (
            await session.exec(
                select(Participant.telegram_user_id, Answer.number, Answer.text, Response.source)
                .join(Response, Response.participant_id == Participant.id)
                .join(Answer, Answer.response_id == Response.id)
            )
        ).all()
        by_person: dict[int, dict[str, object]] = {}
        for user_id, number, text, source in rows:
            person = by_person.setdefault(user_id, {"source": source})
            if number is not None:
                person["number"] = number
            if text is not None:
                person["text"] = text
        assert len(by_person) == 20
        for n in range(20):
            assert by_person[6000 + n] == {
                "source": f"src{n % 3}",
                "number": 1 + n % 5,
                "text": f"Idé nummer {n}",
            }
        completed = (
            await session.exec(select(Response).where(col(Response.completed_at).is_not(None)))
        ).all()
        assert len(completed) == 20
        consultation = (await session.exec(select(Consultation))).one()
        assert consultation.slug == "park"
