"""The arena file: checked like a consultation file, imported without losing subscribers;
and the calendar files of events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlmodel.ext.asyncio.session import AsyncSession

from models.arenas import (
    ArenaFileError,
    import_arenas,
    list_arenas,
    parse_arena_file,
    subscribe,
    subscribed_arena_ids,
)
from models.ics import event_calendar
from tests.auxil.people import add_people

pytestmark = pytest.mark.postgres

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "arenas.yaml"
NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


def _problems(text: str) -> list[str]:
    with pytest.raises(ArenaFileError) as refused:
        parse_arena_file(text)
    return refused.value.problems


def test_the_example_holds_the_arenas_the_example_consultations_offer() -> None:
    specs = parse_arena_file(EXAMPLE.read_bytes())
    assert [s.slug for s in specs] == ["frivillighet", "dialogarena"]
    consultations = EXAMPLE.parent.glob("*.yaml")
    offered = {
        line.split(":", 1)[1].strip()
        for path in consultations
        for line in path.read_text().splitlines()
        if line.startswith("arena:")
    }
    assert offered == {"frivillighet", "dialogarena"}
    for spec in specs:
        assert set(spec.name) == {"nb", "nn", "en"}
        assert spec.description is not None
        assert set(spec.description) == {"nb", "nn", "en"}


def test_a_plain_text_name_is_in_the_default_language() -> None:
    (spec,) = parse_arena_file("arenas:\n  - {slug: fokus, name: Fokusgruppe}\n")
    assert spec.name == {"nb": "Fokusgruppe"}
    assert spec.description is None


def test_every_problem_is_listed_by_field_path() -> None:
    problems = _problems(
        """
arenas:
  - slug: Bad Slug
    name: {nb: Navn}
  - slug: ok
    name: {de: Name}
    colour: red
  - slug: ok
    name: "   "
    description: {en: [not, text]}
  - name: {nb: Uten slug}
  - just text
"""
    )
    assert problems == [
        "arenas[0].slug: use lowercase a-z, 0-9 and single hyphens, e.g. holmen-2027",
        "arenas[1].colour: unknown field",
        "arenas[1].name.de: unknown language (use nb, nn, en, pl, uk, lt, ar, so, ti)",
        "arenas[2].slug: 'ok' is used by arenas[1] too",
        "arenas[2].name: must not be empty",
        "arenas[2].description.en: must be text",
        "arenas[3].slug: required",
        "arenas[4]: must be a mapping with slug, name and description",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["file: must be a mapping with a list of arenas"]),
        ("- slug: x", ["file: must be a mapping with a list of arenas"]),
        ("arenas: []", ["arenas: needs at least one arena, each with slug and name"]),
        ("arenas: [{slug: a, name: A}]\nextra: 1", ["extra: unknown field"]),
        (
            "arenas: [",
            ["file: not valid YAML (line 1): expected the node content, but found '<stream end>'"],
        ),
        (b"arenas: \xff", ["file: not UTF-8 text (line 1); save the file as UTF-8"]),
    ],
)
def test_a_broken_file_is_refused_whole(text: str | bytes, expected: list[str]) -> None:
    with pytest.raises(ArenaFileError) as refused:
        parse_arena_file(text)
    assert refused.value.problems == expected


async def test_importing_again_updates_names_and_keeps_subscribers(session: AsyncSession) -> None:
    stored = await import_arenas(session, parse_arena_file(EXAMPLE.read_bytes()))
    assert [(a.slug, created) for a, created in stored] == [
        ("frivillighet", True),
        ("dialogarena", True),
    ]
    (pid,) = await add_people(session, [1])
    arena = stored[0][0]
    await subscribe(session, pid, arena.id or 0, NOW)
    again = await import_arenas(
        session, parse_arena_file("arenas: [{slug: frivillighet, name: {en: Volunteers}}]")
    )
    assert [(a.id, created) for a, created in again] == [(arena.id, False)]
    assert again[0][0].name == {"en": "Volunteers"}
    assert again[0][0].description is None
    assert await subscribed_arena_ids(session, pid) == {arena.id}
    assert [a.slug for a in await list_arenas(session)] == ["dialogarena", "frivillighet"]


def test_a_calendar_file_follows_rfc_5545() -> None:
    text = event_calendar(
        uid="event-1@medvirk",
        stamp=NOW,
        starts_at=datetime(2027, 3, 28, 16, 0, tzinfo=UTC),
        ends_at=datetime(2027, 3, 28, 18, 0, tzinfo=UTC),
        summary="Språkkafé, med mat; og prat",
        location="Holmen bibliotek",
        description="Første linje\nAndre linje med en svært lang tekst som må brettes fordi "
        "den er lengre enn syttifem oktetter, også med æøå",
    )
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert text.endswith("END:VEVENT\r\nEND:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert "DTSTART:20270328T160000Z\r\n" in text
    assert "DTEND:20270328T180000Z\r\n" in text
    assert "DTSTAMP:20270115T120000Z\r\n" in text
    assert "SUMMARY:Språkkafé\\, med mat\\; og prat\r\n" in text
    assert "UID:event-1@medvirk\r\n" in text
    lines = text.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = text.replace("\r\n ", "")
    assert "DESCRIPTION:Første linje\\nAndre linje med en svært lang tekst" in unfolded
    assert "æøå\r\n" in unfolded


def test_a_calendar_file_reads_back_whole_in_a_calendar_program() -> None:
    """Control characters (a pasted text) would make the file invalid; they are left out."""
    description = "Ta med\x0b matpakke\x1b. " + "Lang linje med æøå og emoji 🙂 " * 8
    text = event_calendar(
        uid="event-2@medvirk",
        stamp=NOW,
        starts_at=datetime(2027, 3, 28, 16, 0, tzinfo=UTC),
        ends_at=datetime(2027, 3, 28, 18, 0, tzinfo=UTC),
        summary="Møte; om parken, og \\ mer",
        description=description,
    )
    parsed = Calendar.from_ical(text)
    (event,) = parsed.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Møte; om parken, og \\ mer"
    assert str(event["DESCRIPTION"]) == description.replace("\x0b", "").replace("\x1b", "")
    assert event.decoded("DTSTART") == datetime(2027, 3, 28, 16, 0, tzinfo=UTC)
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
