"""The staff dashboard in a real browser: staff, a moderator and an admin at their desks.

The sandbox runs the real bot with the dashboard on its own port; Chromium (Debian's) clicks
through the pages as a person would. Every page visited is checked with axe-core (no serious or
critical violations) and the walk-through is saved as screenshots under test-output/.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.async_api import expect
from sqlmodel import select

from bot.db import create_engine, create_sessionmaker
from bot.sandbox_run import MODERATOR_ID, STAFF_ID, RunningSandbox
from bot.signing import COOKIE_SECRET_NAME, sign
from handlers.i18n import language
from handlers.views.manage import results_text
from models import moderation as mod
from models.arenas import list_arenas
from models.base import utcnow
from models.consultation import find_consultation
from models.dashboard import issue_login
from models.events import Event, EventState, Rsvp, RsvpAnswer
from models.moderation import ModerationItem, Status
from models.participant import get_or_create_participant
from models.pseudonym import instance_secret
from models.results import consultation_results
from models.roles import Role, grant
from tests.auxil.broadcasts import confirmed_broadcast
from tests.auxil.consultations import add_consultation
from tests.auxil.ideas import IDEAS, write_idea
from tests.browser.conftest import DESKTOP, SCREENSHOTS, STEP_TIMEOUT

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
#: axe's WCAG 2.0-2.2 A and AA rules; a violation of impact serious or critical fails the test.
AXE_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}"""
UPLOAD = b"""
slug: benker-i-parken
title: {nb: Benker i parken, en: Benches in the park}
questions:
  - id: more
    type: yes_no
    text: {nb: Trengs flere benker?, en: Do we need more benches?}
  - id: where
    type: free_text
    required: false
    text: {nb: Hvor?, en: Where?}
"""
IDEAS_TEXTS = [
    "Flere benker ved vannet",
    "Ring meg på 99887766 om lekeplassen",
    "Kjøp billige klokker her",
]


class Desk:
    """One person's browser on the dashboard: pages visited are audited and photographed."""

    def __init__(self, page: Page, base: str, who: str) -> None:
        self.page = page
        self.base = base
        self.who = who
        self.shots = 0
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type == "error" else None,
        )

    async def goto(self, path: str) -> None:
        """Open a dashboard page by its path."""
        await self.page.goto(f"{self.base}/dashboard{path}")

    async def check(self, name: str) -> None:
        """Audit the page with axe-core and save a screenshot named after the step."""
        await self.page.wait_for_load_state("load")  # after a click, the next page is in
        violations = await self.page.evaluate(AXE_RUN)
        assert violations == [], f"{name}: {violations}"
        self.shots += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"17-{self.who}-{self.shots}-{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)


@pytest.fixture
async def desks(browser: Browser) -> AsyncIterator[Any]:
    """Open a browser context per person (own cookies), with axe-core ready in every page."""
    contexts = []

    async def open_desk(running: RunningSandbox, who: str) -> Desk:
        context = await browser.new_context(
            viewport=DESKTOP, locale="nb-NO", accept_downloads=True
        )
        # An init script is not subject to the page's Content-Security-Policy.
        await context.add_init_script(path=str(AXE))
        contexts.append(context)
        return Desk(await context.new_page(), running.url, who)

    yield open_desk
    for context in contexts:
        await context.close()


class Database:
    """The sandbox's database, opened beside the running bot (as an operator's CLI would)."""

    def __init__(self, tmp_path: Path) -> None:
        self.engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'medvirk-sandbox.db'}")
        self.sessions = create_sessionmaker(self.engine)

    async def seed_ideas(self) -> int:
        """The ideas consultation, opened, with three written answers; its id."""
        async with self.sessions() as session:
            ideas = await add_consultation(session, IDEAS)
            for number, text in enumerate(IDEAS_TEXTS):
                await write_idea(session, ideas, 7700 + number, text, utcnow())
            return ideas.id or 0

    async def seed_outreach(self) -> tuple[int, int]:
        """A confirmed broadcast, and a full event with a waiting list; their ids."""
        broadcast_id = await confirmed_broadcast(self.sessions, utcnow(), text={"nb": "Møte!"})
        async with self.sessions() as session, session.begin():
            arena = (await list_arenas(session))[0]
            event = Event(
                arena_id=arena.id or 0,
                state=EventState.PUBLISHED,
                title="Dialogmøte",
                place="Biblioteket",
                capacity=1,
                starts_at=utcnow() + timedelta(days=3),
            )
            session.add(event)
            await session.flush()
            for number, answer in enumerate((RsvpAnswer.YES, RsvpAnswer.WAITING, RsvpAnswer.NO)):
                person = await get_or_create_participant(session, 7800 + number, 7800 + number)
                session.add(
                    Rsvp(
                        event_id=event.id or 0,
                        participant_id=person.id or 0,
                        answer=answer,
                        waiting_since=utcnow() if answer == RsvpAnswer.WAITING else None,
                    )
                )
            return broadcast_id, event.id or 0

    async def items(self) -> dict[str, Status]:
        """Each written text's moderation status, by its first word."""
        async with self.sessions() as session:
            rows = (await session.exec(select(ModerationItem))).all()
            return {
                (await mod.load_item(session, row.id or 0)).parts[0].split()[0]: Status(row.status)  # type: ignore[union-attr]
                for row in rows
            }


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """The sandbox's database (start the sandbox first)."""
    found = Database(tmp_path)
    yield found
    await found.engine.dispose()


async def _login_link(running: RunningSandbox) -> str:
    """Siri sends /dashboard in her chat with the bot; the link it answers with."""
    sandbox = running.sandbox
    cursor = sandbox.cursor
    await sandbox.send_text(STAFF_ID, "/dashboard")
    message = await sandbox.wait_for_message(STAFF_ID, "kontrollpanelet", after=cursor)
    found = re.search(r'href="([^"]+)"', message["text"])
    assert found is not None, message
    return found.group(1).replace("&amp;", "&")


async def test_staff_log_in_through_the_bot_upload_open_read_results_and_export(
    sandbox: RunningSandbox, desks: Any, database: Database, tmp_path: Path
) -> None:
    ideas_id = await database.seed_ideas()
    siri = await desks(sandbox, "staff")
    link = await _login_link(sandbox)
    await siri.page.goto(link)
    await siri.check("login-link")
    await siri.page.get_by_role("button", name="Logg inn", exact=True).click()
    await expect(siri.page.get_by_role("heading", name="Velkommen")).to_be_visible()
    await siri.check("home")

    # The same link again, a forged one, and an expired one open nothing.
    async with database.sessions() as session, session.begin():
        secret = await instance_secret(session, COOKIE_SECRET_NAME)
        login = await issue_login(session, STAFF_ID, utcnow() - timedelta(minutes=11))
    expired = sign(secret, login.id, utcnow() - timedelta(minutes=1))
    token = link.split("t=", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other = await desks(sandbox, "intruder")
    await other.page.goto(link)  # used: the page still shows the button, which says so
    await other.page.get_by_role("button", name="Logg inn", exact=True).click()
    await expect(other.page.get_by_text("kan ikke brukes")).to_be_visible()
    for bad in (forged, expired):  # refused before anything is shown
        await other.page.goto(f"{sandbox.url}/dashboard/login?t={bad}")
        await expect(other.page.get_by_text("kan ikke brukes")).to_be_visible()
        log_in = other.page.get_by_role("button", name="Logg inn", exact=True)
        await expect(log_in).to_have_count(0)
    await other.goto("/consultations")
    heading = other.page.get_by_role("heading", name="Logg inn i kontrollpanelet")
    await expect(heading).to_be_visible()

    # Upload a file: checked, saved as a draft, previewed in each language; then opened.
    await siri.page.get_by_role("link", name="Last opp en undersøkelsesfil").first.click()
    await siri.check("upload-form")
    upload = tmp_path / "benker.yaml"
    upload.write_bytes(UPLOAD)
    await siri.page.get_by_label("Undersøkelsesfil").set_input_files(str(upload))
    await siri.page.get_by_role("button", name="Sjekk og lagre").click()
    await expect(siri.page.get_by_text("Lagret som utkast: benker-i-parken")).to_be_visible()
    await expect(siri.page.get_by_text("Trengs flere benker?")).to_be_visible()
    await expect(siri.page.get_by_text("Do we need more benches?")).to_be_visible()
    await siri.check("upload-preview")
    await siri.page.get_by_role("link", name="Åpne, lukke, planlegge").click()
    await siri.page.get_by_role("button", name="Åpne nå").click()
    await expect(siri.page.locator(".status").first).to_have_text("åpen")
    await siri.check("consultation")
    async with database.sessions() as session:
        opened = await find_consultation(session, "benker-i-parken")
        assert opened is not None
        assert opened.status == "open"

    # The results of the ideas consultation: the same numbers as /results.
    async with database.sessions() as session, session.begin():
        item = await mod.next_for(session, MODERATOR_ID, utcnow())
        assert item is not None
        await mod.decide(session, item.id, item.version, MODERATOR_ID, Status.APPROVED, utcnow())
    async with database.sessions() as session:
        counted = await consultation_results(session, ideas_id)
    assert counted is not None
    with language("nb"):
        chat = results_text(counted)
    await siri.goto(f"/consultations/{ideas_id}/results")
    completion = await siri.page.locator("#completion").inner_text()
    assert completion.split(" (")[0] in chat  # "3 startet, 3 fullført"
    yes = siri.page.get_by_role("row", name=re.compile(r"^Ja "))
    await expect(yes).to_contain_text(f"{counted.questions[1].tallies[0].count}")
    await expect(siri.page.locator("ol.texts li")).to_have_count(1)
    await siri.check("results")

    # Every export downloads, streamed.
    await siri.goto(f"/consultations/{ideas_id}")
    for fmt in ("CSV", "XLSX", "JSON"):
        async with siri.page.expect_download() as waiting:
            await siri.page.get_by_role("link", name=f"Last ned {fmt}").click()
        download = await waiting.value
        assert download.suggested_filename == f"ideas.{fmt.lower()}"
        content = await asyncio.to_thread(Path(await download.path()).read_bytes)
        assert content
        if fmt == "CSV":
            rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
            assert rows[0][0] == "participant"
            assert len(rows) == 1 + len(IDEAS_TEXTS)

    # Closing asks first, and so does cancelling a broadcast; an event's attendance.
    await siri.goto(f"/consultations/{ideas_id}/close")
    await siri.check("close-question")
    broadcast_id, event_id = await database.seed_outreach()
    await siri.goto(f"/broadcasts/{broadcast_id}/cancel-question")
    await siri.check("cancel-broadcast")
    await siri.goto(f"/events/{event_id}")
    await expect(siri.page.get_by_role("cell", name="Venteliste")).to_be_visible()
    await siri.check("event")
    pages = [("/consultations", "list"), ("/broadcasts", "broadcasts"), ("/events", "events")]
    for path, name in pages:
        await siri.goto(path)
        await siri.check(name)
    assert siri.errors == []


async def test_a_moderator_moderates_with_the_keyboard(
    sandbox: RunningSandbox, desks: Any, database: Database
) -> None:
    await database.seed_ideas()
    mats = await desks(sandbox, "moderator")
    await mats.goto("/")
    await mats.check("login-sandbox")
    await mats.page.get_by_role("button", name="Logg inn som Mats (moderator)").click()
    await mats.page.get_by_role("link", name="Gå gjennom tekster").click()
    card = mats.page.locator("#review article")
    await expect(card).to_contain_text("[telefonnummer]")  # personal data first, masked
    await expect(card).not_to_contain_text("99887766")
    await mats.check("review")

    await mats.page.keyboard.press("a")  # approve
    await expect(mats.page.get_by_text("Avgjort:")).to_be_visible()
    await expect(card).to_contain_text("Flere benker", timeout=STEP_TIMEOUT)
    await mats.page.keyboard.press("n")  # next, decide later
    await expect(card).to_contain_text("Kjøp billige klokker")
    await mats.page.keyboard.press("r")  # reject: the reasons
    await mats.page.keyboard.press("3")  # spam
    await expect(mats.page.get_by_text("Ingen tekster venter på deg")).to_be_visible()
    await mats.check("decided")
    assert await database.items() == {
        "Ring": Status.APPROVED,
        "Flere": Status.PENDING,
        "Kjøp": Status.REJECTED,
    }
    await mats.page.keyboard.press("u")  # undo the rejection: it waits again
    await expect(card).to_contain_text("Kjøp billige klokker")
    assert (await database.items())["Kjøp"] is Status.PENDING
    assert mats.errors == []
    await mats.goto("/consultations")  # not for a moderator: a 403 (the console notes it)
    await expect(mats.page.get_by_text("ikke for din rolle")).to_be_visible()
    await mats.check("refused")


async def test_an_admin_takes_a_role_and_the_next_click_is_refused(
    sandbox: RunningSandbox, desks: Any, database: Database
) -> None:
    async with database.sessions() as session, session.begin():
        await grant(session, STAFF_ID, Role.ADMIN, by=None, now=utcnow())
    mats = await desks(sandbox, "revoked")
    await mats.goto("/login")
    await mats.page.get_by_role("button", name="Logg inn som Mats (moderator)").click()
    await expect(mats.page.get_by_role("heading", name="Moderering")).to_be_visible()

    siri = await desks(sandbox, "admin")
    await siri.goto("/login")
    await siri.page.get_by_role("button", name="Logg inn som Siri (staff)").click()
    await siri.page.get_by_role("link", name="Roller").first.click()
    await siri.check("roles")
    await siri.page.get_by_role("button", name=f"Ta bort moderator {MODERATOR_ID}").click()
    await expect(siri.page.get_by_text("Det gjelder med en gang")).to_be_visible()

    await mats.page.get_by_role("link", name="Gå gjennom tekster").click()
    await expect(mats.page.get_by_text("ikke lenger en rolle")).to_be_visible()

    await siri.goto("/admin/audit")
    await siri.page.get_by_label("Hva", exact=True).select_option("role.revoke")
    await siri.page.get_by_role("button", name="Vis").click()
    await expect(siri.page.get_by_role("cell", name=f"user:{MODERATOR_ID}")).to_be_visible()
    await siri.check("audit")
    assert siri.errors == []
