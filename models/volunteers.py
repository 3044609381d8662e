"""Volunteer profiles: what a resident likes to do, where, when, and which languages they speak.

A profile exists only with the person's purpose-specific consent (a :class:`Consent` of kind
``volunteer``), given on its own after the privacy notice: the profile is used for nothing but
inviting the person to volunteer centres' needs. The choices are rows of
:class:`VolunteerChoice` (``tag``, ``district``, ``slot``, ``language``) so matching a need is an
indexed lookup, not a scan of every profile. Ending the profile (or ``/delete``) removes it;
the consent row keeps when it was given and withdrawn.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import Column, ColumnElement, ForeignKey, Index, Integer, String, func, update
from sqlalchemy import select as core_select
from sqlmodel import Field, SQLModel, col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime, table_of, utcnow
from models.participant import Consent, Participant, latest_is_yes

#: The consent kind of the volunteer profile, and the version of its text (bump when the
#: text changes in substance: everyone is asked again before they are invited).
VOLUNTEER = "volunteer"
VOLUNTEER_NOTICE_VERSION = "1"

#: The hour (local) from which a weekday counts as evening.
EVENING_FROM = 17


class Slot(StrEnum):
    """When a person can help, and when a need is."""

    DAYTIME = "daytime"  # a weekday before EVENING_FROM
    EVENING = "evening"  # a weekday from EVENING_FROM
    WEEKEND = "weekend"  # Saturday or Sunday


class ChoiceKind(StrEnum):
    """What a choice of the profile is about."""

    TAG = "tag"
    DISTRICT = "district"
    SLOT = "slot"
    LANGUAGE = "language"


#: Languages a volunteer may speak (and a need may wish for), by ISO 639-1 code, each named in
#: itself. Norwegian covers Bokmål and Nynorsk; Northern Sami, and the languages most spoken by
#: newcomers to Norwegian municipalities, follow.
SPOKEN: dict[str, str] = {
    "no": "norsk",
    "se": "davvisámegiella",
    "en": "English",
    "pl": "polski",
    "uk": "українська",
    "ar": "العربية",
    "so": "Soomaali",
    "ti": "ትግርኛ",
    "fa": "فارسی",
    "ru": "русский",
    "lt": "lietuvių",
    "es": "español",
    "de": "Deutsch",
    "tr": "Türkçe",
}


class VolunteerProfile(SQLModel, table=True):
    """A resident who wants to hear of volunteer centres' needs."""

    __tablename__ = "volunteer_profile"

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("participant.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        )
    )
    # The centre whose link brought the person here (v_<centre>), if any.
    centre_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("centre.id", ondelete="SET NULL")),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class VolunteerChoice(SQLModel, table=True):
    """One thing a volunteer chose: a tag, a district, a time slot or a language."""

    __tablename__ = "volunteer_choice"
    __table_args__ = (Index("ix_volunteer_choice_kind_value", "kind", "value", "profile_id"),)

    profile_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("volunteer_profile.id", ondelete="CASCADE"), primary_key=True
        )
    )
    kind: str = Field(sa_column=Column(String(8), primary_key=True))
    value: str = Field(sa_column=Column(String(60), primary_key=True))


PROFILES = table_of(VolunteerProfile)
CHOICES = table_of(VolunteerChoice)


def slot_of(moment: datetime, zone: str) -> Slot:
    """The slot a time falls in, by the local clock."""
    local = moment.astimezone(ZoneInfo(zone))
    if local.weekday() >= 5:
        return Slot.WEEKEND
    return Slot.EVENING if local.hour >= EVENING_FROM else Slot.DAYTIME


def volunteering_condition() -> ColumnElement[bool]:
    """SQL: the participant's latest decision on the volunteer text (this version) is a yes."""
    return latest_is_yes(VOLUNTEER, version=VOLUNTEER_NOTICE_VERSION, alias="vc")


# ---------------------------------------------------------------------- the profile


async def profile_of(session: AsyncSession, participant_id: int) -> VolunteerProfile | None:
    """The person's profile, if they have one."""
    rows = await session.exec(
        select(VolunteerProfile).where(col(VolunteerProfile.participant_id) == participant_id)
    )
    return rows.first()


async def has_volunteer_consent(session: AsyncSession, participant_id: int) -> bool:
    """Whether the person's latest decision on the volunteer text (this version) is a yes."""
    rows = await session.exec(
        select(Consent)
        .where(col(Consent.participant_id) == participant_id, col(Consent.kind) == VOLUNTEER)
        .order_by(col(Consent.decided_at).desc(), col(Consent.id).desc())
        .limit(1)
    )
    latest = rows.first()
    return (
        latest is not None
        and latest.granted
        and latest.withdrawn_at is None
        and latest.version == VOLUNTEER_NOTICE_VERSION
    )


async def start_profile(
    session: AsyncSession, participant: Participant, centre_id: int | None, now: datetime
) -> VolunteerProfile:
    """Record the yes to the volunteer text and make the (empty) profile, or return it."""
    pid = participant.id or 0
    if not await has_volunteer_consent(session, pid):
        session.add(
            Consent(
                participant_id=pid,
                kind=VOLUNTEER,
                version=VOLUNTEER_NOTICE_VERSION,
                granted=True,
                decided_at=now,
            )
        )
    profile = await profile_of(session, pid)
    if profile is None:
        profile = VolunteerProfile(
            participant_id=pid, centre_id=centre_id, created_at=now, updated_at=now
        )
        session.add(profile)
    await session.flush()
    return profile


async def decline(session: AsyncSession, participant: Participant, now: datetime) -> None:
    """Record a no to the volunteer text (so the bot can say "you said no")."""
    session.add(
        Consent(
            participant_id=participant.id or 0,
            kind=VOLUNTEER,
            version=VOLUNTEER_NOTICE_VERSION,
            granted=False,
            decided_at=now,
        )
    )
    await session.flush()


async def end_profile(session: AsyncSession, participant_id: int, now: datetime) -> bool:
    """Delete the profile and withdraw the consent; False when there was no profile."""
    await session.exec(
        update(Consent)  # type: ignore[call-overload]
        .where(
            col(Consent.participant_id) == participant_id,
            col(Consent.kind) == VOLUNTEER,
            col(Consent.granted).is_(True),
            col(Consent.withdrawn_at).is_(None),
        )
        .values(withdrawn_at=now)
    )
    result = await session.exec(
        delete(VolunteerProfile).where(col(VolunteerProfile.participant_id) == participant_id)
    )
    await session.flush()
    return bool(result.rowcount)


async def choices_of(
    session: AsyncSession, profile: VolunteerProfile
) -> dict[ChoiceKind, set[str]]:
    """The profile's choices by kind."""
    rows = await session.exec(
        select(VolunteerChoice.kind, VolunteerChoice.value).where(
            col(VolunteerChoice.profile_id) == profile.id
        )
    )
    chosen: dict[ChoiceKind, set[str]] = {kind: set() for kind in ChoiceKind}
    for kind, value in rows.all():
        if kind in ChoiceKind.__members__.values():
            chosen[ChoiceKind(kind)].add(value)
    return chosen


async def toggle(
    session: AsyncSession, profile: VolunteerProfile, kind: ChoiceKind, value: str, now: datetime
) -> bool:
    """Add the choice, or remove it when it was there; True when it is chosen now."""
    found = await session.get(VolunteerChoice, (profile.id, kind.value, value))
    profile.updated_at = now
    if found is not None:
        await session.delete(found)
        await session.flush()
        return False
    session.add(VolunteerChoice(profile_id=profile.id or 0, kind=kind.value, value=value))
    await session.flush()
    return True


def is_complete(chosen: dict[ChoiceKind, set[str]]) -> bool:
    """A profile that can match a need: something to do, a district and a time."""
    return all(chosen[kind] for kind in (ChoiceKind.TAG, ChoiceKind.DISTRICT, ChoiceKind.SLOT))


# ---------------------------------------------------------------------- statistics


async def volunteers_per_choice(session: AsyncSession) -> dict[ChoiceKind, dict[str, int]]:
    """How many current volunteers chose each tag, district, slot and language.

    Counts only, never crossed with one another, so no line of the statistics can point to a
    person. Current: the profile exists and its consent is a yes.
    """
    p = table_of(Participant)
    statement = (
        core_select(CHOICES.c.kind, CHOICES.c.value, func.count())
        .join(PROFILES, PROFILES.c.id == CHOICES.c.profile_id)
        .join(p, p.c.id == PROFILES.c.participant_id)
        .where(volunteering_condition())
        .group_by(CHOICES.c.kind, CHOICES.c.value)
    )
    connection = await session.connection()
    counted: dict[ChoiceKind, dict[str, int]] = {kind: {} for kind in ChoiceKind}
    for kind, value, number in (await connection.execute(statement)).all():
        if kind in ChoiceKind.__members__.values():
            counted[ChoiceKind(kind)][str(value)] = int(number)
    return counted


async def count_volunteers(session: AsyncSession) -> int:
    """How many current volunteer profiles there are."""
    p = table_of(Participant)
    statement = (
        core_select(func.count())
        .select_from(PROFILES)
        .join(p, p.c.id == PROFILES.c.participant_id)
        .where(volunteering_condition())
    )
    connection = await session.connection()
    return int((await connection.execute(statement)).scalar_one())
