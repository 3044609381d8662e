"""Exports: one row per response, the same values in CSV, xlsx and JSON, pseudonymous keys."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import json
import os
import pty
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cli import main
from bot.db import create_engine, create_sessionmaker, upgrade
from models.export import (
    FORMATS,
    Format,
    UnknownConsultation,
    write_export,
)
from models.pseudonym import InstanceSecret, instance_secret, pseudonym
from models.results import consultation_results
from tests.auxil.answers import IDEA_ADA, IDEA_CAI, TELEGRAM_IDS, Sample, build_sample
from tests.auxil.consultations import add_consultation
from tests.auxil.people import add_people

pytestmark = pytest.mark.postgres

COLUMNS = [
    "participant",
    "consultation",
    "source",
    "channel",
    "language",
    "started_at",
    "completed_at",
    "q_use",
    "q_use_text",
    "q_activities",
    "q_activities_text",
    "q_agree",
    "q_trees",
    "q_idea",
]
# The sample's rows without the key, as JSON has them; None is an empty cell.
EXPECTED: list[list[Any]] = [
    [
        "park",
        "poster",
        "telegram",
        "nb",
        "2027-01-15T12:00:00Z",
        "2027-01-15T12:00:30Z",
        "often",
        "Ofte",
        ["play", "sport"],
        ["Leke", "Idrett"],
        4,
        "yes",
        IDEA_ADA,
    ],
    [
        "park",
        "poster",
        "telegram",
        "nb",
        "2027-01-15T12:01:00Z",
        "2027-01-15T12:01:00Z",
        "sometimes",
        "Av og til",
        ["play"],
        ["Leke"],
        5,
        "no",
        None,
    ],
    [
        "park",
        "direct",
        "telegram",
        "nb",
        "2027-01-15T12:02:00Z",
        "2027-01-15T12:02:00Z",
        "never",
        "Aldri",
        None,
        None,
        2,
        "yes",
        IDEA_CAI,
    ],
    [
        "park",
        "library",
        "telegram",
        "nb",
        "2027-01-15T12:03:00Z",
        None,
        "often",
        "Ofte",
        None,
        None,
        None,
        None,
        None,
    ],
    [
        "park",
        "direct",
        "telegram",
        "nb",
        "2027-01-15T12:04:00Z",
        None,
        "never",
        "Aldri",
        None,
        None,
        4,
        None,
        None,
    ],
]
KEY = re.compile(r"[0-9a-f]{16}")


async def _export(session: AsyncSession, sample: Sample, fmt: Format, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    rows = await write_export(session, sample.park_id, fmt, out, **kwargs)
    assert rows == 5
    return out.getvalue()


def _as_text(value: Any, column: str) -> str:
    """What a JSON value looks like in a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ("; " if column.endswith("_text") else ";").join(value)
    return str(value)


def _local(iso: str) -> datetime:
    """An ISO time in UTC as an Excel cell holds it: Oslo's local time, without a zone."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo("Europe/Oslo")).replace(tzinfo=None)


def _check_keys(keys: list[str]) -> None:
    assert all(KEY.fullmatch(k) for k in keys)
    assert len(set(keys)) == len(keys)  # two people never share a key


def _check_no_telegram_id(data: bytes) -> None:
    for user_id in TELEGRAM_IDS.values():
        assert str(user_id).encode() not in data


async def test_csv_has_a_row_per_response_with_the_values(session: AsyncSession) -> None:
    sample = await build_sample(session)
    data = await _export(session, sample, "csv")
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == COLUMNS
    assert len(rows) == 1 + 5
    _check_keys([row[0] for row in rows[1:]])
    for row, expected in zip(rows[1:], EXPECTED, strict=True):
        wanted = [_as_text(v, c) for v, c in zip(expected, COLUMNS[1:], strict=True)]
        if expected[-1] == IDEA_CAI:
            # Excel would run it as a formula: the apostrophe keeps it text.
            wanted[-1] = "'" + IDEA_CAI
        assert row[1:] == wanted
    _check_no_telegram_id(data)


async def test_xlsx_reads_back_with_the_same_values(session: AsyncSession) -> None:
    sample = await build_sample(session)
    data = await _export(session, sample, "xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    try:
        sheet = workbook["park"]
        rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
        assert rows[0] == COLUMNS
        assert len(rows) == 1 + 5
        _check_keys([row[0] for row in rows[1:]])
        for row, expected in zip(rows[1:], EXPECTED, strict=True):
            wanted = [
                None
                if v is None
                else v
                if isinstance(v, int)
                else _local(v)
                if c.endswith("_at")
                else _as_text(v, c)
                for v, c in zip(expected, COLUMNS[1:], strict=True)
            ]
            assert row[1:] == wanted
        # Real date cells that Excel sorts and filters as dates, shown with date and time.
        started = sheet.cell(row=2, column=COLUMNS.index("started_at") + 1)
        assert started.is_date
        assert started.value == datetime(2027, 1, 15, 13, 0, tzinfo=UTC).replace(tzinfo=None)
        assert "hh:mm" in started.number_format
        # A typed formula stays text: nothing runs when the file is opened.
        assert sheet.cell(row=4, column=len(COLUMNS)).data_type == "s"
        questions = [[c.value for c in row] for row in workbook["questions"].iter_rows()]
        assert questions[0] == ["column", "question", "type", "text", "options"]
        assert questions[1][:4] == ["q_use", "use", "single_choice", "Ville du brukt parken?"]
        assert questions[1][4] == "often = Ofte; sometimes = Av og til; never = Aldri"
    finally:
        workbook.close()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            _check_no_telegram_id(archive.read(name))


async def test_json_has_metadata_and_typed_rows(session: AsyncSession) -> None:
    sample = await build_sample(session)
    data = await _export(session, sample, "json")
    document = json.loads(data)
    assert document["format"] == "medvirk-export"
    assert document["consultation"]["slug"] == "park"
    assert document["consultation"]["title"] == {"nb": "Ny park", "en": "New park"}
    assert document["columns"] == COLUMNS
    assert [q["key"] for q in document["questions"]] == [
        "use",
        "activities",
        "agree",
        "trees",
        "idea",
    ]
    assert document["questions"][1]["columns"] == ["q_activities", "q_activities_text"]
    assert document["questions"][2]["min"] == 1
    rows = document["rows"]
    assert len(rows) == 5
    _check_keys([row["participant"] for row in rows])
    for row, expected in zip(rows, EXPECTED, strict=True):
        assert list(row) == COLUMNS
        assert list(row.values())[1:] == expected
    _check_no_telegram_id(data)


async def test_the_key_is_stable_across_exports_and_is_the_hmac(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        sample = await build_sample(session)
        first = json.loads(await _export(session, sample, "json"))
        await session.commit()
    async with sessionmaker() as session:
        second = json.loads(await _export(session, sample, "json"))
        secrets = (await session.exec(select(InstanceSecret))).all()
    keys = [row["participant"] for row in first["rows"]]
    assert keys == [row["participant"] for row in second["rows"]]
    assert len(secrets) == 1
    secret = bytes.fromhex(secrets[0].value)
    assert len(secret) == 32
    ada = sample.people["ada"].id
    expected = hmac.new(secret, str(ada).encode(), hashlib.sha256).hexdigest()[:16]
    assert keys[0] == expected == pseudonym(secret, ada or 0)


async def test_the_secret_is_made_once(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        first = await instance_secret(session)
        assert await instance_secret(session) == first
        await session.commit()
    async with sessionmaker() as session:
        assert await instance_secret(session) == first
        assert await instance_secret(session, "another") != first


async def test_small_batches_give_the_same_file(session: AsyncSession) -> None:
    sample = await build_sample(session)
    whole = await _export(session, sample, "csv")
    assert await _export(session, sample, "csv", batch_size=2) == whole
    assert await _export(session, sample, "csv", batch_size=1) == whole


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_consultation_without_responses_has_only_the_header(
    session: AsyncSession, fmt: Format
) -> None:
    consultation = await add_consultation(session)
    assert consultation.id is not None
    out = io.BytesIO()
    assert await write_export(session, consultation.id, fmt, out) == 0
    if fmt == "json":
        assert json.loads(out.getvalue())["rows"] == []
    elif fmt == "csv":
        assert out.getvalue().decode("utf-8-sig").splitlines() == [";".join(COLUMNS)]
    else:
        workbook = openpyxl.load_workbook(out, read_only=True)
        try:
            assert [[c.value for c in r] for r in workbook["park"].iter_rows()] == [COLUMNS]
        finally:
            workbook.close()


async def test_unknown_consultation_and_format_are_refused(session: AsyncSession) -> None:
    with pytest.raises(UnknownConsultation):
        await write_export(session, 987_654, "csv", io.BytesIO())
    consultation = await add_consultation(session)
    with pytest.raises(ValueError, match="unknown export format"):
        await write_export(session, consultation.id or 0, "pdf", io.BytesIO())  # type: ignore[arg-type]


# The command line, on a SQLite file of its own: `medvirk` migrates the database it is given,
# which the fixtures' create_all schema would confuse.


async def _prepare(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            # Creates only what the migrations do not have yet (a no-op once they do).
            await connection.run_sync(SQLModel.metadata.create_all)
        async with create_sessionmaker(engine)() as session:
            await build_sample(session)
    finally:
        await engine.dispose()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner in an empty folder, on a database holding the sample."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    asyncio.run(_prepare(url))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    return CliRunner()


def test_cli_writes_slug_dot_format_by_default(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(main, ["export", "park", "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Exported 5 responses of park to park.csv.\n"
    rows = (tmp_path / "park.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0] == ";".join(COLUMNS)
    assert len(rows) == 6
    assert not list(tmp_path.glob("*.part"))
    assert not list(tmp_path.glob(".__atomic*"))


def test_cli_gives_an_all_texts_export_a_name_of_its_own(cli: CliRunner, tmp_path: Path) -> None:
    assert cli.invoke(main, ["export", "park"]).exit_code == 0
    result = cli.invoke(main, ["export", "park", "--all-texts"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Exported 5 responses of park to park-all-texts.csv.\n"
    assert "q_idea_moderation" in (tmp_path / "park-all-texts.csv").read_text("utf-8-sig")
    assert "q_idea_moderation" not in (tmp_path / "park.csv").read_text("utf-8-sig")


async def test_the_source_column_counts_as_results_do(session: AsyncSession) -> None:
    sample = await build_sample(session)
    data = await _export(session, sample, "csv")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    counted: dict[str, int] = {}
    for row in rows:
        counted[row["source"]] = counted.get(row["source"], 0) + 1
    results = await consultation_results(session, sample.park_id)
    assert counted == {s.source: s.responses for s in results.sources}


def test_cli_writes_xlsx_to_the_given_file(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(main, ["export", "park", "--format", "xlsx", "--output", "out.xlsx"])
    assert result.exit_code == 0, result.stderr
    workbook = openpyxl.load_workbook(tmp_path / "out.xlsx", read_only=True)
    try:
        assert len(list(workbook["park"].iter_rows())) == 6
    finally:
        workbook.close()


def test_cli_writes_json_to_stdout_and_the_summary_to_stderr(cli: CliRunner) -> None:
    result = cli.invoke(main, ["export", "park", "--format", "json", "--output", "-"])
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["rows"]) == 5
    assert result.stderr == "Exported 5 responses of park.\n"


def test_cli_keys_are_the_same_in_two_runs(cli: CliRunner) -> None:
    runs = [cli.invoke(main, ["export", "park", "--format", "json", "-o", "-"]) for _ in "ab"]
    first, second = ([r["participant"] for r in json.loads(run.stdout)["rows"]] for run in runs)
    assert first == second


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["export", "nope"],
            "medvirk: no consultation with the slug 'nope'; see `medvirk consultation list`\n",
        ),
        (
            ["export", "park", "--format", "xlsx", "--output", "-"],
            "medvirk: an xlsx file cannot go to standard output; give --output FILE\n",
        ),
        (
            ["export", "park", "--output", "no/such/folder/park.csv"],
            "medvirk: cannot write no/such/folder/park.csv: No such file or directory\n",
        ),
    ],
)
def test_cli_errors_are_one_plain_line(
    cli: CliRunner, tmp_path: Path, arguments: list[str], message: str
) -> None:
    result = cli.invoke(main, arguments)
    assert result.exit_code == 1
    assert result.stderr == message
    assert result.stdout == ""
    # No export file, not even a partial one: only the database (and its WAL files).
    assert all(p.name.startswith("cli.db") for p in tmp_path.iterdir())


def test_cli_refuses_an_unknown_format(cli: CliRunner) -> None:
    result = cli.invoke(main, ["export", "park", "--format", "pdf"])
    assert result.exit_code == 2
    assert "'pdf' is not one of 'csv', 'xlsx', 'json'" in result.stderr


async def _many_responses(url: str, count: int) -> None:
    """``count`` more people who started the park consultation (no answers: quick to export)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            consultation = (
                await connection.execute(text("SELECT id FROM consultation WHERE slug = 'park'"))
            ).scalar_one()
            people = await add_people(connection, range(10_000_000, 10_000_000 + count))
            await connection.execute(
                insert(SQLModel.metadata.tables["response"]),
                [
                    {
                        "participant_id": pid,
                        "consultation_id": consultation,
                        "started_at": datetime(2027, 1, 15, 12, 0, tzinfo=UTC),
                    }
                    for pid in people
                ],
            )
    finally:
        await engine.dispose()


def _export_on_a_terminal(tmp_path: Path) -> tuple[str, str]:
    """Run `medvirk export park` with stderr on a terminal (a pty); its stdout and stderr."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "export", "park"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=secondary,
        stdin=subprocess.DEVNULL,
    ) as process:
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closed: the process has ended
                break
            if not chunk:
                break
            shown += chunk
        stdout = process.stdout.read() if process.stdout else b""
        assert process.wait(timeout=60) == 0
    os.close(primary)
    return stdout.decode(), shown.decode(errors="replace")


def test_a_long_export_shows_progress_on_a_terminal_and_stays_quiet_otherwise(
    cli: CliRunner, tmp_path: Path
) -> None:
    asyncio.run(_many_responses(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", 5000))
    stdout, terminal = _export_on_a_terminal(tmp_path)
    assert "Exported 5005 responses of park to park.csv." in stdout
    assert "Exporting" in terminal
    assert "100%" in terminal
    quiet = cli.invoke(main, ["export", "park", "--format", "json", "-o", "-"])
    assert quiet.stderr == "Exported 5005 responses of park.\n"
