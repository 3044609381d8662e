"""Roles (admin, staff, moderator) and the audit log of who did what.

Roles are keyed on the Telegram user id: staff need not be participants. Admins come from
``ADMIN_IDS`` or from a grant. An admin may do everything staff and moderators may do.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint, delete
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import TelegramId, UTCDateTime, utcnow


class Role(StrEnum):
    """What a person may do besides answering."""

    ADMIN = "admin"
    STAFF = "staff"
    MODERATOR = "moderator"


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
    """Give a role; False when the person already had it."""
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
