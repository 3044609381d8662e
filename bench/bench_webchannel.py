"""The web chat under load: 200 residents answer a 10-question consultation at the same time.

Starts the web chat alone (``python -m bot run``, ``WEB_CHANNEL=on``, no token) as its own
process, then plays ``--residents`` browsers against it over real HTTP, as htmx does: each opens
the consultation's link, presses Start, accepts the privacy notice, and answers ten questions by
pressing a button, waiting a random ``--think`` (0 to twice the mean) before each press, as a
person reading the question. Measured: the time from a button press to the next question (the
whole HTTP answer read), p50/p95/p99; answers stored in the database against answers given
(nothing may be lost); the server's peak resident memory and its CPU time.

    .venv/bin/python -m bench.bench_webchannel                         # SQLite, think 2 s
    .venv/bin/python -m bench.bench_webchannel --think 0               # everyone at once
    .venv/bin/python -m bench.bench_webchannel --database-url postgresql+asyncpg://.../bench

Every request comes from 127.0.0.1 here, so the per-address limit is raised for the run; the
per-session limit stays as configured (60 a minute). ``--json FILE`` writes the results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func
from sqlmodel import SQLModel, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import create_engine, create_sessionmaker, upgrade  # noqa: E402
from models.answers import Answer, Response  # noqa: E402
from tests.auxil.consultations import add_consultation  # noqa: E402

SLUG = "bench-10"


def consultation_file() -> str:
    """Ten questions answered by a button each: choices, scales and yes/no."""
    questions = []
    for number in range(1, 11):
        if number % 3 == 1:
            questions.append(
                f"  - id: q{number}\n    type: single_choice\n"
                f"    text: {{nb: Spørsmål {number}?}}\n    options:\n"
                + "".join(f"      - {{id: o{k}, text: {{nb: Valg {k}}}}}\n" for k in range(1, 5))
            )
        elif number % 3 == 2:
            questions.append(
                f"  - id: q{number}\n    type: scale\n    min: 1\n    max: 5\n"
                f"    text: {{nb: Spørsmål {number}?}}\n"
            )
        else:
            questions.append(
                f"  - id: q{number}\n    type: yes_no\n    text: {{nb: Spørsmål {number}?}}\n"
            )
    return (
        f"slug: {SLUG}\ntitle: {{nb: Ti spørsmål}}\nintro: {{nb: Ti korte spørsmål.}}\n"
        "questions:\n" + "".join(questions)
    )


_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
_BUTTON = re.compile(r'<button type="submit" name="button" value="([\d.]+)">([^<]*)</button>')
_LAST_ID = re.compile(r'id="last-id" name="after" value="(\d+)"')
_PROGRESS = re.compile(r"(\d+)/10")


@dataclass
class Form:
    """The newest buttons of the chat, as the page has them."""

    fields: dict[str, str]
    buttons: list[tuple[str, str]]


def newest_buttons(html: str) -> Form | None:
    """The last form of buttons in a page or fragment (the question just asked)."""
    start = html.rfind('<form class="buttons"')
    if start < 0:
        return None
    end = html.find("</form>", start)
    part = html[start:end]
    return Form(dict(_HIDDEN.findall(part)), _BUTTON.findall(part))


@dataclass
class Results:
    """What the residents measured."""

    latencies: list[float] = field(default_factory=list)
    answers_given: int = 0
    errors: list[str] = field(default_factory=list)
    limited: int = 0


async def resident(
    base: str, think: float, results: Results, rng: random.Random, start: asyncio.Event
) -> None:
    """One browser: open the link, start, consent, answer ten questions."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        await start.wait()
        await asyncio.sleep(rng.uniform(0, 2 * think))
        async with http.get(f"{base}/c/{SLUG}?src=bench") as response:
            page = await response.text()
        fields = dict(_HIDDEN.findall(page[page.find('<form id="start"') :]))
        after = "0"

        async def post(action: str, data: dict[str, str]) -> str:
            nonlocal after
            data = {**data, "after": after}
            while True:
                async with http.post(
                    base + action, data=data, headers={"HX-Request": "true"}
                ) as response:
                    body = await response.text()
                    if response.status == 429:
                        results.limited += 1
                        await asyncio.sleep(1.0)
                        continue
                    if response.status != 200:
                        raise RuntimeError(f"{action}: HTTP {response.status}")
                found = _LAST_ID.search(body)
                if found:
                    after = found.group(1)
                return body

        body = await post("/chat/send", fields)
        consent = newest_buttons(body)
        if consent is None:
            raise RuntimeError("no consent buttons")
        body = await post("/chat/press", {**consent.fields, "button": consent.buttons[0][0]})
        for number in range(1, 11):
            form = newest_buttons(body)
            if form is None or f"{number}/10" not in body:
                raise RuntimeError(f"question {number} not shown")
            await asyncio.sleep(rng.uniform(0, 2 * think))
            began = time.perf_counter()
            body = await post("/chat/press", {**form.fields, "button": form.buttons[0][0]})
            results.latencies.append(time.perf_counter() - began)
            results.answers_given += 1
            if number < 10 and f"{number + 1}/10" not in body:
                raise RuntimeError(f"question {number + 1} did not follow")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def prepare(url: str) -> None:
    """A fresh schema with the consultation, open."""
    engine = create_engine(url)
    try:
        if url.startswith("postgresql"):
            async with engine.begin() as connection:
                await connection.run_sync(SQLModel.metadata.drop_all)
                await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            await add_consultation(session, consultation_file())
    finally:
        await engine.dispose()


async def stored(url: str) -> tuple[int, int]:
    """Answers stored, and completed responses."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            answers = (await session.exec(select(func.count()).select_from(Answer))).one()
            completed = (
                await session.exec(
                    select(func.count())
                    .select_from(Response)
                    .where(Response.completed_at.is_not(None))  # type: ignore[union-attr]
                )
            ).one()
            return int(answers), int(completed)
    finally:
        await engine.dispose()


def process_stats(pid: int) -> dict[str, float]:
    """Peak and current resident memory (MiB) and CPU seconds of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    memory = {
        line.split(":")[0]: int(line.split()[1]) / 1024
        for line in status.splitlines()
        if line.startswith(("VmHWM", "VmRSS"))
    }
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    return {"peak_rss_mib": memory["VmHWM"], "rss_mib": memory["VmRSS"], "cpu_seconds": cpu}


async def wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if server.poll() is not None:
                raise RuntimeError("the server stopped while starting")
            try:
                async with http.get(base + "/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await prepare(url)
        port = free_port()
        env = {
            **os.environ,
            "WEB_CHANNEL": "on",
            "BOT_TOKEN": "",
            "DATABASE_URL": url,
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(port),
            "QUIET_HOURS": "off",
            "LOG_LEVEL": "WARNING",
            # Every resident comes from 127.0.0.1 here; behind a proxy each has an address.
            "WEB_LIMIT_ADDRESS": "1000000",
            "FINISH_REMINDER_HOURS": "0",
        }
        # Started before the residents, stopped after them: blocking here is harmless.
        server = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "bot", "run"], cwd=folder, env=env
        )
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_ready(base, server)
            before = process_stats(server.pid)
            results = Results()
            rng = random.Random(args.seed)
            start = asyncio.Event()
            tasks = [
                asyncio.create_task(
                    resident(base, args.think, results, random.Random(rng.random()), start)
                )
                for _ in range(args.residents)
            ]
            began = time.perf_counter()
            start.set()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    results.errors.append(repr(outcome))
            wall = time.perf_counter() - began
            after = process_stats(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        answers, completed = await stored(url)
    latencies = sorted(results.latencies)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "database": "PostgreSQL" if args.database_url else "SQLite",
        "residents": args.residents,
        "think_mean_s": args.think,
        "presses_measured": len(latencies),
        "p50_ms": round(pct(0.50), 1),
        "p95_ms": round(pct(0.95), 1),
        "p99_ms": round(pct(0.99), 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "answers_given": results.answers_given,
        "answers_stored": answers,
        "answers_lost": results.answers_given - answers,
        "completed": completed,
        "rate_limited": results.limited,
        "errors": results.errors[:5],
        "wall_s": round(wall, 1),
        "server_peak_rss_mib": round(after["peak_rss_mib"], 1),
        "server_rss_before_mib": round(before["rss_mib"], 1),
        "server_cpu_s": round(after["cpu_seconds"] - before["cpu_seconds"], 1),
        "server_cpu_ms_per_press": round(
            (after["cpu_seconds"] - before["cpu_seconds"])
            * 1000
            / max(1, results.answers_given + 2 * args.residents),
            1,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds before a press")
    parser.add_argument("--database-url", help="PostgreSQL (its tables are dropped!)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    for key, value in result.items():
        print(f"{key:28} {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
