"""Results of a consultation: counts, shares, means, drop-off and sources, counted in SQL.

Everything is aggregated by the database with ``GROUP BY``; no answer is loaded into Python.
Besides loading the consultation itself (three small queries) it takes six queries, whatever
the number of answers: responses by source, drop-off by current question, answers by question,
skips by question, scale values, and choices by option.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from models.answers import Answer, AnswerChoice, Response
from models.base import Text, localized
from models.consultation import ConsultationView, QuestionView, load_consultation
from models.consultation_file import QuestionType

# How responses without a deep-link source are shown.
DIRECT = "direct"

CHOICE_TYPES = frozenset(
    {QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE, QuestionType.YES_NO}
)


def percent(part: int, whole: int) -> float:
    """Return ``part`` as a percentage of ``whole``; 0 when there is no whole."""
    return 100.0 * part / whole if whole else 0.0


@dataclass(frozen=True)
class Tally:
    """One bar of a question: an option or a scale value, and how many picked it."""

    key: str
    """The option's id in the consultation file (``yes``/``no`` for yes/no), or the value."""
    text: Text
    """The option's text per language; empty for yes/no options and scale values."""
    count: int
    percent: float
    """Of the people who answered the question; multiple choice may sum past 100."""

    def label(self, language: str, fallback: str) -> str:
        """The text to show in ``language``; the key when there is no text."""
        return localized(self.text, language, fallback) or self.key


@dataclass(frozen=True)
class QuestionResult:
    """The answers to one question, counted."""

    question_id: int
    key: str
    position: int
    type: QuestionType
    text: Text
    answered: int
    """Answers that were not skipped."""
    skipped: int
    stopped_here: int
    """Incomplete responses whose current question is this one: where people dropped off."""
    tallies: list[Tally] = field(default_factory=list)
    """Options in order (choice and yes/no questions), or every value (scale questions)."""
    mean: float | None = None
    """Scale questions: the mean of the values given; None without answers."""
    min_label: Text | None = None
    """Scale questions: what the lowest value means, per language."""
    max_label: Text | None = None

    @property
    def texts(self) -> int:
        """Free-text questions: how many texts were written (their content is not counted)."""
        return self.answered if self.type is QuestionType.FREE_TEXT else 0

    @property
    def has_chart(self) -> bool:
        """True for question types shown as bars: choice, yes/no and scale."""
        return self.type is not QuestionType.FREE_TEXT


@dataclass(frozen=True)
class SourceResult:
    """Responses that came through one deep-link source (``direct`` without one)."""

    source: str
    responses: int
    completed: int


@dataclass(frozen=True)
class ConsultationResults:
    """Everything counted about one consultation."""

    consultation_id: int
    slug: str
    title: Text
    languages: list[str]
    started: int
    completed: int
    questions: list[QuestionResult]
    sources: list[SourceResult]
    """Most responses first."""

    @property
    def completion_rate(self) -> float:
        """Completed responses as a share of started ones, from 0 to 1."""
        return self.completed / self.started if self.started else 0.0

    @property
    def incomplete(self) -> int:
        """Responses started but not completed."""
        return self.started - self.completed

    def title_in(self, language: str) -> str:
        """The consultation's title in ``language``, with fallback to its first language."""
        return localized(self.title, language, self.languages[0])


async def consultation_results(
    session: AsyncSession, consultation_id: int
) -> ConsultationResults | None:
    """Count the responses and answers of a consultation; None when there is no such one."""
    view = await load_consultation(session, consultation_id)
    if view is None:
        return None
    sources = await _sources(session, consultation_id)
    stopped = await _stopped_at(session, consultation_id)
    answered, skipped = await _answered_and_skipped(session, view)
    values = await _scale_values(
        session, [q.id for q in view.questions if q.type is QuestionType.SCALE]
    )
    chosen = await _count(
        session,
        select(AnswerChoice.option_id, func.count()),
        AnswerChoice.option_id,
        [o.id for q in view.questions for o in q.options if o.id is not None],
    )
    questions = [
        _question_result(
            q, answered.get(q.id, 0), skipped.get(q.id, 0), stopped.get(q.id, 0), values, chosen
        )
        for q in view.questions
    ]
    consultation = view.consultation
    return ConsultationResults(
        consultation_id,
        consultation.slug,
        consultation.title,
        consultation.languages,
        started=sum(s.responses for s in sources),
        completed=sum(s.completed for s in sources),
        questions=questions,
        sources=sources,
    )


async def _answered_and_skipped(
    session: AsyncSession, view: ConsultationView
) -> tuple[dict[int, int], dict[int, int]]:
    """Answers that were not skipped, and skips, per question."""
    # Answers are counted in three narrow queries rather than one GROUP BY over (question,
    # skipped, number): the count per question is read from the question_id index alone, and
    # only the rows that can differ (optional questions' skips, scale values) are visited.
    # With a million answers that is about three times faster on SQLite.
    answers = await _count(
        session,
        select(Answer.question_id, func.count()),
        Answer.question_id,
        [q.id for q in view.questions],
    )
    # Only optional questions can have skipped answers: the answering rules refuse a skip of
    # a required one, and a re-import cannot make an optional question with answers required
    # (it is locked) or keep one with skips only (it is replaced, its answers with it).
    skipped = await _count(
        session,
        select(Answer.question_id, func.count()).where(col(Answer.skipped).is_(True)),
        Answer.question_id,
        [q.id for q in view.questions if not q.question.required],
    )
    return {q: n - skipped.get(q, 0) for q, n in answers.items()}, skipped


async def _sources(session: AsyncSession, consultation_id: int) -> list[SourceResult]:
    """Responses and completed ones by deep-link source, most responses first."""
    by_source = (
        await session.exec(
            select(
                Response.source,
                func.count(),
                func.count(col(Response.completed_at)),
            )
            .where(Response.consultation_id == consultation_id)
            .group_by(col(Response.source))
        )
    ).all()
    # NULL and a literal "direct" source are both shown as "direct": merge their groups.
    merged: dict[str, tuple[int, int]] = {}
    for source, n, done in by_source:
        name = source or DIRECT
        before = merged.get(name, (0, 0))
        merged[name] = (before[0] + int(n), before[1] + int(done))
    return sorted(
        (SourceResult(name, n, done) for name, (n, done) in merged.items()),
        key=lambda s: (-s.responses, s.source),
    )


async def _stopped_at(session: AsyncSession, consultation_id: int) -> dict[int, int]:
    """Incomplete responses by the question they are on: where people dropped off."""
    rows = await session.exec(
        select(Response.current_question_id, func.count())
        .where(
            Response.consultation_id == consultation_id,
            col(Response.completed_at).is_(None),
            col(Response.current_question_id).is_not(None),
        )
        .group_by(col(Response.current_question_id))
    )
    return {int(question_id or 0): int(n) for question_id, n in rows.all()}


async def _scale_values(session: AsyncSession, scale_ids: list[int]) -> dict[int, dict[int, int]]:
    """How often each value was given, per scale question."""
    values: dict[int, dict[int, int]] = defaultdict(dict)
    if not scale_ids:
        return values
    rows = await session.exec(
        select(Answer.question_id, Answer.number, func.count())
        .where(
            col(Answer.question_id).in_(scale_ids),
            col(Answer.skipped).is_(False),
            col(Answer.number).is_not(None),
        )
        .group_by(col(Answer.question_id), col(Answer.number))
    )
    for question_id, number, n in rows.all():
        values[question_id][int(number or 0)] = int(n)
    return values


async def _count(
    session: AsyncSession,
    query: Select[int, int],
    key: Any,
    ids: list[int],
) -> dict[int, int]:
    """Run ``query`` (selecting a key and a count) for ``ids``, grouped by the key."""
    if not ids:
        return {}
    rows = await session.exec(query.where(col(key).in_(ids)).group_by(col(key)))
    return {int(k): int(n) for k, n in rows.all()}


def _question_result(
    question: QuestionView,
    answered: int,
    skipped: int,
    stopped: int,
    values: dict[int, dict[int, int]],
    chosen: dict[int, int],
) -> QuestionResult:
    q = question.question
    tallies: list[Tally] = []
    mean: float | None = None
    if question.type in CHOICE_TYPES:
        tallies = _option_tallies(question, chosen, answered)
    elif question.type is QuestionType.SCALE:
        tallies, mean = _scale_tallies(question, values.get(question.id, {}), answered)
    return QuestionResult(
        question.id,
        q.key,
        q.position,
        question.type,
        q.text,
        answered=answered,
        skipped=skipped,
        stopped_here=stopped,
        tallies=tallies,
        mean=mean,
        min_label=q.min_label,
        max_label=q.max_label,
    )


def _option_tallies(question: QuestionView, chosen: dict[int, int], answered: int) -> list[Tally]:
    """One bar per option, in order."""
    return [
        Tally(o.key, o.text, chosen.get(o.id or 0, 0), percent(chosen.get(o.id or 0, 0), answered))
        for o in question.options
    ]


def _scale_tallies(
    question: QuestionView, counts: dict[int, int], answered: int
) -> tuple[list[Tally], float | None]:
    """One bar per value of the scale, and the mean of the values given."""
    q = question.question
    # Every value of the scale, also those nobody picked: an empty bar says something too.
    scale = set(range(q.scale_min or 0, (q.scale_max or 0) + 1)) | set(counts)
    tallies = [
        Tally(str(v), {}, counts.get(v, 0), percent(counts.get(v, 0), answered))
        for v in sorted(scale)
    ]
    given = sum(counts.values())
    return tallies, sum(v * n for v, n in counts.items()) / given if given else None
