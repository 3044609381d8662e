"""Database engine and sessions, and schema migrations through Alembic.

Alembic (with Mako, about 6 MB of memory) is imported only when there is a migration to run or
to write: a bot starting on a database that is already at the newest migration never loads it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlmodel.ext.asyncio.session import AsyncSession

import models.tables  # noqa: F401  (registers every table on the metadata)

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def create_engine(url: str) -> AsyncEngine:
    """Create the engine; SQLite gets foreign keys, WAL and a busy timeout."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:"):
            kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_size"] = 10
        kwargs["max_overflow"] = 20
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Without this pragma SQLite ignores ON DELETE CASCADE, and erasure would leave rows.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Deleted rows are overwritten with zeros, so an erased person's answers do not linger in
    # free pages of the file (docs/privacy.md).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def sqlite_file(engine: AsyncEngine) -> Path | None:
    """The absolute path of a SQLite database file; None for PostgreSQL or memory.

    A relative path in the URL (the default ``./medvirk.db``) is relative to the folder the
    process runs in.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


async def missing_database(engine: AsyncEngine) -> str | None:
    """Why there is no Medvirk database behind ``engine``, or None when there is one.

    Looks without creating anything: connecting to a SQLite file that does not exist would
    create an empty one, so its existence is checked first.
    """
    path = sqlite_file(engine)
    if path is not None and not path.exists():
        return f"no database at {path}"
    where = str(path) if path is not None else engine.url.render_as_string(hide_password=True)
    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(
                lambda sync: inspect(sync).has_table("alembic_version")
            )
    except (OSError, DBAPIError) as error:
        return f"cannot open the database at {where} ({type(error).__name__})"
    return None if found else f"no Medvirk tables in the database at {where}"


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory; objects stay usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to the newest migration (or to ``revision``).

    On SQLite the migrations run with foreign keys off, as SQLite's own procedure for changing
    a table asks: a migration that rebuilds a table (copy, drop, rename) would otherwise
    delete every row that points at it, through ``ON DELETE CASCADE``. The keys are checked
    before the commit, so a migration cannot leave a row pointing nowhere. A database already
    at the newest migration is left alone without loading Alembic.
    """
    if revision == "head" and await _at_newest(engine):
        return
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Outside a transaction: inside one, SQLite ignores this pragma.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()  # ends SQLAlchemy's autobegun transaction; SQLite had none
        try:
            async with connection.begin():
                await connection.run_sync(_upgrade, revision)
                if sqlite:
                    broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise RuntimeError(f"a migration left rows pointing nowhere: {broken[:5]}")
        finally:
            if sqlite:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()


def newest_revision() -> str:
    """The newest migration's revision, read from the file names (``0004_…py``)."""
    numbers = [p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py")]
    return max(numbers, key=int)


async def _at_newest(engine: AsyncEngine) -> bool:
    """Whether the database is stamped with the newest migration, asked without Alembic."""
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            stamped = {str(row[0]) for row in rows}
    except DBAPIError:
        return False  # no alembic_version table yet: a new database
    return stamped == {newest_revision()}


async def schema_is_current(engine: AsyncEngine) -> bool:
    """Tell whether the database is at the newest migration."""
    return await _at_newest(engine)


async def autogenerate(message: str) -> None:
    """Write a new migration from the difference between the models and a fresh database."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{folder}/schema.db")
        try:
            await upgrade(engine)

            def revise(connection: Connection) -> None:
                from alembic import command
                from alembic.script import ScriptDirectory

                config = _alembic_config()
                config.attributes["connection"] = connection
                head = ScriptDirectory.from_config(config).get_current_head()
                number = f"{int(head or 0) + 1:04d}"
                command.revision(config, message=message, autogenerate=True, rev_id=number)

            async with engine.begin() as connection:
                await connection.run_sync(revise)
        finally:
            await engine.dispose()
