"""The ``medvirk`` command (also ``python -m bot``).

User errors end with one plain line on stderr and a non-zero exit; never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar, cast

import click
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import create_engine, create_sessionmaker, missing_database, upgrade
from bot.logs import RedactSecrets, configure_logging
from bot.settings import Settings
from models import needs, volunteers
from models.access_codes import MAX_COUNT as MAX_CODES
from models.access_codes import Access, generate_codes
from models.arenas import ArenaFileError, import_arenas, parse_arena_file
from models.base import utcnow
from models.centres import (
    CentreFileError,
    UnknownCentres,
    all_tags,
    coordinator_ties,
    find_centre,
    import_centres,
    list_centres,
    make_coordinator,
    parse_centre_file,
    untie_coordinator,
)
from models.channels import is_web_id
from models.consultation import (
    ConsultationView,
    ImportRefused,
    Status,
    find_consultation,
    import_consultation,
    list_consultations,
    load_consultation,
    open_consultations,
    set_status,
)
from models.consultation_file import LANGUAGES as CONTENT_LANGUAGES
from models.consultation_file import (
    ConsultationFileError,
    ConsultationSpec,
    FileRefused,
    parse_consultation_file,
)
from models.export import Format, count_responses, export_file_name, write_export
from models.population import (
    PopulationFileError,
    PopulationTable,
    import_population,
    parse_population_file,
)
from models.profile import ProfileImportRefused, background_questions, import_profile
from models.profile_file import ProfileFileError, parse_profile_file
from models.pseudonym import instance_secret
from models.roles import Role, RoleGrant, grant, list_grants, revoke
from models.translation import (
    Coverage,
    TranslationRefused,
    add_translation,
    coverage,
    read_translation,
    translator_file,
)

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


def with_database(work: Callable[[AsyncSession], Awaitable[T]], *, existing: bool = False) -> T:
    """Migrate the database, then run ``work`` in one transaction.

    With ``existing`` (a command that needs what is stored: it lists, exports or changes
    something already there) a missing database is an error that says where it was looked
    for, and nothing is created.
    """
    settings = load_settings()

    async def run() -> T:
        try:
            engine = create_engine(settings.database_url)
        except ArgumentError:
            # Not echoed: it may hold a password.
            fail("DATABASE_URL is not a database URL; see .env.example for its form")
        try:
            if existing and (problem := await missing_database(engine)):
                shown = engine.url.render_as_string(hide_password=True)
                fail(
                    f"{problem} (DATABASE_URL={shown}); run medvirk in the "
                    "folder the bot runs in, or set DATABASE_URL; `medvirk db upgrade` "
                    "creates a new database"
                )
            await upgrade(engine)
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


DATABASE_HELP = """\b
The database is DATABASE_URL (environment or .env), by default
sqlite+aiosqlite:///./medvirk.db: a SQLite file named medvirk.db in the folder you
run medvirk in. A relative SQLite path is relative to that folder, not to the
bot's: run medvirk where the bot runs, or give an absolute path
(sqlite+aiosqlite:////srv/medvirk/medvirk.db, four slashes). Commands that list,
export or change what is stored never create a database; `medvirk db upgrade` does.
"""


@click.group(epilog=DATABASE_HELP)
def main() -> None:
    """Medvirk: a Telegram dialogue bot for citizen participation."""


@main.command()
def run() -> None:
    """Run the bot: webhook mode when WEBHOOK_URL is set, long polling otherwise.

    With WEB_CHANNEL=on the same process serves the residents' web chat, also without a token.
    """
    settings = load_settings()
    start_logging(settings)
    if settings.bot_token is None and not settings.web_channel:
        click.echo(BOTFATHER_HELP)
        _run_sandbox(settings, settings.web_host, settings.web_port, None, keep=False)
        return
    if settings.webhook_url is not None and settings.webhook_secret is None:
        fail(
            "WEBHOOK_URL is set, so WEBHOOK_SECRET must be too (1-256 characters of A-Z, a-z, "
            "0-9, _ and -; e.g. the output of `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`)"
        )
    if settings.talks_to_telegram and not settings.privacy_contact.strip():
        # /privacy tells residents whom to ask about their data; a live bot must name someone.
        fail(
            "PRIVACY_CONTACT must be set before the bot talks to residents: who they contact "
            "about their data, e.g. 'personvernombudet, personvern@kommune.no, 12 34 56 78'"
        )
    # Imported here for start-up speed: PTB and the handlers take about a second to import,
    # which every other command (roles, export, ...) would pay for nothing.
    from telegram.error import TelegramError

    from bot.app import serve_polling
    from bot.dashboard import Dashboard
    from bot.web import serve_web

    try:
        if settings.webhook_url is not None or settings.web_channel:
            # The webhook, the web chat, or both: one web server (bot/web.py).
            asyncio.run(serve_web(settings))
        else:
            asyncio.run(serve_polling(settings, monitor=True, dashboard=Dashboard(settings)))
    except (OSError, TelegramError) as error:
        # PTB puts the token into some messages (InvalidToken); never print it.
        fail(f"stopped: {RedactSecrets(secrets_of(settings)).redact(str(error))}")


def refuse(file: Path, problems: list[str]) -> None:
    """Stop, listing every problem found in ``file``."""
    click.echo(f"medvirk: {file} was refused; nothing was stored:", err=True)
    for problem in problems:
        click.echo(f"  {problem}", err=True)
    sys.exit(1)


def read_bytes(file: Path) -> bytes:
    """The file's content, or stop saying why it cannot be read."""
    try:
        return file.read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror}")
        raise  # unreachable; fail() exits


def read_file(file: Path, parse: Callable[[bytes], T], refused: type[FileRefused]) -> T:
    """Read and ``parse`` a file, or stop listing every problem the parser found in it."""
    data = read_bytes(file)
    try:
        return parse(data)
    except refused as error:
        refuse(file, error.problems)
        raise  # unreachable; refuse() exits


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
    """Consultations: import, list, open, close, translate."""


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
    rows = with_database(list_consultations, existing=True)
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

    if not with_database(change, existing=True):
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


@consultation.command("translate")
@click.argument("slug")
@click.option("--to", "target", help="Write a translator's file for this language, e.g. pl.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the translator's file (with --to).",
)
@click.option(
    "--import",
    "filled",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read a filled-in translator's file back and add its language.",
)
def consultation_translate(
    slug: str, target: str | None, output: Path | None, filled: Path | None
) -> None:
    """Write a translator's file (PO) for a language, or import a filled-in one.

    \b
    medvirk consultation translate SLUG --to pl --output holmen-pl.po
    medvirk consultation translate SLUG --import holmen-pl.po
    """
    if filled is not None and target is None:
        _import_translation(slug, filled)
    elif target is not None and output is not None and filled is None:
        _write_translator_file(slug, target, output)
    else:
        fail("give either --to LANG --output FILE, or --import FILE")


async def _view_of(session: AsyncSession, slug: str) -> ConsultationView:
    found = await find_consultation(session, slug)
    view = await load_consultation(session, found.id or 0) if found else None
    if view is None:
        fail(f"no consultation with the slug {slug!r}; see `medvirk consultation list`")
    assert view is not None  # fail() exits
    return view


def _write_translator_file(slug: str, target: str, output: Path) -> None:
    if target not in CONTENT_LANGUAGES:
        fail(f"--to {target}: use one of {', '.join(CONTENT_LANGUAGES)}")

    async def write(session: AsyncSession) -> tuple[str, int, int]:
        view = await _view_of(session, slug)
        found = coverage(view, [target])[target]
        return translator_file(view, target), found.written, found.total

    text, done, total = with_database(write, existing=True)
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror or error}")
    click.echo(f"Wrote {total} texts of {slug} to {output} ({done} already in {target}).")


def _import_translation(slug: str, filled: Path) -> None:
    data = read_bytes(filled).decode("utf-8", errors="replace")

    async def store(session: AsyncSession) -> str:
        view = await _view_of(session, slug)
        try:
            translation = read_translation(view, data)
        except TranslationRefused as error:
            refuse(filled, error.problems)
        await add_translation(session, view, translation, actor=None, now=utcnow())
        return translation.language

    language = with_database(store, existing=True)
    click.echo(f"{slug} is now also in {language}.")


@main.group()
def codes() -> None:
    """One-time codes for closed consultations (``access: code`` in the file)."""


@codes.command("generate")
@click.argument("slug")
@click.option("--count", type=click.IntRange(1, MAX_CODES), required=True, help="How many codes.")
@click.option(
    "--output",
    "-o",
    help="The file to write, one code a line. [default: standard output]",
)
def codes_generate(slug: str, count: int, output: str | None) -> None:
    """Make COUNT new one-time codes for SLUG, to print on letters: each opens one response.

    The codes are shown once, here: the database keeps only their digests.
    """

    async def generate(session: AsyncSession) -> list[str] | str:
        found = await find_consultation(session, slug)
        if found is None or found.id is None:
            return f"no consultation with the slug {slug!r}; see `medvirk consultation list`"
        if found.access != Access.CODE:
            return (
                f"{slug} is open to anyone; add `access: code` to its file and import it again "
                "before making codes for it"
            )
        return await generate_codes(session, found.id, count, utcnow())

    target = output or "-"
    try:
        # Written before the codes are stored: a file that cannot be written stores nothing.
        with click.open_file(target, "w", atomic=target != "-") as out:
            made = with_database(generate)
            if isinstance(made, str):
                fail(made)
                return
            out.write("".join(f"{code}\n" for code in made))
    except OSError as error:
        fail(f"cannot write {target}: {error.strerror or error}")
        return
    if target != "-":
        click.echo(f"Wrote {len(made)} codes for {slug} to {target}.")
    else:
        click.echo(f"{len(made)} codes for {slug}.", err=True)


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
@click.option(
    "--language", "answered_in", help="Only the responses answered in this language, e.g. pl."
)
def export(
    slug: str, fmt: str, output: str | None, all_texts: bool, answered_in: str | None
) -> None:
    """Export a consultation's responses, one row per response (see docs/exports.md)."""
    export_format = cast(Format, fmt)  # click.Choice has checked it
    settings = load_settings()
    # An export with every text gets a name of its own: it must not pass for the approved-only
    # file (nor overwrite it), as it may hold texts a moderator rejected.
    target = output or f"{export_file_name(slug, all_texts=all_texts)}.{fmt}"
    if target == "-" and fmt == "xlsx":
        fail("an xlsx file cannot go to standard output; give --output FILE")

    factor = load_settings().underrepresented_factor

    async def write(session: AsyncSession) -> int | None:
        found = await find_consultation(session, slug)
        if found is None or found.id is None:
            return None
        total = await count_responses(session, found.id, answered_in)
        # Imported here for start-up speed, as in `run`: the views bring in PTB.
        from handlers.i18n import language, yes_no_words
        from handlers.views.moderation import placeholder

        # atomic: written to a temporary file renamed at the end, so a failed export leaves
        # no half file behind (and an older export of the same name stays as it was).
        # Masked texts say what was hidden in the installation's language, the moderators'.
        yes_no = yes_no_words(found.languages[0])
        with (
            click.open_file(target, "wb", atomic=True) as out,
            language(settings.default_language),
            _progress(total) as progress,
        ):
            return await write_export(
                session,
                found.id,
                export_format,
                cast(BinaryIO, out),
                all_texts=all_texts,
                yes_no=yes_no,
                placeholder=placeholder,
                zone=settings.timezone,
                progress=progress,
                factor=factor,
                language=answered_in,
            )

    try:
        # The pseudonym secret is made on first use. Made inside the export's transaction, it
        # would hold SQLite's write lock, and so stall the bot's answers, for the whole export.
        with_database(instance_secret, existing=True)
        rows = with_database(write, existing=True)
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


# Below this many rows an export takes under a second: no bar worth drawing.
PROGRESS_FROM = 5000


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr while a long export runs, when stderr is a terminal.

    Quiet when it is not (a pipe, a log file, cron): there a bar would only be noise.
    """
    if total < PROGRESS_FROM or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label="Exporting", file=sys.stderr) as bar:
        yield bar.update


@main.group()
def roles() -> None:
    """Roles: admin, staff, moderator, coordinator."""


ROLE_NAMES = ", ".join(role.value for role in Role)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        fail(f"unknown role {value!r}; choose {ROLE_NAMES}")
        raise


def _change_role(
    telegram_id: int, role: str, change: Callable[..., Awaitable[bool]], *, existing: bool
) -> tuple[Role, bool]:
    """Grant or revoke (``change``) a role; the role and whether anything changed."""
    chosen = _role(role)

    async def apply(session: AsyncSession) -> bool:
        return await change(session, telegram_id, chosen, by=None, now=utcnow())

    return chosen, with_database(apply, existing=existing)


def _coordinator(telegram_id: int, centres: tuple[str, ...], weekly_cap: int | None) -> None:
    """Grant the coordinator role tied to centres (they must exist)."""
    if not centres:
        fail(
            "a coordinator speaks for a volunteer centre: name it with --centre SLUG "
            "(see `medvirk centre import`)"
        )

    async def apply(session: AsyncSession) -> list[str]:
        return await make_coordinator(
            session, telegram_id, list(centres), by=None, now=utcnow(), weekly_cap=weekly_cap
        )

    try:
        tied = with_database(apply)
    except UnknownCentres as error:
        fail(f"no volunteer centre with the slug {', '.join(error.slugs)}")
        return
    shown = ", ".join(centres)
    news = f" (newly tied: {', '.join(tied)})" if tied else ""
    click.echo(f"{telegram_id} is coordinator of {shown}{news}.")


@roles.command("grant")
@click.argument("telegram_id", type=int)
@click.argument("role")
@click.option(
    "--centre",
    "centres",
    multiple=True,
    help="coordinator: a volunteer centre they speak for (repeat for more).",
)
@click.option(
    "--weekly-cap",
    type=click.IntRange(1, 50),
    help="coordinator: invitations one volunteer gets from them in seven days.",
)
def roles_grant(
    telegram_id: int, role: str, centres: tuple[str, ...], weekly_cap: int | None
) -> None:
    """Give TELEGRAM_ID a role (a coordinator with --centre SLUG)."""
    if is_web_id(telegram_id):
        fail(f"{telegram_id} is a web chat resident's id; roles are for Telegram accounts only")
    if _role(role) == Role.COORDINATOR:
        _coordinator(telegram_id, centres, weekly_cap)
        return
    if centres or weekly_cap is not None:
        fail("--centre and --weekly-cap are for the coordinator role")
    # Granting the first role may be the first thing done on a new installation.
    chosen, changed = _change_role(telegram_id, role, grant, existing=False)
    click.echo(f"{telegram_id} {'is now' if changed else 'already was'} {chosen}.")


@roles.command("revoke")
@click.argument("telegram_id", type=int)
@click.argument("role")
@click.option(
    "--centre",
    "centres",
    multiple=True,
    help="coordinator: untie from this centre only (repeat for more); the role stays.",
)
def roles_revoke(telegram_id: int, role: str, centres: tuple[str, ...]) -> None:
    """Take a role from TELEGRAM_ID (a coordinator's centres with --centre SLUG)."""
    chosen = _role(role)
    if chosen == Role.COORDINATOR:

        async def apply(session: AsyncSession) -> bool:
            slugs = list(centres) or None
            return await untie_coordinator(session, telegram_id, slugs, by=None, now=utcnow())

        try:
            changed = with_database(apply, existing=True)
        except UnknownCentres as error:
            fail(f"no volunteer centre with the slug {', '.join(error.slugs)}")
            return
        if not changed:
            fail(
                f"{telegram_id} is not coordinator{' of ' + ', '.join(centres) if centres else ''}"
            )
        what = f"coordinator of {', '.join(centres)}" if centres else "coordinator"
        click.echo(f"{telegram_id} is no longer {what}.")
        return
    if centres:
        fail("--centre is for the coordinator role")
    chosen, changed = _change_role(telegram_id, role, revoke, existing=True)
    if not changed:
        fail(f"{telegram_id} does not have the role {chosen}")
    click.echo(f"{telegram_id} is no longer {chosen}.")


@roles.command("list")
def roles_list() -> None:
    """List granted roles (admins from ADMIN_IDS too; coordinators with their centres)."""
    settings = load_settings()

    async def read(session: AsyncSession) -> tuple[list[RoleGrant], dict[int, list[str]]]:
        return await list_grants(session), await coordinator_ties(session)

    grants, ties = with_database(read, existing=True)
    rows = [(g.telegram_user_id, g.role, "granted") for g in grants]
    rows += [(admin, "admin", "ADMIN_IDS") for admin in sorted(settings.admin_ids)]
    if not rows:
        click.echo("Nobody has a role. Set ADMIN_IDS, or `medvirk roles grant TELEGRAM_ID ROLE`.")
        return
    click.echo(f"{'TELEGRAM ID':>14}  {'ROLE':11} FROM")
    for user_id, role_name, origin in sorted(rows):
        centres = ""
        if role_name == Role.COORDINATOR:
            centres = "  centres: " + (", ".join(ties.get(user_id, [])) or "none")
        click.echo(f"{user_id:>14}  {role_name:11} {origin}{centres}")


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


@main.group()
def profile() -> None:
    """Background questions (age band, district, ...): import."""


@profile.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--remove-answered",
    is_flag=True,
    help="Delete questions and bands left out of the file even when people answered them "
    "(their answers are deleted too).",
)
def profile_import(file: Path, remove_answered: bool) -> None:
    """Import (or update) the background questions from a YAML file (docs/representation.md)."""
    specs = read_file(file, parse_profile_file, ProfileFileError)

    async def store(session: AsyncSession) -> tuple[list[str], list[str], list[str]]:
        done = await import_profile(session, specs, remove_answered=remove_answered)
        return done.added, done.updated, done.removed

    try:
        added, updated, removed = with_database(store)
    except ProfileImportRefused as error:
        refuse(file, [*error.problems, "(--remove-answered deletes them with their answers)"])
        return
    bands = {spec.key: len(spec.options) for spec in specs}
    for key in added + updated:
        verb = "Imported" if key in added else "Updated"
        click.echo(f"{verb} background question {key} ({bands[key]} bands).")
    for key in removed:
        click.echo(f"Removed background question {key}.")


@main.group()
def population() -> None:
    """The population to compare respondents with: import."""


@population.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def population_import(files: tuple[Path, ...]) -> None:
    """Import population figures from CSV files: background question ids and count.

    Each file is a table (e.g. age,district,count); importing a table over the same questions
    again replaces it. A refused file stores nothing of any file (docs/representation.md).
    """
    contents = [(file, read_bytes(file)) for file in files]

    async def store(session: AsyncSession) -> list[tuple[Path, PopulationTable]] | None:
        questions = await background_questions(session)
        tables = []
        for file, data in contents:
            try:
                tables.append((file, parse_population_file(data, questions)))
            except PopulationFileError as error:
                refused.append((file, error.problems))
        if refused:
            return None
        for file, table in tables:
            await import_population(session, table, file.name, utcnow())
        return tables

    refused: list[tuple[Path, list[str]]] = []
    stored = with_database(store)
    if stored is None:
        for file, problems in refused:
            click.echo(f"medvirk: {file} was refused; nothing was stored:", err=True)
            for problem in problems:
                click.echo(f"  {problem}", err=True)
        sys.exit(1)
    for file, table in stored:
        dimensions = " x ".join(table.dimensions)
        click.echo(
            f"Imported population by {dimensions} from {file}: {len(table.cells)} cells, "
            f"{table.total} residents."
        )


@main.group()
def centre() -> None:
    """Volunteer centres: import, and the exports for the annual report."""


@centre.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def centre_import(file: Path) -> None:
    """Import (or update) volunteer centres from a YAML file (docs/volunteering.md)."""
    specs = read_file(file, parse_centre_file, CentreFileError)

    async def store(session: AsyncSession) -> list[tuple[str, bool]]:
        stored = await import_centres(session, specs, utcnow())
        return [(c.slug, created) for c, created in stored]

    for slug, created in with_database(store):
        click.echo(
            f"{'Imported' if created else 'Updated'} centre {slug} (link: ?start=v_{slug})."
        )


@centre.command("export")
@click.argument("what", type=click.Choice(["needs", "stats"]))
@click.option("--centre", "slug", help="Only this centre's needs. [default: every centre]")
@click.option(
    "--output", "-o", help="The CSV file to write; '-' for standard output. [default: WHAT.csv]"
)
def centre_export(what: str, slug: str | None, output: str | None) -> None:
    """Export the needs (one row each) or anonymous statistics (volunteers per tag, district,
    time and language; needs per centre), as CSV for the annual report."""
    settings = load_settings()
    target = output or f"volunteering-{what}.csv"
    # Imported here for start-up speed: the views bring in PTB, which every other command
    # would pay for nothing.
    from handlers.i18n import language
    from handlers.views import needs as views

    async def write(session: AsyncSession) -> bytes | None:
        centre_ids = None
        if slug is not None:
            found = await find_centre(session, slug)
            if found is None:
                return None
            centre_ids = [found.id or 0]
        reports = await needs.report(session, centre_ids)
        with language(settings.default_language):
            if what == "needs":
                return views.needs_csv(reports, settings.timezone)
            return views.stats_csv(
                await volunteers.count_volunteers(session),
                await volunteers.volunteers_per_choice(session),
                all_tags(await list_centres(session)),
                reports,
            )

    content = with_database(write)
    if content is None:
        fail(f"no volunteer centre with the slug {slug!r}")
        return
    try:
        with click.open_file(target, "wb", atomic=target != "-") as out:
            out.write(content)
    except OSError as error:
        fail(f"cannot write {target}: {error.strerror or error}")
    if target != "-":
        click.echo(f"Exported the volunteering {what} to {target}.")


@main.group(invoke_without_command=True)
@click.pass_context
def languages(context: click.Context) -> None:
    """UI languages: how far each is translated, whether checked, and the open consultations."""
    if context.invoked_subcommand is not None:
        return
    # Imported here for start-up speed: the catalogues' module imports the handlers (a second).
    from bot.catalogues import catalogue_states

    states = catalogue_states()
    click.echo(f"{'LANGUAGE':22} {'UI STRINGS':>13}  CHECKED BY A NATIVE SPEAKER")
    for state in states:
        share = f"{state.translated}/{state.total}"
        checked = "yes" if state.checked else "no"
        click.echo(f"{state.code + ' ' + state.name:22} {share:>13}  {checked}")
    codes = [state.code for state in states]
    if not _database_exists():
        click.echo("\nNo database here, so no consultations to show (see `medvirk --help`).")
        return
    rows = with_database(lambda session: _open_coverage(session, codes), existing=True)
    click.echo("\nOPEN CONSULTATIONS: texts written in each language")
    if not rows:
        click.echo("None is open.")
    for slug, covered in rows:
        click.echo(slug)
        for item in covered:
            mark = "complete" if item.complete else "missing texts" if item.written else "none"
            click.echo(f"  {item.language:4} {item.written:>4}/{item.total:<4} {mark}")


@languages.command("add")
@click.argument("code")
def languages_add(code: str) -> None:
    """Add UI language CODE (e.g. fa): one new catalogue to translate (docs/languages.md)."""
    from bot.catalogues import LanguageRefused, add_language

    try:
        path = add_language(code)
    except LanguageRefused as error:
        fail(str(error))
        return
    click.echo(
        f"Added {code}: translate {path} (any PO editor, e.g. Poedit), then set "
        "X-Checked-By-Native-Speaker to yes once a native speaker checked it. Until then it "
        "shows the English text for every string not translated yet."
    )


def _database_exists() -> bool:
    """Whether the database is there, looked at without creating it."""
    settings = load_settings()

    async def look() -> bool:
        try:
            engine = create_engine(settings.database_url)
        except ArgumentError:
            return True  # with_database says what is wrong
        try:
            return await missing_database(engine) is None
        finally:
            await engine.dispose()

    return asyncio.run(look())


async def _open_coverage(
    session: AsyncSession, codes: list[str]
) -> list[tuple[str, list[Coverage]]]:
    rows = []
    for item in await open_consultations(session, utcnow()):
        view = await load_consultation(session, item.id or 0)
        assert view is not None
        rows.append((item.slug, list(coverage(view, codes).values())))
    return rows
