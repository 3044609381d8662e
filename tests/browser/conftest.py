"""Browser fixtures: the sandbox with the real bot and its web chat, and Debian's Chromium.

Chromium comes from Debian (``make test`` installs it) and is launched by path; Playwright never
downloads a browser. In CI (``CI`` set) a missing browser or Playwright fails the tests; run by
hand without them, the tests skip and say why.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.sandbox_run import RunningSandbox, SandboxOptions, serve_sandbox
from bot.settings import Settings
from models.consultation_file import ConsultationSpec
from tests.conftest import IN_CI

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parents[2] / "test-output" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
#: Seconds a step may wait for the bot's answer to show in the page.
STEP_TIMEOUT = 15_000

pytestmark = pytest.mark.browser


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; CI must run the browser tests (make test installs it)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns while building RetryAfter unless this is set; warnings are errors here.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium and Playwright, or a skip (a failure in CI) saying which is missing."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        _unavailable("the Python package playwright is not installed")
    if not CHROMIUM.exists():
        _unavailable(f"Debian's Chromium is not installed at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (which downloads no browser)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


SandboxStarter = Callable[..., Awaitable[RunningSandbox]]


@pytest.fixture
async def start_sandbox(tmp_path: Path, chromium: Path) -> AsyncIterator[SandboxStarter]:
    """Start ``medvirk sandbox`` in the test's loop (free port, database in tmp_path).

    It asks for ``chromium`` first, so a missing browser skips before anything starts.
    """
    stops: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(consultation: ConsultationSpec | None = None) -> RunningSandbox:
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        options = SandboxOptions(
            host="127.0.0.1",
            port=0,
            database=tmp_path / "medvirk-sandbox.db",
            consultation=consultation,
        )
        stop = asyncio.Event()
        started: asyncio.Future[RunningSandbox] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            serve_sandbox(settings, options, stop=stop, ready=started.set_result)
        )
        stops.append((stop, task))
        done, _pending = await asyncio.wait(
            {started, task}, timeout=60, return_when="FIRST_COMPLETED"
        )
        if task in done:
            task.result()  # raises why it stopped
        return started.result()

    yield start
    for stop, task in stops:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


@pytest.fixture
async def sandbox(start_sandbox: SandboxStarter) -> RunningSandbox:
    """The sandbox with the example consultations, the bot and the web chat."""
    return await start_sandbox()


@dataclass
class ChatPage:
    """One browser tab on the web chat, with what it asked the network for."""

    page: Page
    base: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def open(self, user_id: int) -> None:
        """Open the page as this person and wait until the history is in."""
        await self.page.goto(f"{self.base}/#chat={user_id}")
        await self.page.wait_for_selector("body[data-ready=true]")

    def chat(self) -> Any:
        """The visible message list."""
        return self.page.locator("ol.messages:visible")

    def button(self, label: str | re.Pattern[str]) -> Any:
        """The newest button in the chat with exactly this label (or matching a pattern)."""
        return self.chat().get_by_role("button", name=label, exact=True).last

    async def press(self, label: str | re.Pattern[str]) -> None:
        """Click the newest button in the chat with this label."""
        await self.button(label).click(timeout=STEP_TIMEOUT)

    async def expect_text(self, text: str | re.Pattern[str]) -> None:
        """Wait until a message in the chat shows ``text``."""
        from playwright.async_api import expect

        await expect(self.chat().locator(".message").filter(has_text=text).last).to_be_visible(
            timeout=STEP_TIMEOUT
        )

    async def send(self, text: str) -> None:
        """Type a message and press Enter."""
        box = self.page.get_by_label("Message to the bot")
        await box.fill(text)
        await box.press("Enter")

    async def screenshot(self, name: str) -> Path:
        """Save a screenshot of the page under test-output/screenshots/."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path))
        return path

    def foreign_requests(self) -> list[str]:
        """Requests that left the sandbox's own server."""
        return [url for url in self.requests if not url.startswith(self.base + "/")]


PageOpener = Callable[..., Awaitable[ChatPage]]


@pytest.fixture
async def open_page(browser: Browser) -> AsyncIterator[PageOpener]:
    """Open a new browser context on the web chat (each its own tab, cookies and storage)."""
    contexts = []

    async def opener(
        running: RunningSandbox, user_id: int, viewport: dict[str, int] = DESKTOP
    ) -> ChatPage:
        context = await browser.new_context(viewport=viewport, locale="en-GB")
        contexts.append(context)
        page = await context.new_page()
        chat = ChatPage(page, running.url)
        page.on("request", lambda request: chat.requests.append(request.url))
        page.on("pageerror", lambda error: chat.errors.append(str(error)))
        page.on(
            "console",
            lambda message: chat.errors.append(message.text) if message.type == "error" else None,
        )
        await chat.open(user_id)
        return chat

    yield opener
    for context in contexts:
        await context.close()
