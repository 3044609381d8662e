"""Exports with background questions: bands only, small cells suppressed, the comparison added."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import openpyxl
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from models.export import write_export
from tests.auxil.background import BackgroundSample, build_background_sample

pytestmark = pytest.mark.postgres


async def _export(session: AsyncSession, sample: BackgroundSample, fmt: Any) -> bytes:
    out = io.BytesIO()
    assert await write_export(session, sample.consultation_id, fmt, out) == 22
    return out.getvalue()


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


async def test_bands_appear_only_where_at_least_five_share_them(session: AsyncSession) -> None:
    sample = await build_background_sample(session)
    rows = _csv_rows(await _export(session, sample, "csv"))
    assert list(rows[0])[-2:] == ["bg_age", "bg_district"]
    seen = [(r["bg_age"], r["bg_district"]) for r in rows]
    # 10 young east, 5 old east, 5 old west; the two who kept their age to themselves share
    # "east, not said" with only each other: fewer than five, so both columns are suppressed.
    assert seen.count(("young", "east")) == 10
    assert seen.count(("old", "east")) == 5
    assert seen.count(("old", "west")) == 5
    assert seen.count(("suppressed", "suppressed")) == 2
    # Bands only: the ids of the file, never the question's or the band's text.
    assert {value for pair in seen for value in pair} == {
        "young",
        "old",
        "east",
        "west",
        "suppressed",
    }


async def test_json_carries_the_comparison_with_small_counts_suppressed(
    session: AsyncSession,
) -> None:
    sample = await build_background_sample(session)
    document = json.loads(await _export(session, sample, "json"))
    assert [c["column"] for c in document["background"]] == ["bg_age", "bg_district"]
    found = document["representation"]
    age = next(d for d in found["dimensions"] if d["question"] == "age")
    assert age["not_given"] is None  # two people
    district = next(d for d in found["dimensions"] if d["question"] == "district")
    north = next(b for b in district["bands"] if b["id"] == "north")
    assert (north["respondents"], north["under_represented"], north["residents"]) == (0, True, 200)
    weighting = found["weighting"]
    assert weighting["method"] == "post-stratification"
    assert weighting["effective_sample_size"] == pytest.approx(16.33, abs=0.01)
    trees = next(q for q in weighting["questions"] if q["question"] == "trees")
    yes = next(o for o in trees["options"] if o["id"] == "yes")
    assert (yes["raw_percent"], yes["weighted_percent"]) == (54.55, 45.71)


async def test_xlsx_has_a_sheet_for_the_comparison_and_one_for_the_weighted_results(
    session: AsyncSession,
) -> None:
    sample = await build_background_sample(session)
    workbook = openpyxl.load_workbook(io.BytesIO(await _export(session, sample, "xlsx")))
    assert workbook.sheetnames == ["benches", "questions", "representation", "weighted"]
    comparison = list(workbook["representation"].iter_rows(values_only=True))
    assert comparison[0][:5] == ("question", "band", "band_text", "respondents", "residents")
    assert comparison[3][:4] == ("age", None, "(not given)", "<5")
    west = next(r for r in comparison if r[:2] == ("district", "west"))
    assert (west[3], west[4], west[8]) == (5, 400, "yes")
    weighted = list(workbook["weighted"].iter_rows(values_only=True))
    assert weighted[0][:2] == ("weighted_on", "age, district")
    described = list(workbook["questions"].iter_rows(values_only=True))
    assert described[-1][:3] == ("bg_district", "district", "background")
