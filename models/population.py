"""Who lives here: the municipality's population by the bands of the background questions.

``medvirk population import FILE`` reads a CSV whose header names background questions
(:mod:`models.profile`) and ``count``, one row per cell::

    age,district,count          a cross table (age x district)
    15-29,sentrum,1830
    …
    age,count                   or one margin
    15-29,5120

Several files may be imported: each is one table over its set of questions, and importing a
file over the same set again replaces that table. Rows naming the same cell are added up, so
single years of age from Statistics Norway become bands by writing the band in each row
(docs/representation.md shows how). Cells not in the file count as 0.

A broken file is refused whole, every problem listed by line, and nothing is stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from math import prod

from sqlalchemy import Column, Integer, String, UniqueConstraint, delete
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime, utcnow
from models.consultation_file import FileRefused
from models.profile import BackgroundQuestion

COUNT = "count"
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_PROBLEMS = 20
# What Statistics Norway writes where a number is missing or hidden.
_SSB_MARKERS = frozenset({".", "..", "...", ":", "-"})

Cell = tuple[str, ...]


class PopulationCell(SQLModel, table=True):
    """How many residents are in one cell of one imported table."""

    __tablename__ = "population_cell"
    __table_args__ = (UniqueConstraint("dimensions", "cell"),)

    id: int | None = Field(default=None, primary_key=True)
    # The table's questions, comma-separated in file order ("age,district"), and this cell's
    # bands in the same order ("15-29,sentrum"). Ids cannot contain commas.
    dimensions: str = Field(sa_column=Column(String(200), nullable=False, index=True))
    cell: str = Field(sa_column=Column(String(400), nullable=False))
    count: int = Field(sa_column=Column(Integer, nullable=False))
    source: str | None = Field(default=None, max_length=200)
    imported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@dataclass(frozen=True)
class PopulationTable:
    """One imported table: its questions, and residents per cell (bands in the same order)."""

    dimensions: tuple[str, ...]
    cells: dict[Cell, int]

    @property
    def total(self) -> int:
        """Everyone in the table."""
        return sum(self.cells.values())

    def summed(self, keys: tuple[str, ...]) -> dict[Cell, int]:
        """Residents by the bands of ``keys`` only (each a question of this table)."""
        where = [self.dimensions.index(k) for k in keys]
        out: dict[Cell, int] = {}
        for cell, count in self.cells.items():
            part = tuple(cell[i] for i in where)
            out[part] = out.get(part, 0) + count
        return out


class PopulationFileError(FileRefused):
    """A population file was refused; ``problems`` lists each, by line."""

    what = "population file"


# ---------------------------------------------------------------------- reading a file


def _decode(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark); else Windows-1252, as older exports are."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _delimiter(header: str) -> str:
    for candidate in (";", "\t", ","):
        if candidate in header:
            return candidate
    return ","


def _number(text: str) -> int | None:
    """A count as written: digits, maybe grouped with spaces ("12 345")."""
    digits = text.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    return int(digits) if digits.isdecimal() and len(digits) <= 9 else None


def _header(
    row: list[str], questions: dict[str, BackgroundQuestion], problems: list[str]
) -> tuple[str, ...]:
    """The questions the header names (``count`` apart), or problems."""
    names = [name.strip().lower() for name in row]
    if names.count(COUNT) != 1:
        problems.append(f"line 1: the header needs one column named {COUNT}")
    dimensions = tuple(name for name in names if name != COUNT)
    if not dimensions:
        problems.append("line 1: name at least one background question beside count")
    known = ", ".join(questions) or "none: run `medvirk profile import FILE` first"
    for name in dimensions:
        if name not in questions:
            problems.append(f"line 1: '{name}' is not a background question (known: {known})")
    if len(set(dimensions)) != len(dimensions):
        problems.append("line 1: a question is named twice")
    return dimensions


def _row(
    row: list[str],
    line: int,
    names: list[str],
    questions: dict[str, BackgroundQuestion],
    problems: list[str],
) -> tuple[Cell, int] | None:
    """One row's cell and count; None (with problems) when it is wrong."""
    if len(row) != len(names):
        problems.append(f"line {line}: has {len(row)} columns, the header {len(names)}")
        return None
    cell: list[str] = []
    count: int | None = None
    for name, raw in zip(names, row, strict=True):
        value = raw.strip()
        if name == COUNT:
            count = _number(value)
            if count is None:
                hint = " (Statistics Norway marks hidden numbers so: write 0)" * (
                    value in _SSB_MARKERS
                )
                problems.append(f"line {line}: count '{value}' is not a whole number{hint}")
            continue
        question = questions[name]
        if question.by_key(value) is None:
            bands = ", ".join(o.key for o in question.options)
            problems.append(f"line {line}: '{value}' is not a band of {name} (bands: {bands})")
            continue
        cell.append(value)
    if count is None or len(cell) != len(names) - 1:
        return None
    return tuple(cell), count


def _cells(
    reader: Iterable[list[str]],
    names: list[str],
    questions: dict[str, BackgroundQuestion],
    problems: list[str],
) -> dict[Cell, int]:
    """The rows under the header, rows of one cell added up; problems noted by line."""
    cells: dict[Cell, int] = {}
    for line, row in enumerate(reader, start=2):
        if not any(value.strip() for value in row):
            continue
        parsed = _row(row, line, names, questions, problems)
        if parsed is not None:
            cell, count = parsed
            cells[cell] = cells.get(cell, 0) + count
    return cells


def parse_population_file(data: bytes, questions: list[BackgroundQuestion]) -> PopulationTable:
    """Read and check a population CSV against the background questions.

    Raises:
        PopulationFileError: with every problem found (the first :data:`MAX_PROBLEMS`).
    """
    if len(data) > MAX_FILE_BYTES:
        raise PopulationFileError([f"file: too large (at most {MAX_FILE_BYTES // 1024} KB)"])
    text = _decode(data)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise PopulationFileError(["file: is empty; the first line names the columns"])
    by_key = {q.key: q for q in questions}
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(lines[0]))
    problems: list[str] = []
    header = next(reader)
    dimensions = _header(header, by_key, problems)
    if problems:
        raise PopulationFileError(problems)
    names = [name.strip().lower() for name in header]
    cells = _cells(reader, names, by_key, problems)
    if not cells and not problems:
        problems.append("file: has no rows under the header")
    if problems:
        more = len(problems) - MAX_PROBLEMS
        shown = problems[:MAX_PROBLEMS] + ([f"… and {more} more"] if more > 0 else [])
        raise PopulationFileError(shown)
    # In the order of the background questions: "district,age" is the same table as
    # "age,district", and importing it again replaces it.
    order = sorted(range(len(dimensions)), key=lambda i: list(by_key).index(dimensions[i]))
    return PopulationTable(
        tuple(dimensions[i] for i in order),
        {tuple(cell[i] for i in order): n for cell, n in cells.items()},
    )


# ---------------------------------------------------------------------- storing and reading


async def import_population(
    session: AsyncSession, table: PopulationTable, source: str, now: datetime
) -> int:
    """Store a checked table, replacing an earlier one over the same questions; its total."""
    dimensions = ",".join(table.dimensions)
    await session.exec(delete(PopulationCell).where(col(PopulationCell.dimensions) == dimensions))
    session.add_all(
        PopulationCell(
            dimensions=dimensions,
            cell=",".join(cell),
            count=count,
            source=source[:200],
            imported_at=now,
        )
        for cell, count in sorted(table.cells.items())
    )
    await session.flush()
    return table.total


async def population_tables(session: AsyncSession) -> list[PopulationTable]:
    """Every imported table, fewest questions first."""
    rows = (
        await session.exec(
            select(PopulationCell.dimensions, PopulationCell.cell, PopulationCell.count)
        )
    ).all()
    tables: dict[str, dict[Cell, int]] = {}
    for dimensions, cell, count in rows:
        tables.setdefault(dimensions, {})[tuple(cell.split(","))] = int(count)
    found = [PopulationTable(tuple(d.split(",")), cells) for d, cells in tables.items()]
    return sorted(found, key=lambda t: (len(t.dimensions), t.dimensions))


def margin(tables: list[PopulationTable], key: str) -> dict[str, int] | None:
    """Residents per band of one question, from the smallest table that has it; None if none."""
    for table in tables:  # fewest questions first
        if key in table.dimensions:
            return {cell[0]: n for cell, n in table.summed((key,)).items()}
    return None


def distribution(tables: list[PopulationTable], keys: tuple[str, ...]) -> dict[Cell, float] | None:
    """Residents per combination of the bands of ``keys``; None when the tables cannot say.

    From the smallest table that has all of ``keys``; else, when each key has a margin, from
    the margins as if the questions were independent (each combination gets the total times
    the product of its bands' shares).
    """
    for table in tables:
        if set(keys) <= set(table.dimensions):
            return {cell: float(n) for cell, n in table.summed(keys).items()}
    margins = [margin(tables, key) for key in keys]
    if not keys or any(m is None or not sum(m.values()) for m in margins):
        return None
    known = [m for m in margins if m is not None]
    total = float(sum(known[0].values()))
    shares = [{band: n / sum(m.values()) for band, n in m.items()} for m in known]
    combinations: dict[Cell, float] = {(): total}
    for share in shares:
        combinations = {
            (*cell, band): weight * part
            for cell, weight in combinations.items()
            for band, part in share.items()
        }
    return combinations if prod(len(s) for s in shares) else None
