"""Volunteering in the web chat: a resident makes a profile from a centre's link, the centre's
coordinator publishes a need, the resident says yes and shares their name.

Screenshots go to test-output/screenshots/18-*.png.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox_run import COORDINATOR_ID
from tests.browser.conftest import PHONE, ChatPage, PageOpener, SandboxStarter
from tests.browser.test_web_chat import citizen

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _no_quiet_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    # The invitation goes through the outbox, which holds it back at night otherwise.
    monkeypatch.setenv("QUIET_HOURS", "off")


def next_saturday() -> str:
    """A date a coordinator would type: next Saturday, ``DD.MM.YYYY``."""
    today = datetime.now(ZoneInfo("Europe/Oslo")).date()
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    return f"{saturday:%d.%m.%Y}"


async def make_profile(kari: ChatPage) -> None:
    """From the centre's link: the privacy notice, the volunteer text, the four sections."""
    await kari.send("/start v_holmen__library")
    await kari.press("✅ Ja, jeg godtar")
    await kari.expect_text("Holmen frivilligsentral ser etter frivillige")
    await kari.press("✅ Ja, lag profilen min")
    await kari.press("▫️ Kjøring")
    await kari.press("▫️ Utearbeid")
    await kari.press("Neste ▶")
    await kari.press("▫️ Holmen")
    await kari.press("Neste ▶")
    await kari.press("▫️ Helger")
    await kari.press("Neste ▶")
    await kari.press("▫️ norsk")
    await kari.press("✔ Ferdig")
    await kari.expect_text("Du får forespørsler som passer med dette.")


async def publish_need(nora: ChatPage) -> None:
    """The coordinator's /needs and the wizard, up to sending the invitations."""
    await nora.send("/needs")
    await nora.press("+ Nytt oppdrag for Holmen frivilligsentral")
    await nora.send("To sjåfører til reparasjonskafeen")
    await nora.send("Hent eldre hjemme og kjør dem til kafeen og hjem igjen.")
    await nora.press("Neste ▶")
    await nora.press("▫️ Kjøring")
    await nora.press("Neste ▶")
    await nora.press("✅ Holmen")  # the centre's own district is chosen already
    await nora.send(f"{next_saturday()} 10:00-14:00")
    await nora.send("2")
    await nora.press("Nei, alle språk")
    await nora.expect_text("1 frivillig passer")


async def test_a_resident_volunteers_and_a_coordinator_sees_who_comes(
    start_sandbox: SandboxStarter, open_page: PageOpener
) -> None:
    running = await start_sandbox()
    kari = await open_page(running, citizen(running, "nb"), PHONE)
    await make_profile(kari)
    await kari.screenshot("18-volunteer-profile-phone")

    nora = await open_page(running, COORDINATOR_ID)
    await publish_need(nora)
    await nora.screenshot("18-coordinator-confirm")
    await nora.press("✅ Send til 1 frivillig")
    await nora.expect_text("Invitert: 1")

    await kari.expect_text("Holmen frivilligsentral ber om hjelpen din")
    await kari.screenshot("18-volunteer-invitation-phone")
    await kari.press("✅ Ja, jeg kan hjelpe")
    await kari.expect_text("du har plass")
    await kari.press("👤 Del navnet mitt og Telegram-brukernavnet")
    await kari.expect_text("Sentralen ser: Kari")
    await kari.screenshot("18-volunteer-yes-phone")

    await nora.press("🔄")
    await nora.expect_text("• Kari")
    await nora.screenshot("18-coordinator-need")
    await nora.press("◀ Alle oppdrag")
    await nora.expect_text("1 av 2 på plass")
    await nora.screenshot("18-coordinator-needs-list")
    for chat in (kari, nora):
        assert chat.foreign_requests() == []
        assert chat.errors == []
