"""Webhook throughput: answers stored per second through ``POST /telegram``, and the ceiling.

Plays Telegram against a bot process (``python -m bot run`` in webhook mode): 40 concurrent
connections POST updates with the secret, each one answer to a scale question of a prepared
consultation, and resend anything that did not get a 2xx. The people are prepared in the
database (consent given, the consultation started); each first types an answer (not measured:
it brings the next question with its buttons), then presses ``--answers`` buttons, each on the
question the bot just sent (``--typed``: types digits instead). A person's next answer goes
out ``--pace`` seconds after the previous one was accepted, as people read before they press;
the bot keeps Telegram's one message a second per chat. The sandbox, in this process, is the
Bot API the bot replies to.

The same harness, in the same run, drives two references in processes of their own: a bare
PTB application (aiohttp + ``process_update`` + one INSERT per update, no reply), the ceiling
of webhook + PTB + database; and the naive bot a newcomer writes first (the same, then
answerCallbackQuery and sendMessage with the next question's buttons).

Update ids are unique across the warm-up and the measured answers (the warm-up's ids are not
reused, so no measured update is a duplicate). A webhook answer that carries a Bot API method
is executed against the sandbox, as Telegram does.

    .venv/bin/python bench/bench_webhook.py                       # SQLite, 4000 answers
    .venv/bin/python bench/bench_webhook.py --database-url postgresql+asyncpg://...
    .venv/bin/python bench/bench_webhook.py --only medvirk --profile /tmp/medvirk.svg

The table has the answers stored per second, the latency Telegram sees (p50, p99), and the
server process's CPU time per update (from /proc), which says what one core could do
whatever else the machine runs. ``--profile`` samples the bot process with py-spy
(``pip install py-spy``; ``.txt`` for collapsed stacks), ``--cprofile`` runs it under
cProfile. ``--json FILE`` writes the results as JSON too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handlers import callbacks as cb  # noqa: E402
from sandbox import Sandbox  # noqa: E402
from tests.auxil.updates import (  # noqa: E402
    add_scales,
    prepare_people,
    press_update,
    question_ids,
    text_update,
)
from tests.runtime.conftest import prepare_database  # noqa: E402

SECRET = "bench-secret"  # noqa: S105 - the benchmark's own webhook secret
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
QUESTIONS = 10
FIRST_PERSON = 9_000_001


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Result:
    """One measured run."""

    name: str
    database: str
    updates: int
    seconds: float
    latencies: list[float]
    resent: int
    stored: int
    cpu: float = 0.0  # CPU seconds the server process used during the run

    @property
    def cpu_ms(self) -> float:
        """Server CPU per update, in milliseconds."""
        return self.cpu / self.updates * 1000

    @property
    def rate(self) -> float:
        """Updates acknowledged (and so stored) per second."""
        return self.updates / self.seconds

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000

    def row(self) -> str:
        """A table row."""
        return (
            f"| {self.name} | {self.database} | {self.updates} | {self.rate:.0f} | "
            f"{self.percentile(0.5):.1f} | {self.percentile(0.99):.1f} | {self.cpu_ms:.2f} | "
            f"{1000 / self.cpu_ms:.0f} | {self.resent} |"
        )

    def to_json(self) -> dict[str, Any]:
        """The numbers as a dict."""
        return {
            "name": self.name,
            "database": self.database,
            "updates": self.updates,
            "answers_per_second": round(self.rate, 1),
            "p50_ms": round(self.percentile(0.5), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "mean_ms": round(statistics.mean(self.latencies) * 1000, 2),
            "server_cpu_ms_per_update": round(self.cpu_ms, 3),
            "resent": self.resent,
            "stored": self.stored,
        }


class Load:
    """Telegram's side: people's updates in order, over N connections, resent until 2xx.

    A person's next update goes out at least ``pace`` seconds after the previous one was
    accepted (people read the next question before they press), so Telegram's one message a
    second per chat, which the bot keeps, never holds a reply back.
    """

    def __init__(
        self,
        url: str,
        sandbox: Sandbox | None,
        people: list[int],
        questions: list[int],
        *,
        pace: float,
        typed: bool = False,
        first: int = 0,
    ) -> None:
        self.url = url
        # The index of ``questions[0]`` among the person's answers: update ids follow it, so
        # the measured answers never reuse the warm-up's ids (a reused id is a duplicate).
        self.first = first
        self.sandbox = sandbox
        self.people = people
        self.questions = questions
        self.pace = pace
        self.typed = typed
        self.latencies: list[float] = []
        self.resent = 0

    def digit(self, person: int, question: int) -> int:
        """The answer of a person to a question."""
        return (person + question) % 9 + 1

    async def run(self, connections: int) -> float:
        """Deliver everything; return the wall time in seconds."""
        ready: list[tuple[float, int, int]] = [(0.0, person, 0) for person in self.people]
        heapq.heapify(ready)
        connector = aiohttp.TCPConnector(limit=connections)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            started = time.perf_counter()
            await asyncio.gather(*(self._worker(http, ready) for _ in range(connections)))
            return time.perf_counter() - started

    async def _worker(
        self, http: aiohttp.ClientSession, ready: list[tuple[float, int, int]]
    ) -> None:
        while ready:
            at, person, index = heapq.heappop(ready)
            wait = at - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._until_accepted(http, await self.update(person, index))
            if index + 1 < len(self.questions):
                heapq.heappush(ready, (time.perf_counter() + self.pace, person, index + 1))

    async def update(self, person: int, index: int) -> dict[str, Any]:
        """The person's answer to the question at ``index``: a button press, or typed."""
        update_id = (person - FIRST_PERSON) * 100 + self.first + index + 1
        value = self.digit(person, self.first + index)
        if self.typed or self.sandbox is None:
            return text_update(update_id, person, str(value))
        data = cb.Rate(self.questions[index], value).pack()
        query = await self.sandbox.press(person, data)  # on the question's message
        held = _latest_with_button(self.sandbox, person, data)
        return press_update(update_id, person, data, held, query_id=query)

    async def _until_accepted(self, http: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        body = json.dumps(update)
        headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
        while True:
            started = time.perf_counter()
            try:
                async with http.post(self.url, data=body, headers=headers) as response:
                    answer = await response.read()
                    if 200 <= response.status < 300:
                        self.latencies.append(time.perf_counter() - started)
                        if self.sandbox is not None:  # as Telegram: make the call it carries
                            await self.sandbox.execute_webhook_answer(
                                response.content_type, answer
                            )
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            self.resent += 1
            await asyncio.sleep(0.05)


def _latest_with_button(sandbox: Sandbox, person: int, data: str) -> int:
    for message in reversed(sandbox.messages(person)):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if any(button.get("callback_data") == data for row in rows for button in row):
            return int(message["message_id"])
    raise AssertionError(f"no button {data} in the chat of {person}")


async def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    """Wait until the server answers /healthz (or the process died)."""
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit(f"the server exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise SystemExit("the server did not come up")


def start_process(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a server process, its output into ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and script
            command, env={**os.environ, **env}, stdout=out, stderr=out, cwd=log.parent
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM and wait."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def count_rows(url: str, table: str, *, drop: bool = False) -> int:
    """Rows in a table; ``drop`` removes the table after (the references' own table)."""
    from sqlalchemy import text

    from bot.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            query = text(f"SELECT count(*) FROM {table}")  # noqa: S608 - our own table names
            rows = int((await connection.execute(query)).scalar_one())
            if drop:
                await connection.execute(text(f"DROP TABLE {table}"))
            return rows
    finally:
        await engine.dispose()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def people_for(args: argparse.Namespace) -> list[int]:
    """Enough people for ``--updates`` answers of ``--answers`` each."""
    return list(range(FIRST_PERSON, FIRST_PERSON + args.updates // args.answers))


async def bench_medvirk(args: argparse.Namespace, url: str, work: Path) -> Result:
    """The real bot, ``python -m bot run`` in webhook mode."""
    from datetime import UTC, datetime

    from bot.db import create_engine, create_sessionmaker

    await prepare_database(url)
    people = people_for(args)
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session:
            consultation = await add_scales(session)
            questions = await question_ids(session, consultation.id or 0)
        await prepare_people(sessionmaker, people, consultation.id or 0, datetime.now(UTC))
    finally:
        await engine.dispose()

    async with Sandbox(keep_messages=4) as sandbox:
        for person in people:
            sandbox.add_user(person, "Bench")
        port = free_port()
        env = {
            "BOT_TOKEN": sandbox.token,
            "TELEGRAM_API_URL": str(sandbox.url),
            "DATABASE_URL": url,
            "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
            "WEBHOOK_SECRET": SECRET,
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(port),
            "LOG_LEVEL": args.log_level,
            "LOG_FORMAT": "json",
        }
        command = [sys.executable, "-m", "bot", "run"]
        if args.cprofile:  # the whole run, start-up included; read with pstats
            command[1:1] = ["-m", "cProfile", "-o", args.cprofile]
        process = start_process(command, env, work / "medvirk.log")
        spy = None
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_healthy(base, process)
            # The bot set the webhook; drop it, so the sandbox does not deliver the presses
            # this harness makes (it delivers them itself, with its own update ids).
            async with aiohttp.ClientSession() as http:
                await http.post(f"{sandbox.url}/bot{sandbox.token}/deleteWebhook")
            # Not measured: everyone types the first answer, and so gets the second question
            # with its buttons.
            idle = cpu_seconds(process.pid)
            await asyncio.sleep(5)
            print(f"bot process idle: {(cpu_seconds(process.pid) - idle) / 5 * 1000:.0f} ms CPU/s")
            warm = Load(f"{base}/telegram", sandbox, people, questions[:1], pace=0, typed=True)
            await warm.run(400)
            measured = questions[1 : 1 + args.answers]
            load = Load(
                f"{base}/telegram",
                sandbox,
                people,
                measured,
                pace=args.pace,
                typed=args.typed,
                first=1,
            )
            if args.profile:
                spy = subprocess.Popen(  # noqa: S603, ASYNC220 - a profiler beside the run
                    [
                        shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                        "record", "--pid", str(process.pid), "--output", args.profile,
                        "--rate", "200", "--nonblocking",
                        *(["--format", "raw"] if args.profile.endswith(".txt") else []),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                await asyncio.sleep(1.0)
            cpu = cpu_seconds(process.pid)
            seconds = await load.run(args.connections)
            cpu = cpu_seconds(process.pid) - cpu
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            stop_process(process)
    stored = await count_rows(url, "answer") - len(people)  # less the warm-up answers
    name = "Medvirk (`medvirk run`, webhook)" + (", typed" if args.typed else ", buttons")
    return Result(
        name, _kind(url), len(load.latencies), seconds, load.latencies, load.resent, stored, cpu
    )


async def bench_ceiling(args: argparse.Namespace, url: str, work: Path) -> Result:
    """A bare PTB application: one INSERT per update, no reply."""
    await prepare_database(url)
    port = free_port()
    command = [sys.executable, __file__, "--serve-ceiling", "--database-url", url]
    command += ["--port", str(port)]
    process = start_process(command, {}, work / "ceiling.log")
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_healthy(base, process)
        load = Load(
            f"{base}/telegram", None, people_for(args), list(range(args.answers)), pace=args.pace
        )
        cpu = cpu_seconds(process.pid)
        seconds = await load.run(args.connections)
        cpu = cpu_seconds(process.pid) - cpu
    finally:
        stop_process(process)
    stored = await count_rows(url, "bench_update", drop=True)
    name = "Ceiling: bare PTB + 1 INSERT"
    return Result(
        name, _kind(url), len(load.latencies), seconds, load.latencies, load.resent, stored, cpu
    )


async def bench_naive(args: argparse.Namespace, url: str, work: Path) -> Result:
    """The bot a newcomer writes first: PTB, one INSERT, answer the button, send the next."""
    await prepare_database(url)
    people = people_for(args)
    async with Sandbox(keep_messages=4) as sandbox:
        for person in people:
            sandbox.add_user(person, "Bench")
        port = free_port()
        command = [sys.executable, __file__, "--serve-naive", "--database-url", url]
        command += ["--port", str(port), "--api", f"{sandbox.url}/bot", "--token", sandbox.token]
        process = start_process(command, {}, work / "naive.log")
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_healthy(base, process)
            # As for Medvirk: a typed first answer brings the first question with buttons.
            warm = Load(f"{base}/telegram", sandbox, people, [0], pace=0, typed=True)
            await warm.run(400)
            measured = list(range(1, 1 + args.answers))
            load = Load(f"{base}/telegram", sandbox, people, measured, pace=args.pace, first=1)
            cpu = cpu_seconds(process.pid)
            seconds = await load.run(args.connections)
            cpu = cpu_seconds(process.pid) - cpu
        finally:
            stop_process(process)
    stored = await count_rows(url, "bench_update", drop=True) - len(people)
    name = "Naive bot: PTB + 1 INSERT + answer + send"
    return Result(
        name, _kind(url), len(load.latencies), seconds, load.latencies, load.resent, stored, cpu
    )


def _kind(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


# ---------------------------------------------------------------- the reference servers


async def _bench_table(url: str) -> tuple[Any, Any, Any]:
    """A fresh ``bench_update`` table, its engine, and the writers' lock Medvirk uses."""
    from sqlalchemy import BigInteger, Column, MetaData, String, Table

    from bot.db import create_engine

    metadata = MetaData()
    table = Table(
        "bench_update",
        metadata,
        Column("update_id", BigInteger, primary_key=True, autoincrement=False),
        Column("user_id", BigInteger),
        Column("text", String(200)),
    )
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)
    # Same as Medvirk on SQLite: one writer at a time, queued in the process.
    lock = asyncio.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
    return table, engine, lock


async def _serve_until_sigterm(application: Any, port: int) -> None:
    """Take webhook updates for a started PTB ``application`` on ``port`` until SIGTERM."""
    import hmac

    from aiohttp import web
    from telegram import Update

    async def webhook(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, SECRET.encode()):
            return web.Response(status=403)
        update = Update.de_json(json.loads(await request.read()), application.bot)
        await application.process_update(update)
        return web.Response(text="ok")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/telegram", webhook)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


async def serve_ceiling(url: str, port: int) -> None:
    """aiohttp + PTB ``process_update`` + one INSERT per update; 200 after the commit."""
    from sqlalchemy import insert
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

    from sandbox import Sandbox as FakeTelegram

    table, engine, lock = await _bench_table(url)

    async def store(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        async with lock, engine.begin() as connection:
            await connection.execute(
                insert(table).values(
                    update_id=update.update_id,
                    user_id=update.effective_user.id if update.effective_user else None,
                    text=(message.text if message else None),
                )
            )

    async with FakeTelegram() as telegram:  # getMe at initialize needs a Bot API
        application = (
            ApplicationBuilder().token(telegram.token).base_url(f"{telegram.url}/bot").build()
        )
        application.add_handler(TypeHandler(Update, store))
        async with application:
            await _serve_until_sigterm(application, port)
    await engine.dispose()


async def serve_naive(url: str, port: int, api: str, token: str) -> None:
    """PTB as its examples show it: store one row, answer the button, send the next question.

    No rate limiter, no idempotency, no transaction beyond the INSERT: what a municipality's
    developer would write first. Its buttons are the scale of the next question.
    """
    from sqlalchemy import insert
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

    table, engine, lock = await _bench_table(url)

    def scale(question: int) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(str(v), callback_data=cb.Rate(question, v).pack())
                    for v in range(1, 10)
                ]
            ]
        )

    async def store(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        message = update.effective_message
        user = update.effective_user
        assert user is not None
        async with lock, engine.begin() as connection:
            await connection.execute(
                insert(table).values(
                    update_id=update.update_id,
                    user_id=user.id,
                    text=query.data if query else (message.text if message else None),
                )
            )
        question = 1
        if query is not None:
            await query.answer()
            question = cb.Rate.unpack(query.data).question_id + 1
        await context.bot.send_message(
            user.id, f"Spørsmål {question}", reply_markup=scale(question)
        )

    application = ApplicationBuilder().token(token).base_url(api).build()
    application.add_handler(TypeHandler(Update, store))
    async with application:
        await _serve_until_sigterm(application, port)
    await engine.dispose()


# ---------------------------------------------------------------- main


async def main(args: argparse.Namespace) -> list[Result]:
    """Run the requested benchmarks; print a table."""
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    url = args.database_url or f"sqlite+aiosqlite:///{work / 'bench.db'}"
    results = []
    if args.only in (None, "ceiling"):
        results.append(await bench_ceiling(args, url, work))
    if args.only in (None, "naive"):
        results.append(await bench_naive(args, url, work))
    if args.only in (None, "medvirk"):
        results.append(await bench_medvirk(args, url, work))
    print(f"load average before: {load_before}")
    print(
        "| server | database | updates | answers/s | p50 ms | p99 ms | server CPU ms/update "
        "| updates per CPU-second | resent |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.row())
        if result.stored != result.updates:
            print(f"!! {result.name}: {result.stored} stored of {result.updates} acknowledged")
    print(f"load average after: {os.getloadavg()}")
    medvirk = next((r for r in results if r.name.startswith("Medvirk")), None)
    for other in results:
        if medvirk is not None and other is not medvirk:
            print(f"Medvirk / {other.name}: {medvirk.rate / other.rate:.2f} x the rate")
    if args.json:
        Path(args.json).write_text(  # noqa: ASYNC240 - once, at the end
            json.dumps([r.to_json() for r in results], indent=2)
        )
    print(f"logs in {work}")
    return results


def parse_args() -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--updates", type=int, default=4000, help="measured answers")
    parser.add_argument("--answers", type=int, default=2, help="measured answers per person")
    parser.add_argument("--pace", type=float, default=1.05, help="seconds between a person's")
    parser.add_argument("--typed", action="store_true", help="typed digits, not buttons")
    parser.add_argument("--connections", type=int, default=40)
    parser.add_argument("--only", choices=["medvirk", "ceiling", "naive"])
    parser.add_argument("--log-level", default="INFO", help="the bot's LOG_LEVEL")
    parser.add_argument("--profile", help="py-spy flame graph of the bot process (.svg)")
    parser.add_argument("--cprofile", help="run the bot under cProfile, stats to this file")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--serve-ceiling", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-naive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve_ceiling:
        asyncio.run(serve_ceiling(arguments.database_url, arguments.port))
    elif arguments.serve_naive:
        asyncio.run(
            serve_naive(arguments.database_url, arguments.port, arguments.api, arguments.token)
        )
    else:
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        asyncio.run(main(arguments))
