"""Benchmark: broadcasts through the sandbox under Telegram's limits, in three scenarios.

``free``
    10,000 recipients at ``BROADCAST_RATE=25`` against a sandbox enforcing 30 messages/s in
    all and 1/s per chat (429 with ``retry_after`` beyond them), 50 ms latency per call.
    Reports the sustained rate (target ≥ 95 % of 25/s), lost messages (target 0) and the share
    of requests answered 429 (target ≤ 1 %).
``paid``
    The paid-broadcast tier: the sandbox allows 1,000/s, the bot is set to 1,000/s. Reports
    the messages per second one bot process reaches and its CPU milliseconds per message.
``memory``
    100,000 recipients at the paid tier; reports the bot process's peak resident memory
    (target ≤ 150 MB).

The sandbox runs in a process of its own and the bot is the real ``python -m bot run``, so
the bot's CPU time and memory (read from ``/proc``) are its own. ``--client ptb`` runs the
same bot with the delivery worker sending through PTB's ``Bot.send_message`` instead of its
lean aiohttp client, for comparison.

    .venv/bin/python -m bench.bench_broadcast free
    .venv/bin/python -m bench.bench_broadcast paid [--client ptb]
    .venv/bin/python -m bench.bench_broadcast memory
    .venv/bin/python -m bench.bench_broadcast paid --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench

The schema in the target database is dropped and created again: never point it at real data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.db import create_engine, create_sessionmaker
from models.base import utcnow
from models.outbox import Audience, AudienceKind, Broadcast, confirm
from tests.auxil.people import add_people, prepare_database

ROOT = str(Path(__file__).resolve().parents[1])
FIRST_USER = 1_000_001
TEXT = {"nb": "Kommunen inviterer til folkemøte om ny skole på Holmen torsdag kl. 18."}


@dataclass
class Scenario:
    """One measurement."""

    recipients: int
    rate: float  # BROADCAST_RATE
    sandbox_rate: float  # the sandbox's global limit
    latency: float  # seconds every Bot API call takes in the sandbox


SCENARIOS = {
    "free": Scenario(10_000, 25, 30, 0.05),
    "paid": Scenario(30_000, 1000, 1000, 0.02),
    "memory": Scenario(100_000, 1000, 1000, 0.02),
}


# ---------------------------------------------------------------------- child processes


async def serve_sandbox(port: int, scenario: Scenario) -> None:
    """The sandbox with the scenario's limits and every recipient as a user."""
    from sandbox import Sandbox

    sandbox = Sandbox(
        global_rate=scenario.sandbox_rate,
        per_chat_rate=1,
        latency=scenario.latency,
        keep_messages=0,  # counters only: the sandbox's memory stays small
    )
    for uid in range(FIRST_USER, FIRST_USER + scenario.recipients):
        sandbox.add_user(uid)
    await sandbox.start(port=port)
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sandbox.stop()


class PTBApi:
    """The worker's client, but through PTB's ``Bot.send_message`` (for comparison)."""

    def __init__(
        self, base_url: str, token: str, *, connections: int = 100, timeout: float = 10.0
    ) -> None:
        """A PTB Bot with a connection pool like the lean client's."""
        from telegram import Bot
        from telegram.request import HTTPXRequest

        request = HTTPXRequest(connection_pool_size=connections, read_timeout=timeout)
        self._bot = Bot(token, base_url=base_url, request=request)
        self._started = False

    async def call(self, method: str, params: dict[str, Any], upload: Any = None) -> Any:
        """Send with PTB and translate its exceptions into the lean client's results."""
        from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

        from bot.delivery import ApiResult

        if not self._started:
            await self._bot.initialize()
            self._started = True
        try:
            if method == "sendMessage":
                message = await self._bot.send_message(**params)
                return ApiResult(True, 200, result=message.to_dict())
            return ApiResult(True, 200, result=await self._bot.do_api_request(method, params))
        except RetryAfter as error:
            return ApiResult(False, 429, str(error), error.retry_after.total_seconds())  # type: ignore[union-attr]
        except Forbidden as error:
            return ApiResult(False, 403, str(error))
        except BadRequest as error:
            return ApiResult(False, 400, str(error))
        except TelegramError as error:
            return ApiResult(False, 0, type(error).__name__)

    async def close(self) -> None:
        """Close PTB's pool."""
        if self._started:
            await self._bot.shutdown()


def run_bot_with_ptb_client() -> None:
    """``python -m bot run``, but the delivery worker sends through PTB."""
    from bot import delivery
    from bot.cli import main

    delivery.BotApi = PTBApi  # type: ignore[misc,assignment]
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    sys.argv = ["medvirk", "run"]
    main()


# ---------------------------------------------------------------------- measuring


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_memory(pid: int) -> tuple[float, float]:
    """Resident memory now and at its peak (VmRSS, VmHWM), in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def _stats(http: aiohttp.ClientSession, url: str, per_chat: bool = False) -> dict[str, Any]:
    query = "?per_chat=1" if per_chat else ""
    async with http.get(f"{url}/sandbox/api/stats{query}") as response:
        return dict(await response.json())


async def _populate(url: str, recipients: int) -> None:
    await prepare_database(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await add_people(
                connection, list(range(FIRST_USER, FIRST_USER + recipients)), chunk=2000
            )
    finally:
        await engine.dispose()


async def _confirm_broadcast(url: str) -> None:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            draft = Broadcast(
                text=TEXT, language="nb", audience=Audience(AudienceKind.CONSENTED).to_json()
            )
            session.add(draft)
            await session.flush()
            await confirm(session, draft, utcnow(), None)
    finally:
        await engine.dispose()


async def measure(name: str, scenario: Scenario, database_url: str, client: str) -> dict[str, Any]:
    """Run one scenario; return what was measured."""
    print(f"{name}: {scenario.recipients:,} recipients in the database …", file=sys.stderr)
    await _populate(database_url, scenario.recipients)
    sandbox_port = _free_port()
    here = ROOT
    sandbox = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_broadcast",
        "_sandbox",
        name,
        "--port",
        str(sandbox_port),
        "--recipients",
        str(scenario.recipients),
        stdout=asyncio.subprocess.PIPE,
        cwd=here,
    )
    bot: asyncio.subprocess.Process | None = None
    try:
        assert sandbox.stdout is not None
        line = await asyncio.wait_for(sandbox.stdout.readline(), 300)
        assert line.strip() == b"ready", line
        url = f"http://127.0.0.1:{sandbox_port}"
        env = {
            **os.environ,
            "BOT_TOKEN": "123456:SANDBOX",
            "TELEGRAM_API_URL": url,
            "DATABASE_URL": database_url,
            "BROADCAST_RATE": str(scenario.rate),
            "QUIET_HOURS": "off",
            "LOG_LEVEL": "WARNING",
            "WEB_PORT": str(_free_port()),
        }
        command = ["-m", "bot", "run"]
        if client == "ptb":
            command = ["-m", "bench.bench_broadcast", "_ptb_bot", name]
        bot = await asyncio.create_subprocess_exec(sys.executable, *command, env=env, cwd=here)
        async with aiohttp.ClientSession() as http:
            for _ in range(600):  # the bot polls once it has started
                if (await _stats(http, url))["calls"].get("getupdates", 0) >= 1:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(2)  # settled: imports done, first polls made
            idle_rss, _ = process_memory(bot.pid)
            await _confirm_broadcast(database_url)
            started = time.monotonic()
            cpu_first = cpu_last = None
            sends_first = sends_last = 0
            peak_rss = idle_rss
            next_report = 0.0
            while True:
                stats = await _stats(http, url)
                sends = int(stats["sends"])
                rss, _ = process_memory(bot.pid)
                peak_rss = max(peak_rss, rss)
                if time.monotonic() >= next_report:
                    print(f"  {sends:>7,} sent, {rss:.1f} MB resident", file=sys.stderr)
                    next_report = time.monotonic() + 10
                if cpu_first is None and sends > 0:
                    cpu_first, sends_first = process_cpu(bot.pid), sends
                if sends >= scenario.recipients:
                    cpu_last, sends_last = process_cpu(bot.pid), sends
                    break
                if time.monotonic() - started > scenario.recipients / scenario.rate * 3 + 120:
                    raise TimeoutError(f"only {sends} of {scenario.recipients} sent")
                await asyncio.sleep(0.25)
            await asyncio.sleep(2)  # anything late (duplicates) shows up
            final = await _stats(http, url, per_chat=True)
            _, hwm = process_memory(bot.pid)
    finally:
        for process in (bot, sandbox):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
                    await process.wait()
    per_chat = final.get("per_chat", {})
    received = len(per_chat)
    requests = int(final["calls"].get("sendmessage", 0))
    assert cpu_first is not None
    assert cpu_last is not None
    return {
        "scenario": name,
        "client": client,
        "recipients": scenario.recipients,
        "broadcast_rate": scenario.rate,
        "sandbox_limit": scenario.sandbox_rate,
        "latency_ms": scenario.latency * 1000,
        "sustained_rate": round(float(final["sustained_rate"]), 1),
        "rate_share": round(float(final["sustained_rate"]) / scenario.rate * 100, 1),
        "lost": scenario.recipients - received,
        "duplicates": int(final["sends"]) - received,
        "requests": requests,
        "answered_429": int(final["rate_limited"]),
        "share_429": round(int(final["rate_limited"]) / max(requests, 1) * 100, 2),
        "cpu_ms_per_message": round(
            (cpu_last - cpu_first) * 1000 / max(sends_last - sends_first, 1), 3
        ),
        "idle_rss_mb": round(idle_rss, 1),
        "peak_rss_mb": round(max(peak_rss, hwm), 1),
    }


def main() -> None:
    """Parse the arguments and run the scenarios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=[*SCENARIOS, "_sandbox", "_ptb_bot"])
    parser.add_argument("which", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--client", choices=["aiohttp", "ptb"], default="aiohttp")
    parser.add_argument("--recipients", type=int, help="override the scenario's count")
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario == "_sandbox":
        served = SCENARIOS[args.which]
        served.recipients = args.recipients or served.recipients
        asyncio.run(serve_sandbox(args.port, served))
        return
    if args.scenario == "_ptb_bot":
        run_bot_with_ptb_client()
        return
    scenario = SCENARIOS[args.scenario]
    if args.recipients:
        scenario.recipients = args.recipients
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        result = asyncio.run(measure(args.scenario, scenario, url, args.client))
    result["database"] = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
