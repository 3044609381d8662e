"""Results: counts, shares, means, drop-off and sources of a hand-built sample."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from models.consultation_file import QuestionType
from models.results import (
    DIRECT,
    ConsultationResults,
    QuestionResult,
    SourceResult,
    consultation_results,
)
from tests.auxil.answers import build_sample
from tests.auxil.consultations import add_consultation

pytestmark = pytest.mark.postgres


def _question(results: ConsultationResults, key: str) -> QuestionResult:
    return next(q for q in results.questions if q.key == key)


def _tallies(question: QuestionResult) -> dict[str, tuple[int, float]]:
    return {t.key: (t.count, round(t.percent, 2)) for t in question.tallies}


async def _results(session: AsyncSession) -> ConsultationResults:
    sample = await build_sample(session)
    results = await consultation_results(session, sample.park_id)
    assert results is not None
    return results


async def test_responses_started_completed_and_rate(session: AsyncSession) -> None:
    results = await _results(session)
    assert results.slug == "park"
    assert (results.started, results.completed, results.incomplete) == (5, 3, 2)
    assert results.completion_rate == pytest.approx(0.6)
    assert results.title_in("en") == "New park"
    assert results.title_in("se") == "Ny park"


async def test_questions_come_in_position_order(session: AsyncSession) -> None:
    results = await _results(session)
    assert [q.key for q in results.questions] == ["use", "activities", "agree", "trees", "idea"]
    assert [q.position for q in results.questions] == [0, 1, 2, 3, 4]


async def test_single_choice_counts_and_shares(session: AsyncSession) -> None:
    use = _question(await _results(session), "use")
    assert (use.answered, use.skipped, use.stopped_here) == (5, 0, 0)
    assert _tallies(use) == {"often": (2, 40.0), "sometimes": (1, 20.0), "never": (2, 40.0)}
    assert [t.label("en", "nb") for t in use.tallies] == ["Often", "Sometimes", "Never"]


async def test_multiple_choice_shares_are_of_those_who_answered(session: AsyncSession) -> None:
    activities = _question(await _results(session), "activities")
    # Only two people were asked (the branch) and answered; one more stopped here.
    assert (activities.answered, activities.skipped, activities.stopped_here) == (2, 0, 1)
    assert _tallies(activities) == {"play": (2, 100.0), "sport": (1, 50.0), "rest": (0, 0.0)}
    assert sum(t.percent for t in activities.tallies) == pytest.approx(150.0)


async def test_scale_counts_every_value_and_the_mean(session: AsyncSession) -> None:
    agree = _question(await _results(session), "agree")
    assert agree.type is QuestionType.SCALE
    assert (agree.answered, agree.skipped) == (4, 0)
    assert _tallies(agree) == {
        "1": (0, 0.0),
        "2": (1, 25.0),
        "3": (0, 0.0),
        "4": (2, 50.0),
        "5": (1, 25.0),
    }
    assert agree.mean == pytest.approx(3.75)
    assert agree.min_label == {"nb": "Helt uenig", "en": "Disagree"}


async def test_yes_no_and_drop_off(session: AsyncSession) -> None:
    trees = _question(await _results(session), "trees")
    assert (trees.answered, trees.stopped_here) == (3, 1)
    assert _tallies(trees) == {"yes": (2, 66.67), "no": (1, 33.33)}
    assert [t.label("nb", "nb") for t in trees.tallies] == ["yes", "no"]


async def test_free_text_counts_texts_and_skips_only(session: AsyncSession) -> None:
    idea = _question(await _results(session), "idea")
    assert (idea.answered, idea.skipped, idea.texts) == (2, 1, 2)
    assert idea.tallies == []
    assert idea.mean is None
    assert not idea.has_chart


async def test_sources_with_direct_for_none(session: AsyncSession) -> None:
    results = await _results(session)
    assert results.sources == [
        SourceResult(DIRECT, 2, 1),
        SourceResult("poster", 2, 2),
        SourceResult("library", 1, 0),
    ]


async def test_a_consultation_without_responses(session: AsyncSession) -> None:
    consultation = await add_consultation(session)
    assert consultation.id is not None
    results = await consultation_results(session, consultation.id)
    assert results is not None
    assert (results.started, results.completed, results.completion_rate) == (0, 0, 0.0)
    assert results.sources == []
    for question in results.questions:
        assert (question.answered, question.skipped, question.stopped_here) == (0, 0, 0)
        assert all(t.count == 0 and t.percent == 0.0 for t in question.tallies)
    assert _question(results, "agree").mean is None


async def test_an_unknown_consultation_has_no_results(session: AsyncSession) -> None:
    assert await consultation_results(session, 987_654) is None


async def test_counting_takes_a_handful_of_queries(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    sample = await build_sample(session)
    statements: list[str] = []

    def count(conn: Connection, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        await consultation_results(session, sample.park_id)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    # Up to three to load the consultation (it may be in the session already), seven to count
    # (the seventh: by channel): the same for five answers or a million.
    assert len(statements) <= 10
    assert sum("GROUP BY" in s for s in statements) == 7
