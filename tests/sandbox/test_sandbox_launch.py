"""``medvirk sandbox``: its database, its people, the web chat's routes, and the command itself."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import select

from bot.db import create_engine, create_sessionmaker
from bot.sandbox_run import (
    COORDINATOR_ID,
    MODERATOR_ID,
    STAFF_ID,
    RunningSandbox,
    SandboxError,
    SandboxOptions,
    serve_sandbox,
)
from bot.settings import Settings
from models.consultation import Consultation, Status
from models.consultation_file import parse_consultation_file
from models.roles import RoleGrant
from sandbox import Sandbox
from sandbox.webchat import CONTENT_SECURITY_POLICY, Persona, add_web_chat

ROOT = Path(__file__).parents[2]
DIALOGUE = ROOT / "examples" / "dialogarena-mangfold.yaml"


def settings(**values: object) -> Settings:
    """Settings as an operator without a .env file has them."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def run_until_ready(
    options: SandboxOptions, operator: Settings | None = None
) -> tuple[RunningSandbox, asyncio.Event, asyncio.Task[None]]:
    """Start the sandbox in this loop and wait until the page can be used."""
    stop = asyncio.Event()
    ready: asyncio.Future[RunningSandbox] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve_sandbox(operator or settings(), options, stop=stop, ready=ready.set_result)
    )
    done, _ = await asyncio.wait({ready, task}, timeout=60, return_when="FIRST_COMPLETED")
    if task in done:
        task.result()
    return ready.result(), stop, task


async def stored(database: Path) -> tuple[list[Consultation], list[RoleGrant]]:
    """The consultations and role grants in a sandbox database."""
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with create_sessionmaker(engine)() as session:
            consultations = list((await session.exec(select(Consultation))).all())
            grants = list((await session.exec(select(RoleGrant))).all())
            return consultations, grants
    finally:
        await engine.dispose()


async def test_the_sandbox_loads_the_examples_open_and_grants_the_roles(tmp_path: Path) -> None:
    database = tmp_path / "medvirk-sandbox.db"
    database.write_bytes(b"left over from another run, not even a database")
    running, stop, task = await run_until_ready(SandboxOptions(port=0, database=database))
    try:
        assert running.url.startswith("http://127.0.0.1:")
        assert set(running.loaded) == {"holmen-frivilligsentral", "dialogarena-mangfold"}
        # The arenas the example consultations offer at their end are there too.
        assert set(running.arenas) == {"frivillighet", "dialogarena"}
        roles = {p.role for p in running.personas}
        assert roles == {"citizen", "staff", "moderator", "coordinator"}
        languages = {
            running.sandbox.user(p.user_id).language_code
            for p in running.personas
            if p.role == "citizen"
        }
        assert languages == {"nb", "nn", "en"}
        assert running.sandbox.stats.calls["getupdates"] > 0  # the bot polls already
    finally:
        stop.set()
        await task
    consultations, grants = await stored(database)
    # Open, and without the example's time window, so it can be answered any day.
    assert {c.slug: (c.status, c.opens_at, c.closes_at) for c in consultations} == {
        "holmen-frivilligsentral": (Status.OPEN, None, None),
        "dialogarena-mangfold": (Status.OPEN, None, None),
    }
    assert {(g.telegram_user_id, g.role) for g in grants} == {
        (STAFF_ID, "staff"),
        (MODERATOR_ID, "moderator"),
        (COORDINATOR_ID, "coordinator"),
    }


async def test_each_start_is_fresh_unless_kept(tmp_path: Path) -> None:
    database = tmp_path / "medvirk-sandbox.db"
    preview = parse_consultation_file(DIALOGUE.read_bytes())
    _, stop, task = await run_until_ready(
        SandboxOptions(port=0, database=database, consultation=preview)
    )
    stop.set()
    await task
    assert [c.slug for c in (await stored(database))[0]] == ["dialogarena-mangfold"]

    # Kept: the previewed consultation is still there beside the examples.
    _, stop, task = await run_until_ready(SandboxOptions(port=0, database=database, keep=True))
    stop.set()
    await task
    assert len((await stored(database))[0]) == 2

    # Fresh again: only the examples.
    running, stop, task = await run_until_ready(
        SandboxOptions(port=0, database=database, consultation=preview)
    )
    assert running.preview is not None
    assert running.preview.start_command == "/start c_dialogarena-mangfold"
    stop.set()
    await task
    assert len((await stored(database))[0]) == 1


async def test_the_production_database_is_never_the_sandbox_one(tmp_path: Path) -> None:
    database = tmp_path / "medvirk-sandbox.db"
    database.write_bytes(b"precious")
    operator = settings(database_url=f"sqlite+aiosqlite:///{database}")
    with pytest.raises(SandboxError, match="sandbox's own database file"):
        await serve_sandbox(operator, SandboxOptions(port=0, database=database))
    assert database.read_bytes() == b"precious"


@pytest.fixture
async def web_chat() -> AsyncIterator[tuple[Sandbox, str]]:
    """A sandbox serving the web chat (no bot) with two citizens and a staff member."""
    sandbox = Sandbox()
    kari, ola = sandbox.add_user(1, "Kari"), sandbox.add_user(2, "Ola", "nn")
    sandbox.add_user(STAFF_ID, "Siri")
    add_web_chat(
        sandbox,
        [Persona(kari.id, "citizen"), Persona(ola.id, "citizen"), Persona(STAFF_ID, "staff")],
    )
    url = await sandbox.start()
    try:
        yield sandbox, url
    finally:
        await sandbox.stop()


async def test_the_page_and_its_assets_come_from_the_sandbox_only(
    web_chat: tuple[Sandbox, str],
) -> None:
    _, url = web_chat
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{url}/") as page:
            assert page.status == 200
            assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            html = await page.text()
        assert "Nothing you do here is sent to Telegram" in html
        assert "http" not in html.replace('content="width=device-width', "")
        for asset, kind in (("app.js", "javascript"), ("app.css", "text/css")):
            async with client.get(f"{url}/sandbox/web/{asset}") as response:
                assert response.status == 200
                assert kind in response.headers["Content-Type"]
                assert "https://" not in await response.text()
        for other in ("index.html", "..%2Fserver.py", "webchat.py"):
            async with client.get(f"{url}/sandbox/web/{other}") as response:
                assert response.status == 404, other
        async with client.get(f"{url}/sandbox/web/config") as response:
            config = await response.json()
    assert [(p["name"], p["role"], p["language_code"]) for p in config["personas"]] == [
        ("Kari", "citizen", "nb"),
        ("Ola", "citizen", "nn"),
        ("Siri", "staff", "nb"),
    ]
    assert config["bot"]["username"] == "medvirk_bot"
    assert config["preview"] is None


async def test_one_long_poll_wakes_for_any_chat_of_the_page(
    web_chat: tuple[Sandbox, str],
) -> None:
    sandbox, url = web_chat
    async with aiohttp.ClientSession() as client:
        started = time.monotonic()
        waiting = asyncio.create_task(
            client.get(
                f"{url}/sandbox/web/events", params={"chats": "1,2", "after": 0, "wait": 10}
            )
        )
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await sandbox.send_text(2, "hei")
        async with await waiting as response:
            body = await response.json()
        assert time.monotonic() - started < 5
        assert [(e["chat_id"], e["kind"]) for e in body["events"]] == [(2, "user_message")]
        assert body["cursor"] == sandbox.cursor

        await sandbox.send_text(1, "a")
        await sandbox.send_text(2, "b")
        async with client.get(
            f"{url}/sandbox/web/events", params={"chats": "1,2", "after": body["cursor"]}
        ) as response:
            later = await response.json()
        assert [e["message"]["text"] for e in later["events"]] == ["a", "b"]

        for params in ({"chats": "x"}, {"chats": ""}, {"chats": "1", "wait": "soon"}):
            async with client.get(f"{url}/sandbox/web/events", params=params) as response:
                assert response.status == 400
                assert "error" in await response.json()


# ---------------------------------------------------------------------- the command


def medvirk(*args: str, cwd: Path, **env: str) -> subprocess.Popen[str]:
    """Start ``python -m bot`` with no token and no .env, in ``cwd``."""
    environment = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "DATABASE_URL")}
    # Warnings only: the test reads stdout and leaves the log on a pipe nobody empties.
    environment.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{cwd / 'medvirk.db'}", LOG_LEVEL="WARNING", **env
    )
    return subprocess.Popen(  # noqa: S603 (our own CLI)
        [sys.executable, "-m", "bot", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=cwd,
    )


def read_until(process: subprocess.Popen[str], needle: str, timeout: float = 60) -> str:
    """Read stdout until a line contains ``needle``; return what was read."""
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen += line
        if needle in line:
            return seen
    process.kill()
    _, stderr = process.communicate()
    raise AssertionError(f"no {needle!r} in the output:\n{seen}\nstderr:\n{stderr}")


def test_run_without_a_token_starts_the_sandbox_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    process = medvirk("run", cwd=tmp_path, WEB_PORT="0")
    try:
        shown = read_until(process, "Stop with Ctrl+C.")
        assert "No BOT_TOKEN is set" in shown
        assert "@BotFather" in shown
        assert "Nothing is sent to Telegram" in shown
        address = next(line for line in shown.splitlines() if "open http://" in line)
        url = address.split("open ", 1)[1].split(" ", 1)[0]
        with urllib.request.urlopen(url, timeout=30) as page:  # noqa: S310 - our own page
            assert "Medvirk sandbox" in page.read().decode()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "The sandbox has stopped." in stdout
    assert "Traceback" not in stderr
    assert (tmp_path / "medvirk-sandbox.db").exists()
    assert not (tmp_path / "medvirk.db").exists()  # the production database is not touched


def test_a_broken_preview_file_is_refused_with_every_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "slug: Holmen Senter\n"
        "title: {nb: Test}\n"
        "questions:\n"
        "  - {id: a, type: single_choice, text: Hva?, options: [{id: x, text: X}]}\n",
        encoding="utf-8",
    )
    process = medvirk("sandbox", "--consultation", str(broken), cwd=tmp_path)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "refused; nothing was stored" in stderr
    assert "questions[0].options: needs at least 2" in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "medvirk-sandbox.db").exists()


def test_a_taken_port_is_one_plain_line(tmp_path: Path) -> None:
    first = medvirk("sandbox", "--port", "0", cwd=tmp_path)
    try:
        shown = read_until(first, "Stop with Ctrl+C.")
        port = shown.split("open http://127.0.0.1:", 1)[1].split("/", 1)[0]
        second = medvirk("sandbox", "--port", port, cwd=tmp_path)
        _, stderr = second.communicate(timeout=60)
        # The second start failed before it touched the first one's database.
        assert b"SQLite format" in (tmp_path / "medvirk-sandbox.db").read_bytes()[:16]
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    assert second.returncode == 1
    assert stderr.strip().splitlines()[-1].startswith("medvirk: cannot listen on 127.0.0.1:")
    assert "--port" in stderr
    assert "Traceback" not in stderr
