"""Benchmark: the moderation queue with many texts waiting, and masking speed.

Inserts N free-text answers (default 100,000), each with its moderation row, 20 % of them
marked (personal data or abusive, so first in the queue) and 30 % already decided, then times
what a moderator's button press does: the queue size, the next text for a private review (with
its reservation), a decision, a group round's claim, and the counts per status for results.
Masking is timed separately on realistic texts.

    .venv/bin/python -m bench.bench_moderation                      # a temporary SQLite file
    .venv/bin/python -m bench.bench_moderation --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench

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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import SQLModel

from bot.db import create_engine, create_sessionmaker
from models import moderation as mod
from models.consultation import import_consultation, load_consultation
from models.consultation_file import parse_consultation_file
from models.masking import mask
from models.participant import Participant
from models.response import Answer, Response

CONSULTATION = """
slug: bench
title: {nb: Benchmark}
questions:
  - {id: idea, type: free_text, required: false, text: Har du en idé?}
"""
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
    "kommunen",
]
EXTRAS = ["ring 998 87 766", "kari@example.no", "fnr 150585 43206", "for en jævla plan"]
START = datetime(2027, 1, 10, 8, 0, tzinfo=UTC)
BATCH = 20_000


def _text(rng: random.Random, marked: bool) -> str:
    words = " ".join(rng.choices(WORDS, k=rng.randint(5, 40)))
    return f"{words} {rng.choice(EXTRAS)}" if marked else words


async def populate(url: str, count: int) -> None:
    """Recreate the schema and insert ``count`` texts with their moderation rows."""
    engine = create_engine(url)
    rng = random.Random(7)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.drop_all)
            await connection.run_sync(SQLModel.metadata.create_all)
        async with create_sessionmaker(engine)() as session:
            consultation, _ = await import_consultation(
                session, parse_consultation_file(CONSULTATION), publish=True
            )
            await session.commit()
            view = await load_consultation(session, consultation.id or 0)
            assert view is not None
            question_id = view.questions[0].id
        tables = [t.__table__ for t in (Participant, Response, Answer, mod.ModerationItem)]  # type: ignore[attr-defined]
        for first in range(1, count + 1, BATCH):
            rows: list[list[dict[str, Any]]] = [[], [], [], []]
            for i in range(first, min(first + BATCH, count + 1)):
                at = START + timedelta(seconds=i)
                marked = rng.random() < 0.2
                decided = rng.random() < 0.3
                rows[0].append(
                    {"id": i, "telegram_user_id": 5_000_000_000 + i, "chat_id": 5_000_000_000 + i}
                )
                rows[1].append(
                    {"id": i, "participant_id": i, "consultation_id": view.id, "started_at": at}
                )
                rows[2].append(
                    {
                        "id": i,
                        "response_id": i,
                        "question_id": question_id,
                        "text": _text(rng, marked),
                        "skipped": False,
                        "answered_at": at,
                    }
                )
                rows[3].append(
                    {
                        "answer_id": i,
                        "status": "approved" if decided else "pending",
                        "personal_data": marked,
                        "abusive": False,
                        "priority": int(marked),
                        "version": 1,
                        "submitted_at": at,
                    }
                )
            async with engine.begin() as connection:
                for table, batch in zip(tables, rows, strict=True):
                    await connection.execute(insert(table), batch)
            print(f"  inserted {min(first + BATCH - 1, count):,}", file=sys.stderr)
    finally:
        await engine.dispose()


async def _timed(runs: int, step: Callable[[int], Awaitable[object]]) -> float:
    """The median time of ``runs`` calls of ``step(run)``, in milliseconds."""
    times = []
    for run in range(runs):
        began = time.perf_counter()
        await step(run)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


async def measure(url: str, runs: int) -> dict[str, float]:
    """Time each queue operation, each in its own transaction as a handler runs it."""
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    now = START + timedelta(days=30)
    results: dict[str, float] = {}
    try:

        async def size(_run: int) -> None:
            async with sessions() as session, session.begin():
                await mod.queue_size(session)

        async def next_text(run: int) -> None:
            async with sessions() as session, session.begin():
                await mod.next_for(session, 9_000 + run, now)

        async def decide(run: int) -> None:
            # Each moderator decides on the text they reserved in next_text.
            async with sessions() as session, session.begin():
                item = await mod.next_for(session, 9_000 + run, now)
                assert item is not None
                await mod.decide(
                    session, item.id, item.version, 9_000 + run, mod.Status.APPROVED, now
                )

        async def claim(run: int) -> None:
            async with sessions() as session, session.begin():
                group = mod.ModerationGroup(chat_id=-100 - run, registered_at=START)
                await mod.claim_for_group(session, group, now + timedelta(minutes=run))
                await session.rollback()

        async def counts(_run: int) -> None:
            async with sessions() as session, session.begin():
                await mod.text_counts(session, [1])

        results["queue size"] = await _timed(runs, size)
        results["next text for /review (reserve)"] = await _timed(runs, next_text)
        results["next text + decision + audit"] = await _timed(runs, decide)
        results["group round: claim 12 new texts"] = await _timed(runs, claim)
        results["counts per status (results)"] = await _timed(runs, counts)
    finally:
        await engine.dispose()
    return results


def mask_speed(count: int = 20_000) -> tuple[float, int]:
    """Masked texts per second, and their mean length."""
    rng = random.Random(3)
    texts = [_text(rng, rng.random() < 0.5) for _ in range(count)]
    began = time.perf_counter()
    for text in texts:
        mask(text)
    return count / (time.perf_counter() - began), sum(map(len, texts)) // count


async def main() -> None:
    """Parse the arguments, fill the database, time, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--texts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        began = time.perf_counter()
        await populate(url, args.texts)
        print(f"  filled in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        results = await measure(url, args.runs)
        if args.database_url:
            engine = create_engine(url)
            async with engine.begin() as connection:
                await connection.run_sync(SQLModel.metadata.drop_all)
            await engine.dispose()
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"| {database}, {args.texts:,} texts | median of {args.runs} |")
    print("|---|---|")
    for name, ms in results.items():
        print(f"| {name} | {ms:.1f} ms |")
    rate, length = mask_speed()
    print(f"\nMasking: {rate:,.0f} texts a second (mean {length} characters, half with data).")


if __name__ == "__main__":
    asyncio.run(main())
