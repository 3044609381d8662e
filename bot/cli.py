"""The ``medvirk`` command (also ``python -m bot``).

User errors end with one plain line on stderr and a non-zero exit; never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import create_engine, create_sessionmaker, upgrade
from bot.settings import Settings
from models.consultation import (
    ImportRefused,
    Status,
    import_consultation,
    list_consultations,
    set_status,
)
from models.consultation_file import ConsultationFileError, parse_consultation_file

T = TypeVar("T")

BOTFATHER_HELP = """\
No BOT_TOKEN is set, so Medvirk cannot connect to Telegram.
To get a token, open Telegram, talk to @BotFather, send /newbot and follow its questions;
it answers with a token like 123456789:AAE... Put it in a file named .env in this folder
(BOT_TOKEN=123456789:AAE..., see .env.example for every setting) or export BOT_TOKEN in your
shell, then run `make run` again."""


def configure_logging(level: str) -> None:
    """Log to stderr; keep httpx quiet because it logs URLs, which contain the bot token."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def fail(message: str) -> None:
    """Stop with one plain line on stderr."""
    click.echo(f"medvirk: {message}", err=True)
    sys.exit(1)


def load_settings() -> Settings:
    """Read the settings, or stop with what is wrong in them."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()
        )
        fail(f"invalid settings: {problems}")
        raise  # unreachable; fail() exits


def with_database(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate the database, then run ``work`` in one transaction."""
    settings = load_settings()

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@click.group()
def main() -> None:
    """Medvirk: a Telegram dialogue bot for citizen participation."""


@main.command()
def run() -> None:
    """Run the bot against Telegram (long polling)."""
    settings = load_settings()
    configure_logging(settings.log_level)
    if settings.bot_token is None:
        click.echo(BOTFATHER_HELP, err=True)
        sys.exit(1)
    from bot.app import serve_polling

    asyncio.run(serve_polling(settings))


@main.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema to the newest version."""

    async def nothing(session: AsyncSession) -> None:
        return None

    with_database(nothing)
    click.echo("The database schema is up to date.")


@main.group()
def consultation() -> None:
    """Consultations: import, list, open, close."""


@consultation.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--open", "publish", is_flag=True, help="Open it for answers at once.")
def consultation_import(file: Path, publish: bool) -> None:
    """Import (or update) a consultation from a YAML file."""
    try:
        data = file.read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror}")
    try:
        spec = parse_consultation_file(data)
    except ConsultationFileError as error:
        click.echo(f"medvirk: {file} was refused; nothing was stored:", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)

    async def store(session: AsyncSession) -> tuple[str, bool, str]:
        stored, created = await import_consultation(session, spec, publish=publish)
        return stored.slug, created, stored.status

    try:
        slug, created, status = with_database(store)
    except ImportRefused as error:
        fail(str(error))
    click.echo(f"{'Imported' if created else 'Updated'} {slug} ({status}).")


@consultation.command("list")
def consultation_list() -> None:
    """List consultations with their status and answer counts."""
    rows = with_database(list_consultations)
    if not rows:
        click.echo("No consultations yet. Import one with `medvirk consultation import FILE`.")
        return
    click.echo(f"{'SLUG':40} {'STATUS':8} {'RESPONSES':>9} {'COMPLETED':>9}  TITLE")
    for item, responses, completed in rows:
        title = item.title.get(item.languages[0], "")
        click.echo(f"{item.slug:40} {item.status:8} {responses:>9} {completed:>9}  {title}")


def _change_status(slug: str, status: Status) -> None:
    async def change(session: AsyncSession) -> bool:
        return await set_status(session, slug, status) is not None

    if not with_database(change):
        fail(f"no consultation with the slug {slug!r}; see `medvirk consultation list`")
    click.echo(f"{slug} is now {status}.")


@consultation.command("open")
@click.argument("slug")
def consultation_open(slug: str) -> None:
    """Open a consultation for answers."""
    _change_status(slug, Status.OPEN)


@consultation.command("close")
@click.argument("slug")
def consultation_close(slug: str) -> None:
    """Close a consultation: no more answers."""
    _change_status(slug, Status.CLOSED)
