"""Citizen-perceived time: from a press (or a typed answer) to the complete answer on screen.

Twenty residents answer a consultation at once, each as fast as the bot lets them: the real
bot (``python -m bot run``, long polling) against the sandbox in this process, which keeps
Telegram's per-chat limit (a burst of three, then one message a second; 429 beyond it).

Each resident opens the five-question consultation of the tests with its deep link, gives
consent, answers a single choice, ticks two options and confirms, rates, says yes, and then
finishes: half of them by typing an idea, half by skipping it. A step's time runs from the
press until the step is completely shown (the next question, or the finished message with its
summary and offers), as the resident sees it.

    .venv/bin/python -m bench.bench_perceived [--residents 20] [--rounds 3]
    .venv/bin/python -m bench.bench_perceived --database-url postgresql+asyncpg://...

The schema in the target database is dropped and created again: never point it at real data.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from bot.db import create_engine, create_sessionmaker
from sandbox import Sandbox
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.runtime.conftest import prepare_database

ROOT = str(Path(__file__).resolve().parents[1])
FIRST_RESIDENT = 4_100_001


async def timed(times: dict[str, list[float]], kind: str, step: Awaitable[Any]) -> None:
    """Time one step, from the action to the complete answer on screen."""
    started = time.perf_counter()
    await step
    times[kind].append(time.perf_counter() - started)


async def press_then(person: Citizen, label: str, needle: str, *, button: bool = False) -> None:
    """Press ``label``, then wait until the chat shows ``needle`` (a text or a button)."""
    await person.press(label)
    if button:
        await person.expect_button(needle, timeout=30)
    else:
        await person.expect(needle, timeout=30)


async def send_then(person: Citizen, text: str, needle: str) -> None:
    """Type ``text``, then wait until the chat shows ``needle``."""
    await person.send(text)
    await person.expect(needle, timeout=30)


async def resident(person: Citizen, times: dict[str, list[float]], *, types: bool) -> None:
    """One resident's whole consultation."""
    await timed(times, "/start with a link", send_then(person, "/start c_park", "Før vi begynner"))
    await timed(
        times, "consent, intro and question 1", press_then(person, "Ja, jeg godtar", "1/5")
    )
    await timed(times, "question step", press_then(person, "Ofte", "2/5"))
    await timed(times, "tick an option", press_then(person, "Leke", "☑️ Leke", button=True))
    await timed(times, "tick an option", press_then(person, "Idrett", "☑️ Idrett", button=True))
    await timed(times, "question step", press_then(person, "Ferdig", "3/5"))
    await timed(times, "question step", press_then(person, "4", "4/5"))
    await timed(times, "question step", press_then(person, "Ja", "5/5"))
    if types:
        last = send_then(person, "Flere benker ved dammen", "Svarene dine")
        await timed(times, "last step, typed", last)
    else:
        await timed(times, "last step, pressed", press_then(person, "Hopp over", "Svarene dine"))


def percentile(values: list[float], p: float) -> float:
    """The ``p`` percentile (0-1) in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


async def main(args: argparse.Namespace) -> None:
    """Start the sandbox and the bot, let the residents answer, print the table."""
    work = Path(tempfile.mkdtemp(prefix="bench-perceived-"))
    url = args.database_url or f"sqlite+aiosqlite:///{work / 'bench.db'}"
    await prepare_database(url)
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as session:
        await add_consultation(session)
    await engine.dispose()
    times: dict[str, list[float]] = defaultdict(list)
    async with Sandbox(per_chat_rate=1, per_chat_burst=3) as sandbox:
        env = {
            **os.environ,
            "BOT_TOKEN": sandbox.token,
            "TELEGRAM_API_URL": str(sandbox.url),
            "DATABASE_URL": url,
            "LOG_LEVEL": "WARNING",
            "WEB_PORT": "0",
        }
        env.pop("WEBHOOK_URL", None)
        with (work / "bot.log").open("wb") as log:
            bot = subprocess.Popen(  # noqa: ASYNC220 - our own interpreter and module
                [sys.executable, "-m", "bot", "run"], env=env, stdout=log, stderr=log, cwd=ROOT
            )
        try:
            for _ in range(300):  # until the bot polls
                if sandbox.stats.calls["getupdates"] or bot.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            for round_ in range(args.rounds):
                first = FIRST_RESIDENT + round_ * args.residents
                people = [Citizen(sandbox, first + n) for n in range(args.residents)]
                await asyncio.gather(
                    *(resident(p, times, types=n % 2 == 0) for n, p in enumerate(people))
                )
            limited = sandbox.stats.rate_limited
        finally:
            bot.terminate()
            bot.wait(30)
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"{args.residents} residents at once, {args.rounds} rounds, {kind}; 429s: {limited}")
    print("| step | n | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for name, values in times.items():
        print(
            f"| {name} | {len(values)} | {statistics.median(values) * 1000:.0f} | "
            f"{percentile(values, 0.95):.0f} | {max(values) * 1000:.0f} |"
        )
    print(f"logs in {work}")


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--residents", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


if __name__ == "__main__":
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    asyncio.run(main(parse_args()))
