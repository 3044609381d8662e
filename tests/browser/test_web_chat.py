"""The sandbox web chat in a real browser: the real bot, the sandbox, and Debian's Chromium.

Each test clicks through the page as a person would and saves a screenshot under
test-output/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import Route, expect
from sqlmodel import col, select

from bot.db import create_engine, create_sessionmaker
from bot.sandbox_run import MODERATOR_ID, STAFF_ID, RunningSandbox
from models.consultation_file import parse_consultation_file
from models.response import Response
from tests.browser.conftest import PHONE, STEP_TIMEOUT, ChatPage, PageOpener, SandboxStarter

pytestmark = pytest.mark.browser


def citizen(running: RunningSandbox, language: str) -> int:
    """The id of the page's citizen whose Telegram app speaks ``language``."""
    return next(
        p.user_id
        for p in running.personas
        if p.role == "citizen" and running.sandbox.user(p.user_id).language_code == language
    )


async def consent(chat: ChatPage, label: str = "✅ Ja, jeg godtar") -> None:
    """Start the bot from the empty chat and accept the privacy notice."""
    await chat.page.get_by_role("button", name="Start", exact=True).click()
    await chat.press(label)


async def completed_responses(tmp_path: Path) -> int:
    """How many responses the sandbox's database holds as completed."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'medvirk-sandbox.db'}")
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.exec(
                select(Response).where(col(Response.completed_at).is_not(None))
            )
            return len(rows.all())
    finally:
        await engine.dispose()


def assert_offline(chat: ChatPage) -> None:
    """Nothing was asked of any server but the sandbox, and the page raised no error."""
    assert chat.foreign_requests() == []
    assert chat.errors == []


async def test_a_citizen_answers_a_whole_consultation(
    sandbox: RunningSandbox, open_page: PageOpener, tmp_path: Path
) -> None:
    kari = await open_page(sandbox, citizen(sandbox, "nb"))
    await expect(kari.page.get_by_text("Nothing you do here is sent to Telegram")).to_be_visible()
    await consent(kari)
    await kari.expect_text("Takk!")

    await kari.press("Ny frivilligsentral på Holmen")
    await kari.expect_text("1/6")
    await kari.press("Hver uke")
    await kari.expect_text("2/6")
    # A step is one message: the question's message became the next question.
    await expect(kari.chat().locator(".message").filter(has_text="1/6")).to_have_count(0)
    await expect(kari.chat().locator(".message").filter(has_text="2/6")).to_have_count(1)
    await kari.screenshot("13-next-question-in-place")

    await kari.press("⬜ Leksehjelp")
    await expect(kari.button("☑️ Leksehjelp")).to_be_visible()
    await kari.press("⬜ Språkkafé")
    await expect(kari.button("☑️ Språkkafé")).to_be_visible()
    await kari.press("Ferdig ✔")
    await kari.expect_text("3/6")
    await kari.press("Kveld")
    await kari.expect_text("4/6")
    await kari.press("Ja")
    await kari.expect_text("5/6")
    await kari.press(re.compile(r"^4"))
    await kari.expect_text("6/6")
    await kari.send("Leksehjelp på lørdager")
    summary = kari.chat().locator(".message").filter(has_text="Takk! Svarene dine er lagret.")
    await expect(summary).to_contain_text("Leksehjelp på lørdager", timeout=STEP_TIMEOUT)
    # Formatting arrives as formatting: the summary's heading is bold, not "<b>" text.
    await expect(summary.locator("strong").first).to_be_visible()
    await expect(summary).not_to_contain_text("<b>")
    # Finishing is one message: thanks, the summary, then the offers, with their buttons.
    await expect(summary.get_by_role("button", name="✅ Ja, si fra")).to_be_visible()
    await kari.screenshot("13-finished-one-message")

    assert await completed_responses(tmp_path) == 1
    assert_offline(kari)
    await kari.screenshot("consultation-desktop")


async def test_a_citizen_switches_language_by_keyboard_on_a_phone(
    sandbox: RunningSandbox, open_page: PageOpener
) -> None:
    ola = await open_page(sandbox, citizen(sandbox, "nn"), PHONE)
    page = ola.page

    async def tab_to(target: object, limit: int = 60) -> None:
        """Press Tab until ``target`` has the focus."""
        for _ in range(limit):
            await page.keyboard.press("Tab")
            if await target.evaluate("node => node === document.activeElement"):  # type: ignore[attr-defined]
                return
        raise AssertionError(f"Tab never reached {target}")

    await tab_to(page.get_by_role("button", name="Start", exact=True))
    await page.keyboard.press("Enter")
    # The welcome comes in nynorsk, the app's language; English is one button away.
    await ola.expect_text("Før vi byrjar")
    await tab_to(ola.button("English"))
    await page.keyboard.press("Enter")
    await ola.expect_text("Before we start")  # the same message, edited in place
    await tab_to(ola.button("✅ Yes, I agree"))
    await page.keyboard.press("Enter")
    await ola.expect_text("Thank you!")
    # The button pressed is gone; the focus moves on to the next buttons the bot sent.
    await expect(ola.chat().locator(".message").last.get_by_role("button").first).to_be_focused(
        timeout=STEP_TIMEOUT
    )
    await expect(page.locator("#announcer")).to_contain_text("Medvirk:")

    # The command menu, by keyboard: /language, then Norsk bokmål.
    await tab_to(page.get_by_role("button", name="Menu"))
    await page.keyboard.press("Enter")
    await expect(page.locator("#command-menu")).to_be_visible()
    await tab_to(page.locator("#commands").get_by_role("button", name=re.compile(r"^.language ")))
    await page.keyboard.press("Enter")
    await expect(page.locator("#command-menu")).to_be_hidden()
    await ola.expect_text("Choose your language")
    await tab_to(ola.button("Norsk bokmål"))
    await page.keyboard.press("Enter")
    await ola.expect_text("Språk: bokmål")
    await ola.send("/consultations")
    await ola.expect_text("Åpne undersøkelser")

    assert_offline(ola)
    await ola.screenshot("language-switch-phone")


async def test_staff_opens_a_poll_and_a_citizen_votes(
    sandbox: RunningSandbox, open_page: PageOpener
) -> None:
    siri = await open_page(sandbox, STAFF_ID)
    await siri.send(
        "/newpoll Hvor skal den nye benken stå?\nVed lekeplassen\nVed dammen\nVed biblioteket"
    )
    await siri.press("⚙ Åpne, lukke, resultater")
    await siri.press("▶ Åpne som Telegram-avstemning")
    await expect(siri.page.locator("#toast")).to_contain_text("Åpnet")

    kari = await open_page(sandbox, citizen(sandbox, "nb"))
    await consent(kari)
    await kari.press("Hvor skal den nye benken stå?")
    poll = kari.chat().locator(".poll").last
    await expect(poll.get_by_role("group", name="Hvor skal den nye benken stå?")).to_be_visible(
        timeout=STEP_TIMEOUT
    )
    await poll.get_by_role("radio", name="Ved dammen").check()
    await poll.get_by_role("button", name="Vote").click()
    await kari.expect_text("Takk! Svaret ditt er lagret.")
    await expect(poll.locator(".poll-results li.chosen")).to_contain_text("Ved dammen")
    await expect(poll).to_contain_text("100 %")
    await expect(poll).to_contain_text("1 vote")
    await kari.screenshot("poll-vote")

    # The staff member sees the vote counted: results as a picture, export as a file.
    await siri.press("📊 Resultater")
    chart = siri.chat().locator("img.photo").last
    await expect(chart).to_be_visible(timeout=STEP_TIMEOUT)
    assert await chart.evaluate("image => image.complete && image.naturalWidth > 0")
    await siri.press("⬇ CSV")
    download = siri.chat().locator("a.document").last
    await expect(download).to_contain_text(".csv", timeout=STEP_TIMEOUT)
    async with siri.page.expect_download() as downloading:
        await download.click()
    saved = Path(await (await downloading.value).path())
    assert "Ved dammen" in await asyncio.to_thread(saved.read_text, encoding="utf-8-sig")
    assert_offline(kari)
    assert_offline(siri)
    await siri.screenshot("staff-results")


async def test_two_citizens_answer_at_the_same_time(
    sandbox: RunningSandbox, open_page: PageOpener
) -> None:
    kari_id, amina_id = citizen(sandbox, "nb"), citizen(sandbox, "en")
    kari = await open_page(sandbox, kari_id)
    amina = await open_page(sandbox, amina_id, PHONE)

    async def answer(chat: ChatPage, agree: str, title: str, first: str, skip: str) -> None:
        await consent(chat, agree)
        await chat.press(title)
        await chat.expect_text("1/5")
        await chat.press(re.compile(first))
        await chat.press(re.compile(r"✔$"))
        await chat.expect_text("2/5")
        await chat.press(re.compile(skip))
        await chat.expect_text("3/5")

    await asyncio.gather(
        answer(
            kari,
            "✅ Ja, jeg godtar",
            "Dialogarena for mangfold og inkludering",
            "I en liten gruppe",
            "Hopp over",
        ),
        answer(
            amina,
            "✅ Yes, I agree",
            "Dialogue arena for diversity and inclusion",
            "In a small group",
            "Skip",
        ),
    )
    # Each chat holds its own conversation, in its own language.
    await expect(kari.chat()).not_to_contain_text("In a small group")
    await expect(amina.chat()).not_to_contain_text("I en liten gruppe")
    await expect(amina.chat()).to_contain_text("Do you need information in a language other")
    # Kari's tab saw Amina's chat move without a reload: a badge on Amina's name.
    badge = kari.page.locator(f'button.person[data-id="{amina_id}"] .badge')
    await expect(badge).to_be_visible()
    await kari.page.locator(f'button.person[data-id="{amina_id}"]').click()
    await expect(kari.chat()).to_contain_text("Do you need information in a language other")
    await expect(badge).to_be_hidden()
    assert_offline(kari)
    assert_offline(amina)
    await amina.screenshot("second-citizen-phone")
    await kari.screenshot("second-citizen-desktop")


async def test_staff_preview_a_consultation_file_in_each_language(
    start_sandbox: SandboxStarter, open_page: PageOpener
) -> None:
    spec = parse_consultation_file(
        Path(__file__).parents[2].joinpath("examples", "dialogarena-mangfold.yaml").read_bytes()
    )
    running = await start_sandbox(spec)
    assert [running.sandbox.user(p.user_id).language_code for p in running.personas] == [
        "nb", "en", "nb", "nb",
    ]  # fmt: skip
    assert {p.user_id for p in running.personas if p.role != "citizen"} == {STAFF_ID, MODERATOR_ID}
    english = await open_page(running, citizen(running, "en"))
    await expect(english.page.locator("#preview-banner")).to_contain_text("Preview of")
    await english.page.get_by_role(
        "button", name="Start: Dialogarena for mangfold og inkludering"
    ).click()
    await english.press("✅ Yes, I agree")
    await english.expect_text("1/5")
    await english.expect_text("How would you most like to share your views")
    await english.send("/consultations")
    consultations = english.chat().locator(".message").last
    await expect(consultations.get_by_role("button")).to_have_count(1, timeout=STEP_TIMEOUT)
    assert_offline(english)
    await english.screenshot("preview-english")


async def test_a_resident_picks_polish_and_staff_read_the_answers_by_language(
    sandbox: RunningSandbox, open_page: PageOpener
) -> None:
    from handlers.i18n import _, language

    def polish(message: str) -> str:
        with language("pl"):
            return str(_(message))

    # Amina's phone is in English; she finds Polish in the first message.
    amina = await open_page(sandbox, citizen(sandbox, "en"))
    await amina.page.get_by_role("button", name="Start", exact=True).click()
    await amina.press("Polski")
    await amina.press(polish("✅ Yes, I agree"))
    await amina.press("Ny frivilligsentral på Holmen")
    # The consultation is in Bokmål and English: she is told so in Polish and picks.
    await amina.expect_text("Norsk bokmål, English")
    await amina.screenshot("16-sandbox-resident-picks-a-language")
    await amina.press("English")
    await amina.expect_text("1/6")
    await amina.press("Every week")
    await amina.expect_text("2/6")

    siri = await open_page(sandbox, STAFF_ID)
    await siri.send("/results holmen-frivilligsentral en")
    await siri.expect_text("Bare svarene på engelsk")
    await siri.screenshot("16-staff-results-by-language")
    assert_offline(amina)
    assert_offline(siri)


async def test_what_is_typed_while_a_message_is_on_its_way_is_kept(
    sandbox: RunningSandbox, open_page: PageOpener
) -> None:
    kari = await open_page(sandbox, citizen(sandbox, "nb"))
    sent: list[str] = []

    async def slow(route: Route) -> None:
        sent.append(route.request.post_data or "")
        await asyncio.sleep(1.0)  # a slow network
        await route.continue_()

    await kari.page.route("**/users/*/text", slow)
    box = kari.page.get_by_label("Message to the bot")
    await box.fill("/help")
    await box.press("Enter")
    await asyncio.sleep(0.2)
    await box.fill("Hei")  # typed while /help is still on its way
    await kari.expect_text("Medvirk")  # /help answered
    await expect(box).to_have_value("Hei")
    assert len(sent) == 1
