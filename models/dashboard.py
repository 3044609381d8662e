"""The staff dashboard's one-time login links and sessions.

A login link names a :class:`DashboardLogin` row: it is valid for :data:`LOGIN_TTL` and can be
used once, because using it is a conditional update (``... WHERE used_at IS NULL``) whose row
count says whether this request was first, on SQLite and PostgreSQL, on one replica or several.
Using it opens a :class:`DashboardSession`, which lasts while it is used: it ends after
``idle`` without a request, after :data:`SESSION_MAX_AGE` in any case, or when the person logs
out. Neither row holds more than the Telegram user id the roles are keyed on.

Both ids are random (128 bits); the web layer signs them into the link and the cookie
(``bot/signing.py``), so a forged or altered value is refused before the database is asked.
Roles are not stored here: they are read again on every request (:func:`models.roles.roles_of`),
so a revoked role takes effect at once.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Column, String, delete, or_, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import TelegramId, UTCDateTime
from models.roles import Role, audit, roles_of

#: How long a login link can be used.
LOGIN_TTL = timedelta(minutes=10)
#: A session ends this long after it was opened, however busy.
SESSION_MAX_AGE = timedelta(hours=12)
#: The default idle timeout (``DASHBOARD_IDLE_MINUTES``).
DEFAULT_IDLE = timedelta(minutes=30)
#: ``last_seen_at`` is written at most this often, not on every request.
TOUCH_EVERY = timedelta(minutes=1)
#: Used links and ended sessions are deleted after this long.
KEEP_ENDED = timedelta(days=1)
#: The roles that may use the dashboard at all (admins hold the other two as well).
DASHBOARD_ROLES = frozenset({Role.ADMIN, Role.STAFF, Role.MODERATOR})


def _token() -> str:
    # URL-safe, no dot (a signed value cannot contain one).
    return secrets.token_urlsafe(16)


class DashboardLogin(SQLModel, table=True):
    """A one-time login link sent by ``/dashboard`` in a private chat."""

    __tablename__ = "dashboard_login"

    id: str = Field(default_factory=_token, sa_column=Column(String(32), primary_key=True))
    telegram_user_id: int = Field(sa_column=Column(TelegramId, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DashboardSession(SQLModel, table=True):
    """A logged-in browser: whose, its CSRF token, its language, when it was last used."""

    __tablename__ = "dashboard_session"

    id: str = Field(default_factory=_token, sa_column=Column(String(32), primary_key=True))
    telegram_user_id: int = Field(sa_column=Column(TelegramId, nullable=False, index=True))
    # Every state-changing request must carry it (a form field or a header).
    csrf: str = Field(default_factory=lambda: secrets.token_urlsafe(24), max_length=48)
    language: str | None = Field(default=None, max_length=8)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def expires(self, idle: timedelta) -> datetime:
        """When the session ends if it is not used before."""
        return min(self.last_seen_at + idle, self.created_at + SESSION_MAX_AGE)


async def may_use_dashboard(
    session: AsyncSession, telegram_user_id: int, admin_ids: frozenset[int] = frozenset()
) -> bool:
    """Tell whether the person holds a role that opens the dashboard."""
    return bool(DASHBOARD_ROLES & await roles_of(session, telegram_user_id, admin_ids))


async def issue_login(
    session: AsyncSession, telegram_user_id: int, now: datetime
) -> DashboardLogin:
    """Make a one-time login link for the person (the caller checked their role)."""
    await _prune(session, now)
    login = DashboardLogin(
        telegram_user_id=telegram_user_id, created_at=now, expires_at=now + LOGIN_TTL
    )
    session.add(login)
    await session.flush()
    return login


async def redeem_login(
    session: AsyncSession, login_id: str, now: datetime, admin_ids: frozenset[int] = frozenset()
) -> DashboardSession | None:
    """Use a login link: a new session, or None when it is unknown, used, expired or its
    holder no longer has a dashboard role. Audited as ``dashboard.login``."""
    used = await session.exec(  # type: ignore[call-overload]
        update(DashboardLogin)
        .where(
            col(DashboardLogin.id) == login_id,
            col(DashboardLogin.used_at).is_(None),
            col(DashboardLogin.expires_at) > now,
        )
        .values(used_at=now)
    )
    if used.rowcount != 1:
        return None
    login = await session.get(DashboardLogin, login_id, populate_existing=True)
    assert login is not None
    if not await may_use_dashboard(session, login.telegram_user_id, admin_ids):
        return None
    return await open_session(session, login.telegram_user_id, now)


async def open_session(
    session: AsyncSession, telegram_user_id: int, now: datetime
) -> DashboardSession:
    """Start a session for the person; audited as ``dashboard.login``."""
    opened = DashboardSession(telegram_user_id=telegram_user_id, created_at=now, last_seen_at=now)
    session.add(opened)
    await session.flush()
    await audit(session, telegram_user_id, "dashboard.login", now=now)
    return opened


async def current_session(
    session: AsyncSession, session_id: str, now: datetime, idle: timedelta = DEFAULT_IDLE
) -> DashboardSession | None:
    """The session if it is still on (not logged out, not idle, not too old); it is touched."""
    found = await session.get(DashboardSession, session_id)
    if found is None or found.ended_at is not None or found.expires(idle) <= now:
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        found.last_seen_at = now
        await session.flush()
    return found


async def end_session(
    session: AsyncSession, dashboard_session: DashboardSession, now: datetime
) -> None:
    """Log out; audited as ``dashboard.logout``."""
    dashboard_session.ended_at = now
    await session.flush()
    await audit(session, dashboard_session.telegram_user_id, "dashboard.logout", now=now)


async def set_session_language(
    session: AsyncSession, dashboard_session: DashboardSession, language: str
) -> None:
    """Show the dashboard in ``language`` from now on (a supported code, checked by the caller)."""
    dashboard_session.language = language
    await session.flush()


async def _prune(session: AsyncSession, now: datetime) -> None:
    """Forget links and sessions that can no longer be used."""
    await session.exec(  # type: ignore[call-overload]
        delete(DashboardLogin).where(col(DashboardLogin.expires_at) < now - KEEP_ENDED)
    )
    await session.exec(  # type: ignore[call-overload]
        delete(DashboardSession).where(
            or_(
                col(DashboardSession.ended_at) < now - KEEP_ENDED,
                col(DashboardSession.created_at) < now - SESSION_MAX_AGE - KEEP_ENDED,
            )
        )
    )


async def sessions_of(session: AsyncSession, telegram_user_id: int) -> list[DashboardSession]:
    """The person's sessions that have not been logged out (tests, and the roles page)."""
    rows = await session.exec(
        select(DashboardSession).where(
            DashboardSession.telegram_user_id == telegram_user_id,
            col(DashboardSession.ended_at).is_(None),
        )
    )
    return list(rows.all())
