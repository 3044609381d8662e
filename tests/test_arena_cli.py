"""``medvirk arena import`` as an operator uses it: a real process, plain errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.auxil.people import prepare_database
from tests.test_cli import ROOT, medvirk

ARENAS = ROOT / "examples" / "arenas.yaml"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A SQLite file with every table (the migration is regenerated at the end)."""
    path = tmp_path / "medvirk.db"
    asyncio.run(prepare_database(f"sqlite+aiosqlite:///{path}"))
    return path


def test_import_and_import_again(database: Path) -> None:
    result = medvirk("arena", "import", str(ARENAS), database=database)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Imported arena frivillighet (link: ?start=a_frivillighet).",
        "Imported arena dialogarena (link: ?start=a_dialogarena).",
    ]
    again = medvirk("arena", "import", str(ARENAS), database=database)
    assert (
        again.stdout.splitlines()[0] == "Updated arena frivillighet (link: ?start=a_frivillighet)."
    )


def test_a_broken_file_is_refused_with_every_problem_and_nothing_stored(
    database: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "arenas.yaml"
    broken.write_text("arenas:\n  - {slug: ok, name: Ok}\n  - {slug: Not OK}\n")
    result = medvirk("arena", "import", str(broken), database=database)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"medvirk: {broken} was refused; nothing was stored:",
        "  arenas[1].slug: use lowercase a-z, 0-9 and single hyphens, e.g. holmen-2027",
        "  arenas[1].name: required",
    ]
    missing = medvirk("arena", "import", str(tmp_path / "nope.yaml"), database=database)
    assert missing.returncode == 1
    assert missing.stderr.startswith("medvirk: cannot read")
    assert "Traceback" not in missing.stderr
    listed = medvirk("arena", "import", str(ARENAS), database=database)
    assert "Imported arena frivillighet" in listed.stdout  # the refused file stored nothing
