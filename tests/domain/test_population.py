"""The population to compare with: files of cells or margins, checked line by line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from models.population import (
    PopulationFileError,
    distribution,
    import_population,
    margin,
    parse_population_file,
    population_tables,
)
from models.profile import BackgroundQuestion, background_questions, import_profile
from models.profile_file import parse_profile_file
from tests.auxil.background import AGE_MARGIN, CROSS_TABLE, NOW, add_profile

pytestmark = pytest.mark.postgres

EXAMPLES = Path(__file__).parents[2] / "examples" / "background"


def _problems(data: bytes, questions: list[BackgroundQuestion]) -> list[str]:
    with pytest.raises(PopulationFileError) as refused:
        parse_population_file(data, questions)
    return refused.value.problems


async def test_a_cross_table_and_a_margin(session: AsyncSession) -> None:
    questions = await add_profile(session)
    table = parse_population_file(CROSS_TABLE, questions)
    assert table.dimensions == ("age", "district")
    assert table.cells[("old", "west")] == 300
    assert table.total == 1000
    ages = parse_population_file(AGE_MARGIN, questions)  # semicolons
    assert (ages.dimensions, ages.cells) == (("age",), {("young",): 400, ("old",): 600})


async def test_rows_of_one_cell_are_added_up_and_columns_may_come_in_any_order(
    session: AsyncSession,
) -> None:
    questions = await add_profile(session)
    # Single years of age written as their band; a BOM and Windows line ends as Excel saves.
    data = "\ufeffdistrict;age;count\r\neast;young;120\r\neast;young;80\r\nwest;old;1 300\r\n"
    table = parse_population_file(data.encode(), questions)
    assert table.dimensions == ("age", "district")
    assert table.cells == {("young", "east"): 200, ("old", "west"): 1300}


async def test_a_broken_file_is_refused_line_by_line(session: AsyncSession) -> None:
    questions = await add_profile(session)
    assert _problems(b"age,people\nyoung,3\n", questions) == [
        "line 1: the header needs one column named count",
        "line 1: 'people' is not a background question (known: age, district)",
    ]
    assert _problems(b"income,count\nhigh,3\n", questions) == [
        "line 1: 'income' is not a background question (known: age, district)"
    ]
    assert _problems(b"age,count\nyoung,3\nmiddle,4\nold,..\nold\nyoung,-2\n", questions) == [
        "line 3: 'middle' is not a band of age (bands: young, old)",
        "line 4: count '..' is not a whole number (Statistics Norway marks hidden numbers so: "
        "write 0)",
        "line 5: has 1 columns, the header 2",
        "line 6: count '-2' is not a whole number",
    ]
    assert _problems(b"", questions) == ["file: is empty; the first line names the columns"]
    assert _problems(b"age,count\n", questions) == ["file: has no rows under the header"]


async def test_importing_a_table_again_replaces_it(session: AsyncSession) -> None:
    questions = await add_profile(session)
    await import_population(session, parse_population_file(CROSS_TABLE, questions), "a", NOW)
    await import_population(session, parse_population_file(AGE_MARGIN, questions), "b", NOW)
    again = b"age,count\nyoung,500\nold,500\n"
    await import_population(session, parse_population_file(again, questions), "c", NOW)
    await session.commit()
    tables = await population_tables(session)
    assert [t.dimensions for t in tables] == [("age",), ("age", "district")]
    # The margin comes from the smallest table that has the question.
    assert margin(tables, "age") == {"young": 500, "old": 500}
    assert margin(tables, "district") == {"east": 400, "west": 400, "north": 200}
    assert margin(tables, "income") is None


async def test_combinations_from_margins_assume_independence(session: AsyncSession) -> None:
    questions = await add_profile(session)
    await import_population(session, parse_population_file(AGE_MARGIN, questions), "a", NOW)
    district = b"district,count\neast,500\nwest,250\nnorth,250\n"
    await import_population(session, parse_population_file(district, questions), "b", NOW)
    tables = await population_tables(session)
    combined = distribution(tables, ("age", "district"))
    assert combined is not None
    assert combined[("young", "east")] == pytest.approx(1000 * 0.4 * 0.5)
    assert combined[("old", "north")] == pytest.approx(1000 * 0.6 * 0.25)
    assert distribution(tables, ("age",)) == {("young",): 400.0, ("old",): 600.0}


async def test_the_example_files_fit_the_example_questions(session: AsyncSession) -> None:
    await import_profile(session, parse_profile_file((EXAMPLES / "profile.yaml").read_bytes()))
    questions = await background_questions(session)
    cross = parse_population_file(
        (EXAMPLES / "population-age-district.csv").read_bytes(), questions
    )
    housing = parse_population_file((EXAMPLES / "population-housing.csv").read_bytes(), questions)
    assert cross.total == housing.total == 24_000
