"""Native Telegram polls: votes stored like button answers, polls stopped on close."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import polls
from handlers.context import BotContext
from models.consultation import Consultation, Status, set_status
from models.response import Answer, AnswerChoice, Response
from models.roles import Role, grant
from tests.auxil.citizen import Citizen
from tests.handlers.conftest import NOW, Harness

Sessions = async_sessionmaker[AsyncSession]


async def _poll_opened_as_native(harness: Harness, sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        await grant(session, 9100, Role.STAFF, by=None, now=NOW)
        await session.commit()
    staff = harness.citizen(9100)
    await harness.send(
        staff, "/newpoll Hvor skal benken stå?\nVed lekeplassen\nVed dammen\nVed skolen"
    )
    await harness.press(staff, "Åpne, lukke")
    await harness.press(staff, "Åpne som Telegram-avstemning")


async def _voter(harness: Harness) -> tuple[Citizen, str]:
    person = harness.citizen(7301)
    await harness.send(person, "/start")
    await harness.press(person, "Ja, jeg godtar")
    await harness.send(person, "/consultations")
    await harness.press(person, "Hvor skal benken stå?")
    poll = harness.sandbox.messages(person.id)[-1]["poll"]
    assert poll["is_anonymous"] is False
    assert [o["text"] for o in poll["options"]] == ["Ved lekeplassen", "Ved dammen", "Ved skolen"]
    return person, poll["id"]


async def _chosen(sessionmaker: Sessions) -> list[int]:
    async with sessionmaker() as session:
        return list((await session.exec(select(AnswerChoice.option_id))).all())


async def test_a_vote_is_stored_as_an_answer_and_can_be_withdrawn(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _poll_opened_as_native(harness, sessionmaker)
    person, poll_id = await _voter(harness)
    await harness.sandbox.vote(person.id, poll_id, [1])
    await harness.process()
    assert "Takk! Svaret ditt er lagret." in harness.last(person)
    async with sessionmaker() as session:
        response = (await session.exec(select(Response))).one()
        assert response.completed_at == NOW
        assert len((await session.exec(select(Answer))).all()) == 1
    first = await _chosen(sessionmaker)
    assert len(first) == 1

    await harness.sandbox.vote(person.id, poll_id, [])
    await harness.process()
    assert "trukket tilbake" in harness.last(person)
    assert await _chosen(sessionmaker) == []
    async with sessionmaker() as session:
        assert (await session.exec(select(Response))).one().completed_at is None


async def test_polls_are_stopped_when_the_consultation_closes(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _poll_opened_as_native(harness, sessionmaker)
    person, poll_id = await _voter(harness)
    context = BotContext(harness.app)  # type: ignore[arg-type]
    await polls.stop_closed_polls(context)
    assert harness.sandbox.poll(poll_id)["is_closed"] is False

    async with sessionmaker() as session:
        slug = (await session.exec(select(Consultation.slug))).one()
        await set_status(session, slug, Status.CLOSED)
        await session.commit()
    # A vote that arrives before the poll is stopped is not counted, and the person is told.
    await harness.sandbox.vote(person.id, poll_id, [0])
    await harness.process()
    assert "avstemningen er avsluttet" in harness.last(person)
    assert await _chosen(sessionmaker) == []

    await polls.stop_closed_polls(context)
    assert harness.sandbox.poll(poll_id)["is_closed"] is True
    assert harness.app.job_queue is not None
    assert polls.stop_closed_polls in [job.callback for job in harness.app.job_queue.jobs()]
