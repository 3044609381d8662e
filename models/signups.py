"""A volunteer's side of a need: yes or no, the waiting list, reminders, contact, feedback.

A yes takes a place until the need is full; later yeses wait on a list, and the first on it
moves up (and is told) when someone withdraws: the rule of :mod:`models.places`, as for events.
A yes writes the reminders (the day before and two hours before,
:func:`models.reminders.queue_reminders`) and the thank-you with its one-tap "how did it go?",
due when the volunteer's first time ends; a withdrawal cancels them. Only after a yes (or a
place on the list) may a volunteer share their first name with their Telegram username or a
phone number; the coordinator otherwise sees counts. A volunteer of a weekly need is reminded
before, and thanked after, their first time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    or_,
)
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import places
from models.needs import (
    INVITE_KIND,
    PHONE_WINDOW,
    PLACES,
    REMINDER_KIND,
    THANKS_KIND,
    Answer,
    Feedback,
    Need,
    NeedMessages,
    NeedRefused,
    NeedState,
    Share,
    Signup,
    next_time,
    tell,
)
from models.outbox.messages import cancel_pending, enqueue
from models.participant import Participant
from models.reminders import ReminderPolicy, queue_reminders

# ---------------------------------------------------------------------- answering


@dataclass
class SignupResult:
    """What became of a volunteer's tap on yes or no."""

    need: Need
    signup: Signup
    changed: bool = False
    position: int | None = None  # on the waiting list
    start: datetime | None = None  # the volunteer's first time, with a place
    promoted: int | None = None  # the participant who moved up from the waiting list


async def signup_of(session: AsyncSession, need_id: int, participant_id: int) -> Signup | None:
    """The person's invitation to the need, with their answer."""
    rows = await session.exec(
        select(Signup).where(
            col(Signup.need_id) == need_id, col(Signup.participant_id) == participant_id
        )
    )
    return rows.first()


async def _locked_need(session: AsyncSession, need_id: int) -> Need | None:
    # FOR UPDATE on PostgreSQL: two volunteers taking the last place are served one after the
    # other, so the places hold. SQLite has one writer at a time anyway.
    rows = await session.exec(
        select(Need)
        .where(col(Need.id) == need_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return rows.first()


async def _answerable(
    session: AsyncSession,
    need_id: int,
    participant_id: int,
    choice: Answer,
    now: datetime,
    zone: str,
) -> tuple[Need, Signup, tuple[datetime, datetime]]:
    """The need (locked), the person's invitation and the next time, or why not.

    A need whose sign-ups are stopped still takes a no (leaving, or leaving the list).
    """
    need = await _locked_need(session, need_id)
    signup = await signup_of(session, need_id, participant_id) if need is not None else None
    if need is None or signup is None or need.state == NeedState.DRAFT:
        raise NeedRefused("gone")
    if need.state == NeedState.CANCELLED:
        raise NeedRefused("cancelled", need)
    upcoming = next_time(need, now, zone)
    if upcoming is None:
        raise NeedRefused("over", need)
    if need.state == NeedState.CLOSED and choice == Answer.YES and signup.answer != Answer.YES:
        raise NeedRefused("closed", need)
    return need, signup, upcoming


async def answer(
    session: AsyncSession,
    need_id: int,
    participant: Participant,
    choice: Answer,
    now: datetime,
    messages: NeedMessages,
    policy: ReminderPolicy,
) -> SignupResult:
    """Take a volunteer's yes or no to an invitation; they can change it until the time.

    A yes takes a place, or a place on the waiting list when the need is full. A no after a
    yes frees the place for the first on the list; shared contact details are forgotten.

    Raises:
        NeedRefused: ``gone``, ``cancelled``, ``closed`` or ``over``.
    """
    need, signup, upcoming = await _answerable(
        session, need_id, participant.id or 0, choice, now, policy.zone
    )
    before = Answer(signup.answer)
    wanted = await _wanted(session, need, choice, before)
    result = SignupResult(need, signup)
    if wanted != before:
        result.changed = True
        await _record(session, signup, wanted, now)
        if wanted == Answer.YES:
            result.start = await _commit(
                session, need, signup, participant, upcoming, now, messages, policy
            )
        if before == Answer.YES:
            await _uncommit(session, need, signup)
            result.promoted = await _promote(session, need, now, messages, policy)
    elif wanted == Answer.YES:
        result.start = signup.first_at
    result.position = await waiting_position(session, signup)
    return result


async def _wanted(session: AsyncSession, need: Need, choice: Answer, before: Answer) -> Answer:
    """The answer to store: a yes is a place, or a place on the list when the need is full."""
    if choice != Answer.YES:
        return Answer.NO
    taken = await places.taken(session, PLACES, need.id or 0)
    found = places.place_for(places.YES, before, taken, need.places, list_when_full=True)
    return Answer(found or places.WAITING)


async def _record(session: AsyncSession, signup: Signup, answer: Answer, now: datetime) -> None:
    """Store the answer; the waiting list is ordered by when people joined it."""
    before = signup.answer
    signup.answer = answer
    signup.answered_at = now
    signup.waiting_since = now if answer == Answer.WAITING else None
    if answer == Answer.NO and before in (Answer.YES, Answer.WAITING):
        signup.withdrawn_at = now
        _forget_contact(signup)
    elif answer in (Answer.YES, Answer.WAITING):
        signup.withdrawn_at = None
    await session.flush()


def _forget_contact(signup: Signup) -> None:
    signup.contact_name = signup.contact_username = signup.contact_phone = None
    signup.contact_shared_at = signup.phone_asked_at = None


async def _commit(
    session: AsyncSession,
    need: Need,
    signup: Signup,
    person: Participant,
    upcoming: tuple[datetime, datetime],
    now: datetime,
    messages: NeedMessages,
    policy: ReminderPolicy,
) -> datetime:
    """The volunteer has a place: their reminders and their thank-you; their first time."""
    start, end = upcoming
    signup.first_at = start
    language = policy.language_of(person.language)
    pid = person.id or 0
    payload = messages.reminder(need, start, language)
    await queue_reminders(
        session, pid, start, payload, kind=REMINDER_KIND, ref=need.ref, policy=policy, now=now
    )
    # The thank-you waits out quiet hours like any message; a week late it is pointless.
    await enqueue(
        session,
        pid,
        messages.thanks(need, language),
        kind=THANKS_KIND,
        due_at=end,
        ref=need.ref,
        expires_at=end + timedelta(days=7),
    )
    await session.flush()
    return start


async def _uncommit(session: AsyncSession, need: Need, signup: Signup) -> None:
    """The volunteer no longer comes: their reminders and thank-you are not sent."""
    await cancel_pending(
        session,
        participant_id=signup.participant_id,
        ref=need.ref,
        kinds=[REMINDER_KIND, THANKS_KIND],
        detail="answer changed",
    )
    signup.first_at = None


async def _promote(
    session: AsyncSession,
    need: Need,
    now: datetime,
    messages: NeedMessages,
    policy: ReminderPolicy,
) -> int | None:
    """Give a free place to the first on the waiting list and tell them; their participant id."""
    if not await places.has_room(session, PLACES, need.id or 0, need.places):
        return None
    first = await places.first_waiting(session, PLACES, need.id or 0)
    signup = await session.get(Signup, first) if first is not None else None
    person = await session.get(Participant, signup.participant_id) if signup else None
    upcoming = next_time(need, now, policy.zone)
    if signup is None or person is None or upcoming is None:
        return None
    await _record(session, signup, Answer.YES, now)
    start = await _commit(session, need, signup, person, upcoming, now, messages, policy)
    payload = messages.promoted(need, start, policy.language_of(person.language))
    await tell(session, need, person, payload, now, start, policy.quiet)
    return person.id


async def waiting_position(session: AsyncSession, signup: Signup) -> int | None:
    """The volunteer's place on the waiting list (1 is next), or None when not on it."""
    if signup.answer != Answer.WAITING or signup.waiting_since is None:
        return None
    return await places.position(
        session, PLACES, signup.need_id, signup.waiting_since, signup.id or 0
    )


# ---------------------------------------------------------------------- contact and feedback


def _has_place(signup: Signup | None) -> Signup:
    if signup is None:
        raise NeedRefused("gone")
    if signup.answer not in (Answer.YES, Answer.WAITING):
        raise NeedRefused("no_place")
    return signup


async def share_contact(
    session: AsyncSession,
    need_id: int,
    participant_id: int,
    how: Share,
    *,
    first_name: str,
    username: str | None,
    now: datetime,
) -> Signup:
    """The volunteer's explicit choice of what the coordinator sees of them.

    ``name``: their first name and Telegram username (as Telegram has them now); ``phone``:
    their next typed message within :data:`PHONE_WINDOW` is the number (with their first name);
    ``none``: nothing, and anything shared before is forgotten.

    Raises:
        NeedRefused: ``gone``, or ``no_place`` without a yes or a place on the waiting list.
    """
    signup = _has_place(await signup_of(session, need_id, participant_id))
    _forget_contact(signup)
    if how == Share.NAME:
        signup.contact_name = first_name.strip()[:64] or None
        signup.contact_username = (username or "")[:40] or None
        signup.contact_shared_at = now
    elif how == Share.PHONE:
        signup.contact_name = first_name.strip()[:64] or None
        signup.phone_asked_at = now
    await session.flush()
    return signup


async def waiting_for_phone(
    session: AsyncSession, participant_id: int, now: datetime
) -> Signup | None:
    """The volunteer's invitation whose phone number their next typed message is, if any."""
    rows = await session.exec(
        select(Signup)
        .where(
            col(Signup.participant_id) == participant_id,
            col(Signup.phone_asked_at) >= now - PHONE_WINDOW,
            col(Signup.answer).in_([Answer.YES, Answer.WAITING]),
        )
        .order_by(col(Signup.phone_asked_at).desc())
        .limit(1)
    )
    return rows.first()


_PHONE = re.compile(r"^\+?[0-9]{8,15}$")


def clean_phone(text: str) -> str | None:
    """A phone number as typed (``912 34 567``, ``+47 912 34 567``), or None when it is not one."""
    compact = re.sub(r"[\s().-]", "", text.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if _PHONE.fullmatch(compact) and len(text) <= 30 else None


async def take_phone(session: AsyncSession, signup: Signup, phone: str, now: datetime) -> None:
    """Store the number the volunteer typed: the coordinator sees it from now on."""
    signup.contact_phone = phone
    signup.contact_shared_at = now
    signup.phone_asked_at = None
    await session.flush()


async def give_feedback(
    session: AsyncSession, need_id: int, participant_id: int, value: Feedback, now: datetime
) -> Signup:
    """Store "how did it go?"; the latest tap counts.

    Raises:
        NeedRefused: ``gone``, ``no_place`` (no yes), ``not_yet`` (before their time began).
    """
    signup = await signup_of(session, need_id, participant_id)
    if signup is None:
        raise NeedRefused("gone")
    if signup.answer != Answer.YES:
        raise NeedRefused("no_place")
    if signup.first_at is None or signup.first_at > now:
        raise NeedRefused("not_yet")
    signup.feedback = value
    signup.feedback_at = now
    await session.flush()
    return signup


# ---------------------------------------------------------------------- the volunteer's side


async def restore_reminders(
    session: AsyncSession,
    participant: Participant,
    now: datetime,
    messages: NeedMessages,
    policy: ReminderPolicy,
) -> int:
    """Write again the reminders and thanks of needs the person comes to (after /start)."""
    rows = await session.exec(
        select(Need, Signup)
        .join(Signup, col(Signup.need_id) == col(Need.id))
        .where(
            col(Signup.participant_id) == participant.id,
            col(Signup.answer) == Answer.YES,
            col(Signup.first_at) > now,
            col(Need.state).in_([NeedState.OPEN, NeedState.CLOSED]),
        )
    )
    written = 0
    for need, signup in rows.all():
        start = signup.first_at
        assert start is not None
        await _uncommit(session, need, signup)
        await _commit(
            session, need, signup, participant, (start, start + need.length), now, messages, policy
        )
        written += 1
    return written


async def withdraw_everywhere(
    session: AsyncSession,
    participant: Participant,
    now: datetime,
    messages: NeedMessages,
    policy: ReminderPolicy,
) -> int:
    """Say no to every need the person has a place for or waits for; how many.

    Places are given to the next on each waiting list. Used when the person ends volunteering.
    """
    rows = await session.exec(
        select(Signup.need_id).where(
            col(Signup.participant_id) == participant.id,
            col(Signup.answer).in_([Answer.YES, Answer.WAITING]),
        )
    )
    withdrawn = 0
    for need_id in rows.all():
        try:
            await answer(session, need_id, participant, Answer.NO, now, messages, policy)
        except NeedRefused:
            continue  # its time has passed, or it was cancelled: nothing to give back
        withdrawn += 1
    await cancel_pending(
        session,
        participant_id=participant.id or 0,
        kinds=[INVITE_KIND],
        detail="volunteering ended",
    )
    return withdrawn


def _time_over(need: Need, signup: Signup) -> datetime | None:
    """When the volunteer's part in the need was over, or None while it may still come."""
    assert need.starts_at is not None
    if signup.first_at is not None:
        return signup.first_at + need.length
    if not need.weekly:
        return need.starts_at + need.length
    return need.closed_at


async def forget_old_contacts(session: AsyncSession, now: datetime, days: int) -> int:
    """Clear contact details shared for a need that was over more than ``days`` ago."""
    limit = now - timedelta(days=days)
    candidates = await session.exec(
        select(Signup, Need)
        .join(Need, col(Need.id) == col(Signup.need_id))
        .where(
            or_(
                col(Signup.contact_shared_at).is_not(None),
                col(Signup.phone_asked_at).is_not(None),
            ),
            col(Need.starts_at) < limit,
        )
    )
    cleared = 0
    for signup, need in candidates.all():
        over = _time_over(need, signup)
        if over is not None and over < limit:
            _forget_contact(signup)
            cleared += 1
    await session.flush()
    return cleared


async def commitments(
    session: AsyncSession, participant_id: int, now: datetime, zone: str
) -> list[tuple[Need, Signup]]:
    """The needs the person has a place in or waits for, whose time is still ahead."""
    rows = await session.exec(
        select(Need, Signup)
        .join(Signup, col(Signup.need_id) == col(Need.id))
        .where(
            col(Signup.participant_id) == participant_id,
            col(Signup.answer).in_([Answer.YES, Answer.WAITING]),
            col(Need.state).in_([NeedState.OPEN, NeedState.CLOSED]),
        )
        .order_by(col(Need.starts_at), col(Need.id))
    )
    ahead = []
    for need, signup in rows.all():
        theirs_ahead = signup.first_at is not None and signup.first_at > now
        if theirs_ahead or next_time(need, now, zone) is not None:
            ahead.append((need, signup))
    return ahead
