"""Benchmark: publishing an event to a large arena, and the reminder-to-finish job.

Builds N people who consented, all members of one arena and all with a started, unfinished
response to one consultation (their last answer 25 hours ago), then times

1. ``events.publish`` of an event for the arena: an invitation and a calendar file for each
   member written to the outbox, in one transaction (what /event's "Send" does);
2. the reminder-to-finish job (``handlers.followups.remind_unfinished``'s work): finding the due
   responses and queueing one reminder each, batch after batch, until none is left;
3. an idle pass of that job afterwards (everyone reminded): what every replica pays every
   30 seconds. On PostgreSQL after ``ANALYZE``, as autovacuum would have run by then.

    .venv/bin/python -m bench.bench_arenas                   # a temporary SQLite file
    .venv/bin/python -m bench.bench_arenas --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench

The schema in the target database is dropped and created again: never point it at real data.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from bot.db import create_engine, create_sessionmaker
from handlers.views.events import EventTexts
from handlers.views.reminders import finish_payload
from models import events
from models.arenas import Arena
from models.consultation import Consultation, Question, import_consultation
from models.consultation_file import parse_consultation_file
from models.reminders import (
    FINISH_BATCH,
    ReminderPolicy,
    queue_finish_reminders,
    unfinished_to_remind,
)
from models.response import Answer, Response
from tests.auxil.people import add_people

NOW = datetime(2027, 3, 20, 10, 0, tzinfo=UTC)
CONSULTATION = """
slug: bench
title: {nb: Benk, en: Bench}
questions:
  - {id: one, type: yes_no, text: Første?}
  - {id: two, type: yes_no, text: Andre?}
"""
CHUNK = 5000


async def build(url: str, people: int) -> tuple[int, int]:
    """The arena and consultation with ``people`` members; returns their ids."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.drop_all)
        await connection.run_sync(SQLModel.metadata.create_all)
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        consultation, _ = await import_consultation(
            session, parse_consultation_file(CONSULTATION), publish=True
        )
        arena = Arena(slug="frivillighet", name={"nb": "Frivillighet"})
        session.add(arena)
        await session.flush()
        question = (
            await session.exec(
                select(Question.id).where(Question.consultation_id == consultation.id)  # type: ignore[call-overload]
            )
        ).first()[0]
        ids = await add_people(session, list(range(1, people + 1)), language="nb")
        started = NOW - timedelta(hours=25)
        connection = await session.connection()
        subscription = SQLModel.metadata.tables["subscription"]
        for start in range(0, len(ids), CHUNK):
            part = ids[start : start + CHUNK]
            await connection.execute(
                insert(subscription),
                [{"participant_id": p, "arena_id": arena.id, "created_at": started} for p in part],
            )
            await connection.execute(
                insert(Response.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "participant_id": p,
                        "consultation_id": consultation.id,
                        "started_at": started,
                        "editing": False,
                    }
                    for p in part
                ],
            )
        responses = (
            await connection.execute(text("SELECT id FROM response ORDER BY id"))
        ).scalars()
        response_ids = list(responses)
        for start in range(0, len(response_ids), CHUNK):
            await connection.execute(
                insert(Answer.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "response_id": r,
                        "question_id": question,
                        "skipped": False,
                        "answered_at": started,
                    }
                    for r in response_ids[start : start + CHUNK]
                ],
            )
        await session.commit()
        arena_id, consultation_id = arena.id or 0, consultation.id or 0
    await analyze(engine)
    await engine.dispose()
    return arena_id, consultation_id


async def analyze(engine: AsyncEngine) -> None:
    """Refresh PostgreSQL's statistics, as autovacuum does some time after a bulk load."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))


async def measure(url: str, people: int, idle_runs: int) -> None:
    """Build, then time the three steps."""
    arena_id, consultation_id = await build(url, people)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    texts, policy = EventTexts("Europe/Oslo"), ReminderPolicy()
    try:
        async with sessions() as session:
            draft = await events.new_draft(session, arena_id, 9000, 9000, "nb", NOW)
            draft.title, draft.place = "Dugnad", "Holmen"
            draft.starts_at = NOW + timedelta(days=7)
            await session.commit()
            draft_id = draft.id
        started = time.perf_counter()
        async with sessions() as session, session.begin():
            found = await session.get(events.Event, draft_id)
            assert found is not None
            invited = await events.publish(session, found, NOW, texts, policy)
        publish = time.perf_counter() - started
        print(f"publish: {invited} invited, {publish:.2f} s ({2 * invited} outbox rows)")

        async with sessions() as session:
            consultation = await session.get(Consultation, consultation_id)
            assert consultation is not None
        after = timedelta(hours=24)
        message = finish_payload(consultation, "nb")  # rendered once, as the job does
        queued, batches = 0, 0
        started = time.perf_counter()
        while True:
            async with sessions() as session, session.begin():
                due = await unfinished_to_remind(session, NOW, after)
                queued += await queue_finish_reminders(
                    session, due, NOW, policy, lambda item: message
                )
            batches += 1
            if len(due) < FINISH_BATCH:
                break
        job = time.perf_counter() - started
        print(f"finish reminders: {queued} queued in {batches} batches, {job:.2f} s")

        await analyze(engine)
        idle = []
        for _ in range(idle_runs):
            started = time.perf_counter()
            async with sessions() as session, session.begin():
                assert await unfinished_to_remind(session, NOW, after) == []
            idle.append(time.perf_counter() - started)
        print(
            f"idle pass: median {statistics.median(idle) * 1000:.1f} ms, "
            f"max {max(idle) * 1000:.1f} ms over {idle_runs} runs"
        )
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.drop_all)
    finally:
        await engine.dispose()


async def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--idle-runs", type=int, default=7)
    options = parser.parse_args()
    if options.database_url:
        await measure(options.database_url, options.people, options.idle_runs)
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await measure(url, options.people, options.idle_runs)


if __name__ == "__main__":
    asyncio.run(main())
