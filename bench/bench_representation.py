"""Benchmark: ``representation`` (who answered against who lives here) with a million answers.

Builds the consultation of bench_results.py (ten questions, a million answers), gives 80 % of
the respondents background answers to the example questions (examples/background: age,
district, housing; some "prefer not to say"), imports the example population (age x district
and housing: raking), then times ``representation`` and, for comparison, ``consultation_results``.

    .venv/bin/python -m bench.bench_representation                    # a temporary SQLite file
    .venv/bin/python -m bench.bench_representation --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench

The schema in the target database is dropped and created again: never point it at real data.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.bench_results import START, bench_engine, populate, table, time_results
from bot.db import create_sessionmaker
from models.population import import_population, parse_population_file
from models.profile import ProfileAnswer, background_questions, import_profile
from models.profile_file import parse_profile_file
from models.representation import representation
from models.response import Response

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "background"
BATCH = 20_000


async def add_background(engine: AsyncEngine, consultation_id: int, seed: int = 11) -> int:
    """Import the example questions and population; give respondents bands. How many rows."""
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        await import_profile(session, parse_profile_file((EXAMPLES / "profile.yaml").read_bytes()))
        questions = await background_questions(session)
        for name in ("population-age-district.csv", "population-housing.csv"):
            data = (EXAMPLES / name).read_bytes()
            table_ = parse_population_file(data, questions)
            await import_population(session, table_, name, START)
        await session.commit()
    rng = random.Random(seed)
    async with engine.connect() as connection:
        people = (
            (
                await connection.execute(
                    select(table(Response).c.participant_id).where(
                        table(Response).c.consultation_id == consultation_id
                    )
                )
            )
            .scalars()
            .all()
        )
    rows = []
    for pid in people:
        if rng.random() < 0.2:
            continue  # never answered the background questions
        for question in questions:
            # Older people and one district answer more often: something to re-weight.
            weights = [1.0 + i for i in range(len(question.options))]
            option = rng.choices(question.options, weights=weights)[0]
            chosen = None if rng.random() < 0.05 else option.id  # prefer not to say
            rows.append(
                {
                    "participant_id": pid,
                    "question_id": question.id,
                    "option_id": chosen,
                    "answered_at": START,
                }
            )
    written = 0
    for start in range(0, len(rows), BATCH):
        part = rows[start : start + BATCH]
        async with engine.begin() as connection:
            await connection.execute(insert(table(ProfileAnswer)), part)
        written += len(part)
    return written


async def time_representation(engine: AsyncEngine, consultation_id: int, runs: int) -> list[float]:
    """Time ``representation`` ``runs`` times, each in a fresh session."""
    timings = []
    for _ in range(runs):
        async with create_sessionmaker(engine)() as session:
            began = time.perf_counter()
            found = await representation(session, consultation_id)
            timings.append(time.perf_counter() - began)
        assert found is not None
        assert found.weighting is not None
    return timings


def _summary(name: str, timings: list[float]) -> str:
    ms = [t * 1000 for t in timings]
    return (
        f"{name}: first {ms[0]:.0f} ms, median {statistics.median(ms):.0f} ms, "
        f"min {min(ms):.0f} ms, max {max(ms):.0f} ms over {len(ms)} runs"
    )


async def main(args: argparse.Namespace) -> None:
    """Build the data, time both, print a summary."""
    async with bench_engine(args.database_url) as (engine, url):
        print(f"database: {engine.dialect.name} ({url.split('@')[-1]})")
        consultation_id, counts = await populate(engine, answers=args.answers)
        began = time.perf_counter()
        bands = await add_background(engine, consultation_id)
        print(
            f"inserted {counts.responses:,} responses, {counts.answers:,} answers, "
            f"{bands:,} background answers in {counts.seconds + time.perf_counter() - began:.1f} s"
        )
        print(
            _summary(
                "representation", await time_representation(engine, consultation_id, args.runs)
            )
        )
        print(
            _summary(
                "consultation_results", await time_results(engine, consultation_id, args.runs)
            )
        )


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
