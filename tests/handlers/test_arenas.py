"""Arenas, follow-ups, /stop and events through ``process_update``, bad input included."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.views.events import EventTexts
from models import events
from models.arenas import find_arena, import_arenas, parse_arena_file, subscribed_arena_ids
from models.consultation import Status, set_status
from models.dialogs import Dialog
from models.events import EventState, Rsvp
from models.followups import wants_followup
from models.outbox import Delivery, DeliveryState
from models.participant import Participant, find_participant
from models.reminders import ReminderPolicy
from models.roles import AuditLog
from models.stops import stopped_at
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.handlers.conftest import ADMIN_ID, NOW, Harness

Sessions = async_sessionmaker[AsyncSession]
ARENAS = Path(__file__).parents[2] / "examples" / "arenas.yaml"
WITH_ARENA = """
slug: kafe
title: {nb: Kafé, en: Café}
arena: frivillighet
questions:
  - {id: one, type: yes_no, text: {nb: Kommer du?, en: Will you come?}}
"""


async def _arenas(sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        await import_arenas(session, parse_arena_file(ARENAS.read_bytes()))
        await session.commit()


async def _consented(harness: Harness, user_id: int, start: str = "/start") -> Citizen:
    person = harness.citizen(user_id, "en")
    await harness.send(person, start)
    await harness.press(person, "Yes, I agree")
    return person


async def _participant(sessionmaker: Sessions, user_id: int) -> Participant:
    async with sessionmaker() as session:
        found = await find_participant(session, user_id)
        assert found is not None
        return found


async def test_arenas_are_joined_and_left_with_one_tap(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _arenas(sessionmaker)
    person = await _consented(harness, 7501)
    await harness.send(person, "/arenas")
    assert "The volunteer centre" in harness.last(person)
    assert "🙋 Join the volunteer centre" in person.buttons()  # mid-sentence: lower case
    assert await harness.press(person, "Join the volunteer centre") == (
        "You joined the volunteer centre."
    )
    assert "✅ <b>The volunteer centre</b>" in harness.last(person)
    pid = (await _participant(sessionmaker, 7501)).id or 0
    async with sessionmaker() as session:
        arena = await find_arena(session, "frivillighet")
        assert arena is not None
        assert await subscribed_arena_ids(session, pid) == {arena.id}
    toast = await harness.press(person, "Leave the volunteer centre")
    assert toast.startswith("You left the volunteer centre.")
    async with sessionmaker() as session:
        assert await subscribed_arena_ids(session, pid) == set()
    # A button of an arena that is gone changes nothing and says so.
    assert await harness.press_data(person, "ar:999:1:l") == (
        "That arena no longer exists. See /arenas."
    )
    assert "does not work" in await harness.press_data(person, "ar:1:1:x")
    async with sessionmaker() as session:
        assert await subscribed_arena_ids(session, pid) == set()


async def test_an_arena_link_opens_it_after_consent_and_records_the_source(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _arenas(sessionmaker)
    person = harness.citizen(7502, "en")
    await harness.send(person, "/start a_frivillighet__library")
    assert "Before we start" in harness.last(person)
    async with sessionmaker() as session:
        assert await find_participant(session, 7502) is None  # nothing before consent
    await harness.press(person, "Yes, I agree")
    assert "Join to get invitations" in harness.last(person)
    assert (await _participant(sessionmaker, 7502)).source == "library"
    await harness.press(person, "Join the volunteer centre")
    assert "You are a member" in harness.last(person)


async def test_an_unknown_arena_link_is_said_and_nothing_changes(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _arenas(sessionmaker)
    stranger = harness.citizen(7503, "en")
    await harness.send(stranger, "/start a_nope")
    texts = harness.new_texts(stranger)
    assert texts[0].startswith("I could not find that arena")
    assert "Before we start" in texts[1]
    person = await _consented(harness, 7504)
    await harness.send(person, "/start a_nope__poster")
    texts = harness.new_texts(person)
    assert texts[0].startswith("I could not find that arena")
    assert "<b>Arenas</b>" in texts[1]
    pid = (await _participant(sessionmaker, 7504)).id or 0
    async with sessionmaker() as session:
        assert await subscribed_arena_ids(session, pid) == set()


async def test_the_end_of_a_consultation_asks_about_follow_ups_and_its_arena(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _arenas(sessionmaker)
    async with sessionmaker() as session:
        consultation = await add_consultation(session, WITH_ARENA)
    person = await _consented(harness, 7505, "/start c_kafe")
    await harness.press(person, "Yes")
    # One tidy message: the question's own message becomes thanks, summary, then the offers.
    (finished,) = harness.new_texts(person)
    parts = finished.split("\n\n")
    assert parts[0] == "Thank you! Your answers are saved."
    assert parts[1] == "<b>Your answers: Café</b>"
    assert parts[-3].startswith("May we tell you what came of this?")
    assert parts[-2].startswith("Would you like to take part in <b>the volunteer centre</b>?")
    assert "✏️ Change 1" in person.buttons()[0]
    assert await harness.press(person, "Yes, tell me") == "We will tell you what came of it."
    # Taking an offer shows the whole message again: the summary stays, the offer is answered.
    (shown,) = harness.new_texts(person)
    assert "<b>Your answers: Café</b>" in shown
    assert "Thank you! We will tell you what came of <b>Café</b>." in shown
    await harness.press(person, "Join the volunteer centre")
    assert "You joined <b>the volunteer centre</b>" in harness.last(person)
    assert "✖ Leave the volunteer centre" in person.buttons()
    pid = (await _participant(sessionmaker, 7505)).id or 0
    async with sessionmaker() as session:
        assert await wants_followup(session, pid, consultation) is True
        assert len(await subscribed_arena_ids(session, pid)) == 1
    # Withdrawn with one tap, from /arenas too.
    await harness.send(person, "/arenas")
    assert "You will hear what came of" in harness.last(person)
    await harness.press(person, "Stop: Café")
    async with sessionmaker() as session:
        assert await wants_followup(session, pid, consultation) is False


async def test_stop_ends_unsent_messages_and_start_brings_them_back(
    harness: Harness, sessionmaker: Sessions
) -> None:
    person = await _consented(harness, 7506)
    participant = await _participant(sessionmaker, 7506)
    async with sessionmaker() as session:
        from models.outbox import enqueue

        await enqueue(session, participant.id or 0, {"text": "x"}, kind="note", due_at=NOW)
        await session.commit()
    await harness.send(person, "/stop")
    assert "we send you no more messages" in harness.last(person)
    await harness.send(person, "/stop")
    assert "You already get no messages" in harness.last(person)
    async with sessionmaker() as session:
        assert await stopped_at(session, participant.id or 0) == NOW
        states = (await session.exec(select(Delivery.state))).all()
        assert states == [DeliveryState.CANCELLED]
    await harness.send(person, "/start")
    assert harness.new_texts(person)[0].startswith("You will get messages from us again")
    async with sessionmaker() as session:
        assert await stopped_at(session, participant.id or 0) is None
    stranger = harness.citizen(7507, "en")
    await harness.send(stranger, "/stop")
    assert "we send you nothing" in harness.last(stranger)


async def test_event_buttons_that_cannot_work_are_answered_and_change_nothing(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _arenas(sessionmaker)
    async with sessionmaker() as session:
        arena = await find_arena(session, "frivillighet")
        assert arena is not None
        draft = await events.new_draft(session, arena.id or 0, ADMIN_ID, ADMIN_ID, "en", NOW)
        draft.title, draft.place, draft.starts_at = "Café", "Here", NOW + timedelta(days=2)
        texts, policy = EventTexts("Europe/Oslo"), ReminderPolicy()
        await events.publish(session, draft, NOW, texts, policy)
        await events.cancel(session, draft, NOW, texts, policy)
        await session.commit()
        eid = draft.id or 0
    person = await _consented(harness, 7508)
    assert await harness.press_data(person, f"rv:{eid}:yes") == "This event is cancelled."
    assert await harness.press_data(person, "rv:999:yes") == "This event no longer exists."
    assert "does not work" in await harness.press_data(person, f"rv:{eid}:perhaps")
    async with sessionmaker() as session:
        assert (await session.exec(select(Rsvp))).all() == []


async def test_staff_tools_look_unknown_to_citizens_and_events_refuse_bad_input(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _arenas(sessionmaker)
    person = await _consented(harness, 7509)
    for command in ("/event", "/outcome"):
        await harness.send(person, command)
        assert "I do not know that command" in harness.last(person)
    assert "does not work" in await harness.press_data(person, "ws:e:1:")
    async with sessionmaker() as session:
        denied = await session.exec(select(AuditLog.target).where(AuditLog.action == "denied"))
        assert denied.all() == ["/event", "/outcome", "event.new"]

    staff = harness.citizen(ADMIN_ID, "en")
    await harness.send(staff, "/event")
    await harness.press(staff, "The volunteer centre")
    await harness.send(staff, "x" * 101)
    assert harness.new_texts(staff)[0] == (
        "That is too long: at most 100 characters. Please shorten it."
    )
    await harness.send(staff, "Café")
    await harness.send(staff, "yesterday at noon")
    assert harness.new_texts(staff)[0] == "I could not read that time."
    await harness.send(staff, "14.01.2027 18:00")
    assert harness.new_texts(staff)[0] == "That time has passed. Please write a later one."
    await harness.send(staff, "20.01.2027 18:00-17:00")
    assert harness.new_texts(staff)[0].startswith("The end must come after the start.")
    await harness.send(staff, "20.01.2027 18:00")
    assert "Where is it?" in harness.last(staff)
    await harness.send(staff, "Library")
    await harness.press(staff, "Skip")
    await harness.send(staff, "0")
    assert harness.new_texts(staff)[0].startswith("The number of places must be at least 1.")
    await harness.send(staff, "many")
    assert harness.new_texts(staff)[0].startswith("The number of places must be at least 1.")
    async with sessionmaker() as session:
        draft = (await session.exec(select(events.Event))).one()
        dialog = (await session.exec(select(Dialog))).one()
        assert (draft.state, dialog.step, draft.capacity) == (EventState.DRAFT, "capacity", None)
    # The time passes before staff publish: refused, and asked for a new time.
    await harness.press(staff, "No limit")
    harness.now = NOW + timedelta(days=10)
    await harness.press(staff, "Publish")
    assert "When does it start?" in harness.last(staff)
    async with sessionmaker() as session:
        draft = (await session.exec(select(events.Event))).one()
        dialog = (await session.exec(select(Dialog))).one()
        assert (draft.state, dialog.step) == (EventState.DRAFT, "time")


async def test_an_outcome_of_an_open_consultation_is_refused(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        consultation = await add_consultation(session)
    staff = harness.citizen(ADMIN_ID, "en")
    await harness.send(staff, "/outcome")
    assert "No consultation is closed yet" in harness.last(staff)
    forged = f"ws:o:{consultation.id}:"
    assert await harness.press_data(staff, forged) == (
        "Close the consultation first: people can still answer it."
    )
    async with sessionmaker() as session:
        await set_status(session, "park", Status.CLOSED, NOW)
        await session.commit()
    await harness.send(staff, "/outcome")
    await harness.press(staff, "park")
    await harness.send(staff, "   ")
    assert harness.new_texts(staff)[0] == "Please write it as text."
    await harness.send(staff, "We build it.")
    await harness.press(staff, "Skip")
    assert "Nobody has asked to hear what came of it" in harness.last(staff)
    async with sessionmaker() as session:
        rows = (await session.exec(select(Delivery).where(col(Delivery.kind) == "outcome"))).all()
        assert rows == []
