"""A resident's own data in plain words: /mydata, /privacy's contact, /delete's last word."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from tests.auxil.consultations import add_consultation
from tests.handlers.conftest import Harness

Sessions = async_sessionmaker[AsyncSession]


async def test_mydata_says_in_plain_words_what_we_have_next_to_the_file(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
    kari = harness.citizen(7701)
    await harness.send(kari, "/start c_park__plakat")
    await harness.press(kari, "Ja, jeg godtar")
    await harness.press(kari, "Ofte")
    await harness.send(kari, "/mydata")
    summary, document = harness.sandbox.messages(kari.id)[-2:]
    text = summary["text"]
    assert text.startswith("<b>Dette har vi om deg</b>")
    assert "Telegram-brukernummeret ditt, 7701" in text
    assert "Språket ditt: bokmål." in text
    assert "Hvor du kom fra først: plakat." in text
    assert "Ja-et ditt til personvernerklæringen, fra 15. jan. 2027." in text
    assert "1 svar, på: Ny park." in text
    assert "Vi har ikke navnet eller brukernavnet ditt." in text
    assert document["document"]["file_name"] == "medvirk-my-data.json"


async def test_privacy_never_names_a_made_up_contact(harness: Harness) -> None:
    person = harness.citizen(7702)
    await harness.send(person, "/privacy")
    text = harness.last(person)
    assert "Spørsmål: kommunen." not in text  # the placeholder a pilot once showed
    assert "ingen er satt opp i denne testinstallasjonen" in text
    harness.runtime.privacy_contact = "personvern@kommune.no"
    await harness.send(person, "/privacy")
    assert "Spørsmål: personvern@kommune.no." in harness.last(person)


async def test_delete_says_the_chat_on_the_phone_is_theirs_to_delete(
    harness: Harness, sessionmaker: Sessions
) -> None:
    person = harness.citizen(7703)
    await harness.send(person, "/start")
    await harness.press(person, "Ja, jeg godtar")
    await harness.send(person, "/delete")
    await harness.press(person, "Ja, slett alt")
    text = harness.last(person)
    assert "slettet" in text
    assert "Meldingene i denne chatten blir liggende på telefonen din" in text
    assert "Slett chat" in text
