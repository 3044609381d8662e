"""The ``medvirk`` command as an operator uses it: real processes, plain errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
HOLMEN = ROOT / "examples" / "holmen-frivilligsentral.yaml"


def medvirk(
    *args: str, database: Path, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot`` with a database of the test's own and no .env."""
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "DATABASE_URL")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    if token:
        env["BOT_TOKEN"] = token
    return subprocess.run(  # noqa: S603 (our own CLI)
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=database.parent,
        timeout=60,
        check=False,
    )


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """Where the CLI keeps its SQLite file."""
    return tmp_path / "medvirk.db"


def test_import_list_open_close(database: Path) -> None:
    result = medvirk("consultation", "import", str(HOLMEN), database=database)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Imported holmen-frivilligsentral (draft)."

    listed = medvirk("consultation", "list", database=database)
    assert "holmen-frivilligsentral" in listed.stdout
    assert "draft" in listed.stdout

    assert (
        medvirk("consultation", "open", "holmen-frivilligsentral", database=database).returncode
        == 0
    )
    assert " open " in medvirk("consultation", "list", database=database).stdout
    closed = medvirk("consultation", "close", "holmen-frivilligsentral", database=database)
    assert closed.stdout.strip() == "holmen-frivilligsentral is now closed."

    again = medvirk("consultation", "import", str(HOLMEN), "--open", database=database)
    assert again.stdout.strip() == "Updated holmen-frivilligsentral (open)."


def test_a_broken_file_is_refused_with_every_problem(database: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "slug: Holmen Senter\n"
        "title: {nb: Test}\n"
        "questions:\n"
        "  - {id: a, type: single_choice, text: Hva?, options: [{id: x, text: X}]}\n"
        "  - {id: b, type: colour, text: Farge?}\n",
        encoding="utf-8",
    )
    result = medvirk("consultation", "import", str(broken), database=database)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "refused; nothing was stored" in result.stderr
    assert "slug:" in result.stderr
    assert "questions[0].options: needs at least 2" in result.stderr
    assert "questions[1].type:" in result.stderr
    listed = medvirk("consultation", "list", database=database)
    assert "no database at" in listed.stderr  # a refused file stored nothing, not even a database


def test_errors_are_one_plain_line(database: Path, tmp_path: Path) -> None:
    missing = medvirk("consultation", "import", str(tmp_path / "nope.yaml"), database=database)
    assert missing.returncode == 1
    assert missing.stderr.startswith("medvirk: cannot read")
    assert "Traceback" not in missing.stderr
    assert medvirk("db", "upgrade", database=database).returncode == 0
    unknown = medvirk("consultation", "open", "finnes-ikke", database=database)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().count("\n") == 0
    assert "no consultation with the slug 'finnes-ikke'" in unknown.stderr


# `medvirk run` without a token starts the sandbox: tests/sandbox/test_sandbox_launch.py.


def test_db_upgrade_creates_the_schema(database: Path) -> None:
    result = medvirk("db", "upgrade", database=database)
    assert result.returncode == 0, result.stderr
    assert database.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["export", "park"],
        ["consultation", "list"],
        ["roles", "list"],
        ["consultation", "open", "park"],
        ["consultation", "close", "park"],
        ["roles", "revoke", "1", "staff"],
    ],
    ids=" ".join,
)
def test_a_command_run_in_another_folder_says_where_it_looked_and_creates_nothing(
    database: Path, command: list[str]
) -> None:
    result = medvirk(*command, database=database)
    assert result.returncode == 1
    assert not database.exists()
    assert not list(database.parent.iterdir())  # no empty database, no WAL files
    assert result.stderr.count("\n") == 1
    assert str(database) in result.stderr  # where it looked, as an absolute path
    assert "medvirk db upgrade" in result.stderr


def test_help_explains_that_a_relative_sqlite_path_is_relative_to_the_folder(
    database: Path,
) -> None:
    shown = medvirk("--help", database=database).stdout
    assert "DATABASE_URL" in shown
    assert "relative" in shown
    assert "folder" in shown


def test_languages_shows_each_ui_language_and_each_open_consultations_coverage(
    database: Path,
) -> None:
    bare = medvirk("languages", database=database)
    assert bare.returncode == 0, bare.stderr
    assert "No database here" in bare.stdout
    assert not database.exists()  # a command that only reads creates nothing
    lines = {line.split()[0]: line for line in bare.stdout.splitlines()[1:10]}
    assert list(lines) == ["nb", "nn", "en", "pl", "uk", "lt", "ar", "so", "ti"]
    assert lines["nb"].rstrip().endswith("yes")
    assert "Soomaali" in lines["so"]
    assert lines["so"].rstrip().endswith("no")  # not checked by a native speaker yet
    # Holmen's file without its dates: open now.
    lines_of_file = HOLMEN.read_text(encoding="utf-8").splitlines()
    undated = database.parent / "holmen.yaml"
    undated.write_text(
        "\n".join(line for line in lines_of_file if not line.startswith(("opens:", "closes:"))),
        encoding="utf-8",
    )
    imported = medvirk("consultation", "import", str(undated), "--open", database=database)
    assert imported.returncode == 0, imported.stderr
    report = medvirk("languages", database=database).stdout
    consultations = report.split("OPEN CONSULTATIONS")[1]
    assert "holmen-frivilligsentral" in consultations
    covered = {line.split()[0]: line for line in consultations.splitlines()[2:]}
    assert covered["nb"].rstrip().endswith("complete")
    assert covered["pl"].rstrip().endswith("none")


def test_languages_add_refuses_a_code_that_is_not_a_language(database: Path) -> None:
    result = medvirk("languages", "add", "x1", database=database)
    assert result.returncode == 1
    assert result.stderr.startswith("medvirk: 'x1' is not a language code")
    assert "Traceback" not in result.stderr
    taken = medvirk("languages", "add", "nb", database=database)
    assert "is a UI language already" in taken.stderr
