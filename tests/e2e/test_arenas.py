"""Arenas, events, reminders and follow-ups end to end: the real bot against the sandbox.

The bot long polls the sandbox over HTTP; its delivery worker sends the outbox through its own
pool, and both read the injected clock, so a test moves time to when reminders fall due.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from handlers import followups as followup_handlers
from models.arenas import import_arenas, parse_arena_file, subscribe
from models.consultation import Status, set_status
from models.outbox import Delivery, DeliveryState
from sandbox import Sandbox
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.auxil.people import add_people
from tests.e2e.conftest import BotRunner, Clock

pytestmark = pytest.mark.postgres

STAFF = 9000
ROOT = Path(__file__).resolve().parents[2]
Sessions = async_sessionmaker[AsyncSession]
Message = dict[str, Any]


@pytest.fixture
def settings(sandbox: Sandbox, prepared_database_url: str) -> Settings:
    """One admin, a fast outbox, the default quiet hours (22-08 in Europe/Oslo)."""
    assert sandbox.url is not None
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=SecretStr(sandbox.token),
        telegram_api_url=sandbox.url,
        database_url=prepared_database_url,
        admin_ids=frozenset({STAFF}),
        broadcast_rate=200,
        quiet_hours="22-08",
    )


@pytest.fixture(autouse=True)
def quick_finish_reminders(monkeypatch: pytest.MonkeyPatch) -> None:
    """Look for people to remind to finish every half second instead of every 30."""
    monkeypatch.setattr(followup_handlers, "FINISH_REMINDER_TICK", 0.5)


async def arena_members(db: Sessions, members: list[Citizen]) -> dict[int, int]:
    """The example arenas, and people who consented and joined frivillighet (in their
    Telegram language); returns their participant ids by user id."""
    async with db() as session:
        stored = await import_arenas(
            session, parse_arena_file((ROOT / "examples" / "arenas.yaml").read_bytes())
        )
        arena = next(a for a, _ in stored if a.slug == "frivillighet")
        ids: dict[int, int] = {}
        for member in members:
            language = member.sandbox.user(member.id).language_code
            pid = (await add_people(session, [member.id], language=language))[0]
            await subscribe(session, pid, arena.id or 0, datetime(2027, 1, 1, tzinfo=UTC))
            ids[member.id] = pid
        await session.commit()
    return ids


def texts_with(sandbox: Sandbox, chat: int, needle: str) -> list[str]:
    """The bot's messages in a chat (as shown now) that contain ``needle``."""
    return [m.get("text") or "" for m in sandbox.messages(chat) if needle in (m.get("text") or "")]


def documents(sandbox: Sandbox, chat: int) -> list[Message]:
    """The documents the bot sent to a chat."""
    return [m for m in sandbox.messages(chat) if "document" in m]


async def settle() -> None:
    """Give the delivery worker time to send anything that is due (it polls every second)."""
    await asyncio.sleep(2.5)


async def test_invitation_answers_waiting_list_and_reminders_across_dst(
    sandbox: Sandbox, db: Sessions, run_bot: BotRunner, clock: Clock
) -> None:
    # Saturday 20 March 2027; the clocks go forward on Sunday 28 March at 02:00 in Oslo.
    clock.now = datetime(2027, 3, 20, 10, 0, tzinfo=UTC)
    anna, bo, cai, dina = 40_001, 40_002, 40_003, 40_004
    people = {
        anna: Citizen(sandbox, anna, language_code="nb"),
        bo: Citizen(sandbox, bo, language_code="en"),
        cai: Citizen(sandbox, cai, language_code="en"),
    }
    await arena_members(db, list(people.values()))
    Citizen(sandbox, dina, language_code="en")  # not a member: not invited
    staff = Citizen(sandbox, STAFF, language_code="en")
    async with run_bot():
        await staff.send("/event")
        await staff.expect("Create an event for:")
        await staff.press("The volunteer centre")
        await staff.expect("Write its title")
        await staff.send("Language café")
        await staff.expect("When does it start?")
        await staff.send("19.03 18:00")
        await staff.expect("That time has passed")
        await staff.send("28.03 18:00-20:00")
        await staff.expect("Where is it?")
        await staff.send("Holmen library")
        await staff.expect("Describe it")
        await staff.press("Skip")
        await staff.expect("How many people can come?")
        await staff.send("0")
        await staff.expect("at least 1")
        await staff.send("2")
        preview = await staff.expect("Ready")
        assert "3 people subscribe to The volunteer centre" in preview["text"]
        assert any("Sunday 28 Mar 2027 at 18:00\u201320:00" in t for t in staff.texts())
        await staff.press("Send the invitation to 3 people")
        await staff.expect("Published")

        for person in people.values():
            await person.expect("Language café", timeout=15)
        assert "inviterer deg" in texts_with(sandbox, anna, "Language café")[0]
        # Shown in Oslo time after the change (CEST); stored and in the calendar in UTC.
        invitation = texts_with(sandbox, cai, "Language café")[0]
        assert "Sunday 28 Mar 2027 at 18:00\u201320:00" in invitation
        assert "Room for 2 people." in invitation
        await sandbox.wait_for_message(cai, lambda m: "document" in m, timeout=15)
        calendar = sandbox.file_content(documents(sandbox, cai)[0]["document"]["file_id"])
        assert b"DTSTART:20270328T160000Z\r\n" in calendar
        assert b"DTEND:20270328T180000Z\r\n" in calendar
        assert "SUMMARY:Language café\r\n".encode() in calendar
        assert sandbox.stats.per_chat[dina] == 0

        await people[anna].press("Ja")  # Anna reads Bokmål
        await people[anna].expect("du kommer")
        await people[bo].press("Yes")
        await people[bo].expect("you are coming")
        query = await people[cai].press("Yes")
        assert "full" in await people[cai].notice(query)
        await people[cai].expect_button("Join the waiting list")
        await people[cai].press("Join the waiting list")
        await people[cai].expect("number 1 on the waiting list")

        # Bo changes his mind: his place goes to Cai, who is told.
        await people[bo].press("No")
        await people[bo].expect("Your answer: no.")
        promoted = await people[cai].expect("A place came free", timeout=15)
        assert "you are coming" in promoted["text"]

        # 24 hours before is 18:00 the day before in Oslo: 17:00 UTC on Saturday (CET), 23
        # real hours before the start. Nothing comes a minute earlier.
        clock.now = datetime(2027, 3, 27, 16, 59, tzinfo=UTC)
        await settle()
        assert not any(texts_with(sandbox, uid, "Reminder") for uid in (bo, cai))
        assert texts_with(sandbox, anna, "Påminnelse") == []
        clock.now = datetime(2027, 3, 27, 17, 0, tzinfo=UTC)
        first = await people[anna].expect("Påminnelse", timeout=15)
        assert "søndag 28. mars 2027 kl. 18:00\u201320:00" in first["text"]
        await people[cai].expect("Reminder", timeout=15)
        # Two hours before: 16:00 in Oslo (CEST) is 14:00 UTC.
        clock.now = datetime(2027, 3, 28, 13, 59, tzinfo=UTC)
        await settle()
        assert len(texts_with(sandbox, anna, "Påminnelse")) == 1
        clock.now = datetime(2027, 3, 28, 14, 0, tzinfo=UTC)
        await settle()
        assert len(texts_with(sandbox, anna, "Påminnelse")) == 2
        assert len(texts_with(sandbox, cai, "Reminder")) == 2
        assert texts_with(sandbox, bo, "Reminder") == []

        # Staff see counts and a pseudonymous list.
        await staff.send("/event")
        await staff.expect("Language café")
        await staff.press("⚙ Language café")
        detail = await staff.expect("Yes: 2 of 2 places")
        assert "Invited: 3" in detail["text"]
        assert "No: 1" in detail["text"]
        await staff.press("Attendance list (CSV)")
        sheet = await sandbox.wait_for_message(STAFF, lambda m: "document" in m, timeout=10)
        rows = sandbox.file_content(sheet["document"]["file_id"]).decode("utf-8-sig").splitlines()
    assert rows[0].startswith("person;answer;answered at (Norwegian time)")
    assert [row.split(";")[1] for row in rows[1:]] == ["yes", "yes", "no"]
    keys = [row.split(";")[0] for row in rows[1:]]
    assert all(len(key) == 16 for key in keys)
    assert not any(str(uid) in "\n".join(rows) for uid in (anna, bo, cai))


TWO_QUESTIONS = """
slug: {slug}
title: {{nb: {title}, en: {title}}}
{closes}
questions:
  - id: one
    type: yes_no
    text: {{nb: Første?, en: First?}}
  - id: two
    type: yes_no
    text: {{nb: Andre?, en: Second?}}
"""


async def two_questions(db: Sessions, slug: str, title: str, closes: str | None = None) -> int:
    """An open consultation of two yes/no questions; returns its id."""
    source = TWO_QUESTIONS.format(
        slug=slug, title=title, closes=f"closes: {closes}" if closes else ""
    )
    async with db() as session:
        consultation = await add_consultation(session, source)
    return consultation.id or 0


async def start_answering(person: Citizen, slug: str) -> None:
    """Consent through the consultation's link and answer its first question."""
    await person.send(f"/start c_{slug}")
    await person.expect("Before we start")
    await person.press("Yes, I agree")
    await person.expect("1/2")
    await person.press("Yes")
    await person.expect("2/2")


async def finish(person: Citizen) -> None:
    """Answer the second question: the consultation is complete."""
    await person.press("No")
    await person.expect("Your answers")


async def test_one_reminder_to_finish_while_open_outside_quiet_hours_unless_finished(
    sandbox: Sandbox, db: Sessions, run_bot: BotRunner, clock: Clock
) -> None:
    clock.now = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)  # 13:00 in Oslo
    await two_questions(db, "tiny", "Tiny")
    await two_questions(db, "short", "Short", closes="2027-01-16T10:00:00+00:00")
    anna, bo, cai, dina, eve = (Citizen(sandbox, 41_000 + n, "en") for n in range(1, 6))
    async with run_bot():
        await start_answering(anna, "tiny")
        await start_answering(bo, "tiny")
        await start_answering(dina, "short")  # closes before her reminder would be due
        clock.now = datetime(2027, 1, 15, 20, 0, tzinfo=UTC)
        await finish(bo)
        clock.now = datetime(2027, 1, 15, 21, 30, tzinfo=UTC)  # 22:30 in Oslo
        await start_answering(cai, "tiny")
        await start_answering(eve, "tiny")

        clock.now = datetime(2027, 1, 16, 11, 59, tzinfo=UTC)
        await settle()
        everyone = (anna, bo, cai, dina, eve)
        assert not any(texts_with(sandbox, p.id, "but did not finish") for p in everyone)
        clock.now = datetime(2027, 1, 16, 12, 0, tzinfo=UTC)
        reminder = await anna.expect("You started <b>Tiny</b> but did not finish", timeout=15)
        assert "This is the only reminder" in reminder["text"]

        # Cai's and Eve's fall due at 22:30 in Oslo: quiet hours, so they wait for 08:00.
        clock.now = datetime(2027, 1, 16, 21, 31, tzinfo=UTC)
        await settle()
        assert texts_with(sandbox, cai.id, "but did not finish") == []
        clock.now = datetime(2027, 1, 17, 5, 0, tzinfo=UTC)  # 06:00: Eve finishes meanwhile
        await finish(eve)
        clock.now = datetime(2027, 1, 17, 7, 0, tzinfo=UTC)  # 08:00 in Oslo
        await cai.expect("You started <b>Tiny</b>", timeout=15)

        # Days later: still one each, and none for who finished or whose consultation closed.
        clock.now = datetime(2027, 1, 19, 12, 0, tzinfo=UTC)
        await settle()
        counts = {p.id: len(texts_with(sandbox, p.id, "but did not finish")) for p in everyone}
        assert counts == {anna.id: 1, bo.id: 0, cai.id: 1, dina.id: 0, eve.id: 0}

        await anna.press("Continue")
        await anna.expect("Here is where you left off")
        await anna.expect("2/2")
    async with db() as session:
        states = (
            await session.exec(select(Delivery.state).where(col(Delivery.kind) == "remind-finish"))
        ).all()
    assert sorted(states) == ["cancelled", "sent", "sent"]  # Eve's was cancelled unsent


async def test_what_came_of_it_reaches_only_people_who_asked(
    sandbox: Sandbox, db: Sessions, run_bot: BotRunner, clock: Clock
) -> None:
    await two_questions(db, "tiny", "Tiny")
    anna, bo, cai, dina = (Citizen(sandbox, 42_000 + n, "en") for n in range(1, 5))
    staff = Citizen(sandbox, STAFF, language_code="en")
    async with run_bot():
        for person in (anna, bo, cai, dina):
            await start_answering(person, "tiny")
            await finish(person)
            await person.expect_button("Yes, tell me")
        query = await anna.press("Yes, tell me")
        assert await anna.notice(query) == "We will tell you what came of it."
        await anna.expect("We will tell you what came of")
        await bo.press("No thanks")
        await bo.expect("we will not send you news")
        await cai.press("Yes, tell me")  # and then withdraws it with one tap
        await cai.expect_button("No, do not tell me")
        await cai.press("No, do not tell me")
        await cai.expect("we will not send you news")
        # Dina does not answer the question at all.

        await staff.send("/outcome")
        await staff.expect("No consultation is closed yet")
        async with db() as session:
            await set_status(session, "tiny", Status.CLOSED, clock.now)
            await session.commit()
        await staff.send("/outcome")
        await staff.expect("1 asked to hear")
        await staff.press("tiny")
        await staff.expect("What came of")
        await staff.send("We build it next spring. Read more: https://example.org/tiny")
        await staff.expect("Add a document")
        staff.cursor = sandbox.cursor
        await sandbox.send_document(STAFF, "decision.pdf", b"%PDF-1.4 decision", "application/pdf")
        ready = await staff.expect("Ready")
        assert "With the document decision.pdf." in ready["text"]
        assert "1 person answered and asked to hear what came of it." in ready["text"]
        before = {p.id: sandbox.stats.per_chat[p.id] for p in (bo, cai, dina)}
        await staff.press("Send to 1 person")
        await staff.expect("Sent. 1 person gets what came of it.")
        notice = await anna.expect("You said, we did", timeout=15)
        assert "We build it next spring." in notice["text"]
        await sandbox.wait_for_message(anna.id, lambda m: "document" in m, timeout=10)
        await settle()
    assert {p.id: sandbox.stats.per_chat[p.id] for p in (bo, cai, dina)} == before
    assert sandbox.file_content(documents(sandbox, anna.id)[0]["document"]["file_id"]) == (
        b"%PDF-1.4 decision"
    )


async def test_a_reminder_due_while_the_bot_was_down_is_sent_once_after_restart(
    sandbox: Sandbox,
    db: Sessions,
    run_bot: BotRunner,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock.now = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
    anna, bo = Citizen(sandbox, 43_001, "en"), Citizen(sandbox, 43_002, "en")
    ids = await arena_members(db, [anna, bo])
    # Event A on Sunday 17th at 13:00 in Oslo; event B on Saturday 16th at 16:00.
    a = await published_event(db, "Event A", datetime(2027, 1, 17, 12, 0, tzinfo=UTC), clock.now)
    b = await published_event(db, "Event B", datetime(2027, 1, 16, 15, 0, tzinfo=UTC), clock.now)
    async with run_bot():
        for person in (anna, bo):
            for event_id, title in ((a, "Event A"), (b, "Event B")):
                await sandbox.wait_for_message(person.id, title, timeout=15)
                await person.press_data(f"rv:{event_id}:yes")
                await person.expect("you are coming")
        # Bo wants no messages any more: his four reminders end at once.
        await bo.send("/stop")
        await bo.expect("we send you no more messages")
    async with db() as session:
        pending = await pending_kinds(session, ids[bo.id])
    assert pending == []

    # Down for a day. A's 24-hour reminder fell due 30 minutes ago; B's 21 hours ago, which is
    # past REMINDER_MAX_AGE_HOURS (12): dropped and logged, not sent.
    clock.now = datetime(2027, 1, 16, 12, 30, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="models.outbox"):
        async with run_bot():
            late = await anna.expect("Reminder", timeout=15)
            assert "Event A" in late["text"]
            await settle()
    assert len(texts_with(sandbox, anna.id, "Reminder")) == 1
    assert any("too late to send (remind-event: 1)" in r.getMessage() for r in caplog.records)

    # Up again: nothing is sent twice. Bo comes back with /start: his reminders are back.
    async with run_bot():
        await settle()
        assert len(texts_with(sandbox, anna.id, "Reminder")) == 1
        await bo.send("/start")
        await bo.expect("You will get messages from us again")
        clock.now = datetime(2027, 1, 16, 13, 0, tzinfo=UTC)  # B's 2-hour reminder
        for person in (anna, bo):
            await sandbox.wait_for_message(
                person.id,
                lambda m: "Reminder" in m.get("text", "") and "Event B" in m.get("text", ""),
                timeout=15,
            )
        await settle()
    assert len(texts_with(sandbox, anna.id, "Reminder")) == 2
    assert len(texts_with(sandbox, bo.id, "Reminder")) == 1


async def pending_kinds(session: AsyncSession, participant_id: int) -> list[str]:
    """The kinds of the person's unsent outbox rows."""
    rows = await session.exec(
        select(Delivery.kind).where(
            col(Delivery.participant_id) == participant_id,
            col(Delivery.state) == DeliveryState.PENDING,
        )
    )
    return sorted(rows.all())


async def published_event(db: Sessions, title: str, starts_at: datetime, now: datetime) -> int:
    """An event of frivillighet, published as /event publishes one; returns its id."""
    from handlers.views.events import EventTexts
    from models import events
    from models.arenas import find_arena
    from models.reminders import ReminderPolicy

    async with db() as session:
        arena = await find_arena(session, "frivillighet")
        assert arena is not None
        draft = await events.new_draft(session, arena.id or 0, STAFF, STAFF, "en", now)
        draft.title, draft.place, draft.starts_at = title, "Holmen", starts_at
        await events.publish(session, draft, now, EventTexts("Europe/Oslo"), ReminderPolicy())
        await session.commit()
        return draft.id or 0
