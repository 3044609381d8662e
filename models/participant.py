"""Participants and their consent: the only personal data Medvirk keeps.

A participant is an id in their channel (a Telegram user id, or a web resident's pseudonymous
id, :mod:`models.channels`) and the chat id needed to reply, the chosen language and where they
first came from. No names, no usernames.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    and_,
    exists,
    or_,
)
from sqlalchemy import select as core_select
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.answers import Response
from models.base import TelegramId, UTCDateTime, table_of, utcnow
from models.channels import Channel, channel_of
from models.consultation import load_consultation
from models.translation import complete_languages

# Bump when the privacy notice changes in substance: everyone is asked again.
PRIVACY_NOTICE_VERSION = "1"
PRIVACY = "privacy"


class Participant(SQLModel, table=True):
    """A person who has talked to the bot."""

    # Ids are never given twice, also after the newest participant was erased: exports name
    # people by a key made from the id (models/pseudonym.py), and an erased person's key must
    # not lead to someone else. PostgreSQL's sequences never go back; SQLite needs this.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    # The person's id in their channel: Telegram's user id, or a web resident's id (2**60 and
    # above, models.channels). The name is from before the web channel.
    telegram_user_id: int = Field(sa_column=Column(TelegramId, unique=True, nullable=False))
    chat_id: int = Field(sa_column=Column(TelegramId, nullable=False))
    # "telegram" or "web": follows from the id, kept so results and exports can count by it.
    channel: str = Field(
        default=Channel.TELEGRAM,
        sa_column=Column(String(16), nullable=False, server_default=Channel.TELEGRAM.value),
    )
    language: str | None = Field(default=None, max_length=5)
    source: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Updated at most hourly; people inactive for long are erased (retention).
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    unreachable_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The response whose current question a typed message answers. Deliberately not a foreign
    # key: responses point at participants, and a cycle would complicate erasure.
    active_response_id: int | None = Field(default=None, sa_column=Column(Integer))


class Consent(SQLModel, table=True):
    """One decision: given or declined, for a version of the notice; later maybe withdrawn."""

    __table_args__ = (Index("ix_consent_participant_kind", "participant_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(
        sa_column=Column(Integer, ForeignKey("participant.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(sa_column=Column(String(64), nullable=False))
    version: str = Field(max_length=16)
    granted: bool
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


async def find_participant(session: AsyncSession, telegram_user_id: int) -> Participant | None:
    """Return the participant with this Telegram user id, if any."""
    result = await session.exec(
        select(Participant).where(Participant.telegram_user_id == telegram_user_id)
    )
    return result.first()


async def get_or_create_participant(
    session: AsyncSession, telegram_user_id: int, chat_id: int
) -> Participant:
    """Return the participant, creating the row on first contact."""
    participant = await find_participant(session, telegram_user_id)
    if participant is None:
        participant = Participant(
            telegram_user_id=telegram_user_id,
            chat_id=chat_id,
            channel=channel_of(telegram_user_id).value,
        )
        session.add(participant)
        await session.flush()
    elif participant.chat_id != chat_id:
        participant.chat_id = chat_id
    return participant


async def latest_consent(
    session: AsyncSession, participant: Participant, kind: str = PRIVACY
) -> Consent | None:
    """Return the participant's most recent decision of this kind."""
    result = await session.exec(
        select(Consent)
        .where(Consent.participant_id == participant.id, Consent.kind == kind)
        .order_by(col(Consent.decided_at).desc(), col(Consent.id).desc())
        .limit(1)
    )
    return result.first()


#: ``session.info`` key: participant id -> whether they accept the current privacy notice, as
#: read with the participant (:func:`find_participant_and_consent`) in this transaction.
_CONSENTED = "medvirk.consented"


async def find_participant_and_consent(
    session: AsyncSession, telegram_user_id: int
) -> Participant | None:
    """Return the participant, reading in the same query whether they consented.

    The answer is kept for this session (``session.info``), so :func:`has_consented` asks the
    database no more; a decision recorded or withdrawn in the session forgets it.
    """
    row = (
        await session.exec(
            select(Participant, consent_condition()).where(
                Participant.telegram_user_id == telegram_user_id
            )
        )
    ).first()
    if row is None:
        return None
    participant, consented = row
    session.info.setdefault(_CONSENTED, {})[participant.id] = bool(consented)
    return participant


def forget_consent(session: AsyncSession) -> None:
    """Forget what :func:`find_participant_and_consent` read: a privacy decision changed."""
    session.info.pop(_CONSENTED, None)


async def has_consented(session: AsyncSession, participant: Participant | None) -> bool:
    """Tell whether the participant accepts the current privacy notice."""
    if participant is None:
        return False
    known = session.info.get(_CONSENTED, {}).get(participant.id)
    if known is not None:
        return bool(known)
    consent = await latest_consent(session, participant)
    return (
        consent is not None
        and consent.granted
        and consent.withdrawn_at is None
        and consent.version == PRIVACY_NOTICE_VERSION
    )


def _latest_yes(kind: str, version: str | None, alias: str) -> tuple[Any, list[Any]]:
    """The consent table under ``alias``, and the conditions for "its latest decision of
    ``kind`` (of ``version``) is a yes not withdrawn"."""
    c = table_of(Consent).alias(alias)
    later = table_of(Consent).alias(f"{alias}_later")
    newer = exists().where(
        later.c.participant_id == c.c.participant_id,
        later.c.kind == kind,
        or_(
            later.c.decided_at > c.c.decided_at,
            and_(later.c.decided_at == c.c.decided_at, later.c.id > c.c.id),
        ),
    )
    conditions = [c.c.kind == kind, c.c.granted.is_(True), c.c.withdrawn_at.is_(None), ~newer]
    if version is not None:
        conditions.append(c.c.version == version)
    return c, conditions


def latest_is_yes(
    kind: str, *, version: str | None = None, alias: str = "c"
) -> ColumnElement[bool]:
    """SQL: the participant's latest decision of ``kind`` is a yes not withdrawn.

    The rule of :func:`has_consented` (with ``version``, for that version of the text), for
    whole tables at once. ``alias`` names the consent table in the statement: two of these
    conditions in one statement need two names.
    """
    c, conditions = _latest_yes(kind, version, alias)
    return exists().where(c.c.participant_id == table_of(Participant).c.id, *conditions)


def latest_yes_ids(kind: str, *, version: str | None = None, alias: str = "ly") -> Select[Any]:
    """SQL: the ids of participants whose latest decision of ``kind`` is a yes not withdrawn.

    The rule of :func:`latest_is_yes` as a set, not tied to a row of the statement around it:
    for ``participant.id IN (...)`` over many people at once, which the databases answer
    with one pass over the consent table rather than a lookup per person.
    """
    c, conditions = _latest_yes(kind, version, alias)
    return core_select(c.c.participant_id).where(*conditions)


def consent_condition() -> ColumnElement[bool]:
    """SQL: the participant accepts the current privacy notice (:func:`has_consented`)."""
    return latest_is_yes(PRIVACY, version=PRIVACY_NOTICE_VERSION)


async def record_privacy_decision(
    session: AsyncSession,
    telegram_user_id: int,
    chat_id: int,
    *,
    granted: bool,
    language: str | None = None,
    source: str | None = None,
    now: datetime | None = None,
) -> Participant:
    """Store a decision on the privacy notice.

    A decline stores only the bare participant row and the decision, so that the bot can
    answer "you declined" later; language and source are kept only with consent.
    """
    participant = await get_or_create_participant(session, telegram_user_id, chat_id)
    forget_consent(session)
    if granted:
        participant.language = language or participant.language
        participant.source = participant.source or source
    session.add(
        Consent(
            participant_id=participant.id,  # type: ignore[arg-type]
            kind=PRIVACY,
            version=PRIVACY_NOTICE_VERSION,
            granted=granted,
            decided_at=now or utcnow(),
        )
    )
    await session.flush()
    return participant


def touch(participant: Participant, now: datetime) -> None:
    """Note that the person was here, at most once an hour to spare writes."""
    if participant.last_seen_at is None or now - participant.last_seen_at > timedelta(hours=1):
        participant.last_seen_at = now


async def set_language(session: AsyncSession, participant: Participant, language: str) -> None:
    """Remember the participant's language.

    The consultation they are answering follows when it has that language (they asked for it);
    one that lacks it stays in the language its response was begun in, never half in each.
    """
    participant.language = language
    if participant.active_response_id is not None:
        response = await session.get(Response, participant.active_response_id)
        view = await load_consultation(session, response.consultation_id) if response else None
        if response and view and language in complete_languages(view):
            response.language = language
    await session.flush()
