"""Dashboard logins and sessions, and the results' filters, in the domain (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.dashboard import (
    DashboardSession,
    current_session,
    issue_login,
    redeem_login,
)
from models.moderation import Status, texts_for_staff
from models.response import find_response
from models.results import ResultFilter, consultation_results
from models.roles import Role, grant
from tests.auxil.answers import IDEA_ADA, Sample, build_sample

pytestmark = pytest.mark.postgres

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


async def test_a_login_link_opens_one_session_even_when_used_twice_at_once(
    sessionmaker: Sessions,
) -> None:
    async with sessionmaker() as session, session.begin():
        await grant(session, 42, Role.MODERATOR, by=None, now=NOW)
        login = await issue_login(session, 42, NOW)

    async def use() -> DashboardSession | None:
        async with sessionmaker() as session, session.begin():
            return await redeem_login(session, login.id, NOW + timedelta(seconds=1))

    opened = await asyncio.gather(use(), use())
    assert sum(found is not None for found in opened) == 1
    async with sessionmaker() as session:
        assert len((await session.exec(select(DashboardSession))).all()) == 1


async def test_a_session_lasts_while_used_and_not_past_its_idle_time(
    sessionmaker: Sessions,
) -> None:
    async with sessionmaker() as session, session.begin():
        await grant(session, 42, Role.STAFF, by=None, now=NOW)
        login = await issue_login(session, 42, NOW)
        opened = await redeem_login(session, login.id, NOW)
    assert opened is not None
    idle = timedelta(minutes=30)
    async with sessionmaker() as session, session.begin():
        for minutes in (20, 40, 60):  # each request within 30 minutes of the last
            assert await current_session(
                session, opened.id, NOW + timedelta(minutes=minutes), idle
            )
        assert await current_session(session, opened.id, NOW + timedelta(minutes=91), idle) is None
        assert await current_session(session, opened.id, NOW + timedelta(hours=13), idle) is None


async def _answered_in_english(session: AsyncSession, sample: Sample) -> None:
    """Ada answered the park in English (the language filter is the response's language)."""
    response = await find_response(session, sample.people["ada"], sample.park_id)
    assert response is not None
    response.language = "en"
    await session.commit()


async def test_results_narrow_to_a_source_or_a_language(sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        sample = await build_sample(session)
        await _answered_in_english(session, sample)
    async with sessionmaker() as session:
        everyone = await consultation_results(session, sample.park_id)
        poster = await consultation_results(session, sample.park_id, ResultFilter(source="poster"))
        direct = await consultation_results(session, sample.park_id, ResultFilter(source="direct"))
        english = await consultation_results(session, sample.park_id, ResultFilter(language="en"))
    assert everyone is not None
    assert poster is not None
    assert direct is not None
    assert english is not None
    assert (everyone.started, poster.started, direct.started, english.started) == (5, 2, 2, 1)
    use = {r.key: r for r in poster.questions}["use"]
    assert {t.key: t.count for t in use.tallies} == {"often": 1, "sometimes": 1, "never": 0}
    agree = {r.key: r for r in english.questions}["agree"]
    assert agree.mean == 4
    async with sessionmaker() as session:
        free = [q.question_id for q in everyone.questions if q.type == "free_text"]
        texts = await texts_for_staff(session, free, Status.APPROVED, "GRILL")
        within = ResultFilter(source="library").response_ids(sample.park_id)
        none = await texts_for_staff(session, free, Status.APPROVED, within=within)
    assert len(texts.texts) == 1
    assert not texts.more
    assert IDEA_ADA in "".join(texts.texts[0][1])
    assert none.texts == []


async def test_a_filter_keeping_most_responses_counts_the_rest_and_subtracts_exactly(
    sessionmaker: Sessions,
) -> None:
    async with sessionmaker() as session:
        sample = await build_sample(session)
        await _answered_in_english(session, sample)  # the others in Bokmål, the park's first
    async with sessionmaker() as session:
        everyone = await consultation_results(session, sample.park_id)
        bokmal = await consultation_results(session, sample.park_id, ResultFilter(language="nb"))
        english = await consultation_results(session, sample.park_id, ResultFilter(language="en"))
    assert everyone is not None
    assert bokmal is not None
    assert english is not None
    assert (bokmal.started, english.started) == (4, 1)  # four of five: counted as all minus one
    for whole, most, rest in zip(
        everyone.questions, bokmal.questions, english.questions, strict=True
    ):
        assert most.answered + rest.answered == whole.answered
        assert most.skipped + rest.skipped == whole.skipped
        assert [t.count + r.count for t, r in zip(most.tallies, rest.tallies, strict=True)] == [
            t.count for t in whole.tallies
        ]
