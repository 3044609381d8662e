"""Benchmark: the dashboard's results page of a consultation with a million answers.

Fills the database as ``bench_results`` does (ten questions, a million answers, six sources),
serves the staff dashboard on a local port, logs in through a one-time link, and times the whole
``GET /dashboard/consultations/{id}/results`` over real HTTP (counting, SVG charts, free texts,
the page rendered and read), unfiltered and with each filter, several times each.

    .venv/bin/python -m bench.bench_dashboard                      # a temporary SQLite file
    .venv/bin/python -m bench.bench_dashboard --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench

The schema in the target database is dropped and created again: never point it at real data.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from types import SimpleNamespace

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from bench.bench_results import _settle, bench_engine, populate
from bot.dashboard import Dashboard
from bot.db import create_sessionmaker
from bot.settings import Settings
from handlers.context import Runtime
from models.dashboard import issue_login
from models.results import consultation_results
from models.roles import Role, grant

STAFF = 9001
#: What is timed: the page as it first opens, and with each filter and a text search.
VARIANTS = {
    "all responses": {},
    "source=poster": {"source": "poster"},
    "language=nb (everyone)": {"language": "nb"},
    "search in free texts": {"q": "park"},
    "flagged texts": {"texts": "flagged"},
}


async def _serve(runtime: Runtime) -> tuple[web.AppRunner, str]:
    settings = Settings(_env_file=None, session_secret=SecretStr("bench"))  # type: ignore[call-arg]
    dashboard = Dashboard(settings)
    app = web.Application()
    dashboard.mount(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}"
    await dashboard.connect(runtime, SimpleNamespace(username="bench_bot"), url)  # type: ignore[arg-type]
    return runner, url


async def _log_in(client: aiohttp.ClientSession, runtime: Runtime) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await grant(session, STAFF, Role.STAFF, by=None, now=runtime.clock())
        login = await issue_login(session, STAFF, runtime.clock())
    assert runtime.dashboard_link is not None
    link = runtime.dashboard_link(login.id, login.expires_at)
    async with client.post(link.split("?")[0], data={"t": link.split("t=", 1)[1]}) as response:
        assert "Logg ut" in await response.text(), "the login failed"


async def _time_page(
    client: aiohttp.ClientSession, url: str, params: dict[str, str], runs: int
) -> list[float]:
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        async with client.get(url, params=params) as response:
            body = await response.text()
            assert response.status == 200, body[:500]
        seconds.append(time.perf_counter() - began)
    return seconds


async def _time_counting(runtime: Runtime, consultation_id: int, runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        async with runtime.sessionmaker() as session:
            await consultation_results(session, consultation_id)
        seconds.append(time.perf_counter() - began)
    return seconds


def _row(label: str, seconds: list[float]) -> None:
    print(
        f"| {label} | {seconds[0] * 1000:,.0f} ms | "
        f"{statistics.median(seconds) * 1000:,.0f} ms | {max(seconds) * 1000:,.0f} ms |"
    )


async def main(args: argparse.Namespace) -> None:
    """Fill, serve, log in, time; print a table."""
    async with bench_engine(args.database_url) as (engine, name):
        print(f"Filling {name} with {args.answers:,} answers …", file=sys.stderr)
        consultation_id, counts = await populate(engine, answers=args.answers)
        await _settle(engine)
        runtime = Runtime(
            create_sessionmaker(engine),
            transaction_lock=asyncio.Lock() if engine.dialect.name == "sqlite" else None,
        )
        runner, base = await _serve(runtime)
        try:
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(base_url=base, cookie_jar=jar) as client:
                await _log_in(client, runtime)
                page = f"/dashboard/consultations/{consultation_id}/results"
                print(f"{name}: {counts.responses:,} responses, {counts.answers:,} answers")
                print("| page | first | median | slowest |")
                print("|---|---|---|---|")
                for label, params in VARIANTS.items():
                    _row(label, await _time_page(client, page, params, args.runs))
                # For scale: the counting alone, in process, on the same data at the same time.
                _row(
                    "(consultation_results alone)",
                    await _time_counting(runtime, consultation_id, args.runs),
                )
        finally:
            await runner.cleanup()


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
