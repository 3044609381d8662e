"""Moderation through the application: concurrent presses, results and exports for staff."""

from __future__ import annotations

import asyncio
import csv
import io

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import callbacks as cb
from models import moderation as mod
from models.moderation import ModerationItem, Status
from models.roles import AuditLog, Role, grant
from tests.auxil.consultations import add_consultation
from tests.auxil.ideas import IDEAS, write_idea
from tests.handlers.conftest import NOW, Harness

Sessions = async_sessionmaker[AsyncSession]
MONA, MATS, SIRI = 9201, 9202, 9203


async def _roles(sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        await grant(session, MONA, Role.MODERATOR, by=None, now=NOW)
        await grant(session, MATS, Role.MODERATOR, by=None, now=NOW)
        await grant(session, SIRI, Role.STAFF, by=None, now=NOW)
        await session.commit()


async def _items(sessionmaker: Sessions) -> list[ModerationItem]:
    async with sessionmaker() as session:
        return list((await session.exec(select(ModerationItem))).all())


async def test_two_moderators_pressing_at_once_store_one_decision(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _roles(sessionmaker)
    async with sessionmaker() as session:
        ideas = await add_consultation(session, IDEAS)
        await write_idea(session, ideas, 7201, "Flere benker", NOW)
    mona, mats = harness.citizen(MONA), harness.citizen(MATS)
    await harness.send(mona, "/review")
    assert "Flere benker" in harness.last(mona)
    # Mona has it in her review now, so Mats is told the rest is with others.
    await harness.send(mats, "/review")
    assert "andre moderatorer" in harness.last(mats)
    assert "1 tekst venter" in harness.last(mats)

    # Both press before the bot handles either (Mats on the text in the moderation group, say);
    # the two updates are handled concurrently.
    (item,) = await _items(sessionmaker)
    first = await mona.press("Godkjenn")
    second = await mats.press_data(cb.Moderate(item.id or 0, item.version, "flag").pack())
    updates = await harness.app.bot.get_updates(offset=harness.offset, timeout=0)
    assert len(updates) == 2
    harness.offset = updates[-1].update_id + 1
    await asyncio.gather(*(harness.app.process_update(u) for u in updates))

    toasts = {await mona.notice(first, timeout=2), await mats.notice(second, timeout=2)}
    assert "En annen moderator har allerede avgjort denne teksten." in toasts
    (item,) = await _items(sessionmaker)
    assert item.status in (Status.APPROVED, Status.FLAGGED)
    async with sessionmaker() as session:
        decisions = (
            await session.exec(
                select(AuditLog).where(
                    AuditLog.action.in_(["moderation.approved", "moderation.flagged"])  # type: ignore[attr-defined]
                )
            )
        ).all()
    assert [(d.actor, d.action) for d in decisions] == [
        (item.decided_by, f"moderation.{item.status}")
    ]


async def test_staff_see_counts_and_export_approved_or_all_texts(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _roles(sessionmaker)
    async with sessionmaker() as session:
        ideas = await add_consultation(session, IDEAS)
        await write_idea(session, ideas, 7202, "Benker, ring 99887766", NOW)
        await write_idea(session, ideas, 7203, "Kjøp billig på example.no", NOW)
        first, _second = (await session.exec(select(ModerationItem))).all()
        await mod.decide(session, first.id or 0, first.version, MONA, Status.APPROVED, NOW)
        await session.commit()
    siri = harness.citizen(SIRI)

    await harness.send(siri, "/results ideas")
    results = next(t for t in harness.new_texts(siri) if "Har du en idé?" in t)
    assert "2 tekster (godkjent: 1, venter på vurdering: 1)" in results
    assert "99887766" not in results

    def exported() -> list[dict[str, str]]:
        document = harness.sandbox.messages(siri.id)[-1]["document"]
        data = harness.sandbox.file_content(document["file_id"]).decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(data), delimiter=";"))

    await harness.send(siri, "/export ideas csv")
    assert [row["q_idea"] for row in exported()] == ["Benker, ring [telefonnummer]", ""]
    assert harness.sandbox.messages(siri.id)[-1]["document"]["file_name"] == "ideas.csv"
    await harness.send(siri, "/export ideas csv all")
    # Every text, rejected ones too: a file of its own, never mistaken for the approved one.
    assert harness.sandbox.messages(siri.id)[-1]["document"]["file_name"] == (
        "ideas-all-texts.csv"
    )
    assert [(row["q_idea"], row["q_idea_moderation"]) for row in exported()] == [
        ("Benker, ring [telefonnummer]", "approved"),
        ("Kjøp billig på example.no", "pending"),
    ]
    await harness.send(siri, "/export ideas")
    assert "Skriv all til slutt" not in harness.last(siri)  # a file, not the usage text
    await harness.send(siri, "/export")
    assert "Skriv all til slutt" in harness.last(siri)

    # The same from the /manage buttons.
    await harness.send(siri, "/manage")
    await harness.press(siri, "⚙ Ideer for Holmen")
    toast = await harness.press(siri, "XLSX med alle tekster")
    assert toast == "Eksporten er klar."
    assert harness.sandbox.messages(siri.id)[-1]["document"]["file_name"] == "ideas-all-texts.xlsx"
    async with sessionmaker() as session:
        exports = (
            await session.exec(select(AuditLog).where(AuditLog.action == "consultation.export"))
        ).all()
    assert [e.detail.get("all_texts") if e.detail else None for e in exports] == [
        None,
        True,
        None,
        True,
    ]
