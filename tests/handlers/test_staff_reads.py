"""What staff read: results in plain Norwegian, approved texts, chart captions, links, QR codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import moderation as mod
from models.arenas import import_arenas, parse_arena_file
from models.roles import Role, grant
from tests.auxil.answers import build_sample
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.auxil.ideas import IDEAS, write_idea
from tests.handlers.conftest import NOW, Harness

Sessions = async_sessionmaker[AsyncSession]
ARENAS = Path(__file__).parents[2] / "examples" / "arenas.yaml"
MODERATOR = 9300

pytestmark = pytest.mark.postgres


async def _staff(harness: Harness, sessionmaker: Sessions, language: str = "nb") -> Citizen:
    async with sessionmaker() as session:
        await grant(session, 9100, Role.STAFF, by=None, now=NOW)
        await session.commit()
    return harness.citizen(9100, language)


def _results_text(harness: Harness, staff: Citizen, title: str) -> str:
    return next(t for t in staff.texts() if t.startswith(f"<b>{title}"))


async def test_results_speak_plain_norwegian(harness: Harness, sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        await build_sample(session)
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/results park")
    text = _results_text(harness, staff, "Ny park")
    assert "Gjennomsnitt: 3,8" in text  # 4, 5, 2 and 4: a decimal comma
    assert "uten lenke: 2 startet, 1 fullført" in text  # not "direct"
    assert "direct" not in text


async def test_results_show_the_first_approved_texts_and_where_the_rest_are(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        ideas = await add_consultation(session, IDEAS)
        texts = [
            "Flere benker ved dammen",
            "Ring meg på 912 34 567 om grillen",
            "Bedre lys på stien",
            "Et toalett",
            "Dette er ikke godkjent ennå",
        ]
        for n, text in enumerate(texts):
            await write_idea(session, ideas, 7400 + n, text, NOW)
        items = await session.exec(select(mod.ModerationItem).order_by(mod.ModerationItem.id))
        for item in items.all()[:4]:
            await mod.decide(
                session, item.id or 0, item.version, MODERATOR, mod.Status.APPROVED, NOW
            )
        await session.commit()
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/results ideas")
    text = _results_text(harness, staff, "Ideer for Holmen")
    assert "💬 <i>Flere benker ved dammen</i>" in text
    assert "💬 <i>Ring meg på [telefonnummer] om grillen</i>" in text  # masked
    assert "912 34 567" not in text
    assert "Bedre lys på stien" in text
    assert "Et toalett" not in text  # the fourth: only the first three are shown
    assert "ikke godkjent" not in text  # waiting for review: never shown
    assert "De første 3 av 4 godkjente tekstene. Alle: <code>/export ideas xlsx</code>" in text


async def test_every_chart_has_a_caption_with_its_numbers(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await build_sample(session)
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/results park")
    captions = [m["caption"] for m in harness.sandbox.messages(staff.id) if m.get("photo")]
    assert len(captions) == 4
    use, _activities, agree, trees = captions
    assert use.startswith("<b>Ville du brukt parken?</b>\n5 svar:")
    assert "Ofte: 2 (40 %)" in use
    assert "Aldri: 2 (40 %)" in use
    assert "Gjennomsnitt: 3,8" in agree
    assert "1 (Helt uenig): 0 (0 %)" in agree
    assert ": Helt uenig:" not in agree  # one colon to a line
    assert "Ja: 2 (67 %)" in trees


async def test_staff_get_full_links_and_a_qr_code_for_each_link_source(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
        await import_arenas(session, parse_arena_file(ARENAS.read_text()))
        await session.commit()
    staff = await _staff(harness, sessionmaker)
    bot = harness.app.bot.username

    await harness.send(staff, "/link park plakat")
    text, photo = harness.sandbox.messages(staff.id)[-2:]
    link = f"https://t.me/{bot}?start=c_park__plakat"
    assert f"Lenke: {link}" in text["text"]
    assert "telles under <code>plakat</code> i /results" in text["text"]
    assert photo["caption"] == f"QR-kode for {link}"
    png = harness.sandbox.file_content(photo["photo"][-1]["file_id"])
    assert png.startswith(b"\x89PNG")

    await harness.send(staff, "/link frivillighet")
    assert (
        f"https://t.me/{bot}?start=a_frivillighet"
        in harness.sandbox.messages(staff.id)[-1]["caption"]
    )

    # From /manage: the consultation's link without a source, and how to make one per source.
    await harness.send(staff, "/manage")
    await harness.press(staff, "⚙ Ny park")
    await harness.press(staff, "QR-kode")
    text, photo = harness.sandbox.messages(staff.id)[-2:]
    assert f"https://t.me/{bot}?start=c_park" in photo["caption"]
    assert "/link SLUG library" in text["text"]

    for bad in ("/link park ikke/lov", "/link park " + "x" * 60):
        await harness.send(staff, bad)
        assert "bare ha bokstavene a-z" in harness.last(staff)
    await harness.send(staff, "/link finnes-ikke")
    assert "Det finnes ingen undersøkelse eller arena" in harness.last(staff)


async def test_staff_times_are_in_norwegian_time(harness: Harness, sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        later = IDEAS.replace("slug: ideas", "slug: ideas\nopens: 2027-01-20T09:00:00+01:00")
        await add_consultation(session, later)
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/manage")
    assert "åpner 20. jan. 09:00 (norsk tid)" in harness.last(staff)
    await harness.send(staff, "/broadcast")
    await harness.press(staff, "Skriv en kunngjøring")
    assert "Skriv kunngjøringen på bokmål" in harness.last(staff)
    await harness.send(staff, "Hei")
    await harness.press(staff, "Alle som har sagt ja")
    await harness.press(staff, "Planlegg til senere")
    assert "for eksempel <code>20.01 09:30</code> (norsk tid)" in harness.last(staff)
    assert "Europe/Oslo" not in harness.last(staff)


async def test_exports_name_yes_and_no_in_the_consultations_language(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await build_sample(session)
    staff = await _staff(harness, sessionmaker, "en")  # the file follows the consultation
    await harness.send(staff, "/export park xlsx")
    document = harness.sandbox.messages(staff.id)[-1]["document"]
    workbook = load_workbook(io.BytesIO(harness.sandbox.file_content(document["file_id"])))
    described = {row[1]: row[4] for row in workbook["questions"].iter_rows(values_only=True)}
    assert described["trees"] == "yes = Ja; no = Nei"  # not "yes = yes; no = no"
    assert described["use"] == "often = Ofte; sometimes = Av og til; never = Aldri"

    await harness.send(staff, "/export park json")
    document = harness.sandbox.messages(staff.id)[-1]["document"]
    exported = json.loads(harness.sandbox.file_content(document["file_id"]))
    trees = next(q for q in exported["questions"] if q["key"] == "trees")
    assert trees["options"] == [{"id": "yes", "text": "Ja"}, {"id": "no", "text": "Nei"}]
