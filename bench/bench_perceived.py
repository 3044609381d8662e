"""Citizen-perceived time: from a press (or a typed answer) to the complete answer on screen.

Twenty residents answer a consultation at once, each reading a question for about
``--think`` seconds (default 1, between half and one and a half of it) before pressing, as
people do: the real bot (``python -m bot run``, long polling) against the sandbox in this
process, which keeps Telegram's per-chat limit (a burst of three, then one message a second;
429 beyond it). The bot process's CPU time per step is printed too (from ``/proc``): it does
not depend on what else the machine runs, the waits do.

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
import json
import os
import random
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


THINK = 1.0  # seconds a resident reads before acting (--think)
READING = random.Random(13)  # how long each read takes: the same sequence in every run


async def timed(times: dict[str, list[float]], kind: str, step: Awaitable[Any]) -> None:
    """Read for about THINK seconds; time one step, from the action to the answer shown."""
    await asyncio.sleep(THINK * READING.uniform(0.5, 1.5))
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bot_side(log: Path) -> str:
    """The time the bot itself took per update (its log line), apart from the harness's."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    for line in log.read_text().splitlines():
        if '"latency_ms"' in line:
            record = json.loads(line)
            by_kind[record["kind"]].append(record["latency_ms"] / 1000)
    return "; ".join(
        f"in the bot, {kind}: p50 {percentile(v, 0.5):.0f} ms, p95 {percentile(v, 0.95):.0f} ms"
        for kind, v in sorted(by_kind.items())
    )


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
            "LOG_LEVEL": "INFO",  # one line per update, with its time in the bot
            "LOG_FORMAT": "json",
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
            cpu = cpu_seconds(bot.pid)
            for round_ in range(args.rounds):
                first = FIRST_RESIDENT + round_ * args.residents
                people = [Citizen(sandbox, first + n) for n in range(args.residents)]
                await asyncio.gather(
                    *(resident(p, times, types=n % 2 == 0) for n, p in enumerate(people))
                )
            limited = sandbox.stats.rate_limited
            cpu = cpu_seconds(bot.pid) - cpu
        finally:
            bot.terminate()
            bot.wait(30)
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"{args.residents} residents at once, {args.rounds} rounds, {THINK} s to read each "
        f"step, {kind}; 429s: {limited}; load average {os.getloadavg()}"
    )
    steps = sum(len(v) for v in times.values())
    print(f"bot process CPU: {cpu * 1000 / steps:.1f} ms per step ({steps} steps)")
    print("| step | n | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for name, values in times.items():
        print(
            f"| {name} | {len(values)} | {statistics.median(values) * 1000:.0f} | "
            f"{percentile(values, 0.95):.0f} | {max(values) * 1000:.0f} |"
        )
    print(bot_side(work / "bot.log"))
    print(f"logs in {work}")


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--residents", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--think", type=float, default=THINK, help="seconds before each step")
    return parser.parse_args()


if __name__ == "__main__":
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    arguments = parse_args()
    THINK = arguments.think
    asyncio.run(main(arguments))
