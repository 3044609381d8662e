"""Participants in bulk for broadcast tests and benchmarks: rows inserted without the ORM."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import MIGRATIONS, create_engine
from models.participant import PRIVACY, PRIVACY_NOTICE_VERSION, find_participant

EARLIER = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


async def add_people(
    target: AsyncSession | AsyncConnection,
    user_ids: Sequence[int],
    *,
    language: str | None = "nb",
    source: str | None = None,
    consent: bool | None = True,
    chunk: int = 5000,
) -> list[int]:
    """Insert participants (chat id == user id) with a privacy decision; return their ids.

    Args:
        target: a session or connection inside a transaction (the caller commits).
        user_ids: Telegram user ids.
        language: the stored language.
        source: the first-contact source.
        consent: True accepted, False declined, None no decision at all.
        chunk: rows per INSERT.
    """
    connection = await target.connection() if isinstance(target, AsyncSession) else target
    participant = SQLModel.metadata.tables["participant"]
    consent_table = SQLModel.metadata.tables["consent"]
    ids: list[int] = []
    for start in range(0, len(user_ids), chunk):
        part = list(user_ids[start : start + chunk])
        await connection.execute(
            insert(participant),
            [
                {
                    "telegram_user_id": uid,
                    "chat_id": uid,
                    "language": language,
                    "source": source,
                    "created_at": EARLIER,
                }
                for uid in part
            ],
        )
        rows = await connection.execute(
            select(participant.c.id, participant.c.telegram_user_id).where(
                participant.c.telegram_user_id.in_(part)
            )
        )
        by_user = {uid: pid for pid, uid in rows.all()}
        chunk_ids = [by_user[uid] for uid in part]
        ids.extend(chunk_ids)
        if consent is not None:
            await connection.execute(
                insert(consent_table),
                [
                    {
                        "participant_id": pid,
                        "kind": PRIVACY,
                        "version": PRIVACY_NOTICE_VERSION,
                        "granted": consent,
                        "decided_at": EARLIER,
                    }
                    for pid in chunk_ids
                ],
            )
    return ids


async def participant_id(session: AsyncSession, telegram_user_id: int) -> int:
    """The participant id of a Telegram user."""
    found = await find_participant(session, telegram_user_id)
    assert found is not None
    assert found.id is not None
    return found.id


def _stamp_head(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.stamp(config, "head")


async def prepare_database(url: str) -> None:
    """Empty the database, create every table from the models and stamp the newest migration.

    The bot's own ``upgrade`` at start is then a no-op (tests/domain/test_migrations.py checks
    that the migrations build the same schema).
    """
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
            await connection.run_sync(SQLModel.metadata.create_all)
            await connection.run_sync(_stamp_head)
    finally:
        await engine.dispose()
