"""``medvirk sandbox`` (and ``make run`` without a token): the bot, offline, in a web chat.

One process, one asyncio loop: the sandbox Bot API server, the real bot long polling it, and
the web chat page (:mod:`sandbox.webchat`) on the same port. The bot gets a database of its
own, ``./medvirk-sandbox.db``, made fresh on every start, never the production
``DATABASE_URL``; the example arenas, volunteer centres, background questions, population
figures and consultations are loaded into it, the consultations opened (without their
``opens``/``closes`` window, so they can be answered any day), and the staff, moderator and
coordinator people of the page get their roles (the coordinator speaks for every example
volunteer centre).

With ``consultation`` set (``--consultation FILE``), only that consultation is loaded: staff
preview a file before it is published by answering it as citizens do, one citizen per
language of the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import serve_polling, stop_on_signals
from bot.dashboard import PREFIX, Dashboard, SandboxLogin
from bot.db import create_engine, create_sessionmaker, upgrade
from bot.settings import Settings
from models.arenas import ArenaFileError, ArenaSpec, import_arenas, parse_arena_file
from models.base import utcnow
from models.centres import (
    CentreFileError,
    CentreSpec,
    import_centres,
    make_coordinator,
    parse_centre_file,
)
from models.consultation import ImportRefused, import_consultation
from models.consultation_file import (
    ConsultationFileError,
    ConsultationSpec,
    parse_consultation_file,
)
from models.population import PopulationFileError, import_population, parse_population_file
from models.profile import background_questions, import_profile
from models.profile_file import ProfileFileError, ProfileQuestionSpec, parse_profile_file
from models.roles import Role, grant
from sandbox import Sandbox
from sandbox.webchat import Link, Persona, Preview, add_web_chat

#: The sandbox's database file, in the folder the command runs in.
SANDBOX_DATABASE = Path("medvirk-sandbox.db")
#: The example consultations and arenas shipped in the repository.
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: The example arena file; every other ``*.yaml`` there is a consultation, but the centres
#: file and the needs file (which a coordinator uploads in the chat).
EXAMPLE_ARENAS = EXAMPLES / "arenas.yaml"
#: The example background questions (profile.yaml) and population figures (*.csv).
EXAMPLE_BACKGROUND = EXAMPLES / "background"
EXAMPLE_CENTRES = EXAMPLES / "centres.yaml"
NOT_CONSULTATIONS = (EXAMPLE_ARENAS, EXAMPLE_CENTRES, EXAMPLES / "needs.yaml")
#: Telegram user ids of the page's staff member and moderator (real ids are far larger).
STAFF_ID = 9001
MODERATOR_ID = 9002
COORDINATOR_ID = 9003
#: The dashboard's "log in as" shortcuts, which exist only in the sandbox.
DASHBOARD_LOGINS = (
    SandboxLogin(STAFF_ID, "Siri", "staff"),
    SandboxLogin(MODERATOR_ID, "Mats", "moderator"),
)
DASHBOARD_LINK = Link("Staff dashboard (log in as Siri or Mats)", f"{PREFIX}/")
#: The citizens of the page, with Bokmål, Nynorsk and English phones; anyone picks another of the
#: nine languages in the first message, and more citizens can be added in the page.
CITIZENS = (("Kari", "nb"), ("Ola", "nn"), ("Amina", "en"))
#: A preview's citizens: one per language of the file, named for the language.
PREVIEW_NAMES = {"nb": "Kari", "nn": "Ola", "en": "Amina"}
#: Seconds the bot may take to connect before the start counts as failed.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


T = TypeVar("T")


class SandboxError(Exception):
    """The sandbox cannot start; the message says why in one plain line."""


@dataclass(frozen=True)
class SandboxOptions:
    """How to run the sandbox.

    Attributes:
        host: where the web chat (and the sandbox Bot API) listens.
        port: its port; 0 picks a free one.
        database: the SQLite file of the sandbox's bot.
        keep: keep that file from the last run instead of starting fresh.
        consultation: a consultation file to preview; None loads the examples.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    database: Path = SANDBOX_DATABASE
    keep: bool = False
    consultation: ConsultationSpec | None = None


@dataclass(frozen=True)
class RunningSandbox:
    """What a started sandbox tells the one who started it."""

    url: str
    sandbox: Sandbox
    personas: tuple[Persona, ...]
    loaded: tuple[str, ...]  # slugs of the consultations loaded
    preview: Preview | None
    arenas: tuple[str, ...] = ()  # slugs of the arenas loaded
    background: tuple[str, ...] = ()  # ids of the background questions loaded


def example_files() -> list[Path]:
    """The example consultation files, in name order (arenas, centres and needs are not)."""
    return sorted(path for path in EXAMPLES.glob("*.yaml") if path not in NOT_CONSULTATIONS)


def _load_example(path: Path, parse: Callable[[bytes], T], refused: type[ValueError]) -> T:
    """Parse an example file.

    Raises:
        SandboxError: when the example is broken (a bug in the repository).
    """
    try:
        return parse(path.read_bytes())
    except (OSError, refused) as error:
        raise SandboxError(f"the example {path.name} cannot be loaded: {error}") from error


def load_arenas() -> list[ArenaSpec]:
    """Parse the example arenas (none when the file is missing)."""
    if not EXAMPLE_ARENAS.exists():
        return []
    return _load_example(EXAMPLE_ARENAS, parse_arena_file, ArenaFileError)


@dataclass(frozen=True)
class Background:
    """The example background questions, and population files by name."""

    questions: list[ProfileQuestionSpec] = dataclasses.field(default_factory=list)
    population: list[tuple[str, bytes]] = dataclasses.field(default_factory=list)


def load_background() -> Background:
    """Parse the example background questions; read the population files beside them."""
    profile = EXAMPLE_BACKGROUND / "profile.yaml"
    if not profile.exists():
        return Background()
    questions = _load_example(profile, parse_profile_file, ProfileFileError)
    files = sorted(EXAMPLE_BACKGROUND.glob("*.csv"))
    return Background(questions, [(path.name, path.read_bytes()) for path in files])


def load_centres() -> list[CentreSpec]:
    """Parse the example volunteer centres (none when the file is missing)."""
    if not EXAMPLE_CENTRES.exists():
        return []
    return _load_example(EXAMPLE_CENTRES, parse_centre_file, CentreFileError)


def load_examples() -> list[ConsultationSpec]:
    """Parse the example consultations."""
    return [
        _load_example(path, parse_consultation_file, ConsultationFileError)
        for path in example_files()
    ]


def database_url(path: Path) -> str:
    """The SQLAlchemy URL of the sandbox's SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


def check_not_production(options: SandboxOptions, production_url: str) -> None:
    """Refuse a sandbox database that is the production one.

    Raises:
        SandboxError: when DATABASE_URL names the sandbox's file.
    """
    try:
        url = make_url(production_url)
    except ArgumentError:  # an unparsable URL cannot name the sandbox's file
        return
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    if Path(url.database).resolve() == options.database.resolve():
        raise SandboxError(
            f"DATABASE_URL points at {options.database}, the sandbox's own database file; "
            "the sandbox replaces that file on every start, so give one of them another name"
        )


def remove_database(path: Path) -> None:
    """Delete a SQLite file and its journal files, so the sandbox starts fresh."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()


def unscheduled(spec: ConsultationSpec) -> ConsultationSpec:
    """The consultation without its opens/closes window, so it can be answered today."""
    return dataclasses.replace(spec, opens=None, closes=None)


async def prepare_database(
    url: str,
    specs: Iterable[ConsultationSpec],
    grants: Iterable[tuple[int, Role]],
    arenas: Iterable[ArenaSpec] = (),
    background: Background | None = None,
    centres: Iterable[CentreSpec] = (),
) -> tuple[list[str], list[str]]:
    """Migrate; import the example arenas, centres, background and consultations; grant roles.

    A coordinator among ``grants`` speaks for every centre.

    Returns:
        The slugs of the consultations and of the arenas loaded.

    Raises:
        SandboxError: when a kept database refuses a consultation (answers lock it).
    """
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            # Arenas first: consultations name the arena they offer at the end.
            arena_slugs = [
                arena.slug for arena, _new in await import_arenas(session, list(arenas))
            ]
            if background is not None and background.questions:
                await _import_background(session, background)
            stored_centres = await import_centres(session, list(centres), utcnow())
            centre_slugs = [centre.slug for centre, _new in stored_centres]
            slugs = await _open_consultations(session, specs)
            for user_id, role in grants:
                if role == Role.COORDINATOR:
                    await make_coordinator(session, user_id, centre_slugs, by=None, now=utcnow())
                else:
                    await grant(session, user_id, role, by=None, now=utcnow())
        return slugs, arena_slugs
    finally:
        await engine.dispose()


async def _open_consultations(
    session: AsyncSession, specs: Iterable[ConsultationSpec]
) -> list[str]:
    """Import the consultations, open and without their time window; their slugs.

    Raises:
        SandboxError: when a kept database refuses a consultation (answers lock it).
    """
    slugs = []
    for spec in specs:
        try:
            stored, _created = await import_consultation(session, unscheduled(spec), publish=True)
        except ImportRefused as error:
            raise SandboxError(f"{error} (start without --keep for a fresh sandbox)") from error
        slugs.append(stored.slug)
    return slugs


async def _import_background(session: AsyncSession, background: Background) -> None:
    """The example background questions and population figures."""
    await import_profile(session, background.questions)
    questions = await background_questions(session)
    for name, data in background.population:
        try:
            table = parse_population_file(data, questions)
        except PopulationFileError as error:
            raise SandboxError(f"the example {name} cannot be loaded: {error}") from error
        await import_population(session, table, name, utcnow())


def preview_of(spec: ConsultationSpec) -> Preview:
    """What the web chat shows of a consultation file being previewed."""
    return Preview(spec.slug, spec.title.get(spec.languages[0], spec.slug), spec.languages)


def make_personas(sandbox: Sandbox, preview: ConsultationSpec | None) -> list[Persona]:
    """Create the page's people in the sandbox: citizens, staff, a moderator, a coordinator.

    A preview of a consultation file has no coordinator: it is about the consultation.
    """
    citizens = (
        [(PREVIEW_NAMES.get(code, code), code) for code in preview.languages]
        if preview is not None
        else list(CITIZENS)
    )
    personas = []
    for name, code in citizens:
        user = sandbox.add_user(first_name=name, language_code=code)
        personas.append(Persona(user.id, "citizen"))
    staff = [(STAFF_ID, "Siri", "staff"), (MODERATOR_ID, "Mats", "moderator")]
    if preview is None:
        staff.append((COORDINATOR_ID, "Nora", "coordinator"))
    for user_id, name, role in staff:
        sandbox.add_user(user_id, first_name=name, language_code="nb")
        personas.append(Persona(user_id, role))
    return personas


def sandbox_settings(settings: Settings, sandbox: Sandbox, database: Path) -> Settings:
    """The bot's settings: the operator's, pointed at the sandbox and its own database."""
    return settings.model_copy(
        update={
            "bot_token": SecretStr(sandbox.token),
            "telegram_api_url": sandbox.url,
            "database_url": database_url(database),
            # Nothing of the real installation: no webhook, no admins from ADMIN_IDS.
            "webhook_url": None,
            # The dashboard's login links point at the sandbox's own page.
            "public_url": sandbox.url,
            "webhook_secret": None,
            "admin_ids": frozenset(),
        }
    )


async def serve_sandbox(
    settings: Settings,
    options: SandboxOptions,
    *,
    stop: asyncio.Event | None = None,
    ready: Callable[[RunningSandbox], None] | None = None,
) -> None:
    """Run the sandbox, the bot and the web chat until SIGINT/SIGTERM or ``stop``.

    Args:
        settings: the operator's settings (language, time zone; token and database ignored).
        options: where to listen, which database, what to preview.
        stop: set it to stop; None stops on SIGINT/SIGTERM (Ctrl+C).
        ready: called once the bot polls the sandbox and the page can be used.

    Raises:
        SandboxError: the database is the production one, or a kept one refuses an import.
        OSError: the address cannot be listened on.
    """
    check_not_production(options, settings.database_url)
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    specs = [options.consultation] if options.consultation else load_examples()
    sandbox = Sandbox(bot_name="Medvirk", bot_username="medvirk_bot")
    personas = make_personas(sandbox, options.consultation)
    preview = preview_of(options.consultation) if options.consultation else None
    add_web_chat(sandbox, personas, preview=preview, links=(DASHBOARD_LINK,))
    dashboard = _dashboard(settings, sandbox)
    url = await _listen(sandbox, options)
    try:
        loaded, arenas, background = await _seed_database(options, specs)
        running = RunningSandbox(
            url, sandbox, tuple(personas), loaded, preview, arenas, background
        )
        bot_settings = sandbox_settings(settings, sandbox, options.database)
        on_ready = partial(ready, running) if ready else None
        await _run_bot(sandbox, bot_settings, stop, on_ready, dashboard)
    finally:
        await sandbox.stop()


def _dashboard(settings: Settings, sandbox: Sandbox) -> Dashboard:
    """The staff dashboard on the sandbox's port, with "log in as" shortcuts only it has."""
    dashboard = Dashboard(settings, sandbox_logins=DASHBOARD_LOGINS)
    dashboard.mount(sandbox.app)
    return dashboard


async def _seed_database(
    options: SandboxOptions, specs: list[ConsultationSpec]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Make the sandbox's database (fresh unless kept) with the examples and the page's roles.

    Returns:
        The slugs of the consultations and of the arenas loaded, and the background questions.
    """
    if not options.keep:
        remove_database(options.database)
    background = load_background()
    slugs, arenas = await prepare_database(
        database_url(options.database),
        specs,
        [
            (STAFF_ID, Role.STAFF),
            (MODERATOR_ID, Role.MODERATOR),
            (COORDINATOR_ID, Role.COORDINATOR),
        ],
        load_arenas(),
        background,
        load_centres(),
    )
    return tuple(slugs), tuple(arenas), tuple(q.key for q in background.questions)


async def _listen(sandbox: Sandbox, options: SandboxOptions) -> str:
    """Start the sandbox's server; its root URL.

    Listening comes first: a second sandbox on a taken port stops here, before it replaces the
    database of the one already running.
    """
    try:
        return await sandbox.start(options.host, options.port)
    except OSError as error:
        raise SandboxError(
            f"cannot listen on {options.host}:{options.port} ({error.strerror or error}); "
            "choose another port with --port or WEB_PORT"
        ) from error


async def _run_bot(
    sandbox: Sandbox,
    settings: Settings,
    stop: asyncio.Event,
    on_polling: Callable[[], None] | None,
    dashboard: Dashboard | None = None,
) -> None:
    """Run the bot against the sandbox until ``stop``; call ``on_polling`` once it polls."""
    bot = asyncio.create_task(
        serve_polling(settings, stop=stop, dashboard=dashboard), name="medvirk-bot"
    )
    try:
        await _wait_until_polling(sandbox, bot)
        if on_polling is not None:
            on_polling()
        stopping = asyncio.create_task(stop.wait())
        try:
            # The bot task ends early only when it failed; awaiting it below raises why.
            await asyncio.wait({bot, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
    finally:
        stop.set()
        await asyncio.wait_for(bot, STOP_TIMEOUT)


async def _wait_until_polling(sandbox: Sandbox, bot: asyncio.Task[None]) -> None:
    """Wait for the bot's first getUpdates; raise what the bot raised if it died first."""
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT
    while sandbox.stats.calls["getupdates"] == 0:
        if bot.done():
            bot.result()  # raises the bot's error
            raise SandboxError("the bot stopped before it connected to the sandbox")
        if asyncio.get_running_loop().time() > deadline:
            raise SandboxError(f"the bot did not connect to the sandbox in {START_TIMEOUT:g} s")
        await asyncio.sleep(0.05)


def welcome(running: RunningSandbox, options: SandboxOptions) -> str:
    """What the command prints once the page can be used."""
    sandbox = running.sandbox
    people = ", ".join(
        f"{sandbox.user(p.user_id).first_name} ({p.role}, "
        f"{sandbox.user(p.user_id).language_code if p.role == 'citizen' else p.user_id})"
        for p in running.personas
    )
    database = f"{options.database} ({'kept' if options.keep else 'fresh'})"
    lines = [
        "",
        f"Medvirk sandbox: open {running.url}/ in your browser.",
        "  The bot runs here against a stand-in for Telegram: nothing is sent to Telegram.",
    ]
    if running.preview is not None:
        lines.append(
            f"  Previewing {running.preview.slug} "
            f"({', '.join(running.preview.languages)}): answer it as each citizen."
        )
    else:
        lines.append(f"  Consultations (open): {', '.join(running.loaded) or 'none'}")
    lines.append(f"  Arenas: {', '.join(running.arenas) or 'none'}")
    lines.append(f"  Background questions: {', '.join(running.background) or 'none'}")
    lines.append(
        f"  Staff dashboard: {running.url}{PREFIX}/ (log in as Siri or Mats; in chat: /dashboard)"
    )
    lines += [
        f"  People: {people}",
        f"  Database: {database}; your production database is not touched.",
    ]
    if options.host not in ("127.0.0.1", "localhost", "::1"):
        lines.append(
            f"  Warning: listening on {options.host}, so anyone who can reach this computer can "
            "use the page."
        )
    lines += ["Stop with Ctrl+C.", ""]
    return "\n".join(lines)
