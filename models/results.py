"""Results of a consultation: counts, shares, means, drop-off, sources and channels, in SQL.

Everything is aggregated by the database with ``GROUP BY``; no answer is loaded into Python.
Besides loading the consultation itself (three small queries) it takes seven queries, whatever
the number of answers: responses by source, by channel (Telegram or the web chat), drop-off by
current question, answers by question, skips by question, scale values, and choices by option.

``/results`` in chat and the dashboard's results page call the same function,
:func:`consultation_results`; the dashboard may narrow it with a :class:`ResultFilter` (the
deep-link source, the language people use, the channel), which restricts every one of those
queries to the responses that match.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, func, not_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from models.answers import Answer, AnswerChoice, Response
from models.base import Text, localized
from models.consultation import ConsultationView, QuestionView, load_consultation
from models.consultation_file import QuestionType
from models.participant import Participant

#: A query (a ``select`` of any columns) that a filter narrows.
Q = TypeVar("Q", bound=Any)

# How responses without a deep-link source are shown.
DIRECT = "direct"

CHOICE_TYPES = frozenset(
    {QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE, QuestionType.YES_NO}
)


@dataclass(frozen=True)
class ResultFilter:
    """Which responses to count: all (the default), or those of one source, language or channel.

    ``source`` is a deep-link source (``direct`` for responses without one); ``language`` the
    language people answered in (the response's, chosen when it was begun); ``channel`` where
    they answer (``telegram`` or ``web``). ``inverse`` counts the responses the filter leaves
    out instead (see :func:`consultation_results`).
    """

    source: str | None = None
    language: str | None = None
    channel: str | None = None
    inverse: bool = False

    @property
    def narrows(self) -> bool:
        """True when some responses are left out."""
        return self.source is not None or self.language is not None or self._by_person

    @property
    def _by_person(self) -> bool:
        """True when the filter looks at the participant row (the channel)."""
        return self.channel is not None

    def _matches(self) -> ColumnElement[bool]:
        """The filter's test of a response (joined to its participant), never NULL."""
        tests: list[ColumnElement[bool]] = []
        if self.source == DIRECT:
            tests.append(func.coalesce(col(Response.source), DIRECT) == DIRECT)
        elif self.source is not None:
            tests.append(func.coalesce(col(Response.source), "") == self.source)
        if self.language is not None:
            tests.append(func.coalesce(col(Response.language), "") == self.language)
        if self.channel is not None:
            tests.append(col(Participant.channel) == self.channel)
        test = and_(*tests)
        return not_(test) if self.inverse else test

    def responses(self, query: Q, consultation_id: int, *, joined: bool = False) -> Q:
        """``query`` (over ``Response``) kept to the chosen responses of the consultation.

        ``joined``: the query joins the participant already.
        """
        query = query.where(col(Response.consultation_id) == consultation_id)
        if not self.narrows:
            return query
        if self._by_person and not joined:
            query = query.join(Participant, col(Participant.id) == col(Response.participant_id))
        return query.where(self._matches())

    def response_ids(self, consultation_id: int) -> Any:
        """A subquery of the ids of the chosen responses."""
        return self.responses(select(Response.id), consultation_id)

    def answers(self, query: Q, consultation_id: int) -> Q:
        """``query`` (over ``Answer``) kept to the answers of the chosen responses.

        A join from the responses, not ``response_id IN (…)``: the database then reads the
        chosen responses and their answers by the ``(response_id, question_id)`` index, work in
        proportion to what is counted, instead of testing every answer of the question.
        """
        if not self.narrows:
            return query
        joined = query.join(Response, col(Response.id) == col(Answer.response_id))
        return self.responses(joined, consultation_id)

    def reversed(self) -> ResultFilter:
        """The responses this filter leaves out."""
        return ResultFilter(self.source, self.language, self.channel, not self.inverse)


ALL = ResultFilter()


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
class ChannelResult:
    """Responses that came through one channel (``telegram`` or ``web``)."""

    channel: str
    responses: int
    completed: int


@dataclass(frozen=True)
class LanguageResult:
    """Responses answered in one language of the consultation."""

    language: str
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
    channels: list[ChannelResult] = field(default_factory=list)
    """Most responses first."""
    answered_in: list[LanguageResult] = field(default_factory=list)
    """The languages people answered in, most responses first."""

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
    session: AsyncSession, consultation_id: int, only: ResultFilter = ALL
) -> ConsultationResults | None:
    """Count the responses and answers of a consultation; None when there is no such one.

    ``only`` narrows the count to the responses of one source or language (the dashboard's
    filters); by default every response counts, as in ``/results``.
    """
    view = await load_consultation(session, consultation_id)
    if view is None:
        return None
    sources, answered_in = await _sources(session, consultation_id, only)
    stopped = await _stopped_at(session, consultation_id, only)
    counted = await _tallies_for(session, view, only, sum(s.responses for s in sources))
    answered = {q: n - counted.skipped.get(q, 0) for q, n in counted.answers.items()}
    skipped, values, chosen = counted.skipped, counted.values, counted.chosen
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
        channels=await _channels(session, consultation_id, only),
        answered_in=answered_in,
    )


@dataclass
class _Tallies:
    """What is counted over answers: answers and skips per question, scale values per question,
    ticks per option."""

    answers: dict[int, int]
    skipped: dict[int, int]
    values: dict[int, dict[int, int]]
    chosen: dict[int, int]

    def __sub__(self, other: _Tallies) -> _Tallies:
        def minus(a: dict[int, int], b: dict[int, int]) -> dict[int, int]:
            return {k: n - b.get(k, 0) for k, n in a.items()}

        values = {q: minus(v, other.values.get(q, {})) for q, v in self.values.items()}
        return _Tallies(
            minus(self.answers, other.answers),
            minus(self.skipped, other.skipped),
            values,
            minus(self.chosen, other.chosen),
        )


async def _tallies_for(
    session: AsyncSession, view: ConsultationView, only: ResultFilter, kept: int
) -> _Tallies:
    """Count the answers of the chosen responses, by the cheaper of two ways.

    Counting the chosen responses' answers costs in proportion to how many they are. When the
    filter keeps most of them (Bokmål, when most people use it), the answers of the few it
    leaves out are counted instead and taken from the count of all, which is read from indexes.
    """
    if not only.narrows:
        return await _tallies(session, view, only)
    total = await _response_count(session, view.id)
    if kept * 2 <= total:
        return await _tallies(session, view, only)
    return await _tallies(session, view, ALL) - await _tallies(session, view, only.reversed())


async def _ticks(
    session: AsyncSession, view: ConsultationView, only: ResultFilter
) -> dict[int, int]:
    """How often each option was picked by the chosen responses."""
    choices = select(AnswerChoice.option_id, func.count())
    if only.narrows:
        choices = only.answers(
            choices.join(Answer, col(Answer.id) == col(AnswerChoice.answer_id)), view.id
        )
    return await _count(
        session,
        choices,
        AnswerChoice.option_id,
        [o.id for q in view.questions for o in q.options if o.id is not None],
        narrowed=only.narrows,
    )


async def _response_count(session: AsyncSession, consultation_id: int) -> int:
    rows = await session.exec(
        select(func.count())
        .select_from(Response)
        .where(col(Response.consultation_id) == consultation_id)
    )
    return int(rows.one())


async def _tallies(session: AsyncSession, view: ConsultationView, only: ResultFilter) -> _Tallies:
    """Answers, skips, scale values and ticks of the chosen responses."""
    if only.narrows:
        return await _narrowed_tallies(session, view, only)
    # Answers are counted in three narrow queries rather than one GROUP BY over (question,
    # skipped, number): each reads the (question_id, skipped, number) index alone, and only
    # the entries that can differ (optional questions' skips, scale values) are visited.
    answers = await _count(
        session,
        select(Answer.question_id, func.count()),
        Answer.question_id,
        list(_question_ids(view)),
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
    values = await _scale_values(session, _scale_ids(view))
    return _Tallies(answers, skipped, values, await _ticks(session, view, only))


def _question_ids(view: ConsultationView) -> set[int]:
    """The ids of the consultation's questions."""
    return {q.id for q in view.questions}


def _scale_ids(view: ConsultationView) -> list[int]:
    return [q.id for q in view.questions if q.type is QuestionType.SCALE]


async def _narrowed_tallies(
    session: AsyncSession, view: ConsultationView, only: ResultFilter
) -> _Tallies:
    """The same counts for some responses: one pass over their answers, read through the join
    from the responses (see :meth:`ResultFilter.answers`), then the ticks."""
    rows = await session.exec(
        only.answers(
            select(Answer.question_id, Answer.skipped, Answer.number, func.count()), view.id
        ).group_by(col(Answer.question_id), col(Answer.skipped), col(Answer.number))
    )
    known, scales = _question_ids(view), set(_scale_ids(view))
    answers: dict[int, int] = defaultdict(int)
    skipped: dict[int, int] = defaultdict(int)
    values: dict[int, dict[int, int]] = defaultdict(dict)
    for question_id, was_skipped, number, n in rows.all():
        if question_id not in known:
            continue
        answers[question_id] += n
        if was_skipped:
            skipped[question_id] += n
        elif question_id in scales and number is not None:
            values[question_id][number] = values[question_id].get(number, 0) + n
    return _Tallies(dict(answers), dict(skipped), values, await _ticks(session, view, only))


async def _sources(
    session: AsyncSession, consultation_id: int, only: ResultFilter = ALL
) -> tuple[list[SourceResult], list[LanguageResult]]:
    """Responses and completed ones by deep-link source, and by the language answered in.

    One query, grouped by both; each list has the most responses first.
    """
    language = func.coalesce(col(Response.language), "")
    query = select(Response.source, language, func.count(), func.count(col(Response.completed_at)))
    rows = (
        await session.exec(
            only.responses(query, consultation_id).group_by(col(Response.source), language)
        )
    ).all()
    # NULL and a literal "direct" source are both shown as "direct": merge their groups.
    by_source: dict[str, tuple[int, int]] = {}
    by_language: dict[str, tuple[int, int]] = {}
    for source, code, n, done in rows:
        for merged, name in ((by_source, source or DIRECT), (by_language, code)):
            before = merged.get(name, (0, 0))
            merged[name] = (before[0] + int(n), before[1] + int(done))
    sources = [SourceResult(name, n, done) for name, (n, done) in by_source.items()]
    languages = [LanguageResult(code, n, done) for code, (n, done) in by_language.items()]
    return (
        sorted(sources, key=lambda found: (-found.responses, found.source)),
        sorted(languages, key=lambda found: (-found.responses, found.language)),
    )


async def _channels(
    session: AsyncSession, consultation_id: int, only: ResultFilter = ALL
) -> list[ChannelResult]:
    """Responses and completed ones by the channel of the person, most responses first."""
    query = select(Participant.channel, func.count(), func.count(col(Response.completed_at))).join(
        Participant, col(Participant.id) == col(Response.participant_id)
    )
    query = only.responses(query, consultation_id, joined=True)
    rows = (await session.exec(query.group_by(col(Participant.channel)))).all()
    return sorted(
        (ChannelResult(channel, int(n), int(done)) for channel, n, done in rows),
        key=lambda c: (-c.responses, c.channel),
    )


async def _stopped_at(
    session: AsyncSession, consultation_id: int, only: ResultFilter = ALL
) -> dict[int, int]:
    """Incomplete responses by the question they are on: where people dropped off."""
    query = select(Response.current_question_id, func.count()).where(
        col(Response.completed_at).is_(None),
        col(Response.current_question_id).is_not(None),
    )
    rows = await session.exec(
        only.responses(query, consultation_id).group_by(col(Response.current_question_id))
    )
    return {int(question_id or 0): int(n) for question_id, n in rows.all()}


async def _scale_values(session: AsyncSession, scale_ids: list[int]) -> dict[int, dict[int, int]]:
    """How often each value was given, per scale question (every response)."""
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
    *,
    narrowed: bool = False,
) -> dict[int, int]:
    """Run ``query`` (selecting a key and a count) for ``ids``, grouped by the key.

    ``narrowed``: the query is already kept to some responses of the consultation (a filter);
    the keys are then picked here rather than in SQL, so that the database reads those
    responses' answers by their index instead of every answer of each question.
    """
    if not ids:
        return {}
    if narrowed:
        wanted = set(ids)
        rows = await session.exec(query.group_by(col(key)))
        return {int(k): int(n) for k, n in rows.all() if k in wanted}
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


async def source_names(session: AsyncSession, consultation_id: int) -> list[str]:
    """The deep-link sources the consultation's responses came through (``direct``: none)."""
    sources = await session.exec(
        select(Response.source).where(Response.consultation_id == consultation_id).distinct()
    )
    return sorted({source or DIRECT for source in sources.all()})
