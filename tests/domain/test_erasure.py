"""Erasure takes exactly the person: their rows and their ids, nothing that only looks alike.

Issue #14, items 1, 2 and 10: an erased person's export key never passes to someone else, a
number that happens to equal the person's Telegram id is not theirs, and what was erased does
not linger in the database file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import BigInteger, event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import create_engine, create_sessionmaker
from models import privacy
from models.dialogs import Dialog
from models.participant import Participant, record_privacy_decision
from models.pseudonym import pseudonymizer
from models.roles import AuditLog, Role, RoleGrant, grant, roles_of
from models.updates import ProcessedUpdate, claim_update

pytestmark = pytest.mark.postgres

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


async def _newcomer(session: AsyncSession, telegram_id: int) -> Participant:
    person = await record_privacy_decision(
        session, telegram_id, telegram_id, granted=True, now=NOW
    )
    await session.commit()
    return person


async def test_an_erased_persons_key_is_never_given_to_the_next_person(
    session: AsyncSession,
) -> None:
    await _newcomer(session, 5001)
    zara = await _newcomer(session, 5002)  # the newest participant
    key_of = await pseudonymizer(session)
    zaras_id, zaras_key = zara.id or 0, key_of(zara.id or 0)

    await privacy.erase(session, zara, NOW)
    await session.commit()
    william = await _newcomer(session, 5003)

    assert william.id != zaras_id
    assert key_of(william.id or 0) != zaras_key


async def test_a_staff_member_who_erases_their_resident_data_keeps_their_role(
    session: AsyncSession,
) -> None:
    staff = await _newcomer(session, 6001)
    await grant(session, 6001, Role.STAFF, by=None, now=NOW)
    await session.commit()

    await privacy.erase(session, staff, NOW)
    await session.commit()

    assert await roles_of(session, 6001) == {Role.STAFF}


async def test_erasure_leaves_rows_that_only_hold_the_same_number(session: AsyncSession) -> None:
    person = await _newcomer(session, 7001)
    # An update whose id happens to be the person's Telegram id, and someone else's grant by an
    # admin who happens to have that number as their id are not the person's data.
    await claim_update(session, 7001, "digest", NOW)
    await grant(session, 7002, Role.MODERATOR, by=None, now=NOW)
    await session.commit()

    await privacy.erase(session, person, NOW)
    await session.commit()

    assert await session.get(ProcessedUpdate, 7001) is not None
    assert await roles_of(session, 7002) == {Role.MODERATOR}


async def test_erasure_clears_the_person_where_their_telegram_id_is_written(
    session: AsyncSession,
) -> None:
    person = await _newcomer(session, 8001)
    await grant(session, 8002, Role.STAFF, by=8001, now=NOW)
    session.add(
        Dialog(
            user_id=8001,
            chat_id=8001,
            wizard="broadcast",
            subject_id=None,
            step="x",
            updated_at=NOW,
        )
    )
    session.add(AuditLog(actor=8001, action="denied", target="/manage", at=NOW))
    await session.commit()

    await privacy.erase(session, person, NOW)
    await session.commit()

    given = (await session.exec(select(RoleGrant).where(RoleGrant.telegram_user_id == 8002))).one()
    assert given.granted_by is None
    assert (await session.exec(select(Dialog))).all() == []
    assert (await session.exec(select(AuditLog).where(AuditLog.actor == 8001))).all() == []


def test_every_telegram_id_column_is_listed_with_a_reason() -> None:
    """A new column that holds a Telegram id must be decided on: erased with the person, or not."""
    listed = set(privacy.TELEGRAM_ID_COLUMNS) | set(privacy.NOT_A_PERSONS_ID)
    found = {
        f"{table.name}.{column.name}"
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, BigInteger) and not column.foreign_keys
    }
    assert found - {"participant.telegram_user_id", "participant.chat_id"} == listed


def _sqlite_without_secure_delete(dbapi_connection: Any, _record: Any) -> None:
    # Debian's SQLite overwrites deleted rows by default; other builds do not. Start from
    # theirs, so the test shows what Medvirk itself sets.
    dbapi_connection.cursor().execute("PRAGMA secure_delete=OFF")


@pytest.mark.sqlite_only("the database file of SQLite")
async def test_an_erased_text_is_gone_from_the_sqlite_file(
    engine: AsyncEngine, database_url: str
) -> None:
    await engine.dispose()
    engine = create_engine(database_url)
    event.listen(engine.sync_engine, "connect", _sqlite_without_secure_delete, insert=True)
    secret = "Mitt hemmelige svar"
    async with create_sessionmaker(engine)() as session:
        people = [await _newcomer(session, telegram_id) for telegram_id in range(9001, 9010)]
        connection = await session.connection()
        await connection.execute(
            text("UPDATE participant SET source = :s WHERE id = :i"),
            {"s": secret, "i": people[0].id},
        )
        await session.commit()
        await privacy.erase(session, people[0], NOW)
        await session.commit()
        await privacy.forget_freed_space(session)
    await engine.dispose()

    path = Path(database_url.split("///", 1)[1])
    stored = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    assert secret.encode() not in stored
