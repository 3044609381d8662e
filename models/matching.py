"""Who a volunteer need invites, best first, and publishing it.

A need invites, in one transaction, every volunteer whose profile matches it
(:func:`match_statement`: a tag in common, the district, the time slot and, when the need
wishes for one, the language), best matches first, and none of them more than the
coordinator's weekly cap: each invitation is an outbox row the delivery worker sends at the
broadcast pace, and a :class:`models.needs.Signup` row that will hold the person's answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    and_,
    case,
    func,
    insert,
    literal,
)
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime
from models.centres import Centre
from models.needs import (
    CAP_WINDOW,
    INVITE_KIND,
    Answer,
    N,
    Need,
    NeedMessages,
    NeedState,
    P,
    S,
    check_publishable,
)
from models.outbox.tables import D, DeliveryState
from models.participant import PRIVACY, PRIVACY_NOTICE_VERSION, latest_yes_ids
from models.stops import STOPS
from models.volunteers import (
    CHOICES,
    PROFILES,
    VOLUNTEER,
    VOLUNTEER_NOTICE_VERSION,
    ChoiceKind,
    slot_of,
)

# ---------------------------------------------------------------------- matching


@dataclass(frozen=True)
class Matching:
    """What a need's invitations are checked against: when, and the coordinator's cap."""

    now: datetime
    zone: str
    cap: int


def _chose(kind: ChoiceKind, values: list[str]) -> ColumnElement[bool]:
    """SQL: the profile chose one of ``values`` of ``kind``."""
    chosen = core_select(CHOICES.c.profile_id).where(
        CHOICES.c.kind == kind.value, CHOICES.c.value.in_(values)
    )
    return PROFILES.c.id.in_(chosen)


def _match_conditions(
    need: Need, matching: Matching, since: datetime
) -> list[ColumnElement[bool]]:
    """Who may be asked, each rule a set (``IN``/``NOT IN`` an uncorrelated subquery).

    Sets, not a lookup per volunteer: the databases hash them, which keeps 10,000 volunteers
    well under a second (bench/bench_volunteering.py).
    """
    assert need.starts_at is not None
    over_cap = (
        core_select(S.c.participant_id)
        .join(N, N.c.id == S.c.need_id)
        .where(N.c.created_by == need.created_by, S.c.invited_at > since)
        .group_by(S.c.participant_id)
        .having(func.count() >= matching.cap)
    )
    conditions = [
        _chose(ChoiceKind.DISTRICT, [need.district or ""]),
        _chose(ChoiceKind.SLOT, [slot_of(need.starts_at, matching.zone).value]),
        P.c.unreachable_at.is_(None),
        P.c.id.not_in(core_select(STOPS.c.participant_id)),
        P.c.id.in_(latest_yes_ids(PRIVACY, version=PRIVACY_NOTICE_VERSION, alias="pc")),
        P.c.id.in_(latest_yes_ids(VOLUNTEER, version=VOLUNTEER_NOTICE_VERSION, alias="vc")),
        P.c.id.not_in(core_select(S.c.participant_id).where(S.c.need_id == need.id)),
        P.c.id.not_in(over_cap),
    ]
    if need.wished_language:
        conditions.append(_chose(ChoiceKind.LANGUAGE, [need.wished_language]))
    return conditions


def _recent_invitations(since: datetime) -> Any:
    """SQL: how many invitations (from anyone) the profile's person got since ``since``."""
    # A count per volunteer through the (participant, time) index: as a join to a grouped
    # subquery instead, SQLite 3.40 took 35 s for 10,000 volunteers.
    return (
        core_select(func.count())
        .where(S.c.participant_id == PROFILES.c.participant_id, S.c.invited_at > since)
        .scalar_subquery()
    )


def match_statement(need: Need, matching: Matching) -> Select[Any]:
    """The volunteers a need invites, best first.

    Rows of ``participant_id``, ``language``, ``score`` (tags in common), ``recent``
    (invitations from anyone in the last seven days) and ``profile_id``.

    A match has a tag in common with the need, its district, its time slot and, when the need
    wishes for a language, that language; has agreed to the volunteer text and the privacy
    notice, can be reached, did not send /stop, was not invited to this need before, and got
    fewer than ``cap`` invitations from this coordinator's needs in the last seven days.

    Best first: more tags in common, then fewer invitations from anyone in the last seven days
    (so the same few are not asked every time), then who volunteered first.
    """
    since = matching.now - CAP_WINDOW
    tags = CHOICES.alias("t")
    recent = _recent_invitations(since)
    score = func.count(tags.c.value).label("score")
    in_common = and_(
        tags.c.profile_id == PROFILES.c.id,
        tags.c.kind == ChoiceKind.TAG.value,
        tags.c.value.in_(list(need.tags)),
    )
    return (
        core_select(
            PROFILES.c.participant_id,
            P.c.language,
            score,
            recent.label("recent"),
            PROFILES.c.id.label("profile_id"),
        )
        .select_from(PROFILES)
        .join(P, P.c.id == PROFILES.c.participant_id)
        .join(tags, in_common)
        .where(*_match_conditions(need, matching, since))
        .group_by(PROFILES.c.id, PROFILES.c.participant_id, P.c.language)
        .order_by(score.desc(), recent, PROFILES.c.id)
    )


async def count_matches(session: AsyncSession, need: Need, matching: Matching) -> int:
    """How many volunteers the need would invite now."""
    connection = await session.connection()
    matched = match_statement(need, matching).order_by(None).subquery()
    statement = core_select(func.count()).select_from(matched)
    return int((await connection.execute(statement)).scalar_one())


async def publish(
    session: AsyncSession,
    need: Need,
    matching: Matching,
    messages: NeedMessages,
    default_language: str,
) -> int:
    """Publish a draft: invite every matching volunteer, best first; return how many.

    Two statements do it, whatever the number of volunteers: the outbox rows are inserted
    straight from the matching query, best match first (so their ids, and the order the
    delivery worker sends them in, follow the ranking), with the payload of each person's
    language chosen in SQL; then a :class:`Signup` row for each of those rows. The payloads
    are rendered once per language; nobody is loaded as an object.

    Raises:
        NeedProblem: ``not_draft``, ``incomplete``, ``tags``, ``past`` or ``places``.
    """
    centre = await session.get(Centre, need.centre_id)
    assert centre is not None
    check_publishable(need, centre, matching.now)
    need.state = NeedState.OPEN
    need.published_at = need.updated_at = matching.now
    await session.flush()
    connection = await session.connection()
    payload = await _payload_by_language(connection, need, centre, messages, default_language)
    need.invited = await _insert_invitations(connection, need, matching, payload, default_language)
    await connection.execute(
        insert(S).from_select(
            ["need_id", "participant_id", "answer", "invited_at"],
            core_select(
                literal(need.id),
                D.c.participant_id,
                literal(Answer.INVITED.value),
                literal(matching.now, UTCDateTime()),
            ).where(D.c.ref == need.ref, D.c.kind == INVITE_KIND),
        )
    )
    await session.flush()
    return need.invited


async def _insert_invitations(
    connection: AsyncConnection,
    need: Need,
    matching: Matching,
    payload: Callable[[ColumnElement[Any]], ColumnElement[Any]],
    default_language: str,
) -> int:
    """The outbox rows of the need's invitations, from the matching query; how many."""
    matched = match_statement(need, matching).subquery()
    columns = ["participant_id", "kind", "payload", "ref", "due_at", "expires_at"]
    columns += ["urgent", "attempts", "state"]
    rows = core_select(
        matched.c.participant_id,
        literal(INVITE_KIND),
        payload(func.coalesce(matched.c.language, default_language)),
        literal(need.ref),
        literal(matching.now, UTCDateTime()),
        literal(None if need.weekly else need.starts_at, UTCDateTime()),
        literal(False),
        literal(0),
        literal(DeliveryState.PENDING.value),
    ).order_by(matched.c.score.desc(), matched.c.recent, matched.c.profile_id)
    result = await connection.execute(insert(D).from_select(columns, rows))
    return int(result.rowcount or 0)


async def _payload_by_language(
    connection: AsyncConnection,
    need: Need,
    centre: Centre,
    messages: NeedMessages,
    default_language: str,
) -> Callable[[ColumnElement[Any]], ColumnElement[Any]]:
    """SQL choosing the invitation in a language column's language: one rendered per language."""
    languages = (await connection.execute(core_select(P.c.language).distinct())).scalars().all()
    codes = {code or default_language for code in languages} | {default_language}
    rendered = {code: literal(messages.invitation(need, centre, code), JSON) for code in codes}

    def payload(language: ColumnElement[Any]) -> ColumnElement[Any]:
        return case(rendered, value=language, else_=rendered[default_language])

    return payload
