"""``medvirk centre`` and coordinators as an operator uses them: plain output, plain errors.

The import runs as a real process, as the other commands' tests do; the rest run the same
command in-process (click's runner), which is the same code without a second's start-up each.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from tests.test_cli import ROOT, medvirk

CENTRES = ROOT / "examples" / "centres.yaml"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """Where the CLI keeps its SQLite file (it migrates the schema itself)."""
    return tmp_path / "medvirk.db"


def run(database: Path, *args: str) -> Result:
    """``medvirk ARGS`` in-process, on the test's database."""
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{database}", "BOT_TOKEN": ""}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_centres_are_imported_and_a_coordinator_is_tied_to_them(database: Path) -> None:
    imported = medvirk("centre", "import", str(CENTRES), database=database)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines() == [
        "Imported centre holmen (link: ?start=v_holmen).",
        "Imported centre sentrum (link: ?start=v_sentrum).",
    ]
    again = run(database, "centre", "import", str(CENTRES))
    assert again.stdout.splitlines()[0] == "Updated centre holmen (link: ?start=v_holmen)."

    alone = run(database, "roles", "grant", "4242", "coordinator")
    assert alone.exit_code == 1
    assert alone.stderr.startswith("medvirk: a coordinator speaks for a volunteer centre")
    unknown = run(database, "roles", "grant", "4242", "coordinator", "--centre", "atlantis")
    assert unknown.stderr == "medvirk: no volunteer centre with the slug atlantis\n"
    granted = run(
        database,
        "roles",
        "grant",
        "4242",
        "coordinator",
        "--centre",
        "holmen",
        "--weekly-cap",
        "2",
    )
    assert granted.stdout == "4242 is coordinator of holmen (newly tied: holmen).\n"
    run(database, "roles", "grant", "4242", "coordinator", "--centre", "sentrum")
    listed = run(database, "roles", "list")
    assert "4242  coordinator granted  centres: holmen, sentrum" in listed.stdout
    untied = run(database, "roles", "revoke", "4242", "coordinator", "--centre", "sentrum")
    assert untied.stdout == "4242 is no longer coordinator of sentrum.\n"
    assert "centres: holmen\n" in run(database, "roles", "list").stdout
    assert run(database, "roles", "revoke", "4242", "coordinator").exit_code == 0
    assert "4242" not in run(database, "roles", "list").stdout
    wrong = run(database, "roles", "grant", "4242", "staff", "--centre", "holmen")
    assert wrong.stderr == "medvirk: --centre and --weekly-cap are for the coordinator role\n"


def test_a_broken_centres_file_is_refused_and_exports_say_what_they_hold(
    database: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "centres.yaml"
    broken.write_text("centres:\n  - {slug: ok, name: Ok, tags: [{id: a, name: A}]}\n")
    refused = run(database, "centre", "import", str(broken))
    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        f"medvirk: {broken} was refused; nothing was stored:",
        "  centres[0].district: required: the district the centre serves",
    ]
    run(database, "centre", "import", str(CENTRES))
    needs = run(database, "centre", "export", "needs", "--output", "-")
    assert needs.exit_code == 0, needs.stderr
    header = needs.stdout.lstrip("\ufeff").splitlines()[0]
    assert header.startswith("sentral;oppdrag;tittel;merkelapper;bydel;starter (Europe/Oslo)")
    stats = run(database, "centre", "export", "stats", "--output", "-")
    assert stats.stdout.lstrip("\ufeff").splitlines()[:2] == [
        "hva;verdi;frivillige",
        "frivillige;alle;0",
    ]
    target = tmp_path / "stats.csv"
    written = run(database, "centre", "export", "stats", "--output", str(target))
    assert written.stdout == f"Exported the volunteering stats to {target}.\n"
    assert target.read_bytes().startswith("\ufeff".encode())
    missing = run(database, "centre", "export", "needs", "--centre", "nope")
    assert missing.stderr == "medvirk: no volunteer centre with the slug 'nope'\n"
