"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from bot.db import create_engine, schema_is_current, upgrade

pytestmark = pytest.mark.postgres


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        assert not await schema_is_current(engine)
        await upgrade(engine)
        assert await schema_is_current(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
        await upgrade(engine)  # a second run changes nothing
    finally:
        await engine.dispose()


DRAFTS_AT_0001 = """
INSERT INTO arena (id, slug, name, created_at) VALUES (1, 'a', '{}', '2027-01-01 10:00:00');
INSERT INTO consultation (id, slug, title, languages, status, as_poll, created_at, updated_at)
    VALUES (1, 'c', '{}', '[]', 'closed', false, '2027-01-01 10:00:00', '2027-01-01 10:00:00');
INSERT INTO broadcast (id, created_by, chat_id, staff_language, state, step, urgent,
    queued_through, created_at, updated_at)
    VALUES (1, 900, 900, 'nb', 'draft', 'text:en', false, 0, '2027-01-01 10:00:00',
    '2027-01-01 11:00:00');
INSERT INTO broadcast (id, created_by, chat_id, staff_language, state, step, urgent,
    queued_through, created_at, updated_at)
    VALUES (2, NULL, NULL, 'nb', 'draft', 'audience', false, 0, '2027-01-01 10:00:00',
    '2027-01-01 10:00:00');
INSERT INTO event (id, arena_id, created_by, chat_id, state, step, staff_language, invited,
    created_at, updated_at)
    VALUES (1, 1, 901, 901, 'draft', 'capacity', 'nb', 0, '2027-01-01 10:00:00',
    '2027-01-01 12:00:00');
INSERT INTO outcome (id, consultation_id, created_by, chat_id, state, step, staff_language,
    recipients, created_at, updated_at)
    VALUES (1, 1, 902, 902, 'published', NULL, 'nb', 3, '2027-01-01 10:00:00',
    '2027-01-01 10:00:00');
"""


async def test_staff_drafts_keep_their_step_when_it_moves_to_the_dialogs(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await upgrade(engine, "0001")
        async with engine.begin() as connection:
            for statement in DRAFTS_AT_0001.split(";"):
                if statement.strip():
                    await connection.execute(text(statement))
        await upgrade(engine)
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT user_id, chat_id, wizard, subject_id, step FROM dialog ORDER BY id")
            )
            assert [tuple(row) for row in rows] == [
                (900, 900, "broadcast", 1, "text:en"),
                (901, 901, "event", 1, "capacity"),
            ]
            drafts = await connection.execute(text("SELECT count(*) FROM broadcast"))
            assert drafts.scalar_one() == 2  # every row is kept
    finally:
        await engine.dispose()


PEOPLE_AT_0003 = """
INSERT INTO participant (id, telegram_user_id, chat_id, language, created_at)
    VALUES (1, 501, 501, 'nb', '2027-01-01 10:00:00');
INSERT INTO participant (id, telegram_user_id, chat_id, language, created_at)
    VALUES (2, 502, 502, 'nn', '2027-01-01 10:00:00');
INSERT INTO consent (participant_id, kind, version, granted, decided_at)
    VALUES (1, 'privacy', '1', true, '2027-01-01 10:00:00');
INSERT INTO consent (participant_id, kind, version, granted, decided_at)
    VALUES (2, 'privacy', '1', true, '2027-01-01 10:00:00');
INSERT INTO auditlog (at, action) VALUES ('2027-01-02 10:00:00', 'participant.erased');
INSERT INTO auditlog (at, action) VALUES ('2027-01-03 10:00:00', 'participant.erased')
"""


async def test_participant_ids_are_never_given_twice_after_the_upgrade(database_url: str) -> None:
    """Participants 3 and 4 were erased before the upgrade (two erasures in the audit log)."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await upgrade(engine, "0003")
        async with engine.begin() as connection:
            for statement in PEOPLE_AT_0003.split(";"):
                await connection.execute(text(statement))
        await upgrade(engine)
        async with engine.begin() as connection:
            consents = await connection.execute(text("SELECT count(*) FROM consent"))
            assert consents.scalar_one() == 2  # every row is kept, nothing cascaded away
            await connection.execute(text("DELETE FROM participant WHERE id = 2"))
            await connection.execute(
                text(
                    "INSERT INTO participant (telegram_user_id, chat_id, created_at)"
                    " VALUES (503, 503, '2027-01-04 10:00:00')"
                )
            )
            newest = await connection.execute(
                text("SELECT id FROM participant WHERE telegram_user_id = 503")
            )
            # Not 2 (just erased), nor 3 or 4, which may have been given before the upgrade.
            assert newest.scalar_one() > 4
    finally:
        await engine.dispose()


RESPONSES_AT_0010 = """
INSERT INTO consultation (id, slug, title, languages, status, as_poll, access, created_at,
    updated_at)
    VALUES (1, 'c', '{}', '["nb", "en"]', 'open', false, 'open', '2027-01-01 10:00:00',
    '2027-01-01 10:00:00');
INSERT INTO participant (id, telegram_user_id, chat_id, language, channel, created_at)
    VALUES (1, 501, 501, 'en', 'telegram', '2027-01-01 10:00:00');
INSERT INTO participant (id, telegram_user_id, chat_id, language, channel, created_at)
    VALUES (2, 502, 502, 'nn', 'telegram', '2027-01-01 10:00:00');
INSERT INTO participant (id, telegram_user_id, chat_id, channel, created_at)
    VALUES (3, 503, 503, 'telegram', '2027-01-01 10:00:00');
INSERT INTO response (id, participant_id, consultation_id, started_at, editing)
    VALUES (1, 1, 1, '2027-01-02 10:00:00', false);
INSERT INTO response (id, participant_id, consultation_id, started_at, editing)
    VALUES (2, 2, 1, '2027-01-02 10:00:00', false);
INSERT INTO response (id, participant_id, consultation_id, started_at, editing)
    VALUES (3, 3, 1, '2027-01-02 10:00:00', false)
"""


def _downgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    from bot.db import _alembic_config

    config = _alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_responses_get_the_language_they_were_shown_in_and_the_downgrade_drops_it(
    database_url: str,
) -> None:
    """English reader: English; Nynorsk reader and one without a language: the first, Bokmål."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await upgrade(engine, "0010")
        async with engine.begin() as connection:
            for statement in RESPONSES_AT_0010.split(";"):
                await connection.execute(text(statement))
        await upgrade(engine)
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT id, language FROM response ORDER BY id"))
            assert [tuple(row) for row in rows] == [(1, "en"), (2, "nb"), (3, "nb")]
        async with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await connection.commit()
            async with connection.begin():
                await connection.run_sync(_downgrade, "0010")
        async with engine.connect() as connection:
            count = await connection.execute(text("SELECT count(*) FROM response"))
            assert count.scalar_one() == 3  # the rows stay; only the column goes
            with pytest.raises(Exception, match="language"):
                await connection.execute(text("SELECT language FROM response"))
    finally:
        await engine.dispose()
