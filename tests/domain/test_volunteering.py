"""Volunteering: who a need invites and in which order, sign-up, waiting list, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.views.events import EventTexts
from models import matching, needs, privacy, signups
from models.centres import Centre
from models.followups import resume_messages, stop_messages
from models.matching import Matching
from models.needs import (
    Answer,
    Feedback,
    Need,
    NeedRefused,
    NeedState,
    Share,
    Signup,
)
from models.outbox import Delivery, DeliveryState
from models.participant import Participant
from models.reminders import ReminderPolicy
from models.stops import mark_stopped
from models.volunteers import (
    ChoiceKind,
    VolunteerChoice,
    VolunteerProfile,
    end_profile,
    slot_of,
)
from tests.auxil.volunteers import Profile, a_need, add_centres, add_volunteers

pytestmark = pytest.mark.postgres

NOW = datetime(2027, 3, 20, 10, 0, tzinfo=UTC)  # Saturday 11:00 in Oslo
# Sunday 28 March 2027 at 12:00 in Oslo: summer time began at 02:00 that night.
SUNDAY_NOON = datetime(2027, 3, 28, 10, 0, tzinfo=UTC)
TUESDAY_EVENING = datetime(2027, 3, 23, 17, 0, tzinfo=UTC)  # 18:00 in Oslo
WEDNESDAY_MORNING = datetime(2027, 3, 24, 9, 0, tzinfo=UTC)  # 10:00 in Oslo
ZONE = "Europe/Oslo"
POLICY = ReminderPolicy(zone=ZONE)
COORDINATOR = 9100


class Texts:
    """Payloads that say what they are."""

    def invitation(self, need: Need, centre: Centre, language: str) -> dict[str, Any]:
        return {"text": f"invitation {need.id} {language}"}

    def reminder(self, need: Need, start: datetime, language: str) -> dict[str, Any]:
        return {"text": f"reminder {need.id} {start.isoformat()}"}

    def thanks(self, need: Need, language: str) -> dict[str, Any]:
        return {"text": f"thanks {need.id}"}

    def promoted(self, need: Need, start: datetime, language: str) -> dict[str, Any]:
        return {"text": f"promoted {need.id}"}

    def cancelled(self, need: Need, language: str) -> dict[str, Any]:
        return {"text": f"cancelled {need.id}"}


TEXTS = Texts()


async def _publish(session: AsyncSession, need: Need, cap: int = 3, now: datetime = NOW) -> int:
    session.add(need)
    await session.flush()
    return await matching.publish(session, need, Matching(now, ZONE, cap), TEXTS, "nb")


async def _invited(session: AsyncSession, need: Need) -> list[int]:
    """Participant ids of the need's invitations, in the order the outbox sends them."""
    rows = await session.exec(
        select(Delivery.participant_id)
        .where(col(Delivery.ref) == need.ref, col(Delivery.kind) == needs.INVITE_KIND)
        .order_by(col(Delivery.due_at), col(Delivery.id))
    )
    return list(rows.all())


async def _person(session: AsyncSession, pid: int) -> Participant:
    found = await session.get(Participant, pid)
    assert found is not None
    return found


async def _answer(session: AsyncSession, need: Need, pid: int, choice: Answer) -> Any:
    person = await _person(session, pid)
    return await signups.answer(session, need.id or 0, person, choice, NOW, TEXTS, POLICY)


# ---------------------------------------------------------------------- matching, rule by rule


async def test_a_need_invites_volunteers_with_a_tag_in_common(session: AsyncSession) -> None:
    centres = await add_centres(session, NOW)
    both, one, other = await add_volunteers(
        session,
        [1, 2, 3],
        [
            Profile(tags=("transport", "repair")),
            Profile(tags=("repair",)),
            Profile(tags=("homework",)),
        ],
    )
    need = a_need(centres["holmen"], SUNDAY_NOON, tags=("transport", "repair"))
    assert await _publish(session, need) == 2
    # More tags in common first.
    assert await _invited(session, need) == [both, one]
    invited = (await session.exec(select(Signup.participant_id, Signup.answer))).all()
    assert sorted(invited) == [(both, Answer.INVITED), (one, Answer.INVITED)]
    assert other not in await _invited(session, need)


async def test_a_need_invites_only_volunteers_of_its_district(session: AsyncSession) -> None:
    centres = await add_centres(session, NOW)
    holmen, sentrum, both = await add_volunteers(
        session,
        [1, 2, 3],
        [
            Profile(districts=("Holmen",)),
            Profile(districts=("Sentrum",)),
            Profile(districts=("Sentrum", "Holmen")),
        ],
    )
    need = a_need(centres["sentrum"], SUNDAY_NOON)
    assert need.district == "Sentrum"  # the centre's district unless the coordinator chose
    await _publish(session, need)
    assert await _invited(session, need) == [sentrum, both]
    assert holmen not in await _invited(session, need)


async def test_a_need_invites_only_volunteers_free_at_its_time(session: AsyncSession) -> None:
    assert slot_of(SUNDAY_NOON, ZONE) == "weekend"
    assert slot_of(TUESDAY_EVENING, ZONE) == "evening"
    assert slot_of(WEDNESDAY_MORNING, ZONE) == "daytime"
    centres = await add_centres(session, NOW)
    weekend, evening, daytime = await add_volunteers(
        session,
        [1, 2, 3],
        [Profile(slots=("weekend",)), Profile(slots=("evening",)), Profile(slots=("daytime",))],
    )
    for start, expected in (
        (SUNDAY_NOON, [weekend]),
        (TUESDAY_EVENING, [evening]),
        (WEDNESDAY_MORNING, [daytime]),
    ):
        need = a_need(centres["holmen"], start)
        await _publish(session, need)
        assert await _invited(session, need) == expected


async def test_a_language_wish_invites_only_those_who_speak_it(session: AsyncSession) -> None:
    centres = await add_centres(session, NOW)
    norwegian, polish, both = await add_volunteers(
        session,
        [1, 2, 3],
        [Profile(languages=("no",)), Profile(languages=("pl",)), Profile(languages=("no", "pl"))],
    )
    wish = a_need(centres["holmen"], SUNDAY_NOON, wished_language="pl")
    await _publish(session, wish)
    assert await _invited(session, wish) == [polish, both]
    no_wish = a_need(centres["holmen"], SUNDAY_NOON)
    await _publish(session, no_wish)
    assert await _invited(session, no_wish) == [norwegian, polish, both]


async def test_nobody_gets_more_than_the_coordinators_weekly_cap(session: AsyncSession) -> None:
    centres = await add_centres(session, NOW)
    asked_twice, asked_long_ago, asked_by_another, fresh = await add_volunteers(
        session, [1, 2, 3, 4], Profile()
    )
    earlier = [
        (COORDINATOR, asked_twice, NOW - timedelta(days=1)),
        (COORDINATOR, asked_twice, NOW - timedelta(days=6)),
        (COORDINATOR, asked_long_ago, NOW - timedelta(days=8)),
        (COORDINATOR, asked_long_ago, NOW - timedelta(days=9)),
        (9200, asked_by_another, NOW - timedelta(days=1)),
        (9200, asked_by_another, NOW - timedelta(days=2)),
    ]
    for coordinator, pid, when in earlier:
        old = a_need(centres["holmen"], when + timedelta(hours=1), created_by=coordinator)
        old.state = NeedState.OPEN
        session.add(old)
        await session.flush()
        connection = await session.connection()
        await connection.execute(
            insert(SQLModel.metadata.tables["volunteer_signup"]).values(
                need_id=old.id, participant_id=pid, answer="invited", invited_at=when
            )
        )
    need = a_need(centres["holmen"], SUNDAY_NOON, created_by=COORDINATOR)
    assert await _publish(session, need, cap=2) == 3
    invited = await _invited(session, need)
    assert asked_twice not in invited
    # Fewer recent invitations from anyone come first.
    assert invited == [asked_long_ago, fresh, asked_by_another]
    # With a cap of 3 the one asked twice this week is asked a third time; the others have
    # had one (or, asked by another centre too, three) invitations by now.
    again = a_need(centres["holmen"], SUNDAY_NOON, created_by=COORDINATOR)
    await _publish(session, again, cap=3)
    assert await _invited(session, again) == [asked_long_ago, fresh, asked_twice, asked_by_another]


async def test_only_volunteers_who_agreed_and_can_be_reached_are_invited(
    session: AsyncSession,
) -> None:
    centres = await add_centres(session, NOW)
    fine, stopped, blocked, ended = await add_volunteers(session, [1, 2, 3, 4], Profile())
    (no_consent,) = await add_volunteers(session, [5], Profile(), volunteer_consent=False)
    await mark_stopped(session, stopped, NOW)
    (await _person(session, blocked)).unreachable_at = NOW
    await end_profile(session, ended, NOW)
    need = a_need(centres["holmen"], SUNDAY_NOON)
    await _publish(session, need)
    assert await _invited(session, need) == [fine]
    assert no_consent not in await _invited(session, need)


async def test_a_need_is_refused_until_it_is_complete_and_in_the_future(
    session: AsyncSession,
) -> None:
    centres = await add_centres(session, NOW)
    past = a_need(centres["holmen"], NOW - timedelta(hours=1))
    with pytest.raises(needs.NeedProblem) as refused:
        await _publish(session, past)
    assert refused.value.code == "past"
    foreign_tag = a_need(centres["holmen"], SUNDAY_NOON, tags=("language-cafe",))
    with pytest.raises(needs.NeedProblem) as refused:
        await _publish(session, foreign_tag)
    assert refused.value.code == "tags"
    incomplete = a_need(centres["holmen"], SUNDAY_NOON, tags=())
    with pytest.raises(needs.NeedProblem) as refused:
        await _publish(session, incomplete)
    assert refused.value.code == "incomplete"
    assert (await session.exec(select(Delivery))).all() == []


# ---------------------------------------------------------------------- signing up


async def test_a_need_for_two_fills_waits_promotes_reminds_and_hears_how_it_went(
    session: AsyncSession,
) -> None:
    centres = await add_centres(session, NOW)
    ana, bo, cai, dag = await add_volunteers(session, [1, 2, 3, 4], Profile(), language="en")
    need = a_need(centres["holmen"], SUNDAY_NOON, places=2)
    assert await _publish(session, need) == 4

    first = await _answer(session, need, ana, Answer.YES)
    second = await _answer(session, need, bo, Answer.YES)
    assert (first.signup.answer, second.signup.answer) == (Answer.YES, Answer.YES)
    assert first.start == SUNDAY_NOON
    third = await _answer(session, need, cai, Answer.YES)
    fourth = await _answer(session, need, dag, Answer.YES)
    assert (third.signup.answer, third.position) == (Answer.WAITING, 1)
    assert (fourth.signup.answer, fourth.position) == (Answer.WAITING, 2)
    counted = await needs.counts(session, need.id or 0)
    assert (counted.yes, counted.waiting, counted.invited) == (2, 2, 4)

    # The day before at the same local time (23 real hours across the change to summer time),
    # and two hours before; the thank-you when it ends.
    reminders = await _pending(session, participant_id=ana, kind=needs.REMINDER_KIND)
    assert [r.due_at for r in reminders] == [
        datetime(2027, 3, 27, 11, 0, tzinfo=UTC),  # Saturday 12:00 in Oslo (winter time)
        datetime(2027, 3, 28, 8, 0, tzinfo=UTC),  # Sunday 10:00 in Oslo (summer time)
    ]
    assert reminders[-1].expires_at == SUNDAY_NOON  # never after it began
    thanks = await _pending(session, participant_id=ana, kind=needs.THANKS_KIND)
    assert [t.due_at for t in thanks] == [SUNDAY_NOON + timedelta(hours=2)]
    assert await _pending(session, participant_id=cai, kind=needs.REMINDER_KIND) == []

    # Ana withdraws: her reminders end, and Cai, first on the list, has her place now.
    withdrawal = await _answer(session, need, ana, Answer.NO)
    assert withdrawal.promoted == cai
    assert await _pending(session, participant_id=ana, kind=needs.REMINDER_KIND) == []
    assert await _pending(session, participant_id=ana, kind=needs.THANKS_KIND) == []
    told = await _pending(session, participant_id=cai, kind=needs.UPDATE_KIND)
    assert [t.payload for t in told] == [{"text": f"promoted {need.id}"}]
    assert len(await _pending(session, participant_id=cai, kind=needs.REMINDER_KIND)) == 2
    dag_now = await signups.signup_of(session, need.id or 0, dag)
    assert dag_now is not None
    assert await signups.waiting_position(session, dag_now) == 1
    counted = await needs.counts(session, need.id or 0)
    assert (counted.yes, counted.waiting, counted.no, counted.withdrawn) == (2, 1, 1, 1)

    # After the time: how did it go? One tap, stored; the latest tap counts.
    later = SUNDAY_NOON + timedelta(hours=3)
    with pytest.raises(NeedRefused) as refused:
        await signups.give_feedback(session, need.id or 0, bo, Feedback.GOOD, NOW)
    assert refused.value.reason == "not_yet"
    await signups.give_feedback(session, need.id or 0, bo, Feedback.OK, later)
    await signups.give_feedback(session, need.id or 0, bo, Feedback.GOOD, later)
    await signups.give_feedback(session, need.id or 0, cai, Feedback.BAD, later)
    with pytest.raises(NeedRefused) as refused:
        await signups.give_feedback(session, need.id or 0, ana, Feedback.GOOD, later)
    assert refused.value.reason == "no_place"
    assert (await needs.counts(session, need.id or 0)).feedback == {"good": 1, "bad": 1}
    # Too late to answer now.
    with pytest.raises(NeedRefused) as refused:
        await signups.answer(
            session, need.id or 0, await _person(session, dag), Answer.YES, later, TEXTS, POLICY
        )
    assert refused.value.reason == "over"


async def _pending(session: AsyncSession, **where: Any) -> list[Delivery]:
    statement = select(Delivery).where(col(Delivery.state) == DeliveryState.PENDING)
    for name, value in where.items():
        statement = statement.where(getattr(Delivery, name) == value)
    return list((await session.exec(statement.order_by(col(Delivery.id)))).all())


async def test_a_weekly_need_reminds_before_the_first_time_ahead(session: AsyncSession) -> None:
    centres = await add_centres(session, NOW)
    (pid,) = await add_volunteers(session, [1], Profile(tags=("homework",)))
    tuesdays = a_need(centres["holmen"], TUESDAY_EVENING, tags=("homework",), weekly=True)
    await _publish(session, tuesdays)
    # The first Tuesday has passed; the yes is for the next one, 18:00 in summer time now.
    later = TUESDAY_EVENING + timedelta(days=1)
    result = await signups.answer(
        session, tuesdays.id or 0, await _person(session, pid), Answer.YES, later, TEXTS, POLICY
    )
    next_tuesday = datetime(2027, 3, 30, 16, 0, tzinfo=UTC)
    assert result.start == next_tuesday
    reminders = await _pending(session, participant_id=pid, kind=needs.REMINDER_KIND)
    assert [r.due_at for r in reminders] == [
        next_tuesday - timedelta(days=1),
        next_tuesday - timedelta(hours=2),
    ]


async def test_contact_details_are_shared_only_after_a_yes_and_forgotten_on_withdrawal(
    session: AsyncSession,
) -> None:
    centres = await add_centres(session, NOW)
    ana, bo = await add_volunteers(session, [1, 2], Profile())
    need = a_need(centres["holmen"], SUNDAY_NOON, places=1)
    await _publish(session, need)
    nid = need.id or 0
    with pytest.raises(NeedRefused) as refused:
        await signups.share_contact(
            session, nid, ana, Share.NAME, first_name="Ana", username="ana", now=NOW
        )
    assert refused.value.reason == "no_place"
    assert await needs.contacts(session, nid) == []
    await _answer(session, need, ana, Answer.YES)
    await signups.share_contact(
        session, nid, ana, Share.NAME, first_name="Ana", username="ana_h", now=NOW
    )
    # On the waiting list one may share too; a phone number is the next typed message.
    await _answer(session, need, bo, Answer.YES)
    await signups.share_contact(
        session, nid, bo, Share.PHONE, first_name="Bo", username="b", now=NOW
    )
    assert await signups.waiting_for_phone(session, ana, NOW) is None
    asked = await signups.waiting_for_phone(session, bo, NOW + timedelta(minutes=5))
    assert asked is not None
    assert signups.clean_phone("hello") is None
    phone = signups.clean_phone("+47 912 34 567")
    assert phone == "+4791234567"
    await signups.take_phone(session, asked, phone, NOW)
    assert await signups.waiting_for_phone(session, bo, NOW) is None
    shared = await needs.contacts(session, nid)
    assert [(c.name, c.username, c.phone, c.answer) for c in shared] == [
        ("Ana", "ana_h", None, Answer.YES),
        ("Bo", None, "+4791234567", Answer.WAITING),
    ]
    await _answer(session, need, ana, Answer.NO)  # Bo moves up
    shared = await needs.contacts(session, nid)
    assert [(c.name, c.answer) for c in shared] == [("Bo", Answer.YES)]
    await signups.share_contact(
        session, nid, bo, Share.NONE, first_name="Bo", username="b", now=NOW
    )
    assert await needs.contacts(session, nid) == []
    signup = await signups.signup_of(session, nid, ana)
    assert signup is not None
    assert (signup.contact_name, signup.contact_username) == (None, None)


async def test_delete_removes_the_profile_and_every_sign_up(session: AsyncSession) -> None:
    centres = await add_centres(session, NOW)
    ana, bo = await add_volunteers(session, [1, 2], Profile())
    need = a_need(centres["holmen"], SUNDAY_NOON, places=1)
    await _publish(session, need)
    await _answer(session, need, ana, Answer.YES)
    await signups.share_contact(
        session, need.id or 0, ana, Share.NAME, first_name="Ana", username="ana", now=NOW
    )
    await _answer(session, need, bo, Answer.YES)
    data = await privacy.personal_data(session, await _person(session, ana), "en")
    assert len(data["records"]["volunteer_profile"]) == 1
    assert data["records"]["volunteer_signup"][0]["contact_name"] == "Ana"
    assert {c["kind"] for c in data["records"]["volunteer_choice"]} == set(ChoiceKind)

    await privacy.erase(session, await _person(session, ana), NOW)
    profiles = (await session.exec(select(VolunteerProfile.participant_id))).all()
    left_signups = (await session.exec(select(Signup.participant_id))).all()
    assert profiles == [bo]
    assert left_signups == [bo]
    left = (await session.exec(select(VolunteerChoice.profile_id).distinct())).all()
    assert len(left) == 1
    assert await needs.contacts(session, need.id or 0) == []


async def test_cancelling_a_need_tells_who_comes_and_waits(session: AsyncSession) -> None:
    centres = await add_centres(session, NOW)
    ana, bo, cai = await add_volunteers(session, [1, 2, 3], Profile())
    need = a_need(centres["holmen"], SUNDAY_NOON, places=1)
    await _publish(session, need)
    await _answer(session, need, ana, Answer.YES)
    await _answer(session, need, bo, Answer.YES)
    assert await needs.cancel(session, need, NOW, TEXTS, POLICY) == 2
    assert need.state == NeedState.CANCELLED
    pending = await _pending(session, ref=need.ref)
    assert sorted((d.participant_id, d.kind) for d in pending) == [
        (ana, needs.UPDATE_KIND),
        (bo, needs.UPDATE_KIND),
    ]
    with pytest.raises(NeedRefused) as refused:
        await _answer(session, need, cai, Answer.YES)
    assert refused.value.reason == "cancelled"


def test_weekly_slots_and_dates_are_read_as_coordinators_write_them() -> None:
    saturday = datetime(2027, 3, 20, 10, 0, tzinfo=UTC)
    assert needs.parse_weekly("tirsdag 18:00-20:00", saturday, ZONE) == (
        TUESDAY_EVENING,
        TUESDAY_EVENING + timedelta(hours=2),
    )
    assert needs.parse_weekly("Every Tuesday 18-20", saturday, ZONE) == (
        TUESDAY_EVENING,
        TUESDAY_EVENING + timedelta(hours=2),
    )
    assert needs.parse_weekly("tirsdager kl 18", saturday, ZONE) == (TUESDAY_EVENING, None)
    # Today's time has passed: next week.
    assert needs.parse_weekly("lørdag 10:00", saturday, ZONE) == (
        saturday + timedelta(days=7, hours=-1),
        None,
    )
    for wrong in ("someday 18:00", "tirsdag 25:00", "tirsdag", "18:00"):
        assert needs.parse_weekly(wrong, saturday, ZONE) is None
    assert needs.parse_dated("2027-03-28 12:00-14:00", ZONE) == (
        SUNDAY_NOON,
        SUNDAY_NOON + timedelta(hours=2),
    )
    assert needs.parse_dated("28.03.2027 12:00", ZONE) == (SUNDAY_NOON, None)
    assert needs.parse_dated("2027-02-30 12:00", ZONE) is None


async def test_stop_ends_a_volunteers_reminders_and_start_writes_them_again(
    session: AsyncSession,
) -> None:
    centres = await add_centres(session, NOW)
    (ana,) = await add_volunteers(session, [1], Profile())
    need = a_need(centres["holmen"], SUNDAY_NOON)
    await _publish(session, need)
    await _answer(session, need, ana, Answer.YES)
    person = await _person(session, ana)
    await stop_messages(session, person, NOW)
    assert await _pending(session, participant_id=ana) == []
    later = NOW + timedelta(days=1)
    assert await resume_messages(session, person, later, EventTexts(ZONE), POLICY)
    assert await signups.restore_reminders(session, person, later, TEXTS, POLICY) == 1
    kinds = [d.kind for d in await _pending(session, participant_id=ana)]
    assert kinds == [needs.REMINDER_KIND, needs.REMINDER_KIND, needs.THANKS_KIND]


async def test_shared_contact_details_are_forgotten_a_while_after_the_need(
    session: AsyncSession,
) -> None:
    centres = await add_centres(session, NOW)
    ana, bo = await add_volunteers(session, [1, 2], Profile())
    need = a_need(centres["holmen"], SUNDAY_NOON, places=1)
    await _publish(session, need)
    for pid in (ana, bo):  # Ana has the place, Bo waits
        await _answer(session, need, pid, Answer.YES)
        await signups.share_contact(
            session, need.id or 0, pid, Share.NAME, first_name="X", username="x", now=NOW
        )
    after = SUNDAY_NOON + timedelta(hours=2)
    assert await signups.forget_old_contacts(session, after + timedelta(days=29), 30) == 0
    assert len(await needs.contacts(session, need.id or 0)) == 2
    assert await signups.forget_old_contacts(session, after + timedelta(days=31), 30) == 2
    assert await needs.contacts(session, need.id or 0) == []


async def test_stopped_sign_ups_take_no_new_yes_but_let_people_leave(
    session: AsyncSession,
) -> None:
    centres = await add_centres(session, NOW)
    ana, bo, cai = await add_volunteers(session, [1, 2, 3], Profile())
    need = a_need(centres["holmen"], SUNDAY_NOON, places=1)
    await _publish(session, need)
    await _answer(session, need, ana, Answer.YES)
    await _answer(session, need, bo, Answer.YES)  # waits
    await needs.close(session, need, NOW)
    with pytest.raises(NeedRefused) as refused:
        await _answer(session, need, cai, Answer.YES)
    assert refused.value.reason == "closed"
    left = await _answer(session, need, bo, Answer.NO)
    assert left.signup.answer == Answer.NO
    counted = await needs.counts(session, need.id or 0)
    assert (counted.yes, counted.waiting, counted.withdrawn) == (1, 0, 1)
    assert await _pending(session, participant_id=cai, kind=needs.INVITE_KIND) == []
