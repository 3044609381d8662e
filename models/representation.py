"""Who answered a consultation, compared with who lives here; results re-weighted to match.

For each background question with population figures (:mod:`models.population`), the people
who answered the consultation are counted per band next to the residents: counts, shares and
the ratio of the two shares. A band whose ratio is below ``1 / factor`` is *under-represented*
(with the default factor 1.5: it answered at two thirds of its share or less).

Results are re-weighted by post-stratification: each respondent gets the weight
``population share of their cell / respondent share of their cell``, where a cell is a
combination of bands of the imported table (e.g. age x district). With several tables (a cross
table and a margin, or two margins) the weights are found by raking (iterative proportional
fitting), which is post-stratification when there is one table. Respondents who did not give
a band the weighting needs are left out of the weighted figures; cells of residents without a
single respondent cannot be weighted up and are named (``uncovered``). The effective sample
size is Kish's ``(Σw)² / Σw²``: how many unweighted answers the weighted ones are worth.

Privacy: counts of people by band are never held here when they are between 1 and
:data:`SMALL_CELL` - 1: such a count is ``None`` (show it as "fewer than 5") and so are the
shares that would reveal it. Docs: docs/representation.md.

Everything is counted in SQL with ``GROUP BY`` on the bands (four queries); no answer is loaded
into Python. :func:`representation` is the one function chat, exports and the dashboard call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, func
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from models.answers import Answer, AnswerChoice, Response
from models.base import Text, table_of
from models.consultation import QuestionView, load_consultation
from models.consultation_file import QuestionType
from models.population import PopulationTable, margin, population_tables
from models.profile import BackgroundQuestion, ProfileAnswer, background_questions
from models.results import DIRECT

#: Counts of people between 1 and this minus one are never shown (small-cell suppression).
SMALL_CELL = 5
#: A band is under-represented when its share of respondents is below its population share
#: divided by this (UNDERREPRESENTED_FACTOR).
DEFAULT_FACTOR = 1.5
#: Raking stops when every table's shares are this close, or after this many rounds.
RAKING_TOLERANCE = 1e-9
RAKING_ROUNDS = 200

WEIGHTED_TYPES = frozenset(
    {
        QuestionType.SINGLE_CHOICE,
        QuestionType.MULTIPLE_CHOICE,
        QuestionType.YES_NO,
        QuestionType.SCALE,
    }
)

R = table_of(Response)
A = table_of(Answer)
AC = table_of(AnswerChoice)
PA = table_of(ProfileAnswer)

#: A respondent's bands, one per compared question (a band's id in the files, or None).
Bands = tuple[str | None, ...]


def shown(count: int) -> int | None:
    """``count`` when it may be shown; None for 1 to :data:`SMALL_CELL` - 1 people."""
    return None if 0 < count < SMALL_CELL else count


@dataclass(frozen=True)
class BandShare:
    """One band of one question: respondents against residents."""

    key: str
    option_id: int
    text: Text
    respondents: int | None
    """None: between 1 and 4 people (suppressed)."""
    population: int
    respondent_share: float | None
    """Of the respondents who gave a band for this question; None when suppressed."""
    population_share: float
    ratio: float | None
    """Respondent share / population share; None when it cannot be said or is suppressed."""
    under: bool
    """Under-represented by more than the factor (also when the count is suppressed)."""


@dataclass(frozen=True)
class DimensionComparison:
    """One background question: its bands, respondents against residents."""

    key: str
    label: Text
    bands: list[BandShare]
    known: int | None
    """Respondents who gave a band (None: 1 to 4)."""
    not_given: int | None
    """Respondents who said "prefer not to say" or were never asked (None: 1 to 4)."""
    population: int

    @property
    def under(self) -> list[BandShare]:
        """The under-represented bands, in order."""
        return [band for band in self.bands if band.under]


@dataclass(frozen=True)
class WeightedOption:
    """One option (or scale value) of a question: its share raw and re-weighted."""

    key: str
    text: Text
    raw_percent: float
    weighted_percent: float


@dataclass(frozen=True)
class WeightedQuestion:
    """A choice, yes/no or scale question's results, raw and re-weighted."""

    question_id: int
    key: str
    type: QuestionType
    text: Text
    answered: int
    options: list[WeightedOption]
    raw_mean: float | None = None
    weighted_mean: float | None = None
    effective_size: float = 0.0


@dataclass(frozen=True)
class Uncovered:
    """Residents in a cell of the weighting without a single respondent."""

    dimensions: tuple[str, ...]
    bands: tuple[str, ...]
    texts: tuple[Text, ...]
    population_share: float


@dataclass(frozen=True)
class Weighting:
    """How the results were re-weighted, and the re-weighted results."""

    dimensions: tuple[str, ...]
    method: str
    """``post-stratification`` (one table) or ``raking`` (several)."""
    weighted: int
    """Respondents with every band the weighting needs."""
    not_weighted: int
    effective_size: float
    uncovered: list[Uncovered]
    questions: list[WeightedQuestion]


@dataclass(frozen=True)
class SourceBands:
    """Who one deep-link source reached: respondents per band (None: 1 to 4)."""

    source: str
    respondents: int
    bands: dict[str, dict[str, int | None]]


@dataclass(frozen=True)
class Representation:
    """A consultation's respondents compared with the population, and re-weighted results."""

    consultation_id: int
    respondents: int
    factor: float
    dimensions: list[DimensionComparison]
    weighting: Weighting | None
    sources: list[SourceBands] = field(default_factory=list)

    @property
    def available(self) -> bool:
        """Whether there is anything to compare (background questions with population data)."""
        return bool(self.dimensions)

    @property
    def under(self) -> list[tuple[DimensionComparison, BandShare]]:
        """Every under-represented band with its question."""
        return [(d, band) for d in self.dimensions for band in d.under]


# ---------------------------------------------------------------------- counting in SQL


@dataclass
class _Counts:
    """Everything counted per respondent cell (the bands of the compared questions)."""

    respondents: dict[tuple[Bands, str], int] = field(default_factory=dict)
    """Per cell and source."""
    answered: dict[int, dict[Bands, int]] = field(default_factory=lambda: defaultdict(dict))
    """Per question and cell: answers that were not skipped."""
    chosen: dict[int, dict[Bands, int]] = field(default_factory=lambda: defaultdict(dict))
    """Per option id and cell."""
    values: dict[int, dict[int, dict[Bands, int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(dict))
    )
    """Per scale question, value and cell."""


def _with_bands(
    base: FromClause, dimensions: Sequence[BackgroundQuestion]
) -> tuple[FromClause, list[ColumnElement[Any]]]:
    """``base`` (which has ``response``) joined to the respondent's band of each question."""
    joined = base
    columns: list[ColumnElement[Any]] = []
    for index, question in enumerate(dimensions):
        answer = PA.alias(f"band{index}")
        joined = joined.outerjoin(
            answer,
            and_(
                answer.c.participant_id == R.c.participant_id,
                answer.c.question_id == question.id,
            ),
        )
        columns.append(answer.c.option_id)
    return joined, columns


@dataclass(frozen=True)
class _Query:
    """What the counting queries share: the connection, and how a row's bands are read."""

    connection: AsyncConnection
    keys: list[dict[int | None, str]]
    """Per compared question, its bands' ids in the files by database id."""

    async def rows(self, statement: Any) -> list[tuple[Bands, Sequence[Any]]]:
        """Run ``statement`` (the bands' columns first); each row's bands and the rest."""
        k = len(self.keys)
        found = []
        for row in await self.connection.execute(statement):
            bands = tuple(
                self.keys[i].get(row[i]) if row[i] is not None else None for i in range(k)
            )
            found.append((bands, row[k:]))
        return found


async def _count(
    session: AsyncSession,
    consultation_id: int,
    dimensions: list[BackgroundQuestion],
    questions: list[QuestionView],
) -> _Counts:
    """Count respondents, answers, choices and scale values per cell, in up to four queries."""
    query = _Query(
        await session.connection(), [{o.id: o.key for o in q.options} for q in dimensions]
    )
    joined, columns = _with_bands(R, dimensions)
    counts = _Counts()
    statement = (
        core_select(*columns, R.c.source, func.count())
        .select_from(joined)
        .where(R.c.consultation_id == consultation_id)
        .group_by(*columns, R.c.source)
    )
    for bands, (source, n) in await query.rows(statement):
        # No source and a literal "direct" source are both "direct", as in the results.
        where = (bands, source or DIRECT)
        counts.respondents[where] = counts.respondents.get(where, 0) + int(n)
    if questions:
        # Each response's bands once (a materialized CTE), so that every answer is joined to
        # one row instead of looking up each of its person's bands: half the time on SQLite.
        cells = (
            core_select(
                R.c.id.label("response_id"), *[c.label(f"band{i}") for i, c in enumerate(columns)]
            )
            .select_from(joined)
            .where(R.c.consultation_id == consultation_id)
            .cte("cells")
            .prefix_with("MATERIALIZED")
        )
        await _count_answers(query, cells, questions, counts)
    return counts


async def _count_answers(
    query: _Query, cells: Any, questions: list[QuestionView], counts: _Counts
) -> None:
    """Choices per option, scale values, and who answered each question, per cell."""
    cell = [cells.c[f"band{i}"] for i in range(len(query.keys))]
    answers = A.join(cells, cells.c.response_id == A.c.response_id)
    by_type = {kind: [q.id for q in questions if q.type is kind] for kind in QuestionType}
    statement = (
        core_select(*cell, AC.c.option_id, func.count())
        .select_from(AC.join(answers, A.c.id == AC.c.answer_id))
        .where(A.c.skipped.is_(False), A.c.question_id.in_([q.id for q in questions]))
        .group_by(*cell, AC.c.option_id)
    )
    for bands, (option_id, n) in await query.rows(statement):
        counts.chosen[int(option_id)][bands] = int(n)
    if scales := by_type[QuestionType.SCALE]:
        statement = (
            core_select(*cell, A.c.question_id, A.c.number, func.count())
            .select_from(answers)
            .where(A.c.skipped.is_(False), A.c.question_id.in_(scales), A.c.number.is_not(None))
            .group_by(*cell, A.c.question_id, A.c.number)
        )
        for bands, (question_id, value, n) in await query.rows(statement):
            counts.values[int(question_id)][int(value)][bands] = int(n)
    # Who answered a question follows from its choices or values, except for multiple choice
    # (one answer, several choices): one narrow query for those alone.
    if several := by_type[QuestionType.MULTIPLE_CHOICE]:
        statement = (
            core_select(*cell, A.c.question_id, func.count())
            .select_from(answers)
            .where(A.c.skipped.is_(False), A.c.question_id.in_(several))
            .group_by(*cell, A.c.question_id)
        )
        for bands, (question_id, n) in await query.rows(statement):
            counts.answered[int(question_id)][bands] = int(n)
    _answered_from_choices(questions, counts)


def _answered_from_choices(questions: list[QuestionView], counts: _Counts) -> None:
    """Who answered each question that is not multiple choice: one choice or value each."""
    for question in questions:
        if question.type is QuestionType.MULTIPLE_CHOICE:
            continue
        parts = (
            list(counts.values[question.id].values())
            if question.type is QuestionType.SCALE
            else [counts.chosen[o.id or 0] for o in question.options]
        )
        total: dict[Bands, int] = defaultdict(int)
        for part in parts:
            for where, n in part.items():
                total[where] += n
        counts.answered[question.id] = dict(total)


# ---------------------------------------------------------------------- comparing


def _compare(
    index: int,
    question: BackgroundQuestion,
    per_cell: dict[Bands, int],
    residents: dict[str, int],
    factor: float,
) -> DimensionComparison:
    """One question's bands: respondents against residents."""
    counts: dict[str, int] = defaultdict(int)
    not_given = 0
    for cell, n in per_cell.items():
        band = cell[index]
        if band is None:
            not_given += n
        else:
            counts[band] += n
    known = sum(counts.values())
    population = sum(residents.get(o.key, 0) for o in question.options)
    bands = []
    for option in question.options:
        n, people = counts.get(option.key, 0), residents.get(option.key, 0)
        population_share = people / population if population else 0.0
        share = n / known if known else None
        ratio = share / population_share if share is not None and population_share else None
        bands.append(
            BandShare(
                key=option.key,
                option_id=option.id or 0,
                text=option.text,
                respondents=shown(n),
                population=people,
                respondent_share=share if shown(n) is not None else None,
                population_share=population_share,
                ratio=ratio if shown(n) is not None else None,
                under=ratio is not None and ratio < 1 / factor,
            )
        )
    return DimensionComparison(
        question.key, question.question.label, bands, shown(known), shown(not_given), population
    )


def _sources(
    respondents: dict[tuple[Bands, str], int], dimensions: list[BackgroundQuestion]
) -> list[SourceBands]:
    """Who each source reached, per band; most respondents first."""
    totals: dict[str, int] = defaultdict(int)
    per_band: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: {q.key: defaultdict(int) for q in dimensions}
    )
    for (cell, source), n in respondents.items():
        totals[source] += n
        for index, question in enumerate(dimensions):
            band = cell[index]
            if band is not None:
                per_band[source][question.key][band] += n
    return [
        SourceBands(
            source,
            totals[source],
            {
                q.key: {o.key: shown(per_band[source][q.key].get(o.key, 0)) for o in q.options}
                for q in dimensions
            },
        )
        for source in sorted(totals, key=lambda s: (-totals[s], s))
    ]


# ---------------------------------------------------------------------- weighting


def rake(
    cells: dict[Bands, int], tables: list[tuple[list[int], dict[Bands, float]]]
) -> dict[Bands, float]:
    """Weights per respondent cell so that each table's shares match the population's.

    ``cells``: respondents per cell (every band known). ``tables``: for each population table,
    the positions of its questions in a cell and its residents per combination of their bands.
    Combinations without respondents are left out of a table's targets (they cannot be weighted
    up). With one table this is post-stratification, exact after one round. The weights are
    scaled so that their mean over the respondents is 1.
    """
    weights = {cell: 1.0 for cell in cells}
    for _round in range(RAKING_ROUNDS):
        worst = 0.0
        for positions, residents in tables:
            worst = max(worst, _rake_once(cells, weights, positions, residents))
        if worst < RAKING_TOLERANCE:
            break
    people = sum(cells.values())
    total = sum(weights[c] * n for c, n in cells.items())
    return {c: w * people / total for c, w in weights.items()} if total else weights


def _rake_once(
    cells: dict[Bands, int],
    weights: dict[Bands, float],
    positions: list[int],
    residents: dict[Bands, float],
) -> float:
    """Adjust ``weights`` to one table's shares; how far off they were before."""
    current: dict[Bands, float] = defaultdict(float)
    for cell, n in cells.items():
        current[tuple(cell[i] for i in positions)] += weights[cell] * n
    covered = sum(residents.get(part, 0.0) for part in current)
    weighted = sum(current.values())
    if not covered or not weighted:
        return 0.0
    worst = 0.0
    factors = {}
    for part, amount in current.items():
        target = residents.get(part, 0.0) / covered
        share = amount / weighted
        worst = max(worst, abs(target - share))
        factors[part] = target / share if share else 0.0
    for cell in cells:
        weights[cell] *= factors[tuple(cell[i] for i in positions)]
    return worst


def effective_size(weights: dict[Bands, float], counts: dict[Bands, int]) -> float:
    """Kish's effective sample size ``(Σw)² / Σw²`` over ``counts`` people per cell."""
    total = sum(weights.get(c, 0.0) * n for c, n in counts.items())
    squares = sum(weights.get(c, 0.0) ** 2 * n for c, n in counts.items())
    return total * total / squares if squares else 0.0


@dataclass(frozen=True)
class _Plan:
    """Which tables the weighting uses, by the positions of their questions in a cell."""

    positions: list[int]
    """Positions (in the compared questions) of every question the weighting needs."""
    tables: list[tuple[list[int], dict[Bands, float], PopulationTable]]


def _plan(tables: list[PopulationTable], dimensions: list[BackgroundQuestion]) -> _Plan | None:
    keys = [q.key for q in dimensions]
    usable = [t for t in tables if set(t.dimensions) <= set(keys)]
    if not usable:
        return None
    needed = sorted({keys.index(k) for t in usable for k in t.dimensions})
    plan_tables: list[tuple[list[int], dict[Bands, float], PopulationTable]] = []
    for table in usable:
        where = [needed.index(keys.index(k)) for k in table.dimensions]
        plan_tables.append((where, {tuple(c): float(n) for c, n in table.cells.items()}, table))
    return _Plan(needed, plan_tables)


def _uncovered(
    cells: dict[Bands, int], plan: _Plan, dimensions: list[BackgroundQuestion]
) -> list[Uncovered]:
    """Residents' combinations without a respondent, per table, largest first."""
    found = []
    for where, residents, table in plan.tables:
        reached = {tuple(cell[i] for i in where) for cell in cells}
        total = sum(residents.values())
        texts_of = {q.key: {o.key: o.text for o in q.options} for q in dimensions}
        for part, people in residents.items():
            if part in reached or not people or not total:
                continue
            pairs = zip(table.dimensions, part, strict=True)
            texts = tuple(texts_of[key].get(band or "", {}) for key, band in pairs)
            bands = tuple(band or "" for band in part)
            found.append(Uncovered(table.dimensions, bands, texts, people / total))
    return sorted(found, key=lambda u: (-u.population_share, u.dimensions, u.bands))


def _weighting(
    counts: _Counts,
    plan: _Plan,
    dimensions: list[BackgroundQuestion],
    questions: list[QuestionView],
) -> Weighting:
    """Weights per cell, and every question's results raw and re-weighted."""

    def part(cell: Bands) -> Bands | None:
        bands = tuple(cell[i] for i in plan.positions)
        return None if any(b is None for b in bands) else bands

    per_cell: dict[Bands, int] = defaultdict(int)
    everyone = 0
    for (cell, _source), n in counts.respondents.items():
        everyone += n
        if (bands := part(cell)) is not None:
            per_cell[bands] += n
    weights = rake(dict(per_cell), [(where, residents) for where, residents, _ in plan.tables])
    results = [_weighted_question(q, counts, weights, part) for q in questions]
    weighted = sum(per_cell.values())
    return Weighting(
        dimensions=tuple(dimensions[i].key for i in plan.positions),
        method="post-stratification" if len(plan.tables) == 1 else "raking",
        weighted=weighted,
        not_weighted=everyone - weighted,
        effective_size=effective_size(weights, per_cell),
        uncovered=_uncovered(dict(per_cell), plan, dimensions),
        questions=results,
    )


def _weighted_question(
    question: QuestionView,
    counts: _Counts,
    weights: dict[Bands, float],
    part: Any,
) -> WeightedQuestion:
    """One question's shares (or mean) over everyone, and re-weighted over the weighted."""
    everyone, answered = _tally(counts.answered.get(question.id, {}), {}, part, keep=True)
    denominator = sum(weights.get(c, 0.0) * n for c, n in answered.items())

    def option(key: str, text: Text, cells: dict[Bands, int]) -> WeightedOption:
        raw, weighted = _tally(cells, weights, part)
        return WeightedOption(
            key,
            text,
            100.0 * raw / everyone if everyone else 0.0,
            100.0 * sum(weighted.values()) / denominator if denominator else 0.0,
        )

    means: tuple[float | None, float | None] = (None, None)
    if question.type is QuestionType.SCALE:
        values = counts.values.get(question.id, {})
        options = [option(str(v), {}, values.get(v, {})) for v in _scale_values(question, values)]
        means = _means(values, weights, part)
    else:
        options = [
            option(o.key, o.text, counts.chosen.get(o.id or 0, {})) for o in question.options
        ]
    q = question.question
    size = effective_size(weights, answered)
    return WeightedQuestion(
        question.id, q.key, question.type, q.text, everyone, options, *means, size
    )


def _tally(
    cells: dict[Bands, int], weights: dict[Bands, float], part: Any, *, keep: bool = False
) -> tuple[int, dict[Bands, Any]]:
    """Everyone in ``cells``, and per weighted cell their weight (``keep``: their count)."""
    raw = 0
    weighted: dict[Bands, Any] = defaultdict(float)
    for cell, n in cells.items():
        raw += n
        if (bands := part(cell)) is not None:
            weighted[bands] += n if keep else weights.get(bands, 0.0) * n
    return raw, weighted


def _scale_values(question: QuestionView, values: dict[int, dict[Bands, int]]) -> list[int]:
    """Every value of the scale, also those nobody gave, and any given outside it."""
    q = question.question
    return sorted(set(range(q.scale_min or 0, (q.scale_max or 0) + 1)) | set(values))


def _means(
    values: dict[int, dict[Bands, int]], weights: dict[Bands, float], part: Any
) -> tuple[float | None, float | None]:
    """A scale's mean over everyone, and re-weighted."""
    raw_sum = raw_n = 0
    weighted_sum = weighted_n = 0.0
    for value, cells in values.items():
        raw, weighted = _tally(cells, weights, part)
        raw_sum, raw_n = raw_sum + value * raw, raw_n + raw
        amount = sum(weighted.values())
        weighted_sum, weighted_n = weighted_sum + value * amount, weighted_n + amount
    return (
        raw_sum / raw_n if raw_n else None,
        weighted_sum / weighted_n if weighted_n else None,
    )


async def background_cells(
    session: AsyncSession, consultation_id: int, questions: list[BackgroundQuestion]
) -> dict[Bands, int]:
    """Respondents per combination of their bands (None: not given), for small-cell checks."""
    counts = await _count(session, consultation_id, questions, [])
    cells: dict[Bands, int] = defaultdict(int)
    for (cell, _source), n in counts.respondents.items():
        cells[cell] += n
    return dict(cells)


# ---------------------------------------------------------------------- the one entry point


async def representation(
    session: AsyncSession, consultation_id: int, factor: float = DEFAULT_FACTOR
) -> Representation | None:
    """Respondents against residents per band, and the re-weighted results; None: no such one.

    Respondents are the people with a response to the consultation (started, whether finished
    or not). Counts of 1 to 4 people are None (see :data:`SMALL_CELL`). Without background
    questions or population figures the result is empty (``available`` is False).
    """
    view = await load_consultation(session, consultation_id)
    if view is None:
        return None
    tables = await population_tables(session)
    every = await background_questions(session)
    residents = {q.key: margin(tables, q.key) for q in every}
    dimensions = [q for q in every if residents[q.key]]
    questions = [q for q in view.questions if q.type in WEIGHTED_TYPES]
    counts = await _count(session, consultation_id, dimensions, questions)
    per_cell: dict[Bands, int] = defaultdict(int)
    for (cell, _source), n in counts.respondents.items():
        per_cell[cell] += n
    compared = [
        _compare(i, q, per_cell, residents[q.key] or {}, factor) for i, q in enumerate(dimensions)
    ]
    plan = _plan(tables, dimensions)
    weighting = _weighting(counts, plan, dimensions, questions) if plan else None
    return Representation(
        consultation_id,
        sum(per_cell.values()),
        factor,
        compared,
        weighting,
        _sources(counts.respondents, dimensions) if dimensions else [],
    )


async def underrepresented_bands(
    session: AsyncSession, consultation_id: int, factor: float = DEFAULT_FACTOR
) -> list[int]:
    """The ids of the under-represented bands of a consultation (for a broadcast audience)."""
    found = await representation(session, consultation_id, factor)
    return [band.option_id for _, band in found.under] if found else []
