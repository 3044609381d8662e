"""Benchmark: ``consultation_results`` on a consultation with a million answers.

Builds one consultation with ten questions (three single choice, two multiple choice, two
scales, two yes/no, one free text) and enough responses to reach the wanted number of answers,
inserted in bulk, then times ``consultation_results`` several times and reports the median.

    .venv/bin/python -m bench.bench_results                      # a temporary SQLite file
    .venv/bin/python -m bench.bench_results --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench

The schema in the target database is dropped and created again: never point it at real data.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

from bot.db import create_engine, create_sessionmaker
from models.consultation import ConsultationView, import_consultation, load_consultation
from models.consultation_file import QuestionType, parse_consultation_file
from models.moderation import ModerationItem
from models.participant import Participant
from models.response import Answer, AnswerChoice, Response
from models.results import consultation_results

CONSULTATION = """
slug: bench
title: {nb: Benchmark, en: Benchmark}
questions:
  - {id: s1, type: single_choice, text: Ett?, options: [{id: a, text: A}, {id: b, text: B}, {id: c, text: C}]}
  - {id: m1, type: multiple_choice, text: Flere?, options: [{id: a, text: A}, {id: b, text: B}, {id: c, text: C}, {id: d, text: D}]}
  - {id: sc1, type: scale, min: 1, max: 5, text: Skala?}
  - {id: y1, type: yes_no, text: Ja eller nei?}
  - {id: s2, type: single_choice, text: To?, options: [{id: a, text: A}, {id: b, text: B}, {id: c, text: C}, {id: d, text: D}, {id: e, text: E}]}
  - {id: m2, type: multiple_choice, text: Flere to?, options: [{id: a, text: A}, {id: b, text: B}, {id: c, text: C}]}
  - {id: sc2, type: scale, min: 0, max: 10, text: Skala to?}
  - {id: y2, type: yes_no, text: Ja eller nei to?}
  - {id: s3, type: single_choice, text: Tre?, options: [{id: a, text: A}, {id: b, text: B}]}
  - {id: t1, type: free_text, required: false, text: Noe mer?}
"""  # noqa: E501
SOURCES = [None, None, "poster", "library", "volunteer-centre", "newsletter"]
WORDS = [
    "park",
    "benk",
    "tre",
    "lys",
    "sti",
    "lek",
    "grill",
    "skog",
    "vann",
    "sykkel",
    "buss",
    "trygg",
    "stille",
]
STATUSES = ("approved", "pending", "rejected", "flagged")
START = datetime(2027, 1, 10, 8, 0, tzinfo=UTC)
BATCH = 20_000


@dataclass
class Counts:
    """What was inserted."""

    participants: int = 0
    responses: int = 0
    answers: int = 0
    choices: int = 0
    reviews: int = 0
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)


Rows = list[dict[str, Any]]


def _response_rows(
    view: ConsultationView, first_id: int, count: int, rng: random.Random, answer_id: int
) -> Iterator[tuple[dict[str, Any], dict[str, Any], Rows, Rows, Rows]]:
    """Yield (participant, response, answers, choices, reviews) for ``count`` made-up people.

    Written texts get a moderation review, as the bot makes one for each: 80 % approved, the
    rest pending, rejected or flagged.
    """
    questions = view.questions
    for i in range(first_id, first_id + count):
        started = START + timedelta(seconds=i * 7)
        complete = rng.random() < 0.85
        # An incomplete response stops at a random question and answered the ones before it.
        stop = len(questions) if complete else rng.randrange(len(questions))
        answers: Rows = []
        choices: Rows = []
        reviews: Rows = []
        for question in questions[:stop]:
            answer_id += 1
            row: dict[str, Any] = {
                "id": answer_id,
                "response_id": i,
                "question_id": question.id,
                "number": None,
                "text": None,
                "skipped": False,
                "answered_at": started,
            }
            kind = question.type
            if kind is QuestionType.FREE_TEXT:
                if rng.random() < 0.5:
                    row["skipped"] = True
                else:
                    row["text"] = " ".join(rng.choices(WORDS, k=rng.randint(3, 15)))
                    reviews.append(
                        {
                            "answer_id": answer_id,
                            "status": rng.choices(STATUSES, weights=(80, 10, 5, 5))[0],
                            "personal_data": False,
                            "abusive": False,
                            "priority": 0,
                            "version": 1,
                            "submitted_at": started,
                        }
                    )
            elif kind is QuestionType.SCALE:
                row["number"] = rng.randint(
                    question.question.scale_min or 0, question.question.scale_max or 0
                )
            elif kind is QuestionType.MULTIPLE_CHOICE:
                picked = rng.sample(question.options, rng.randint(1, len(question.options) - 1))
                choices.extend({"answer_id": answer_id, "option_id": o.id} for o in picked)
            else:
                option = rng.choice(question.options)
                choices.append({"answer_id": answer_id, "option_id": option.id})
            answers.append(row)
        participant = {
            "id": i,
            "telegram_user_id": 5_000_000_000 + i,
            "chat_id": 5_000_000_000 + i,
            "language": "nb",
            "source": None,
            "created_at": started,
            "unreachable_at": None,
            "active_response_id": None,
        }
        response = {
            "id": i,
            "participant_id": i,
            "consultation_id": view.id,
            "source": rng.choice(SOURCES),
            "started_at": started,
            "completed_at": started + timedelta(minutes=3) if complete else None,
            "current_question_id": None if complete else questions[stop].id,
            "editing": False,
        }
        yield participant, response, answers, choices, reviews


def table(model: type[SQLModel]) -> Any:
    """The Core table of a model, for bulk inserts without ORM objects."""
    return model.__table__  # type: ignore[attr-defined]


async def _insert(connection: AsyncConnection, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        # executemany: SQLAlchemy batches the rows (insertmanyvalues on PostgreSQL).
        await connection.execute(insert(table), rows)


async def populate(
    engine: AsyncEngine, *, answers: int | None = None, responses: int | None = None, seed: int = 7
) -> tuple[int, Counts]:
    """Recreate the schema and fill one consultation; return its id and what was inserted.

    Stops at whichever comes first: ``answers`` answers or ``responses`` responses.
    """
    began = time.perf_counter()
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.drop_all)
        await connection.run_sync(SQLModel.metadata.create_all)
    async with create_sessionmaker(engine)() as session:
        consultation, _ = await import_consultation(
            session, parse_consultation_file(CONSULTATION), publish=True
        )
        await session.commit()
        assert consultation.id is not None
        view = await load_consultation(session, consultation.id)
    assert view is not None
    rng = random.Random(seed)
    counts = Counts()
    next_id = 1
    wanted_answers = answers if answers is not None else sys.maxsize
    wanted_responses = responses if responses is not None else sys.maxsize
    per_batch = 2_000  # responses per transaction: about 20,000 answers
    while counts.answers < wanted_answers and counts.responses < wanted_responses:
        batch = min(per_batch, wanted_responses - counts.responses)
        people: list[dict[str, Any]] = []
        started: list[dict[str, Any]] = []
        given: list[dict[str, Any]] = []
        picked: list[dict[str, Any]] = []
        reviewed: list[dict[str, Any]] = []
        for participant, response, answer_rows, choice_rows, review_rows in _response_rows(
            view, next_id, batch, rng, counts.answers
        ):
            if counts.answers + len(given) >= wanted_answers:
                break
            people.append(participant)
            started.append(response)
            given.extend(answer_rows)
            picked.extend(choice_rows)
            reviewed.extend(review_rows)
        if not people:
            break
        # The last response may overshoot; trim its answers so the total is exact.
        if counts.answers + len(given) > wanted_answers:
            keep = wanted_answers - counts.answers
            dropped = {a["id"] for a in given[keep:]}
            given = given[:keep]
            picked = [c for c in picked if c["answer_id"] not in dropped]
            reviewed = [r for r in reviewed if r["answer_id"] not in dropped]
        async with engine.begin() as connection:
            await _insert(connection, table(Participant), people)
            await _insert(connection, table(Response), started)
            for i in range(0, len(given), BATCH):
                await _insert(connection, table(Answer), given[i : i + BATCH])
            for i in range(0, len(picked), BATCH):
                await _insert(connection, table(AnswerChoice), picked[i : i + BATCH])
            await _insert(connection, table(ModerationItem), reviewed)
        counts.participants += len(people)
        counts.responses += len(started)
        counts.answers += len(given)
        counts.choices += len(picked)
        counts.reviews += len(reviewed)
        next_id += len(people)
        print(
            f"\r  {counts.responses:,} responses, {counts.answers:,} answers",
            end="",
            file=sys.stderr,
            flush=True,
        )
    print(file=sys.stderr)
    await _settle(engine)
    counts.seconds = time.perf_counter() - began
    return view.id, counts


async def _settle(engine: AsyncEngine) -> None:
    """Let the database catch up as it would on its own after a bulk load.

    PostgreSQL: VACUUM ANALYZE, which autovacuum runs by itself after this many changes (it
    also fills the visibility map that index-only scans need). SQLite: nothing, because the bot
    never runs ANALYZE there, so the planner works without statistics, as in production.
    """
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE"))


async def time_results(engine: AsyncEngine, consultation_id: int, runs: int) -> list[float]:
    """Time ``consultation_results`` ``runs`` times, each in a fresh session."""
    timings = []
    for _ in range(runs):
        async with create_sessionmaker(engine)() as session:
            began = time.perf_counter()
            results = await consultation_results(session, consultation_id)
            timings.append(time.perf_counter() - began)
        assert results is not None
    return timings


@asynccontextmanager
async def bench_engine(url: str | None) -> AsyncIterator[tuple[AsyncEngine, str]]:
    """An engine on ``url``, or on a temporary SQLite file removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="medvirk-bench-") as folder:
        target = url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        engine = create_engine(target)
        try:
            yield engine, target
        finally:
            if url is not None:
                # Leave the database as empty as it was found.
                async with engine.begin() as connection:
                    await connection.run_sync(SQLModel.metadata.drop_all)
            await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    """Build the data, time the results, print a summary."""
    async with bench_engine(args.database_url) as (engine, url):
        print(f"database: {engine.dialect.name} ({url.split('@')[-1]})")
        consultation_id, counts = await populate(engine, answers=args.answers)
        print(
            f"inserted {counts.participants:,} participants, {counts.responses:,} responses, "
            f"{counts.answers:,} answers, {counts.choices:,} answer choices "
            f"in {counts.seconds:.1f} s"
        )
        if args.without_covering_index:
            # As before migration 0004: an index on question_id alone.
            async with engine.begin() as connection:
                await connection.execute(text("DROP INDEX ix_answer_question_skipped_number"))
                await connection.execute(
                    text("CREATE INDEX ix_answer_question_id ON answer (question_id)")
                )
            await _settle(engine)
            print("without the covering index: an index on answer (question_id) only")
        timings = await time_results(engine, consultation_id, args.runs)
        ms = [t * 1000 for t in timings]
        print(
            f"consultation_results: first {ms[0]:.0f} ms, median {statistics.median(ms):.0f} ms, "
            f"min {min(ms):.0f} ms, max {max(ms):.0f} ms over {len(ms)} runs"
        )


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--without-covering-index",
        action="store_true",
        help="time with an index on answer (question_id) instead, as before migration 0004",
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
