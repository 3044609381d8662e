"""The centres file and the needs file: checked whole, every problem named, nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.centres import (
    Centre,
    CentreFileError,
    all_districts,
    all_tags,
    import_centres,
    parse_centre_file,
)
from models.need_file import NeedFileError, parse_need_file
from tests.auxil.volunteers import CENTRES, add_centres

pytestmark = pytest.mark.postgres

NOW = datetime(2027, 3, 20, 10, 0, tzinfo=UTC)
ZONE = "Europe/Oslo"


def test_a_centres_file_gives_centres_with_their_tags_and_districts() -> None:
    specs = parse_centre_file(CENTRES)
    assert [s.slug for s in specs] == ["holmen", "sentrum"]
    holmen = specs[0]
    assert holmen.name == {"nb": "Holmen frivilligsentral", "en": "Holmen volunteer centre"}
    assert (holmen.district, holmen.contact) == (
        "Holmen",
        "holmen@frivilligsentral.example, 40 00 00 01",
    )
    assert [t.id for t in holmen.tags] == ["transport", "homework", "repair", "events"]
    assert holmen.tags[1].name_in("en") == "Homework help"


def test_a_broken_centres_file_is_refused_with_every_problem() -> None:
    broken = """
centres:
  - slug: Holmen
    name: {nb: Holmen, de: Holmen}
    tags: [{id: transport, name: Transport}, {id: transport, name: Kjøring}]
  - slug: ok
    name: Ok
    district: Sentrum
    tags: []
    adress: here
"""
    with pytest.raises(CentreFileError) as refused:
        parse_centre_file(broken)
    assert refused.value.problems == [
        "centres[0].slug: use lowercase a-z, 0-9 and single hyphens, e.g. holmen-2027",
        "centres[0].name.de: unknown language (use nb, nn, en, pl, uk, lt, ar, so, ti)",
        "centres[0].district: required: the district the centre serves",
        "centres[0].tags[1].id: 'transport' is used twice",
        "centres[1].adress: unknown field",
        "centres[1].tags: needs at least one tag, each with id and name",
    ]
    assert str(refused.value).startswith("6 problems in the centres file: ")


async def test_importing_centres_again_updates_them(session: AsyncSession) -> None:
    centres = await add_centres(session, NOW)
    assert all_districts(list(centres.values())) == ["Holmen", "Sentrum"]
    # Transport is named by Holmen first; Sentrum's transport is the same tag.
    assert [t.id for t in all_tags(list(centres.values()))] == [
        "transport",
        "homework",
        "repair",
        "events",
        "language-cafe",
    ]
    again = CENTRES.replace("district: Sentrum", "district: Sentrum nord")
    stored = await import_centres(session, parse_centre_file(again), NOW)
    assert [(c.slug, new) for c, new in stored] == [("holmen", False), ("sentrum", False)]
    districts = (await session.exec(select(Centre.district).order_by(Centre.slug))).all()
    assert districts == ["Holmen", "Sentrum nord"]


NEEDS = """
needs:
  - title: {nb: To sjåfører til reparasjonskafeen, en: Two drivers for the repair café}
    description: {nb: Kjøre eldre til og fra., en: Drive elderly people there and back.}
    tags: [transport, repair]
    when: 2027-03-27 10:00-14:00
    places: 2
  - centre: holmen
    title: Leksehjelp
    tags: [homework]
    weekly: tirsdag 17:00-19:00
    places: 3
    language: pl
"""


async def test_a_needs_file_gives_needs_of_the_coordinators_centre(session: AsyncSession) -> None:
    centres = await add_centres(session, NOW)
    holmen = centres["holmen"]
    specs = parse_need_file(NEEDS, [holmen], ["Holmen", "Sentrum"], NOW, ZONE)
    first, second = specs
    assert (first.centre, first.tags, first.district, first.places) == (
        holmen,
        ("transport", "repair"),
        "Holmen",
        2,
    )
    assert (first.starts_at, first.ends_at, first.weekly) == (
        datetime(2027, 3, 27, 9, 0, tzinfo=UTC),
        datetime(2027, 3, 27, 13, 0, tzinfo=UTC),
        False,
    )
    assert first.title["en"] == "Two drivers for the repair café"
    assert (second.weekly, second.wished_language, second.title) == (
        True,
        "pl",
        {"nb": "Leksehjelp"},
    )
    assert second.starts_at == datetime(2027, 3, 23, 16, 0, tzinfo=UTC)


async def test_a_broken_needs_file_is_refused_with_every_problem(session: AsyncSession) -> None:
    centres = await add_centres(session, NOW)
    mine = [centres["holmen"], centres["sentrum"]]
    broken = """
needs:
  - title: Kjøring
    tags: [gardening]
    when: 2027-03-01 10:00
    places: 0
  - centre: elsewhere
    title: Tur
    tags: [events]
    when: soon
    weekly: monday 10:00
    district: Mars
    language: xx
"""
    with pytest.raises(NeedFileError) as refused:
        parse_need_file(broken, mine, ["Holmen", "Sentrum"], NOW, ZONE)
    assert refused.value.problems == [
        "needs[0].centre: required: one of holmen, sentrum",
        "needs[0].when: has passed",
        "needs[0].places: must be between 1 and 100",
        "needs[1].centre: not a centre of yours (yours: holmen, sentrum)",
        "needs[1].district: one of the districts: Holmen, Sentrum",
        "needs[1]: give either when (a date) or weekly (a weekday), not both",
        "needs[1].places: required: how many people",
        "needs[1].language: a language code: "
        "no, se, en, pl, uk, ar, so, ti, fa, ru, lt, es, de, tr",
    ]
    with pytest.raises(NeedFileError) as refused:
        parse_need_file(
            NEEDS.replace("[transport, repair]", "[transport, gardening]"),
            [centres["holmen"]],
            ["Holmen"],
            NOW,
            ZONE,
        )
    assert refused.value.problems == [
        "needs[0].tags: not tags of holmen: gardening "
        "(its tags: transport, homework, repair, events)"
    ]
