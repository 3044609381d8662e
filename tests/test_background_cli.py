"""``medvirk profile import`` and ``medvirk population import`` as an operator uses them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.auxil.people import prepare_database
from tests.test_cli import ROOT, medvirk

EXAMPLES = ROOT / "examples" / "background"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A SQLite file with every table."""
    path = tmp_path / "medvirk.db"
    asyncio.run(prepare_database(f"sqlite+aiosqlite:///{path}"))
    return path


def test_the_examples_import_and_import_again(database: Path) -> None:
    result = medvirk("profile", "import", str(EXAMPLES / "profile.yaml"), database=database)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Imported background question age (4 bands).",
        "Imported background question district (4 bands).",
        "Imported background question housing (2 bands).",
    ]
    cross, housing = EXAMPLES / "population-age-district.csv", EXAMPLES / "population-housing.csv"
    figures = medvirk("population", "import", str(cross), str(housing), database=database)
    assert figures.returncode == 0, figures.stderr
    assert figures.stdout.splitlines() == [
        f"Imported population by age x district from {cross}: 16 cells, 24000 residents.",
        f"Imported population by housing from {housing}: 2 cells, 24000 residents.",
    ]
    again = medvirk("profile", "import", str(EXAMPLES / "profile.yaml"), database=database)
    assert again.stdout.splitlines()[0] == "Updated background question age (4 bands)."


def test_broken_files_are_refused_and_nothing_is_stored(database: Path, tmp_path: Path) -> None:
    special = tmp_path / "profile.yaml"
    special.write_text(
        "questions:\n  - {id: tro, text: Hvilken religion har du?, "
        "options: [{id: a, text: A}, {id: b, text: B}]}\n"
    )
    refused = medvirk("profile", "import", str(special), database=database)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"medvirk: {special} was refused; nothing was stored:",
        "  questions[0]: seems to ask about religion or belief, a special category of personal "
        "data; Medvirk does not ask that (docs/privacy.md)",
    ]
    medvirk("profile", "import", str(EXAMPLES / "profile.yaml"), database=database)
    good = EXAMPLES / "population-housing.csv"
    broken = tmp_path / "ages.csv"
    broken.write_text("age;count\n16-29;1200\n10-15;300\n")
    result = medvirk("population", "import", str(good), str(broken), database=database)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"medvirk: {broken} was refused; nothing was stored:",
        "  line 3: '10-15' is not a band of age (bands: 16-29, 30-44, 45-66, 67-plus)",
    ]
    missing = medvirk("population", "import", str(tmp_path / "nope.csv"), database=database)
    assert missing.returncode == 1
    assert missing.stderr.startswith("medvirk: cannot read")
    # The good file of the refused pair can be imported on its own.
    alone = medvirk("population", "import", str(good), database=database)
    assert alone.stdout.startswith("Imported population by housing")
