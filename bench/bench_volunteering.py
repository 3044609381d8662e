"""Benchmark: matching 10,000 volunteer profiles against a new need and queueing the invitations.

Builds N volunteers (consented, reachable) with random profiles over the example centres' tags,
their districts, the three time slots and a few languages, plus two earlier invitations each
from other coordinators (so the weekly cap and the "fewer recent invitations first" order have
rows to count). Then times ``matching.publish`` of a new need, the whole of what a coordinator's
"Send" does: the matching query, the ordering, and writing a sign-up row and an outbox row per
invited volunteer, committed. Each run is a new need by a new coordinator, so every run invites
the same people afresh.

Two needs are timed: ``wide`` (a tag, district and slot that every volunteer has: all N are
invited, the worst case) and ``typical`` (one tag, one district, one slot, a language wish).

    .venv/bin/python -m bench.bench_volunteering                   # a temporary SQLite file
    .venv/bin/python -m bench.bench_volunteering --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench

The schema in the target database is dropped and created again: never point it at real data.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from bot.db import create_engine, create_sessionmaker
from handlers.views.volunteer import NeedTexts
from models import matching
from models.centres import Centre, import_centres, parse_centre_file
from models.matching import Matching
from models.needs import Need, NeedState
from tests.auxil.volunteers import Profile, a_need, add_volunteers

NOW = datetime(2027, 3, 20, 10, 0, tzinfo=UTC)
SATURDAY = datetime(2027, 3, 27, 9, 0, tzinfo=UTC)  # 10:00 in Oslo: a weekend
TUESDAY_EVENING = datetime(2027, 3, 23, 17, 0, tzinfo=UTC)  # 18:00 in Oslo
ZONE = "Europe/Oslo"
CENTRES = Path(__file__).resolve().parents[1] / "examples" / "centres.yaml"
TAGS = ["transport", "homework", "repair", "outdoor", "events", "language-cafe", "visits"]
DISTRICTS = ["Holmen", "Sentrum"]
SLOTS = ["daytime", "evening", "weekend"]
LANGUAGES = ["no", "en", "pl", "uk", "ar", "so"]


def log(message: str) -> None:
    """Progress on standard error."""
    print(message, file=sys.stderr, flush=True)


def profiles(people: int, seed: int = 18) -> list[Profile]:
    """Random profiles; everyone also drives, in Holmen, on weekends (the ``wide`` need)."""
    rng = random.Random(seed)
    made = []
    for _ in range(people):
        tags = {"transport", *rng.sample(TAGS, rng.randint(1, 3))}
        districts = {"Holmen", *rng.sample(DISTRICTS, rng.randint(0, 2))}
        slots = {"weekend", *rng.sample(SLOTS, rng.randint(0, 2))}
        languages = {"no", *rng.sample(LANGUAGES, rng.randint(0, 2))}
        made.append(Profile(sorted(tags), sorted(districts), sorted(slots), sorted(languages)))
    return made


async def build(url: str, people: int) -> tuple[AsyncEngine, Centre]:
    """The schema, the example centres and ``people`` volunteers with two old invitations each."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.drop_all)
        await connection.run_sync(SQLModel.metadata.create_all)
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        stored = await import_centres(session, parse_centre_file(CENTRES.read_bytes()), NOW)
        holmen = next(c for c, _new in stored if c.slug == "holmen")
        started = time.perf_counter()
        ids = await add_volunteers(session, list(range(1, people + 1)), profiles(people))
        log(f"{people} volunteers in {time.perf_counter() - started:.1f} s")
        for coordinator in (8001, 8002):
            old = a_need(holmen, NOW - timedelta(days=2), created_by=coordinator)
            old.state = NeedState.OPEN
            session.add(old)
            await session.flush()
            connection = await session.connection()
            await connection.execute(
                insert(SQLModel.metadata.tables["volunteer_signup"]),
                [
                    {
                        "need_id": old.id,
                        "participant_id": pid,
                        "answer": "no",
                        "invited_at": NOW - timedelta(days=3),
                    }
                    for pid in ids
                    if pid % 3
                ],
            )
        await session.commit()
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("ANALYZE"))
    return engine, holmen


def the_need(kind: str, holmen: Centre, coordinator: int) -> Need:
    """The ``wide`` or the ``typical`` need, by a coordinator of its own."""
    if kind == "wide":
        return a_need(holmen, SATURDAY, created_by=coordinator, tags=("transport",))
    return a_need(
        holmen,
        TUESDAY_EVENING,
        created_by=coordinator,
        tags=("homework",),
        district="Sentrum",
        wished_language="pl",
    )


def backend_cpu(pid: int | None) -> float:
    """CPU seconds a PostgreSQL backend on this machine has used (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timing:
    """One publish: wall-clock seconds, and CPU seconds (this process and the database's)."""

    wall: float
    cpu: float
    invited: int


async def publish_once(engine: AsyncEngine, holmen: Centre, kind: str, run: int) -> Timing:
    """Publish one need, commit included.

    The CPU time counts this process (SQLite works in it) and, on PostgreSQL, the backend
    serving the session: on a busy machine the wall clock also counts waiting for a core.
    """
    sessions = create_sessionmaker(engine)
    texts = NeedTexts(ZONE, {holmen.id or 0: holmen})
    async with sessions() as session:
        need = the_need(kind, holmen, 9000 + run)
        session.add(need)
        await session.commit()
        pid = None
        if engine.dialect.name == "postgresql":
            pid = (await session.exec(text("SELECT pg_backend_pid()"))).one()[0]  # type: ignore[call-overload]
        cpu, backend = time.process_time(), backend_cpu(pid)
        started = time.perf_counter()
        invited = await matching.publish(session, need, Matching(NOW, ZONE, 3), texts, "nb")
        await session.commit()
        wall = time.perf_counter() - started
        used = time.process_time() - cpu + backend_cpu(pid) - backend
        return Timing(wall, used, invited)


def summary(label: str, timings: list[Timing]) -> str:
    """First, median and slowest wall time, and the median CPU time, in ms."""
    walls = [t.wall * 1000 for t in timings]
    cpu = statistics.median(t.cpu for t in timings) * 1000
    return (
        f"{label}: {timings[-1].invited} invited; wall first {walls[0]:.0f} ms, median "
        f"{statistics.median(walls):.0f} ms, slowest {max(walls):.0f} ms; CPU median {cpu:.0f} ms"
    )


async def main(url: str, people: int, runs: int) -> None:
    """Build, then time each kind of need ``runs`` times."""
    engine, holmen = await build(url, people)
    try:
        for kind in ("wide", "typical"):
            timings = []
            for run in range(runs):
                coordinator = run + (100 if kind == "typical" else 0)
                timing = await publish_once(engine, holmen, kind, coordinator)
                timings.append(timing)
                wall, cpu = timing.wall * 1000, timing.cpu * 1000
                log(f"{kind} run {run + 1}: {wall:.0f} ms, CPU {cpu:.0f} ms")
            print(f"{engine.dialect.name} ({people} volunteers) " + summary(kind, timings))
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.drop_all)
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = arguments.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        asyncio.run(main(database, arguments.people, arguments.runs))
