"""Staff in the chat: roles checked on every update, authoring, /manage, results, exports."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import callbacks as cb
from models import export as export_module
from models.consultation import Consultation, Status, find_consultation
from models.roles import AuditLog, Role, grant
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import EVERY_TYPE, add_consultation
from tests.handlers.conftest import ADMIN_ID, NOW, Harness

Sessions = async_sessionmaker[AsyncSession]
HOLMEN = Path(__file__).parents[2] / "examples" / "holmen-frivilligsentral.yaml"
UNKNOWN_COMMAND = "Den kommandoen kjenner jeg ikke"


async def _staff(harness: Harness, sessionmaker: Sessions, user_id: int = 9100) -> Citizen:
    async with sessionmaker() as session:
        await grant(session, user_id, Role.STAFF, by=None, now=NOW)
        await session.commit()
    return harness.citizen(user_id)


async def _status(sessionmaker: Sessions, slug: str) -> str | None:
    async with sessionmaker() as session:
        found = await find_consultation(session, slug)
        return found.status if found else None


async def _denials(sessionmaker: Sessions) -> list[tuple[int | None, str | None]]:
    async with sessionmaker() as session:
        rows = await session.exec(select(AuditLog).where(AuditLog.action == "denied"))
        return [(r.actor, r.target) for r in rows.all()]


@pytest.mark.parametrize(
    "command",
    ["/manage", "/newpoll Hva?\nA\nB", "/results park", "/export park csv", "/grant 1 staff"],
)
async def test_staff_commands_look_unknown_to_citizens_and_are_audited(
    harness: Harness, sessionmaker: Sessions, command: str
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
    person = harness.citizen(7100)
    await harness.send(person, command)
    assert UNKNOWN_COMMAND in harness.last(person)
    assert await _denials(sessionmaker) == [(7100, command.split()[0])]


async def test_a_forged_staff_button_pressed_again_and_again_is_one_audit_line_with_a_count(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
    person = harness.citizen(7200)
    await harness.send(person, "/help")
    for _ in range(30):
        await harness.press_data(person, cb.ManageList(0).pack())
    await harness.send(person, "/manage")
    async with sessionmaker() as session:
        rows = (await session.exec(select(AuditLog).where(AuditLog.action == "denied"))).all()
    by_target = {row.target: (row.detail or {}).get("count") for row in rows}
    assert len(rows) == 2
    assert by_target == {"manage.list": 30, "/manage": 1}

    harness.now += timedelta(hours=2)  # later on, a new line: the log still says when
    await harness.press_data(person, cb.ManageList(0).pack())
    assert len(await _denials(sessionmaker)) == 3


async def test_forwarded_staff_buttons_do_nothing_for_citizens(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        consultation = await add_consultation(session, publish=False)
    person = harness.citizen(7101)
    await harness.send(person, "/help")
    for data in (
        cb.SetStatus(consultation.id, "open"),
        cb.ManageOne(consultation.id),
        cb.ExportAs(consultation.id, "csv"),
        cb.ShowResults(consultation.id),
    ):
        toast = await harness.press_data(person, data.pack())
        assert "virker ikke lenger" in toast
    assert await _status(sessionmaker, "park") == Status.DRAFT
    assert len(await _denials(sessionmaker)) == 4
    assert not [m for m in harness.sandbox.messages(person.id) if m.get("document")]


async def test_admins_grant_and_revoke_roles(harness: Harness, sessionmaker: Sessions) -> None:
    admin = harness.citizen(ADMIN_ID)
    await harness.send(admin, "/grant 4242 staff")
    assert "4242 er nå staff." in harness.last(admin)
    await harness.send(admin, "/grant 4242 staff")
    assert "var allerede staff" in harness.last(admin)
    staff = harness.citizen(4242)
    await harness.send(staff, "/manage")
    assert "Ingen undersøkelser ennå" in harness.last(staff)
    # Staff may not grant roles.
    await harness.send(staff, "/grant 4243 admin")
    assert UNKNOWN_COMMAND in harness.last(staff)
    await harness.send(admin, "/revoke 4242 staff")
    assert "4242 er ikke lenger staff." in harness.last(admin)
    await harness.send(staff, "/manage")
    assert UNKNOWN_COMMAND in harness.last(staff)
    await harness.send(admin, "/grant 4242 kaptein")
    assert "staff, moderator eller admin" in harness.last(admin)


async def test_an_uploaded_file_is_previewed_in_each_language_and_saved_as_draft(
    harness: Harness, sessionmaker: Sessions
) -> None:
    staff = await _staff(harness, sessionmaker)
    staff.cursor = harness.sandbox.cursor
    await harness.sandbox.send_document(staff.id, HOLMEN.name, HOLMEN.read_bytes())
    await harness.process()
    texts = harness.new_texts(staff)
    # First which languages are complete (residents can choose only those), then each one.
    assert texts[0] == "<b>Språk</b>\n• bokmål: komplett\n• engelsk: komplett"
    assert "Forhåndsvisning på bokmål" in texts[1]
    english = texts.index("<b>Forhåndsvisning på engelsk</b>")
    assert "How often do you think" in "".join(texts[english:])
    assert "Hvor ofte tror du" in "".join(texts[:english])
    assert "Lagret som utkast" in texts[-1]
    assert await _status(sessionmaker, "holmen-frivilligsentral") == Status.DRAFT
    # The preview's buttons only say so.
    toast = await harness.press(staff, "Hver uke")
    assert "forhåndsvisning" in toast


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.txt", b"hello", "Send undersøkelsen som en .yaml-fil"),
        ("broken.yaml", b"slug: [unclosed\n", "Filen ble ikke lagret. Rett opp disse feilene"),
        ("big.yaml", b"#" * (300 * 1024), "Filen er for stor"),
        (
            "bad.yaml",
            b"slug: Bad Slug\ntitle: X\nquestions:\n  - {id: a, type: colour, text: Hm}\n",
            "questions[0].type",
        ),
    ],
)
async def test_bad_files_are_refused_and_nothing_is_stored(
    harness: Harness, sessionmaker: Sessions, name: str, content: bytes, expected: str
) -> None:
    staff = await _staff(harness, sessionmaker)
    await harness.sandbox.send_document(staff.id, name, content)
    await harness.process()
    assert expected in harness.last(staff)
    async with sessionmaker() as session:
        assert (await session.exec(select(Consultation))).all() == []


async def test_an_upload_cannot_change_answered_questions(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
    person = harness.citizen(7102)
    await harness.send(person, "/start c_park")
    await harness.press(person, "Ja, jeg godtar")
    await harness.press(person, "Ofte")
    staff = await _staff(harness, sessionmaker)
    changed = EVERY_TYPE.replace("Ville du brukt parken?", "Liker du parker?")
    await harness.sandbox.send_document(staff.id, "park.yaml", changed.encode())
    await harness.process()
    assert "kan ikke endres lenger: use" in harness.last(staff)


async def test_newpoll_makes_a_draft_poll(harness: Harness, sessionmaker: Sessions) -> None:
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/newpoll Hvor skal benken stå?\nVed lekeplassen\nVed dammen\n")
    assert "Lagret som utkast" in harness.last(staff)
    async with sessionmaker() as session:
        poll = (await session.exec(select(Consultation))).one()
        assert poll.title == {"nb": "Hvor skal benken stå?"}
        assert poll.status == Status.DRAFT
    await harness.press(staff, "Åpne, lukke")
    await harness.press(staff, "Åpne som Telegram-avstemning")
    async with sessionmaker() as session:
        poll = (await session.exec(select(Consultation))).one()
        assert poll.status == Status.OPEN
        assert poll.as_poll


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/newpoll Bare ett?\nJa", "minst 2 alternativer"),
        ("/newpoll Mange?\n" + "\n".join(f"Valg {i}" for i in range(13)), "høyst 12"),
        ("/newpoll", "Skriv /newpoll"),
        ("/newpoll " + "x" * 301 + "\nA\nB", "høyst 300 tegn"),
    ],
)
async def test_newpoll_refuses_bad_polls(
    harness: Harness, sessionmaker: Sessions, text: str, expected: str
) -> None:
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, text)
    assert expected in harness.last(staff)
    async with sessionmaker() as session:
        assert (await session.exec(select(Consultation))).all() == []


async def test_manage_opens_and_closes(harness: Harness, sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        await add_consultation(session, publish=False)
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/manage")
    assert "Ny park</b> (utkast): 0 startet, 0 fullført" in harness.last(staff)
    await harness.press(staff, "⚙ Ny park")  # the title, not the slug
    assert "5 spørsmål" in harness.last(staff)
    assert f"https://t.me/{harness.app.bot.username}?start=c_park" in harness.last(staff)
    assert await harness.press(staff, "▶ Åpne") == "Åpnet."
    assert await _status(sessionmaker, "park") == Status.OPEN
    # Closing a live consultation asks first; "no" keeps it open.
    await harness.press(staff, "■ Lukk")
    assert "Lukke <b>Ny park</b>?" in harness.last(staff)
    await harness.press(staff, "Nei, la den være åpen")
    assert await _status(sessionmaker, "park") == Status.OPEN
    await harness.press(staff, "■ Lukk")
    assert await harness.press(staff, "■ Ja, lukk den") == "Lukket."
    assert await _status(sessionmaker, "park") == Status.CLOSED
    async with sessionmaker() as session:
        actions = (await session.exec(select(AuditLog.action))).all()
    assert actions == ["role.grant", "consultation.open", "consultation.closed"]


async def _answered_park(harness: Harness, sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
    for user_id, choice in ((7201, "Ofte"), (7202, "Aldri"), (7203, "Aldri")):
        person = harness.citizen(user_id)
        await harness.send(person, "/start c_park__plakat")
        await harness.press(person, "Ja, jeg godtar")
        await harness.press(person, choice)


async def test_results_show_counts_and_charts(harness: Harness, sessionmaker: Sessions) -> None:
    await _answered_park(harness, sessionmaker)
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/results park")
    messages = harness.sandbox.messages(staff.id)
    text = next(m["text"] for m in messages if m.get("text", "").startswith("<b>Ny park"))
    assert "3 startet, 0 fullført (0 %)" in text
    assert "Ofte: 1 (33 %)" in text
    assert "Aldri: 2 (67 %)" in text
    assert "plakat: 3 startet" in text
    photos = [m for m in messages if m.get("photo")]
    assert len(photos) == 4  # one per choice, scale and yes/no question


async def test_export_sends_a_file_without_telegram_ids(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _answered_park(harness, sessionmaker)
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/export park csv")
    document = next(m for m in harness.sandbox.messages(staff.id) if m.get("document"))
    assert document["document"]["file_name"] == "park.csv"
    content = harness.sandbox.file_content(document["document"]["file_id"]).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(content), delimiter=";"))
    assert len(rows) == 4
    for user_id in ("7201", "7202", "7203"):
        assert user_id not in content
    await harness.send(staff, "/export finnes-ikke csv")
    assert "Det finnes ingen undersøkelse med det navnet" in harness.last(staff)


async def test_residents_are_answered_while_an_export_is_written(
    harness: Harness, sessionmaker: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _answered_park(harness, sessionmaker)
    staff = await _staff(harness, sessionmaker)
    resident = harness.citizen(7204)
    await harness.send(resident, "/start c_park")
    await harness.press(resident, "Ja, jeg godtar")
    # As in production on SQLite: one writer at a time, queued in the process.
    harness.runtime.transaction_lock = asyncio.Lock()
    # The export's rows are held in the worker thread until the resident has been answered:
    # were they built on the event loop, or in a transaction the resident must wait for, the
    # resident's answer could not come first.
    writing, answered = threading.Event(), threading.Event()
    build = export_module._rows

    def held(*args: Any) -> Any:
        writing.set()
        assert answered.wait(10), "the resident was not answered while the export was written"
        return build(*args)

    monkeypatch.setattr(export_module, "_rows", held)
    await staff.send("/export park csv")
    await resident.press("Ofte")
    export, press = await harness.app.bot.get_updates(offset=harness.offset, timeout=0)
    harness.offset = press.update_id + 1
    exporting = asyncio.create_task(harness.app.process_update(export))
    assert await asyncio.to_thread(writing.wait, 10)
    await asyncio.wait_for(harness.app.process_update(press), 5)
    assert "2/5" in harness.last(resident)
    answered.set()
    await exporting
    assert any(m.get("document") for m in harness.sandbox.messages(staff.id))
