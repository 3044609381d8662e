"""The ``medvirk`` command (also ``python -m bot``).

User errors end with one plain line on stderr and a non-zero exit; never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import BinaryIO, TypeVar, cast

import click
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import create_engine, create_sessionmaker, upgrade
from bot.logs import RedactSecrets, configure_logging
from bot.settings import Settings
from models.arenas import ArenaFileError, import_arenas, parse_arena_file
from models.base import utcnow
from models.consultation import (
    ImportRefused,
    Status,
    find_consultation,
    import_consultation,
    list_consultations,
    set_status,
)
from models.consultation_file import (
    ConsultationFileError,
    ConsultationSpec,
    parse_consultation_file,
)
from models.export import Format, write_export
from models.pseudonym import instance_secret
from models.roles import Role, grant, list_grants, revoke

T = TypeVar("T")

BOTFATHER_HELP = """\
No BOT_TOKEN is set, so Medvirk starts its offline sandbox instead: the bot runs on this
computer and you talk to it in a web chat in your browser. Nothing is sent to Telegram.
To connect to Telegram instead, open Telegram, talk to @BotFather, send /newbot and follow its
questions; it answers with a token like 123456789:AAE... Put it in a file named .env in this
folder (BOT_TOKEN=123456789:AAE..., see .env.example for every setting) or export BOT_TOKEN in
your shell, then run `make run` again.
"""


def start_logging(settings: Settings) -> None:
    """Log to stderr as the settings say, the token and webhook secret redacted (bot/logs.py)."""
    configure_logging(settings.log_level, settings.log_format, secrets_of(settings))


def secrets_of(settings: Settings) -> list[str | None]:
    """The values no log line and no error message may show."""
    return [
        settings.bot_token.get_secret_value() if settings.bot_token else None,
        settings.webhook_secret.get_secret_value() if settings.webhook_secret else None,
    ]


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
    """Run the bot: webhook mode when WEBHOOK_URL is set, long polling otherwise."""
    settings = load_settings()
    start_logging(settings)
    if settings.bot_token is None:
        click.echo(BOTFATHER_HELP)
        _run_sandbox(settings, settings.web_host, settings.web_port, None, keep=False)
        return
    if settings.webhook_url is not None and settings.webhook_secret is None:
        fail(
            "WEBHOOK_URL is set, so WEBHOOK_SECRET must be too (1-256 characters of A-Z, a-z, "
            "0-9, _ and -; e.g. the output of `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`)"
        )
    # Imported here for start-up speed: PTB and the handlers take about a second to import,
    # which every other command (roles, export, ...) would pay for nothing.
    from telegram.error import TelegramError

    from bot.app import serve_polling
    from bot.web import serve_webhook

    try:
        if settings.webhook_url is not None:
            asyncio.run(serve_webhook(settings))
        else:
            asyncio.run(serve_polling(settings, monitor=True))
    except (OSError, TelegramError) as error:
        # PTB puts the token into some messages (InvalidToken); never print it.
        fail(f"stopped: {RedactSecrets(secrets_of(settings)).redact(str(error))}")


def read_file(
    file: Path,
    parse: Callable[[bytes], T],
    refused: type[ConsultationFileError] | type[ArenaFileError],
) -> T:
    """Read and ``parse`` a file, or stop listing every problem the parser found in it."""
    try:
        data = file.read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror}")
    try:
        return parse(data)
    except refused as error:
        click.echo(f"medvirk: {file} was refused; nothing was stored:", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)


def read_consultation_file(file: Path) -> ConsultationSpec:
    """Read and validate a consultation file, or stop listing every problem in it."""
    return read_file(file, parse_consultation_file, ConsultationFileError)


@main.command("sandbox")
@click.option("--host", help="Where the web chat listens. [default: WEB_HOST, 127.0.0.1]")
@click.option(
    "--port", type=int, help="The web chat's port; 0 picks a free one. [default: WEB_PORT, 8080]"
)
@click.option(
    "--consultation",
    "consultation_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Preview this consultation file: only it is loaded, open, to answer as citizens do.",
)
@click.option("--keep", is_flag=True, help="Keep the sandbox database of the last run.")
def sandbox_command(
    host: str | None, port: int | None, consultation_file: Path | None, keep: bool
) -> None:
    """Run the bot offline with a web chat: no token needed, nothing is sent to Telegram."""
    settings = load_settings()
    spec = read_consultation_file(consultation_file) if consultation_file else None
    _run_sandbox(
        settings,
        host or settings.web_host,
        settings.web_port if port is None else port,
        spec,
        keep=keep,
    )


def _run_sandbox(
    settings: Settings, host: str, port: int, spec: ConsultationSpec | None, *, keep: bool
) -> None:
    """Run the sandbox with the bot and the web chat until Ctrl+C (see bot/sandbox_run.py)."""
    start_logging(settings)
    # Imported here for start-up speed, as in `run`: it brings in PTB and the handlers.
    from bot.sandbox_run import SandboxError, SandboxOptions, serve_sandbox, welcome

    options = SandboxOptions(host=host, port=port, keep=keep, consultation=spec)
    try:
        asyncio.run(
            serve_sandbox(settings, options, ready=lambda up: click.echo(welcome(up, options)))
        )
    except SandboxError as error:
        fail(str(error))
    click.echo("The sandbox has stopped.")


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
    spec = read_consultation_file(file)

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


@main.command()
@click.argument("slug")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "json"]),
    default="csv",
    show_default=True,
    help="csv (semicolon-separated, for Excel), xlsx or json.",
)
@click.option(
    "--output",
    "-o",
    help="The file to write; '-' for standard output (csv and json). [default: SLUG.FORMAT]",
)
@click.option(
    "--all-texts",
    is_flag=True,
    help="Every free text with its moderation status, not only approved ones (always masked).",
)
def export(slug: str, fmt: str, output: str | None, all_texts: bool) -> None:
    """Export a consultation's responses, one row per response (see docs/exports.md)."""
    export_format = cast(Format, fmt)  # click.Choice has checked it
    target = output or f"{slug}.{fmt}"
    if target == "-" and fmt == "xlsx":
        fail("an xlsx file cannot go to standard output; give --output FILE")

    async def write(session: AsyncSession) -> int | None:
        found = await find_consultation(session, slug)
        if found is None or found.id is None:
            return None
        # atomic: written to a temporary file renamed at the end, so a failed export leaves
        # no half file behind (and an older export of the same name stays as it was).
        with click.open_file(target, "wb", atomic=True) as out:
            return await write_export(
                session, found.id, export_format, cast(BinaryIO, out), all_texts=all_texts
            )

    try:
        # The pseudonym secret is made on first use. Made inside the export's transaction, it
        # would hold SQLite's write lock, and so stall the bot's answers, for the whole export.
        with_database(instance_secret)
        rows = with_database(write)
    except OSError as error:
        fail(f"cannot write {target}: {error.strerror or error}")
        return
    if rows is None:
        fail(f"no consultation with the slug {slug!r}; see `medvirk consultation list`")
        return
    noun = "response" if rows == 1 else "responses"
    # With "-" the data is on stdout, and the summary must not end up in it.
    destination = "" if target == "-" else f" to {target}"
    click.echo(f"Exported {rows} {noun} of {slug}{destination}.", err=target == "-")


@main.group()
def roles() -> None:
    """Roles: admin, staff, moderator."""


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        fail(f"unknown role {value!r}; choose admin, staff or moderator")
        raise


def _change_role(
    telegram_id: int, role: str, change: Callable[..., Awaitable[bool]]
) -> tuple[Role, bool]:
    """Grant or revoke (``change``) a role; the role and whether anything changed."""
    chosen = _role(role)

    async def apply(session: AsyncSession) -> bool:
        return await change(session, telegram_id, chosen, by=None, now=utcnow())

    return chosen, with_database(apply)


@roles.command("grant")
@click.argument("telegram_id", type=int)
@click.argument("role")
def roles_grant(telegram_id: int, role: str) -> None:
    """Give TELEGRAM_ID a role."""
    chosen, changed = _change_role(telegram_id, role, grant)
    click.echo(f"{telegram_id} {'is now' if changed else 'already was'} {chosen}.")


@roles.command("revoke")
@click.argument("telegram_id", type=int)
@click.argument("role")
def roles_revoke(telegram_id: int, role: str) -> None:
    """Take a role from TELEGRAM_ID."""
    chosen, changed = _change_role(telegram_id, role, revoke)
    if not changed:
        fail(f"{telegram_id} does not have the role {chosen}")
    click.echo(f"{telegram_id} is no longer {chosen}.")


@roles.command("list")
def roles_list() -> None:
    """List granted roles (admins from ADMIN_IDS too)."""
    settings = load_settings()
    grants = with_database(list_grants)
    rows = [(g.telegram_user_id, g.role, "granted") for g in grants]
    rows += [(admin, "admin", "ADMIN_IDS") for admin in sorted(settings.admin_ids)]
    if not rows:
        click.echo("Nobody has a role. Set ADMIN_IDS, or `medvirk roles grant TELEGRAM_ID ROLE`.")
        return
    click.echo(f"{'TELEGRAM ID':>14}  {'ROLE':10} FROM")
    for user_id, role_name, origin in sorted(rows):
        click.echo(f"{user_id:>14}  {role_name:10} {origin}")


@main.group()
def arena() -> None:
    """Arenas: import."""


@arena.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def arena_import(file: Path) -> None:
    """Import (or update) arenas from a YAML file (docs/arenas.md)."""
    specs = read_file(file, parse_arena_file, ArenaFileError)

    async def store(session: AsyncSession) -> list[tuple[str, bool]]:
        return [(stored.slug, created) for stored, created in await import_arenas(session, specs)]

    for slug, created in with_database(store):
        click.echo(f"{'Imported' if created else 'Updated'} arena {slug} (link: ?start=a_{slug}).")
