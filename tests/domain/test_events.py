"""Events: publishing invites the arena, answers, the waiting list, reminders, cancelling."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import events
from models.arenas import Arena, subscribe, unsubscribe
from models.events import Event, EventProblem, EventState, RsvpAnswer, RsvpRefused
from models.outbox import Delivery, DeliveryState, QuietHours
from models.participant import Participant
from models.reminders import EVENT_KIND, ReminderPolicy, reminder_time
from models.stops import mark_stopped
from tests.auxil.people import add_people

pytestmark = pytest.mark.postgres

NOW = datetime(2027, 3, 20, 10, 0, tzinfo=UTC)
START = datetime(2027, 3, 28, 16, 0, tzinfo=UTC)  # Sunday 18:00 in Oslo, after the change
POLICY = ReminderPolicy()
Sessions = async_sessionmaker[AsyncSession]


class Texts:
    """Payloads that say what they are, in which language."""

    def invitation(self, event: Event, arena: Arena, language: str) -> dict[str, Any]:
        return {"text": f"invitation {event.title} {language}"}

    def calendar(self, event: Event, arena: Arena, language: str) -> dict[str, Any]:
        return {"document": {"filename": "e.ics", "content": "x", "mime_type": "text/calendar"}}

    def reminder(self, event: Event, language: str) -> dict[str, Any]:
        return {"text": f"reminder {event.title}"}

    def promoted(self, event: Event, language: str) -> dict[str, Any]:
        return {"text": f"promoted {event.title}"}

    def cancelled(self, event: Event, language: str) -> dict[str, Any]:
        return {"text": f"cancelled {event.title}"}


TEXTS = Texts()


async def _town(session: AsyncSession, members: int = 3) -> tuple[Arena, list[Participant]]:
    """An arena with ``members`` consenting members, and one consenting non-member."""
    ids = await add_people(session, list(range(1, members + 2)), language="en")
    arena = Arena(slug="frivillighet", name={"nb": "Frivillighet"})
    session.add(arena)
    await session.flush()
    for pid in ids[:members]:
        await subscribe(session, pid, arena.id or 0, NOW)
    people = [await session.get(Participant, pid) for pid in ids]
    return arena, [p for p in people if p is not None]


async def _event(session: AsyncSession, arena: Arena, capacity: int | None = None) -> Event:
    draft = await events.new_draft(session, arena.id or 0, 9000, 9000, "en", NOW)
    draft.title, draft.place, draft.starts_at, draft.capacity = "Café", "Library", START, capacity
    await events.publish(session, draft, NOW, TEXTS, POLICY)
    return draft


async def _pending(session: AsyncSession, **where: Any) -> list[Delivery]:
    statement = select(Delivery).where(col(Delivery.state) == DeliveryState.PENDING)
    for name, value in where.items():
        statement = statement.where(getattr(Delivery, name) == value)
    return list((await session.exec(statement.order_by(col(Delivery.id)))).all())


def test_whole_days_keep_the_local_clock_across_daylight_saving() -> None:
    # Spring: 18:00 on Sunday 28 March (CEST) is 16:00 UTC; the day before at 18:00 is CET.
    assert reminder_time(START, 24, "Europe/Oslo") == datetime(2027, 3, 27, 17, 0, tzinfo=UTC)
    assert reminder_time(START, 2, "Europe/Oslo") == datetime(2027, 3, 28, 14, 0, tzinfo=UTC)
    # Autumn: 18:00 on Sunday 31 October (CET) is 17:00 UTC; the day before at 18:00 is CEST.
    autumn = datetime(2027, 10, 31, 17, 0, tzinfo=UTC)
    assert reminder_time(autumn, 24, "Europe/Oslo") == datetime(2027, 10, 30, 16, 0, tzinfo=UTC)
    assert reminder_time(autumn, 48, "Europe/Oslo") == datetime(2027, 10, 29, 16, 0, tzinfo=UTC)
    assert reminder_time(autumn, 1.5, "Europe/Oslo") == autumn - timedelta(minutes=90)


def test_a_late_reminder_expires_after_max_age_counted_from_the_end_of_quiet_hours() -> None:
    quiet = QuietHours.parse("22-08", "Europe/Oslo")
    policy = ReminderPolicy(quiet=quiet, max_age=timedelta(hours=12))
    night = datetime(2027, 1, 15, 22, 30, tzinfo=UTC)  # 23:30 in Oslo
    assert policy.expires(night) == datetime(2027, 1, 16, 7, 0, tzinfo=UTC) + timedelta(hours=12)
    assert policy.expires(night, limit=night + timedelta(hours=1)) == night + timedelta(hours=1)


async def test_publishing_invites_each_current_member_once_with_a_calendar(
    session: AsyncSession,
) -> None:
    arena, people = await _town(session, members=3)
    await unsubscribe(session, people[2].id or 0, arena.id or 0, NOW)
    await mark_stopped(session, people[1].id or 0, NOW)
    event = await _event(session, arena)
    assert event.state == EventState.PUBLISHED
    assert event.invited == 1
    rows = await _pending(session)
    assert [(r.participant_id, r.kind) for r in rows] == [
        (people[0].id, "invitation"),
        (people[0].id, "calendar"),
    ]
    assert {r.ref for r in rows} == {f"event:{event.id}"}
    assert {r.expires_at for r in rows} == {START}
    assert rows[0].payload == {"text": "invitation Café en"}


@pytest.mark.parametrize(
    ("starts_at", "capacity", "code"),
    [(NOW - timedelta(minutes=1), None, "past"), (START, 0, "capacity")],
)
async def test_an_event_in_the_past_or_for_nobody_is_refused_and_nothing_is_sent(
    session: AsyncSession, starts_at: datetime, capacity: int, code: str
) -> None:
    arena, _people = await _town(session)
    draft = await events.new_draft(session, arena.id or 0, 9000, 9000, "en", NOW)
    draft.title, draft.place, draft.starts_at, draft.capacity = "Café", "Here", starts_at, capacity
    with pytest.raises(EventProblem) as problem:
        await events.publish(session, draft, NOW, TEXTS, POLICY)
    assert problem.value.code == code
    assert draft.state == EventState.DRAFT
    assert await _pending(session) == []
    with pytest.raises(EventProblem, match="capacity"):
        events.check_capacity(0)
    with pytest.raises(EventProblem, match="past"):
        events.check_times(NOW, None, NOW)
    with pytest.raises(EventProblem, match="ends_first"):
        events.check_times(START, START, NOW)


async def test_yes_writes_reminders_and_changing_the_answer_cancels_them(
    session: AsyncSession,
) -> None:
    arena, people = await _town(session)
    event = await _event(session, arena)
    anna = people[0]
    result = await events.answer(session, event.id or 0, anna, RsvpAnswer.YES, NOW, TEXTS, POLICY)
    assert (result.answer, result.changed) == (RsvpAnswer.YES, True)
    reminders = await _pending(session, kind=EVENT_KIND)
    assert [r.due_at for r in reminders] == [
        datetime(2027, 3, 27, 17, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 14, 0, tzinfo=UTC),
    ]
    # Twelve hours late at most (REMINDER_MAX_AGE_HOURS), and never after the start.
    assert [r.expires_at for r in reminders] == [datetime(2027, 3, 28, 5, 0, tzinfo=UTC), START]
    again = await events.answer(session, event.id or 0, anna, RsvpAnswer.YES, NOW, TEXTS, POLICY)
    assert not again.changed
    assert len(await _pending(session, kind=EVENT_KIND)) == 2
    await events.answer(session, event.id or 0, anna, RsvpAnswer.MAYBE, NOW, TEXTS, POLICY)
    assert await _pending(session, kind=EVENT_KIND) == []
    # Yes a day before: the 24-hour reminder is behind, only the 2-hour one is written.
    late = datetime(2027, 3, 27, 20, 0, tzinfo=UTC)
    await events.answer(session, event.id or 0, anna, RsvpAnswer.YES, late, TEXTS, POLICY)
    assert [r.due_at for r in await _pending(session, kind=EVENT_KIND)] == [
        datetime(2027, 3, 28, 14, 0, tzinfo=UTC)
    ]


async def test_a_full_event_offers_the_waiting_list_and_a_freed_place_goes_to_the_first(
    session: AsyncSession,
) -> None:
    arena, people = await _town(session, members=4)
    anna, bo, cai, dina = people[:4]
    event = await _event(session, arena, capacity=2)
    eid = event.id or 0
    await events.answer(session, eid, anna, RsvpAnswer.YES, NOW, TEXTS, POLICY)
    await events.answer(session, eid, bo, RsvpAnswer.YES, NOW, TEXTS, POLICY)
    full = await events.answer(session, eid, cai, RsvpAnswer.YES, NOW, TEXTS, POLICY)
    assert full.full
    assert not full.changed
    assert await events.rsvp_of(session, eid, cai.id or 0) is None
    waiting = await events.answer(session, eid, cai, RsvpAnswer.WAITING, NOW, TEXTS, POLICY)
    assert (waiting.answer, waiting.position) == (RsvpAnswer.WAITING, 1)
    later = NOW + timedelta(minutes=1)
    second = await events.answer(session, eid, dina, RsvpAnswer.WAITING, later, TEXTS, POLICY)
    assert second.position == 2
    counted = await events.counts(session, eid)
    assert (counted.yes, counted.waiting) == (2, 2)

    freed = await events.answer(session, eid, bo, RsvpAnswer.NO, later, TEXTS, POLICY)
    assert freed.promoted == cai.id
    assert (await events.rsvp_of(session, eid, cai.id or 0)).answer == RsvpAnswer.YES  # type: ignore[union-attr]
    told = await _pending(session, participant_id=cai.id, kind="event-update")
    assert [r.payload for r in told] == [{"text": "promoted Café"}]
    assert len(await _pending(session, participant_id=cai.id, kind=EVENT_KIND)) == 2
    assert await _pending(session, participant_id=bo.id, kind=EVENT_KIND) == []
    dina_rsvp = await events.rsvp_of(session, eid, dina.id or 0)
    assert dina_rsvp is not None
    assert await events.waiting_position(session, dina_rsvp) == 1
    listed = await events.attendance(session, eid)
    assert [(a.participant_id, a.answer, a.position) for a in listed] == [
        (anna.id, RsvpAnswer.YES, None),
        (cai.id, RsvpAnswer.YES, None),
        (dina.id, RsvpAnswer.WAITING, 1),
        (bo.id, RsvpAnswer.NO, None),
    ]


async def test_cancelling_stops_reminders_tells_who_was_coming_and_refuses_answers(
    session: AsyncSession,
) -> None:
    arena, people = await _town(session, members=3)
    anna, bo, cai = people[:3]
    event = await _event(session, arena)
    eid = event.id or 0
    await events.answer(session, eid, anna, RsvpAnswer.YES, NOW, TEXTS, POLICY)
    await events.answer(session, eid, bo, RsvpAnswer.NO, NOW, TEXTS, POLICY)
    told = await events.cancel(session, event, NOW + timedelta(hours=1), TEXTS, POLICY)
    assert told == 1
    pending = await _pending(session)
    assert [(r.participant_id, r.kind) for r in pending] == [(anna.id, "event-update")]
    with pytest.raises(RsvpRefused) as refused:
        await events.answer(session, eid, cai, RsvpAnswer.YES, NOW, TEXTS, POLICY)
    assert refused.value.reason == "cancelled"
    assert await events.rsvp_of(session, eid, cai.id or 0) is None
    with pytest.raises(EventProblem, match="not_published"):
        await events.cancel(session, event, NOW, TEXTS, POLICY)


async def test_answers_to_a_started_or_unknown_event_are_refused(session: AsyncSession) -> None:
    arena, people = await _town(session)
    event = await _event(session, arena)
    with pytest.raises(RsvpRefused, match="started"):
        await events.answer(
            session, event.id or 0, people[0], RsvpAnswer.YES, START, TEXTS, POLICY
        )
    with pytest.raises(RsvpRefused, match="gone"):
        await events.answer(session, 999, people[0], RsvpAnswer.YES, NOW, TEXTS, POLICY)
    draft = await events.new_draft(session, arena.id or 0, 9000, 9000, "en", NOW)
    with pytest.raises(RsvpRefused, match="gone"):
        await events.answer(session, draft.id or 0, people[0], RsvpAnswer.YES, NOW, TEXTS, POLICY)


@pytest.mark.postgres_only("SQLite has one writer: no race to lose")
async def test_two_people_taking_the_last_place_at_once_get_one_place(
    sessionmaker: Sessions,
) -> None:
    async with sessionmaker() as session:
        arena, people = await _town(session, members=2)
        event = await _event(session, arena, capacity=1)
        await session.commit()
        eid, pids = event.id or 0, [p.id or 0 for p in people[:2]]

    async def take(pid: int) -> bool:
        async with sessionmaker() as session, session.begin():
            person = await session.get(Participant, pid)
            assert person is not None
            result = await events.answer(session, eid, person, RsvpAnswer.YES, NOW, TEXTS, POLICY)
            await asyncio.sleep(0.2)  # hold the transaction open while the other waits
            return result.full

    outcomes = await asyncio.gather(take(pids[0]), take(pids[1]))
    assert sorted(outcomes) == [False, True]
    async with sessionmaker() as session:
        assert (await events.counts(session, eid)).yes == 1


async def test_upcoming_lists_published_events_not_begun(session: AsyncSession) -> None:
    arena, _people = await _town(session)
    event = await _event(session, arena)
    draft = await events.new_draft(session, arena.id or 0, 9000, 9000, "en", NOW)
    assert draft.state == EventState.DRAFT
    assert [e.id for e in await events.upcoming(session, NOW)] == [event.id]
    assert await events.upcoming(session, START) == []
