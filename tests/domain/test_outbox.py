"""The outbox rules: audiences, queuing a broadcast, claims, outcomes, controls, quiet hours."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import outbox
from models.answers import Response
from models.arenas import Arena, subscribe, unsubscribe
from models.outbox import (
    Audience,
    AudienceKind,
    Broadcast,
    BroadcastState,
    Delivery,
    DeliveryState,
    Outcome,
    QuietHours,
)
from models.participant import Participant, find_participant, record_privacy_decision
from models.privacy import erase
from tests.auxil.consultations import add_consultation
from tests.auxil.people import add_people, participant_id

pytestmark = pytest.mark.postgres

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
Sessions = async_sessionmaker[AsyncSession]


async def _people(session: AsyncSession) -> dict[str, int]:
    """A small town: who consented, declined, withdrew, blocked the bot, subscribed, started."""
    consultation = await add_consultation(session)
    ids = {}
    for name, uid in {"anna": 1, "bo": 2, "cai": 3, "dina": 4, "eli": 5}.items():
        person = await record_privacy_decision(session, uid, uid, granted=True, now=NOW)
        ids[name] = person.id or 0
    # Declined; accepted and then declined; consented and then blocked the bot.
    ids["nils"] = (await record_privacy_decision(session, 6, 6, granted=False, now=NOW)).id or 0
    turn = await record_privacy_decision(session, 7, 7, granted=True, now=NOW)
    await record_privacy_decision(session, 7, 7, granted=False, now=NOW + timedelta(minutes=1))
    ids["turn"] = turn.id or 0
    blocked = await record_privacy_decision(session, 8, 8, granted=True, now=NOW)
    blocked.unreachable_at = NOW
    ids["blocked"] = blocked.id or 0
    # A stranger who never decided but came from the library.
    ids["stranger"] = (await add_people(session, [9], source="library", consent=None))[0]

    arena = Arena(slug="frivillighet", name={"nb": "Frivillighet"})
    session.add(arena)
    await session.flush()
    for name in ("anna", "bo", "nils", "blocked"):
        await subscribe(session, ids[name], arena.id or 0, NOW)
    await unsubscribe(session, ids["bo"], arena.id or 0, NOW)
    ids["arena"] = arena.id or 0

    cid = consultation.id or 0
    ids["consultation"] = cid
    session.add(Response(participant_id=ids["anna"], consultation_id=cid, started_at=NOW))
    session.add(
        Response(participant_id=ids["cai"], consultation_id=cid, completed_at=NOW, source="x")
    )
    session.add(Response(participant_id=ids["nils"], consultation_id=cid, started_at=NOW))
    dina = await session.get(Participant, ids["dina"])
    assert dina is not None
    dina.source = "library"
    session.add(Response(participant_id=ids["eli"], consultation_id=cid, source="library"))
    await session.commit()
    return ids


async def _members(session: AsyncSession, audience: Audience) -> set[int]:
    broadcast = Broadcast(audience=audience.to_json(), state=BroadcastState.RUNNING)
    session.add(broadcast)
    await session.flush()
    while broadcast.queued_at is None:
        await outbox.queue_batch(session, broadcast, NOW, size=2)
    rows = await session.exec(
        select(Delivery.participant_id).where(Delivery.broadcast_id == broadcast.id)
    )
    members = set(rows.all())
    assert len(members) == await outbox.count_audience(session, audience)
    await session.rollback()
    return members


async def test_each_audience_holds_exactly_the_consenting_reachable_people_it_names(
    session: AsyncSession,
) -> None:
    ids = await _people(session)

    def named(*names: str) -> set[int]:
        return {ids[n] for n in names}

    everyone = await _members(session, Audience(AudienceKind.CONSENTED))
    assert everyone == named("anna", "bo", "cai", "dina", "eli")
    arena = Audience(AudienceKind.ARENA, str(ids["arena"]))
    assert await _members(session, arena) == named("anna")
    unfinished = Audience(AudienceKind.UNFINISHED, str(ids["consultation"]))
    assert await _members(session, unfinished) == named("anna", "eli")
    assert await _members(session, Audience(AudienceKind.SOURCE, "library")) == named(
        "dina", "eli"
    )
    assert await _members(session, Audience(AudienceKind.SOURCE, "nowhere")) == set()
    assert await outbox.known_sources(session) == [("library", 3), ("x", 1)]
    languages = await outbox.audience_languages(session, Audience(AudienceKind.CONSENTED), "nn")
    assert languages == {"nn": 5}


async def _broadcast(session: AsyncSession, people: int, **fields: object) -> Broadcast:
    await add_people(session, range(10_000, 10_000 + people))
    broadcast = Broadcast(
        audience=Audience(AudienceKind.CONSENTED).to_json(),
        text={"nb": "Hei"},
        state=BroadcastState.RUNNING,
        started_at=NOW,
        **fields,
    )
    session.add(broadcast)
    await session.flush()
    while broadcast.queued_at is None:
        await outbox.queue_batch(session, broadcast, NOW)
    await session.commit()
    return broadcast


async def test_queuing_in_batches_writes_each_person_once_even_when_repeated(
    session: AsyncSession,
) -> None:
    await add_people(session, range(1, 26))
    broadcast = Broadcast(audience=Audience(AudienceKind.CONSENTED).to_json())
    session.add(broadcast)
    await session.flush()
    written = [await outbox.queue_batch(session, broadcast, NOW, size=10) for _ in range(4)]
    assert written == [10, 10, 5, 0]
    assert broadcast.queued_at == NOW
    # A crash between a batch and its cursor cannot double anyone: the batch is skipped.
    broadcast.queued_through = 0
    broadcast.queued_at = None
    assert await outbox.queue_batch(session, broadcast, NOW, size=100) == 0
    count = await session.exec(
        select(func.count()).where(Delivery.broadcast_id == broadcast.id)  # type: ignore[call-overload]
    )
    assert count.one() == 25
    pid = await participant_id(session, 1)
    session.add(Delivery(participant_id=pid, broadcast_id=broadcast.id, due_at=NOW))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_claims_take_due_rows_once_until_the_lease_lapses(session: AsyncSession) -> None:
    await _broadcast(session, 30)
    first = await outbox.claim(
        session, "w1", now=NOW, wall_now=NOW, lease=LEASE, limit=20, quiet=False
    )
    second = await outbox.claim(
        session, "w2", now=NOW, wall_now=NOW, lease=LEASE, limit=20, quiet=False
    )
    assert len(first) == 20
    assert len(second) == 10
    assert not {c.id for c in first} & {c.id for c in second}
    assert all(c.chat_id >= 10_000 and c.language == "nb" for c in first)
    # Nothing left until a lease lapses; then the lapsed rows can be taken again.
    none = await outbox.claim(
        session, "w3", now=NOW, wall_now=NOW, lease=LEASE, limit=50, quiet=False
    )
    assert none == []
    later = NOW + LEASE + timedelta(seconds=1)
    again = await outbox.claim(
        session, "w3", now=NOW, wall_now=later, lease=LEASE, limit=50, quiet=False
    )
    assert len(again) == 30


async def test_a_taken_over_worker_releases_what_the_dead_one_held(
    session: AsyncSession,
) -> None:
    await _broadcast(session, 5)
    held = await outbox.claim(
        session, "dead", now=NOW, wall_now=NOW, lease=LEASE, limit=3, quiet=False
    )
    assert await outbox.release_others(session, "alive") == 3
    taken = await outbox.claim(
        session, "alive", now=NOW, wall_now=NOW, lease=LEASE, limit=10, quiet=False
    )
    assert {c.id for c in held} <= {c.id for c in taken}
    assert len(taken) == 5


async def test_paused_broadcasts_wait_and_quiet_hours_take_only_urgent_rows(
    session: AsyncSession,
) -> None:
    calm = await _broadcast(session, 4)
    claimed = await outbox.claim(
        session, "w", now=NOW, wall_now=NOW, lease=LEASE, limit=10, quiet=True
    )
    assert claimed == []
    assert await outbox.pause(session, calm, NOW)
    await session.commit()
    urgent = Broadcast(
        audience=Audience(AudienceKind.CONSENTED).to_json(),
        state=BroadcastState.RUNNING,
        urgent=True,
        started_at=NOW,
    )
    session.add(urgent)
    await session.flush()
    await outbox.queue_batch(session, urgent, NOW)
    claimed = await outbox.claim(
        session, "w", now=NOW, wall_now=NOW, lease=LEASE, limit=10, quiet=False
    )
    assert {c.broadcast_id for c in claimed} == {urgent.id}
    assert len(claimed) == 4


async def test_outcomes_are_stored_and_a_403_makes_the_person_unreachable(
    session: AsyncSession,
) -> None:
    broadcast = await _broadcast(session, 4)
    claims = await outbox.claim(
        session, "w", now=NOW, wall_now=NOW, lease=LEASE, limit=10, quiet=False
    )
    sent, failed, blocked, later = claims
    await outbox.record(
        session,
        [
            Outcome(sent.id, sent.participant_id, DeliveryState.SENT),
            Outcome(failed.id, failed.participant_id, DeliveryState.FAILED, 5, "500 x5"),
            Outcome(blocked.id, blocked.participant_id, DeliveryState.UNREACHABLE, 1, "403"),
        ],
        NOW,
    )
    await outbox.release(session, "w", [later.id])
    await session.commit()
    counts = await outbox.delivery_counts(session, broadcast.id or 0)
    assert (counts.sent, counts.failed, counts.unreachable, counts.pending) == (1, 1, 1, 1)
    row = await session.get(Delivery, failed.id)
    assert row is not None
    assert (row.attempts, row.detail, row.claimed_by) == (5, "500 x5", None)
    person = await session.get(Participant, blocked.participant_id)
    assert person is not None
    assert person.unreachable_at == NOW
    # The released row is free at once; nobody unreachable is ever claimed for sending.
    again = await outbox.claim(
        session, "w", now=NOW, wall_now=NOW, lease=LEASE, limit=10, quiet=False
    )
    assert [c.id for c in again] == [later.id]
    assert not await outbox.finish_if_done(session, broadcast, NOW)


async def test_claims_settle_people_who_blocked_or_withdrew_since_they_were_queued(
    session: AsyncSession,
) -> None:
    await _broadcast(session, 3)
    first = await find_participant(session, 10_000)
    second = await find_participant(session, 10_001)
    assert first is not None
    assert second is not None
    assert await outbox.mark_unreachable(session, 10_000, NOW)
    await record_privacy_decision(session, 10_001, 10_001, granted=False, now=NOW)
    claims = await outbox.claim(
        session, "w", now=NOW, wall_now=NOW, lease=LEASE, limit=10, quiet=False
    )
    assert [c.chat_id for c in claims] == [10_002]
    states = dict(
        (
            await session.exec(
                select(Delivery.participant_id, Delivery.state).where(
                    Delivery.state != DeliveryState.PENDING
                )
            )
        ).all()
    )
    assert states == {first.id: "unreachable", second.id: "cancelled"}


async def test_cancel_settles_every_unsent_row_and_done_follows_the_last_outcome(
    session: AsyncSession,
) -> None:
    cancelled = await _broadcast(session, 3)
    assert await outbox.cancel(session, cancelled, NOW)
    assert not await outbox.cancel(session, cancelled, NOW)
    counts = await outbox.delivery_counts(session, cancelled.id or 0)
    assert (counts.cancelled, counts.pending) == (3, 0)
    assert [b.id for b in await outbox.unreported(session)] == []  # never confirmed

    done = Broadcast(
        audience=Audience(AudienceKind.CONSENTED).to_json(),
        state=BroadcastState.SCHEDULED,
        scheduled_at=NOW + timedelta(minutes=5),
        confirmed_at=NOW,
    )
    session.add(done)
    await session.flush()
    assert await outbox.start_due(session, NOW) == []
    later = NOW + timedelta(minutes=5)
    assert [b.id for b in await outbox.start_due(session, later)] == [done.id]
    while done.queued_at is None:
        await outbox.queue_batch(session, done, later)
    assert (
        await outbox.claim(session, "w", now=NOW, wall_now=NOW, lease=LEASE, limit=10, quiet=False)
        == []
    )  # due when it started, not before
    claims = await outbox.claim(
        session, "w", now=later, wall_now=NOW, lease=LEASE, limit=10, quiet=False
    )
    assert len(claims) == 3
    await outbox.record(
        session, [Outcome(c.id, c.participant_id, DeliveryState.SENT) for c in claims], NOW
    )
    assert await outbox.finish_if_done(session, done, NOW)
    assert done.state == BroadcastState.DONE
    assert [b.id for b in await outbox.unreported(session)] == [done.id]


async def test_a_draft_is_replaced_by_the_next_and_confirms_only_when_complete(
    session: AsyncSession,
) -> None:
    await add_people(session, range(1, 4))
    old = await outbox.new_draft(session, 900, 900, "nb", NOW)
    draft = await outbox.new_draft(session, 900, 900, "nb", NOW)
    assert await session.get(Broadcast, old.id) is None
    with pytest.raises(outbox.NotReady):
        await outbox.confirm(session, draft, NOW, None)
    draft.text = {"nb": "Hei"}
    draft.audience = Audience(AudienceKind.CONSENTED).to_json()
    assert await outbox.confirm(session, draft, NOW, 77) == 3
    assert (draft.state, draft.scheduled_at, draft.progress_message_id) == ("scheduled", NOW, 77)


async def test_erasing_a_person_removes_their_deliveries_and_subscriptions(
    session: AsyncSession,
) -> None:
    ids = await _people(session)
    await _broadcast(session, 0)
    anna = await session.get(Participant, ids["anna"])
    assert anna is not None
    await erase(session, anna, NOW)
    await session.commit()
    left = await session.exec(
        select(Delivery).where(Delivery.participant_id == ids["anna"])  # type: ignore[call-overload]
    )
    assert left.all() == []


@pytest.mark.postgres_only("row locks with SKIP LOCKED need PostgreSQL")
async def test_two_open_claims_on_postgresql_skip_each_others_rows(
    sessionmaker: Sessions, session: AsyncSession
) -> None:
    await _broadcast(session, 20)
    async with sessionmaker() as one, sessionmaker() as two, one.begin(), two.begin():
        # The first transaction is still open (its row locks held) while the second claims.
        first = await outbox.claim(
            one, "w1", now=NOW, wall_now=NOW, lease=LEASE, limit=15, quiet=False
        )
        second = await asyncio.wait_for(
            outbox.claim(two, "w2", now=NOW, wall_now=NOW, lease=LEASE, limit=15, quiet=False),
            timeout=5,
        )
    assert len(first) == 15
    assert len(second) == 5
    assert not {c.id for c in first} & {c.id for c in second}


@pytest.mark.parametrize(
    ("hours", "local", "quiet"),
    [
        ("22-08", "21:59", False),
        ("22-08", "22:00", True),
        ("22-08", "03:00", True),
        ("22-08", "07:59", True),
        ("22-08", "08:00", False),
        ("01:30-05", "01:29", False),
        ("01:30-05", "04:59", True),
    ],
)
def test_quiet_hours_are_local_time_and_may_span_midnight(
    hours: str, local: str, quiet: bool
) -> None:
    window = QuietHours.parse(hours, "Europe/Oslo")
    assert window is not None
    hour, minute = map(int, local.split(":"))
    # 15 January: Oslo is UTC+1.
    now = datetime(2027, 1, 15, hour, minute, tzinfo=UTC) - timedelta(hours=1)
    assert window.is_quiet(now) is quiet


def test_quiet_hours_end_in_the_morning_also_across_a_clock_change() -> None:
    window = QuietHours.parse("22-08", "Europe/Oslo")
    assert window is not None
    evening = datetime(2027, 3, 27, 22, 30, tzinfo=UTC)  # 23:30 in Oslo; DST starts that night
    assert window.ends(evening) == datetime(2027, 3, 28, 6, 0, tzinfo=UTC)  # 08:00 summer time
    noon = datetime(2027, 3, 28, 12, 0, tzinfo=UTC)
    assert window.ends(noon) == noon
    assert str(window) == "22:00-08:00"


@pytest.mark.parametrize("text", ["", "off", "none"])
def test_quiet_hours_can_be_turned_off(text: str) -> None:
    assert QuietHours.parse(text, "Europe/Oslo") is None


@pytest.mark.parametrize("text", ["22", "22-22", "25-08", "ten-eight", "22-08:75"])
def test_quiet_hours_refuse_what_is_not_a_window(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        QuietHours.parse(text, "Europe/Oslo")
