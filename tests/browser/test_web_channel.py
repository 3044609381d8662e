"""The residents' web chat in Debian's Chromium: the real bot and pages, no Telegram at all.

A resident answers every question type, takes a break and comes back in the same browser; a
second browser is somebody else; /mydata downloads and /delete erases. axe-core checks the page
in every UI language; without JavaScript it still works and says how else to reach the
municipality. Screenshots go to test-output/screenshots/15-*.png.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp.test_utils import TestServer

from bot.db import create_engine, create_sessionmaker, upgrade
from bot.settings import Settings
from bot.web import create_web_app
from handlers.i18n import LANGUAGE_NAMES, LANGUAGES, _, direction, language
from models.arenas import import_arenas, parse_arena_file
from tests.auxil.consultations import add_consultation
from tests.browser.conftest import PHONE, SCREENSHOTS, STEP_TIMEOUT

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
ARENAS = Path(__file__).parents[2] / "examples" / "arenas.yaml"


def _consent(code: str) -> str:
    """The consent button's label in ``code``, as its catalogue has it."""
    with language(code):
        return str(_("✅ Yes, I agree"))


@pytest.fixture
async def web_chat(tmp_path: Path, chromium: Path) -> AsyncIterator[str]:
    """The web chat alone (no token) on a free port, with the park consultation and arenas."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'web.db'}",
        web_channel=True,
        quiet_hours="off",
        web_title="Holmen kommune",
        web_contact="Servicetorget, telefon 12 34 56 78",
    )
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    async with create_sessionmaker(engine)() as session:
        await add_consultation(session)
        await import_arenas(session, parse_arena_file(ARENAS.read_bytes()))
        await session.commit()
    await engine.dispose()
    server = TestServer(create_web_app(settings))
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@dataclass
class Tab:
    """A browser tab on the web chat, with what went wrong in it and what it asked for."""

    page: Page
    base: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def chat(self) -> Any:
        return self.page.locator("#messages")

    async def press(self, label: str | re.Pattern[str]) -> None:
        await self.chat().get_by_role("button", name=label).last.click(timeout=STEP_TIMEOUT)

    async def expect_text(self, text: str | re.Pattern[str]) -> None:
        from playwright.async_api import expect

        await expect(self.chat().locator("li.message").filter(has_text=text).last).to_be_visible(
            timeout=STEP_TIMEOUT
        )

    async def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(SCREENSHOTS / f"15-{name}.png"), full_page=True)

    def foreign(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(self.base + "/")]


async def _tab(context: BrowserContext, base: str) -> Tab:
    page = await context.new_page()
    tab = Tab(page, base)
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda request: tab.requests.append(request.url))
    return tab


@pytest.fixture
async def contexts(browser: Browser) -> AsyncIterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        await context.close()


async def _context(browser: Browser, made: list[BrowserContext], **options: Any) -> BrowserContext:
    context = await browser.new_context(**{"viewport": PHONE, "locale": "nb-NO", **options})
    made.append(context)
    return context


async def test_a_resident_answers_pauses_comes_back_and_erases(
    web_chat: str, browser: Browser, contexts: list[BrowserContext], tmp_path: Path
) -> None:
    from playwright.async_api import expect

    context = await _context(browser, contexts, accept_downloads=True)
    kari = await _tab(context, web_chat)
    await kari.page.goto(web_chat + "/")
    await expect(kari.page.get_by_role("heading", level=1)).to_have_text("Si din mening")
    await kari.screenshot("home")
    await kari.page.get_by_role("link", name="Ny park").click()
    await kari.page.get_by_role("button", name="Start: Ny park").click()
    await kari.expect_text("Før vi begynner")
    await kari.screenshot("consent")
    await kari.press("✅ Ja, jeg godtar")
    await kari.expect_text("1/5")
    # The live region reads the new question out.
    await expect(kari.page.locator("#announcer")).to_contain_text("Ville du brukt parken?")

    await kari.press("Ofte")
    await kari.expect_text("2/5")
    # Focus moves to the next question's first button: a keyboard user just carries on.
    await expect(kari.page.locator(":focus")).to_have_text(re.compile("Leke"))
    await kari.page.keyboard.press("Enter")
    await expect(kari.chat().get_by_role("button", name="☑️ Leke")).to_be_visible()
    await expect(kari.page.locator(":focus")).to_have_text(re.compile("Leke"))  # stays put
    await kari.press("⬜ Idrett")
    await expect(kari.chat().get_by_role("button", name="☑️ Idrett")).to_be_visible()
    await kari.press("Ferdig ✔")
    await kari.expect_text("3/5")
    await kari.screenshot("scale")
    await kari.press("4")
    await kari.expect_text("4/5")
    await kari.page.get_by_label("Meldingen din").fill("ja")  # typed yes/no
    await kari.page.get_by_label("Meldingen din").press("Enter")
    await kari.expect_text("5/5")

    # A break; the same browser comes back later and continues where she left off.
    await kari.page.get_by_role("button", name="Ta en pause").click()
    await kari.expect_text("Satt på pause")
    await kari.page.goto(web_chat + "/c/park")
    await kari.page.get_by_role("button", name="Start: Ny park").click()
    await kari.expect_text("Velkommen tilbake")
    await kari.page.get_by_label("Meldingen din").fill("Benker og grill")
    await kari.page.get_by_role("button", name="Send", exact=True).click()
    await kari.expect_text("Svarene dine: Ny park")
    await kari.screenshot("summary")

    # Another browser is another person.
    ola = await _tab(await _context(browser, contexts), web_chat)
    await ola.page.goto(web_chat + "/chat")
    await expect(ola.chat().locator("li.message")).to_have_count(0)
    await expect(ola.page.get_by_role("button", name="Start", exact=True)).to_be_visible()

    # My data is a download; delete erases it all.
    await kari.page.get_by_role("button", name="Mine data").click()
    link = kari.chat().get_by_role("link", name=re.compile("medvirk-my-data.json"))
    async with kari.page.expect_download() as download_info:
        await link.last.click()
    download = await download_info.value
    saved = tmp_path / "my-data.json"
    await download.save_as(saved)
    assert "Benker og grill" in saved.read_text(encoding="utf-8")
    await kari.page.get_by_role("button", name="Slett dataene mine").click()
    await kari.press("Ja, slett alt")
    await kari.expect_text("alt vi lagret om deg er slettet")
    await kari.screenshot("deleted")
    await kari.page.reload()
    await expect(kari.chat().locator("li.message")).to_have_count(1)

    assert kari.errors == [], kari.errors
    assert ola.errors == [], ola.errors
    assert kari.foreign() == []
    assert ola.foreign() == []


async def _axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page (WCAG 2.2 A and AA rules)."""
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate(
        """async () => {
            const found = await axe.run(document, {runOnly: {type: "tag", values:
                ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}});
            return found.violations.map(v => ({id: v.id, impact: v.impact,
                nodes: v.nodes.map(n => n.target.join(" "))}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_chat_passes_axe_in_every_language(
    web_chat: str, browser: Browser, contexts: list[BrowserContext], language: str
) -> None:
    from playwright.async_api import expect

    context = await _context(
        browser, contexts, locale=language, viewport={"width": 1280, "height": 900}
    )
    tab = await _tab(context, web_chat)
    await tab.page.goto(web_chat + "/")
    await tab.page.get_by_role("button", name=LANGUAGE_NAMES[language], exact=True).click()
    assert await tab.page.get_attribute("html", "lang") == language
    assert await tab.page.get_attribute("html", "dir") == direction(language)
    assert await _axe(tab.page) == []
    await tab.page.get_by_role("link", name=re.compile("park", re.IGNORECASE)).click()
    await tab.page.locator("form.start button").click()
    await tab.press(_consent(language))
    if language not in ("nb", "en"):
        # The park is in Bokmål and English: any other reader picks one of them first.
        await tab.expect_text("Norsk bokmål, English")
        await tab.press(re.compile("Norsk bokmål"))
    await tab.expect_text("1/5")
    await expect(tab.page.locator("#announcer")).not_to_be_empty()
    assert await _axe(tab.page) == []
    await tab.screenshot(f"desktop-{language}")
    assert tab.errors == []


async def test_without_javascript_the_chat_still_works(
    web_chat: str, browser: Browser, contexts: list[BrowserContext]
) -> None:
    from playwright.async_api import expect

    context = await _context(browser, contexts, java_script_enabled=False)
    tab = await _tab(context, web_chat)
    await tab.page.goto(web_chat + "/c/park?src=bibliotek")
    await expect(tab.page.get_by_text("Servicetorget, telefon 12 34 56 78")).to_be_visible()
    await tab.page.get_by_role("button", name="Start: Ny park").click()
    await tab.press("✅ Ja, jeg godtar")
    await tab.press("Aldri")
    await tab.expect_text("2/4")
    await tab.screenshot("no-javascript")
    assert tab.errors == []


async def test_the_chat_reflows_at_320_pixels_and_200_percent(
    web_chat: str, browser: Browser, contexts: list[BrowserContext]
) -> None:
    for viewport, scale in (
        ({"width": 320, "height": 640}, 1),
        ({"width": 640, "height": 400}, 2),
    ):
        context = await _context(browser, contexts, viewport=viewport, device_scale_factor=scale)
        tab = await _tab(context, web_chat)
        await tab.page.goto(web_chat + "/c/park")
        await tab.page.get_by_role("button", name="Start: Ny park").click()
        await tab.expect_text("Før vi begynner")
        width = await tab.page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"scrolls sideways at {viewport}"
        if viewport["width"] == 320:
            await tab.screenshot("320px")


@pytest.mark.parametrize(("language", "direction_"), [("ar", "rtl"), ("ti", "ltr")])
async def test_arabic_reads_right_to_left_and_tigrinya_renders_on_a_phone(
    web_chat: str,
    browser: Browser,
    contexts: list[BrowserContext],
    language: str,
    direction_: str,
) -> None:
    from playwright.async_api import expect

    context = await _context(browser, contexts, locale="en-GB", viewport=PHONE)
    tab = await _tab(context, web_chat)
    await tab.page.goto(web_chat + "/c/park")
    # An English phone: the reader finds their own language by its own name.
    await tab.page.get_by_role("button", name=LANGUAGE_NAMES[language], exact=True).click()
    assert await tab.page.get_attribute("html", "dir") == direction_
    assert await tab.page.get_attribute("html", "lang") == language
    await tab.page.locator("form.start button").click()
    await tab.press(_consent(language))
    # The park is in Bokmål and English: told so in the reader's language, they pick one.
    await tab.expect_text("Norsk bokmål, English")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await tab.page.screenshot(path=str(SCREENSHOTS / f"16-web-chat-{language}-choose.png"))
    await tab.press("English")
    await tab.expect_text("1/5")
    if direction_ == "rtl":
        # Mirrored: the chat's messages start at the right edge of the page.
        box = await tab.chat().bounding_box()
        first = await tab.chat().locator("li.message").first.bounding_box()
        assert box is not None
        assert first is not None
        assert first["x"] + first["width"] >= box["x"] + box["width"] - 40
    else:
        # Every Ethiopic letter has a glyph: the name is as wide as a font draws it, not boxes.
        name = tab.page.get_by_role("button", name=LANGUAGE_NAMES[language], exact=True)
        await expect(name).to_be_visible()
        assert await tab.page.evaluate("document.fonts.check('16px sans-serif', 'ትግርኛ')")
    assert await _axe(tab.page) == []
    await tab.page.screenshot(path=str(SCREENSHOTS / f"16-web-chat-{language}.png"))
    assert tab.errors == []
