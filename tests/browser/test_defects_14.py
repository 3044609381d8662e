"""What issue #14's residents, staff member and moderator met, walked again in the web chat.

A resident scans a poster before the consultation opens; a resident hides a phone number behind
an invisible character and the moderator sees it masked; a staff member exports every text.
Screenshots go to test-output/screenshots/14-*.png.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from bot.db import create_engine, create_sessionmaker
from bot.sandbox_run import MODERATOR_ID, STAFF_ID, RunningSandbox
from models.consultation import import_consultation
from models.consultation_file import parse_consultation_file
from tests.browser.conftest import PageOpener
from tests.browser.test_web_chat import assert_offline, citizen, consent

pytestmark = pytest.mark.browser

NEXT_YEAR = """
slug: ny-skole
title: {nb: Ny skole på Holmen, en: A new school at Holmen}
opens: 2031-03-01T09:00:00+01:00
questions:
  - {id: need, type: yes_no, text: {nb: Trenger Holmen en ny skole?, en: Does Holmen need one?}}
"""


async def add_consultation_opening_later(tmp_path: Path) -> None:
    """Staff published a consultation that opens on 1 March 2031 (posters are up already)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'medvirk-sandbox.db'}")
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await import_consultation(session, parse_consultation_file(NEXT_YEAR), publish=True)
    finally:
        await engine.dispose()


async def test_a_resident_who_scans_a_poster_early_is_told_when_it_opens(
    sandbox: RunningSandbox, open_page: PageOpener, tmp_path: Path
) -> None:
    await add_consultation_opening_later(tmp_path)
    kari = await open_page(sandbox, citizen(sandbox, "nb"))
    await kari.send("/start c_ny-skole__plakat")
    await kari.press("✅ Ja, jeg godtar")
    await kari.expect_text("Ny skole på Holmen åpner 1. mars 2031 kl. 09:00")
    await expect(kari.chat()).not_to_contain_text("avsluttet")
    await kari.screenshot("14-not-open-yet")
    await kari.press("🔔 Si fra når den åpner")
    await kari.expect_text("Vi sender deg en melding når")
    assert_offline(kari)
    await kari.screenshot("14-told-when-it-opens")


async def test_a_hidden_phone_number_is_masked_for_the_moderator_and_in_the_export(
    sandbox: RunningSandbox, open_page: PageOpener
) -> None:
    kari = await open_page(sandbox, citizen(sandbox, "nb"))
    await consent(kari)
    await kari.press("Ny frivilligsentral på Holmen")
    await kari.press("Sannsynligvis aldri")
    await kari.press("Kveld")
    await kari.press("Nei")
    await kari.press(re.compile(r"^3"))
    await kari.expect_text("5/5")
    # A zero-width space inside the number, and a fullwidth @: both used to get through.
    await kari.send("Ring meg på 9988\u200b7766 eller kari\uff20kommune.no")
    await kari.expect_text("Svarene dine")

    mats = await open_page(sandbox, MODERATOR_ID)
    await mats.send("/review")
    await mats.expect_text("[telefonnummer]")
    await mats.expect_text("[e-postadresse]")
    await expect(mats.chat()).not_to_contain_text("7766")
    await mats.screenshot("14-moderator-masked")

    siri = await open_page(sandbox, STAFF_ID)
    await siri.send("/export holmen-frivilligsentral csv all")
    download = siri.chat().locator("a.document").last
    # Every text: a file name of its own, the same placeholder words as the moderator's.
    await expect(download).to_contain_text("holmen-frivilligsentral-all-texts.csv")
    async with siri.page.expect_download() as downloading:
        await download.click()
    path = Path(await (await downloading.value).path())
    saved = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    assert "Ring meg på [telefonnummer] eller [e-postadresse]" in saved
    assert "7766" not in saved
    assert_offline(siri)
    await siri.screenshot("14-staff-export-all-texts")
