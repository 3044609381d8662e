"""Who answered against who lives here, and re-weighted results, on a hand-computed sample.

The sample is in tests/auxil/background.py; docs/representation.md works these numbers out.
"""

from __future__ import annotations

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from models import response as flow
from models.representation import (
    DimensionComparison,
    Representation,
    WeightedQuestion,
    rake,
    representation,
    underrepresented_bands,
)
from tests.auxil.background import (
    AGE_MARGIN,
    BENCHES,
    DISTRICT_MARGIN,
    NOW,
    add_profile,
    build_background_sample,
)
from tests.auxil.consultations import add_consultation

pytestmark = pytest.mark.postgres


def _dimension(found: Representation, key: str) -> DimensionComparison:
    return next(d for d in found.dimensions if d.key == key)


def _question(found: Representation, key: str) -> WeightedQuestion:
    assert found.weighting is not None
    return next(q for q in found.weighting.questions if q.key == key)


async def _representation(session: AsyncSession) -> Representation:
    sample = await build_background_sample(session)
    found = await representation(session, sample.consultation_id)
    assert found is not None
    return found


async def test_respondents_against_residents_per_band(session: AsyncSession) -> None:
    found = await _representation(session)
    assert found.respondents == 22
    age = _dimension(found, "age")
    # 20 gave their age: 10 young, 10 old; two said "prefer not to say" (fewer than five: hidden).
    assert (age.known, age.not_given, age.population) == (20, None, 1000)
    young, old = age.bands
    assert (young.respondents, young.population) == (10, 400)
    assert young.respondent_share == pytest.approx(0.5)
    assert young.population_share == pytest.approx(0.4)
    assert young.ratio == pytest.approx(1.25)
    assert old.ratio == pytest.approx(0.5 / 0.6)
    assert (young.under, old.under) == (False, False)


async def test_a_band_without_respondents_is_under_represented_and_named(
    session: AsyncSession,
) -> None:
    found = await _representation(session)
    district = _dimension(found, "district")
    east, west, north = district.bands
    assert (east.respondents, west.respondents, north.respondents) == (17, 5, 0)
    assert east.ratio == pytest.approx((17 / 22) / 0.4)
    assert west.ratio == pytest.approx((5 / 22) / 0.4)  # 0.57: below 1 / 1.5
    assert north.ratio == 0.0
    assert [b.key for b in district.under] == ["west", "north"]
    assert [(d.key, b.key) for d, b in found.under] == [
        ("district", "west"),
        ("district", "north"),
    ]
    assert await underrepresented_bands(session, found.consultation_id) == [
        west.option_id,
        north.option_id,
    ]
    # A stricter factor names only the band that nobody answered from.
    stricter = await representation(session, found.consultation_id, factor=2.0)
    assert stricter is not None
    assert [b.key for _, b in stricter.under] == ["north"]


async def test_post_stratification_weights_and_weighted_results(session: AsyncSession) -> None:
    found = await _representation(session)
    weighting = found.weighting
    assert weighting is not None
    assert weighting.method == "post-stratification"
    assert weighting.dimensions == ("age", "district")
    # The two who did not give their age cannot be weighted.
    assert (weighting.weighted, weighting.not_weighted) == (20, 2)
    # Weights 4/7 (young east), 8/7 (old east), 12/7 (old west): Kish's n = 400 / (1200 / 49).
    assert weighting.effective_size == pytest.approx(49 / 3)
    trees = _question(found, "trees")
    assert trees.answered == 22
    yes = next(o for o in trees.options if o.key == "yes")
    assert yes.raw_percent == pytest.approx(100 * 12 / 22)
    assert yes.weighted_percent == pytest.approx(100 * 64 / 140)
    agree = _question(found, "agree")
    assert agree.raw_mean == pytest.approx(80 / 22)
    assert agree.weighted_mean == pytest.approx(3.0)
    five = next(o for o in agree.options if o.key == "5")
    assert five.raw_percent == pytest.approx(100 * 12 / 22)
    assert five.weighted_percent == pytest.approx(100 * (40 / 7) / 20)
    # Residents in cells nobody answered from cannot be weighted up: they are named.
    assert [(u.bands, u.population_share) for u in weighting.uncovered] == [
        (("old", "north"), 0.1),
        (("young", "north"), 0.1),
        (("young", "west"), 0.1),
    ]


async def test_two_margins_are_raked_to_both(session: AsyncSession) -> None:
    # The same people, with two margins instead of the cross table.
    sample = await build_background_sample(session, AGE_MARGIN, DISTRICT_MARGIN)
    found = await representation(session, sample.consultation_id)
    assert found is not None
    weighting = found.weighting
    assert weighting is not None
    assert weighting.method == "raking"
    # Solved by hand: young 0.4, old 0.6; east and west 0.5 each (north has no respondents).
    # 10 a = 8, 5 b + 5 c = 12, 10 a + 5 b = 10, 5 c = 10  ->  a = 0.8, b = 0.4, c = 2.0.
    assert weighting.effective_size == pytest.approx(400 / (10 * 0.64 + 5 * 0.16 + 5 * 4.0))
    trees = _question(found, "trees")
    yes = next(o for o in trees.options if o.key == "yes")
    assert yes.weighted_percent == pytest.approx(100 * (8 * 0.8 + 1 * 0.4 + 2 * 2.0) / 20)


def test_raking_reaches_every_margin() -> None:
    cells = {("y", "e"): 10, ("o", "e"): 5, ("o", "w"): 5}
    weights = rake(
        cells,
        [([0], {("y",): 400.0, ("o",): 600.0}), ([1], {("e",): 400.0, ("w",): 400.0})],
    )
    assert weights[("y", "e")] == pytest.approx(0.8)
    assert weights[("o", "e")] == pytest.approx(0.4)
    assert weights[("o", "w")] == pytest.approx(2.0)


async def test_who_each_source_reached_by_band(session: AsyncSession) -> None:
    found = await _representation(session)
    by_source = {s.source: s for s in found.sources}
    assert [s.source for s in found.sources] == ["direct", "library", "poster"]
    assert by_source["direct"].respondents == 12
    assert by_source["direct"].bands["age"] == {"young": 0, "old": 10}
    assert by_source["direct"].bands["district"] == {"east": 7, "west": 5, "north": 0}
    assert by_source["poster"].bands["age"] == {"young": 5, "old": 0}


async def test_counts_of_fewer_than_five_are_never_held(session: AsyncSession) -> None:
    sample = await build_background_sample(session)
    # Three young people from the east and three old from the west answer another one.
    other = await add_consultation(session, BENCHES.replace("slug: benches", "slug: other"))
    chosen = [p for p, age, _ in sample.people if age == "young"][:3]
    chosen += [p for p, age, district in sample.people if district == "west"][:3]
    for person in chosen:
        await flow.start(session, person, other.id or 0, source="poster", now=NOW)
    await session.commit()
    found = await representation(session, other.id or 0)
    assert found is not None
    young, _old = _dimension(found, "age").bands
    assert (young.respondents, young.respondent_share, young.ratio) == (None, None, None)
    assert young.population == 400  # residents are no secret
    east, west, north = _dimension(found, "district").bands
    assert (east.respondents, west.respondents, north.respondents) == (None, None, 0)
    assert north.under
    assert found.sources[0].bands["age"] == {"young": None, "old": None}


async def test_without_population_there_is_nothing_to_compare(session: AsyncSession) -> None:
    await add_profile(session)
    consultation = await add_consultation(session)
    found = await representation(session, consultation.id or 0)
    assert found is not None
    assert not found.available
    assert found.weighting is None
    assert await representation(session, 987_654) is None
