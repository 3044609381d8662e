"""Roles (admin, staff, moderator, coordinator) and the audit log of who did what.

Roles are keyed on the Telegram user id: staff need not be participants. Admins come from
``ADMIN_IDS`` or from a grant. An admin may do everything staff and moderators may do. A
coordinator speaks for volunteer centres (:mod:`models.centres`); an admin is not one by being
an admin, since a coordinator sees the contact details volunteers share with their centre.
Only Telegram accounts hold roles: a web resident's id (:mod:`models.channels`) never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, String, UniqueConstraint, delete
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import TelegramId, UTCDateTime, utcnow
from models.channels import is_web_id


class Role(StrEnum):
    """What a person may do besides answering."""

    ADMIN = "admin"
    STAFF = "staff"
    MODERATOR = "moderator"
    COORDINATOR = "coordinator"


class RoleGrant(SQLModel, table=True):
    """One role held by one Telegram user."""

    __table_args__ = (UniqueConstraint("telegram_user_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = Field(sa_column=Column(TelegramId, nullable=False, index=True))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    # None when granted from the command line.
    granted_by: int | None = Field(default=None, sa_column=Column(TelegramId))
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditLog(SQLModel, table=True):
    """Who did what to what, and when. ``actor`` is None for the command line or the system."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: int | None = Field(default=None, sa_column=Column(TelegramId, index=True))
    action: str = Field(sa_column=Column(String(64), nullable=False))
    target: str | None = Field(default=None, max_length=200)
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


async def roles_of(
    session: AsyncSession, telegram_user_id: int, admin_ids: frozenset[int] = frozenset()
) -> set[Role]:
    """Every role the person holds, counting an admin as staff and moderator too."""
    if is_web_id(telegram_user_id):
        # Anyone with a browser is a web resident: no staff or moderator power, ever.
        return set()
    granted = await session.exec(
        select(RoleGrant.role).where(RoleGrant.telegram_user_id == telegram_user_id)
    )
    roles = {Role(r) for r in granted.all()}
    if telegram_user_id in admin_ids:
        roles.add(Role.ADMIN)
    if Role.ADMIN in roles:
        roles |= {Role.STAFF, Role.MODERATOR}
    return roles


async def has_role(
    session: AsyncSession,
    telegram_user_id: int,
    role: Role,
    admin_ids: frozenset[int] = frozenset(),
) -> bool:
    """Tell whether the person may act in ``role``."""
    return role in await roles_of(session, telegram_user_id, admin_ids)


async def grant(
    session: AsyncSession, telegram_user_id: int, role: Role, *, by: int | None, now: datetime
) -> bool:
    """Give a role; False when the person already had it.

    Raises:
        ValueError: for a web resident's id (roles go to Telegram accounts only).
    """
    if is_web_id(telegram_user_id):
        raise ValueError("roles are granted to Telegram accounts only")
    existing = await session.exec(
        select(RoleGrant).where(
            RoleGrant.telegram_user_id == telegram_user_id, RoleGrant.role == role.value
        )
    )
    if existing.first() is not None:
        return False
    session.add(
        RoleGrant(telegram_user_id=telegram_user_id, role=role, granted_by=by, granted_at=now)
    )
    await audit(
        session, by, "role.grant", f"user:{telegram_user_id}", {"role": role.value}, now=now
    )
    return True


async def revoke(
    session: AsyncSession, telegram_user_id: int, role: Role, *, by: int | None, now: datetime
) -> bool:
    """Take a role away; False when the person did not have it."""
    result = await session.exec(  # type: ignore[call-overload]
        delete(RoleGrant).where(
            col(RoleGrant.telegram_user_id) == telegram_user_id,
            col(RoleGrant.role) == role.value,
        )
    )
    if not result.rowcount:
        return False
    await audit(
        session, by, "role.revoke", f"user:{telegram_user_id}", {"role": role.value}, now=now
    )
    return True


async def list_grants(session: AsyncSession) -> list[RoleGrant]:
    """Every granted role, by user."""
    rows = await session.exec(
        select(RoleGrant).order_by(col(RoleGrant.telegram_user_id), col(RoleGrant.role))
    )
    return list(rows.all())


async def audit(
    session: AsyncSession,
    actor: int | None,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Write one line of the audit log (in the caller's transaction)."""
    session.add(
        AuditLog(actor=actor, action=action, target=target, detail=detail, at=now or utcnow())
    )
    await session.flush()


async def holders(
    session: AsyncSession, role: Role, admin_ids: frozenset[int] = frozenset()
) -> list[int]:
    """The Telegram ids of everyone who may act in ``role`` (admins count as every role)."""
    granted = await session.exec(
        select(RoleGrant.telegram_user_id).where(
            col(RoleGrant.role).in_([role.value, Role.ADMIN.value])
        )
    )
    return sorted(set(granted.all()) | set(admin_ids))


async def role_holders(session: AsyncSession, admin_ids: frozenset[int]) -> list[int]:
    """The Telegram ids of everyone with any role (for their command menus)."""
    granted = await session.exec(select(RoleGrant.telegram_user_id).distinct())
    return sorted(set(granted.all()) | set(admin_ids))


#: Refusals of one person and action within this time of the first are one line of the log.
REFUSALS_COLLAPSE = timedelta(hours=1)


async def audit_refusal(
    session: AsyncSession, actor: int, what: str, role: Role, *, now: datetime
) -> None:
    """Log that ``actor`` was refused ``what``: one line per person, action and hour.

    A forged button pressed a thousand times is one line with ``count`` 1000 and the time of the
    ``last`` press, not a thousand lines: the log says who tried what and when it began,
    and cannot be flooded.
    """
    earlier = (
        await session.exec(
            select(AuditLog)
            .where(
                col(AuditLog.actor) == actor,
                col(AuditLog.action) == "denied",
                col(AuditLog.target) == what,
                col(AuditLog.at) > now - REFUSALS_COLLAPSE,
            )
            .order_by(col(AuditLog.at).desc())
            .limit(1)
        )
    ).first()
    if earlier is None:
        await audit(session, actor, "denied", what, {"role": role.value, "count": 1}, now=now)
        return
    detail = dict(earlier.detail or {})
    # A new dict, not a change inside the old one: the JSON column notices only reassignment.
    earlier.detail = {**detail, "count": int(detail.get("count", 1)) + 1, "last": now.isoformat()}
    await session.flush()


#: Lines of the audit log per page.
AUDIT_PAGE = 100


@dataclass(frozen=True)
class AuditFilter:
    """Which lines of the audit log to show: by whom, what (a prefix: ``moderation.``), on
    what (a part of the target), and from/until when. Empty fields do not filter."""

    actor: int | None = None
    action: str = ""
    target: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filter as conditions on ``AuditLog``."""
        where: list[ColumnElement[bool]] = []
        if self.actor is not None:
            where.append(col(AuditLog.actor) == self.actor)
        if self.action:
            where.append(col(AuditLog.action).startswith(self.action, autoescape=True))
        if self.target:
            where.append(col(AuditLog.target).contains(self.target, autoescape=True))
        if self.since is not None:
            where.append(col(AuditLog.at) >= self.since)
        if self.until is not None:
            where.append(col(AuditLog.at) < self.until)
        return where


async def audit_lines(
    session: AsyncSession, only: AuditFilter, *, before: int | None = None
) -> list[AuditLog]:
    """A page of the audit log, newest first; ``before`` an id continues an earlier page."""
    where = only.conditions()
    if before is not None:
        where.append(col(AuditLog.id) < before)
    rows = await session.exec(
        select(AuditLog).where(*where).order_by(col(AuditLog.id).desc()).limit(AUDIT_PAGE)
    )
    return list(rows.all())


async def audit_actions(session: AsyncSession) -> list[str]:
    """Every kind of action in the log, to filter by."""
    rows = await session.exec(select(AuditLog.action).distinct().order_by(col(AuditLog.action)))
    return list(rows.all())
