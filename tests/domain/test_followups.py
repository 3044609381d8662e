"""Follow-ups: the opt-in, outcomes, /stop and /start, and reminders to finish."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import events, outbox
from models.answers import Answer, Response
from models.arenas import Arena, subscribe, subscribed_arena_ids
from models.consultation import Consultation, Status, change_status
from models.events import RsvpAnswer
from models.followups import (
    Outcome,
    OutcomeProblem,
    count_outcome_audience,
    followups_of,
    new_outcome_draft,
    publish_outcome,
    record_followup,
    resume_messages,
    stop_messages,
    wants_followup,
)
from models.outbox import Audience, AudienceKind, Delivery, DeliveryState
from models.participant import Consent, Participant
from models.privacy import withdraw_consent
from models.reminders import (
    FINISH_KIND,
    FinishReminder,
    ReminderPolicy,
    cancel_finish_reminder,
    cancel_pointless_finish_reminders,
    queue_finish_reminders,
    unfinished_to_remind,
)
from models.stops import stopped_at
from tests.auxil.consultations import add_consultation
from tests.auxil.people import add_people
from tests.domain.test_events import TEXTS

pytestmark = pytest.mark.postgres

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
LEASE = timedelta(seconds=60)
Sessions = async_sessionmaker[AsyncSession]


async def _people(session: AsyncSession, count: int) -> list[Participant]:
    ids = await add_people(session, list(range(1, count + 1)), language="en")
    found = [await session.get(Participant, pid) for pid in ids]
    return [p for p in found if p is not None]


async def _answered(
    session: AsyncSession, consultation: Consultation, person: Participant, done: bool = True
) -> Response:
    response = Response(
        participant_id=person.id or 0,
        consultation_id=consultation.id or 0,
        started_at=NOW,
        completed_at=NOW if done else None,
    )
    session.add(response)
    await session.flush()
    return response


def _payloads(language: str) -> list[dict[str, Any]]:
    return [{"text": f"outcome {language}"}, {"document": "FILE-ID", "caption": "x"}]


async def _pending(session: AsyncSession, participant_id: int | None = None) -> list[Delivery]:
    statement = (
        select(Delivery)
        .where(col(Delivery.state) == DeliveryState.PENDING)
        .execution_options(populate_existing=True)
    )
    if participant_id is not None:
        statement = statement.where(col(Delivery.participant_id) == participant_id)
    return list((await session.exec(statement.order_by(col(Delivery.id)))).all())


async def test_a_follow_up_decision_is_recorded_and_withdrawn_with_its_times(
    session: AsyncSession,
) -> None:
    consultation = await add_consultation(session)
    (anna,) = await _people(session, 1)
    await _answered(session, consultation, anna)
    assert await wants_followup(session, anna.id or 0, consultation) is None
    assert await record_followup(session, anna, consultation, True, NOW)
    assert not await record_followup(session, anna, consultation, True, NOW)
    assert await wants_followup(session, anna.id or 0, consultation) is True
    assert [c.slug for c in await followups_of(session, anna)] == ["park"]
    later = NOW + timedelta(minutes=5)
    assert await record_followup(session, anna, consultation, False, later)
    assert await wants_followup(session, anna.id or 0, consultation) is False
    assert await followups_of(session, anna) == []
    rows = (await session.exec(select(Consent).where(col(Consent.kind) == "followup:park"))).all()
    assert [(r.granted, r.decided_at, r.withdrawn_at) for r in rows] == [(True, NOW, later)]


async def test_an_outcome_goes_only_to_people_who_answered_and_asked(
    session: AsyncSession,
) -> None:
    consultation = await add_consultation(session)
    anna, bo, cai, dina, eli = await _people(session, 5)
    for person in (anna, bo, cai, dina):
        await _answered(session, consultation, person)
    await record_followup(session, anna, consultation, True, NOW)
    await record_followup(session, bo, consultation, False, NOW)
    await record_followup(session, cai, consultation, True, NOW)
    await record_followup(session, cai, consultation, False, NOW + timedelta(seconds=1))
    await record_followup(session, dina, consultation, True, NOW)
    await stop_messages(session, dina, NOW)  # asked, but wants no messages now
    await record_followup(session, eli, consultation, True, NOW)  # asked, never answered
    draft = await new_outcome_draft(session, consultation.id or 0, 9000, 9000, "en", NOW)
    draft.text = "We <b>build</b> it."
    with pytest.raises(OutcomeProblem, match="open"):
        await publish_outcome(session, draft, consultation, NOW, _payloads)
    assert await _pending(session) == []

    change_status(consultation, Status.CLOSED, NOW)
    assert await count_outcome_audience(session, consultation) == 1
    sent = await publish_outcome(session, draft, consultation, NOW, _payloads)
    assert sent == 1
    rows = await _pending(session)
    assert [(r.participant_id, r.kind, r.payload) for r in rows] == [
        (anna.id, "outcome", {"text": "outcome en"}),
        (anna.id, "outcome", {"document": "FILE-ID", "caption": "x"}),
    ]
    with pytest.raises(OutcomeProblem, match="not_draft"):
        await publish_outcome(session, draft, consultation, NOW, _payloads)
    assert (await session.get(Outcome, draft.id)).recipients == 1  # type: ignore[union-attr]


async def _with_messages(session: AsyncSession) -> tuple[Participant, Arena, int]:
    """Anna, with a broadcast delivery, event reminders and an invitation waiting."""
    (anna,) = await _people(session, 1)
    arena = Arena(slug="frivillighet", name={"en": "Volunteers"})
    session.add(arena)
    await session.flush()
    await subscribe(session, anna.id or 0, arena.id or 0, NOW)
    draft = await events.new_draft(session, arena.id or 0, 9000, 9000, "en", NOW)
    draft.title, draft.place, draft.starts_at = "Café", "Here", NOW + 3 * DAY
    await events.publish(session, draft, NOW, TEXTS, ReminderPolicy())
    await events.answer(session, draft.id or 0, anna, RsvpAnswer.YES, NOW, TEXTS, ReminderPolicy())
    await outbox.enqueue(session, anna.id or 0, {"text": "hi"}, kind="note", due_at=NOW + DAY)
    return anna, arena, draft.id or 0


async def test_stop_cancels_every_unsent_message_and_start_brings_reminders_back(
    session: AsyncSession,
) -> None:
    anna, arena, _event_id = await _with_messages(session)
    assert len(await _pending(session, anna.id)) == 5  # invitation, calendar, 2 reminders, note
    cancelled = await stop_messages(session, anna, NOW)
    assert cancelled == 5
    assert await _pending(session, anna.id) == []
    assert await stopped_at(session, anna.id or 0) == NOW
    # Broadcasts leave her out; her arena is kept for when she comes back.
    everyone = Audience(AudienceKind.CONSENTED)
    assert await outbox.count_audience(session, everyone) == 0
    assert await subscribed_arena_ids(session, anna.id or 0) == {arena.id}

    assert await resume_messages(session, anna, NOW + DAY, TEXTS, ReminderPolicy())
    assert not await resume_messages(session, anna, NOW + DAY, TEXTS, ReminderPolicy())
    assert await stopped_at(session, anna.id or 0) is None
    # The reminders still ahead are back; what went out meanwhile is not sent late.
    back = await _pending(session, anna.id)
    assert [r.kind for r in back] == ["remind-event", "remind-event"]
    assert await outbox.count_audience(session, everyone) == 1


async def test_withdrawing_consent_ends_unsent_messages_and_every_opt_in(
    session: AsyncSession,
) -> None:
    anna, _arena, _event_id = await _with_messages(session)
    consultation = await add_consultation(session)
    await _answered(session, consultation, anna)
    await record_followup(session, anna, consultation, True, NOW)
    await withdraw_consent(session, anna, NOW)
    assert await _pending(session, anna.id) == []
    assert await subscribed_arena_ids(session, anna.id or 0) == set()
    assert await wants_followup(session, anna.id or 0, consultation) is False


async def test_the_worker_drops_what_is_stopped_or_too_late_and_logs_how_many(
    session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    anna, bo = await _people(session, 2)
    late = await outbox.enqueue(
        session,
        anna.id or 0,
        {"text": "late"},
        kind="remind-event",
        due_at=NOW - DAY,
        expires_at=NOW - timedelta(hours=1),
    )
    fresh = await outbox.enqueue(
        session,
        anna.id or 0,
        {"text": "fresh"},
        kind="remind-event",
        due_at=NOW - DAY,
        expires_at=NOW + timedelta(hours=1),
    )
    stopped = await outbox.enqueue(session, bo.id or 0, {"text": "x"}, kind="note", due_at=NOW)
    await session.commit()
    # A /stop that races the row: the row was written, then the person stopped.
    from models.stops import mark_stopped

    await mark_stopped(session, bo.id or 0, NOW)
    await session.commit()
    with caplog.at_level(logging.WARNING, logger="models.outbox"):
        async with session.begin():
            claims = await outbox.claim(
                session, "w", now=NOW, wall_now=NOW, lease=LEASE, limit=10, quiet=False
            )
    assert [c.id for c in claims] == [fresh.id]
    states = {
        d.id: (d.state, d.detail)
        for d in (
            await session.exec(select(Delivery).execution_options(populate_existing=True))
        ).all()
    }
    assert states[late.id] == ("cancelled", "expired: too late to send")
    assert states[stopped.id] == ("cancelled", "stopped")
    assert "Dropped 1 outbox messages that were too late to send (remind-event: 1)" in [
        r.getMessage() for r in caplog.records
    ]


# ---------------------------------------------------------------------- reminders to finish


def _title(item: Any) -> dict[str, Any]:
    return {"text": f"finish {item.response_id}"}


async def test_the_reminder_to_finish_is_due_a_day_after_the_last_answer_while_open(
    session: AsyncSession,
) -> None:
    park = await add_consultation(session)
    anna, bo, cai, dina, eli = await _people(session, 5)
    anna_r = await _answered(session, park, anna, done=False)
    await _answered(session, park, bo, done=True)
    cai_r = await _answered(session, park, cai, done=False)
    session.add(
        Answer(
            response_id=cai_r.id or 0,
            question_id=await _first_question(session, park.id or 0),
            answered_at=NOW + timedelta(hours=5),
        )
    )
    await _answered(session, park, dina, done=False)
    await stop_messages(session, dina, NOW)
    await _answered(session, park, eli, done=False)
    eli.unreachable_at = NOW
    await session.flush()

    assert await unfinished_to_remind(session, NOW + DAY - timedelta(seconds=1), DAY) == []
    due = await unfinished_to_remind(session, NOW + DAY, DAY)
    assert [(d.response_id, d.due_at) for d in due] == [(anna_r.id, NOW + DAY)]
    later = await unfinished_to_remind(session, NOW + DAY + timedelta(hours=5), DAY)
    assert [d.response_id for d in later] == [anna_r.id, cai_r.id]

    policy = ReminderPolicy()
    assert await queue_finish_reminders(session, later, NOW + 2 * DAY, policy, _title) == 2
    assert await queue_finish_reminders(session, later, NOW + 2 * DAY, policy, _title) == 0
    assert await unfinished_to_remind(session, NOW + 3 * DAY, DAY) == []
    rows = await _pending(session)
    assert [(r.kind, r.ref, r.due_at) for r in rows] == [
        (FINISH_KIND, f"response:{anna_r.id}", NOW + DAY),
        (FINISH_KIND, f"response:{cai_r.id}", NOW + DAY + timedelta(hours=5)),
    ]
    assert rows[0].expires_at == NOW + DAY + policy.max_age

    # Cai finishes: his reminder is not sent. Then the consultation closes: nor is Anna's.
    assert await cancel_finish_reminder(session, cai_r.id or 0) == 1
    change_status(park, Status.CLOSED, NOW + 2 * DAY)
    await session.flush()
    assert await cancel_pointless_finish_reminders(session, NOW + 2 * DAY) == 1
    assert await _pending(session) == []


async def test_a_consultation_that_closes_caps_the_reminder_and_is_not_reminded_after(
    session: AsyncSession,
) -> None:
    park = await add_consultation(session)
    park.closes_at = NOW + DAY + timedelta(hours=2)
    (anna,) = await _people(session, 1)
    await _answered(session, park, anna, done=False)
    due = await unfinished_to_remind(session, NOW + DAY, DAY)
    assert due[0].closes_at == park.closes_at
    await queue_finish_reminders(session, due, NOW + DAY, ReminderPolicy(), _title)
    (row,) = await _pending(session)
    assert row.expires_at == park.closes_at
    assert await unfinished_to_remind(session, NOW + DAY + timedelta(hours=3), DAY) == []


@pytest.mark.postgres_only("SQLite has one writer: no race to lose")
async def test_two_replicas_queueing_the_same_reminders_at_once_queue_each_once(
    sessionmaker: Sessions,
) -> None:
    async with sessionmaker() as session:
        park = await add_consultation(session)
        for person in await _people(session, 20):
            await _answered(session, park, person, done=False)
        await session.commit()

    async def replica() -> int:
        async with sessionmaker() as session, session.begin():
            due = await unfinished_to_remind(session, NOW + DAY, DAY)
            queued = await queue_finish_reminders(
                session, due, NOW + DAY, ReminderPolicy(), _title
            )
            await asyncio.sleep(0.2)  # both have read the same 20 before either commits
            return queued

    results = await asyncio.gather(replica(), replica())
    assert sorted(results) == [0, 20]
    async with sessionmaker() as session:
        assert (await session.exec(select(func.count()).select_from(FinishReminder))).one() == 20
        kinds = (await session.exec(select(Delivery.kind))).all()
        assert kinds == [FINISH_KIND] * 20


async def _first_question(session: AsyncSession, consultation_id: int) -> int:
    from models.consultation import Question

    rows = await session.exec(
        select(Question.id)
        .where(col(Question.consultation_id) == consultation_id)
        .order_by(col(Question.position))
    )
    found = rows.first()
    assert found is not None
    return found
