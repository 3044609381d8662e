"""Fixtures: the dashboard on a test server, on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.roles import Role, grant
from tests.auxil.dashboard import NOW, Desk, dashboard_client

ADMIN = 9000
STAFF = 9001
MODERATOR = 9002
CITIZEN = 9003


@pytest.fixture
async def desk(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[Desk]:
    """The dashboard in English, with an admin (ADMIN_IDS), a staff member and a moderator."""
    async with sessionmaker() as session, session.begin():
        await grant(session, STAFF, Role.STAFF, by=None, now=NOW)
        await grant(session, MODERATOR, Role.MODERATOR, by=None, now=NOW)
    async with dashboard_client(sessionmaker, admin_ids=frozenset({ADMIN}), language="en") as desk:
        yield desk
