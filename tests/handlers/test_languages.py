"""Residents read one language at a time: after /language, in a consultation that lacks theirs,
in a poll made in one language; and the small glitches of the answering texts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.i18n import FSI, PDI, _, language
from models.participant import find_participant
from models.roles import Role, grant
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.handlers.conftest import NOW, Harness

Sessions = async_sessionmaker[AsyncSession]

# Bokmål and English only: no Nynorsk.
NB_EN = """
slug: benk
title: {nb: Benker i parken, en: Benches in the park}
questions:
  - id: more
    type: multiple_choice
    text: {nb: Hvor vil du ha benker?, en: Where do you want benches?}
    options:
      - {id: pond, text: {nb: Ved dammen, en: By the pond}}
      - {id: play, text: {nb: Ved lekeplassen, en: By the playground}}
  - id: idea
    type: free_text
    required: false
    text: {nb: Noe mer?, en: Anything else?}
  - id: agree
    type: yes_no
    text: {nb: Er parken fin?, en: Is the park nice?}
"""


async def _joined(harness: Harness, user_id: int, language: str) -> Citizen:
    person = harness.citizen(user_id, language)
    await harness.send(person, "/start c_benk")
    await harness.press(person, "✅")
    return person


async def test_after_language_the_current_question_is_shown_again_in_the_new_language(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session, NB_EN)
    kari = await _joined(harness, 7601, "nb")
    assert "Hvor vil du ha benker?" in harness.last(kari)
    await harness.send(kari, "/language")
    await harness.press(kari, "English")
    texts = harness.new_texts(kari)
    assert texts[0].startswith("Language: English")
    assert "Where do you want benches?" in texts[-1]
    assert "⬜ By the pond" in kari.buttons()
    assert "Done ✔" in kari.buttons()


async def test_a_resident_whose_language_the_consultation_lacks_picks_one_of_its_own(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session, NB_EN)
    ola = await _joined(harness, 7602, "nn")
    offer = harness.new_texts(ola)[-1]
    # Told in Nynorsk which languages it has, by their own names; nothing is shown in another.
    assert "Norsk bokmål, English" in offer
    assert "Hvor vil du ha benker?" not in offer
    assert ola.buttons() == ["Norsk bokmål", "English"]
    await harness.press(ola, "Norsk bokmål")
    intro, question = harness.new_texts(ola)[-2:]
    assert "Benker i parken" in intro
    assert "Hvor vil du ha benker?" in question
    # Bokmål's buttons and hint under a Bokmål question; no Nynorsk "Vel ..." mixed in.
    assert "Velg alle som passer, og trykk Ferdig." in question
    assert ola.buttons() == ["⬜ Ved dammen", "⬜ Ved lekeplassen", "Ferdig ✔"]
    await harness.press(ola, "Ved dammen")
    await harness.press(ola, "Ferdig")
    assert "Hopp over ▶" in ola.buttons()
    assert "◀ Tilbake" in ola.buttons()
    toast = await harness.press(ola, "Hopp over")
    # A skipped question gets no tick of an answer; the next question, in Bokmål, takes its
    # place with Bokmål buttons.
    assert "✓" not in toast
    assert harness.last(ola).endswith("Er parken fin?")
    assert ola.buttons()[:2] == ["Ja", "Nei"]


async def test_the_language_picked_stays_with_the_response_when_the_resident_comes_back(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session, NB_EN)
    ola = await _joined(harness, 7604, "nn")
    await harness.press(ola, "English")
    assert "Where do you want benches?" in harness.last(ola)
    assert "Done ✔" in ola.buttons()
    await harness.send(ola, "/cancel")
    await harness.send(ola, "/start c_benk")
    back = harness.last(ola)
    # Resumed in English without being asked again; English words with English questions.
    assert back.startswith("Welcome back!")
    assert "Where do you want benches?" in back
    assert ola.buttons() == ["⬜ By the pond", "⬜ By the playground", "Done ✔"]


async def test_a_poll_is_previewed_as_a_preview_and_offered_to_readers_of_other_languages(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await grant(session, 9100, Role.STAFF, by=None, now=NOW)
        await session.commit()
    staff = harness.citizen(9100)
    await harness.send(staff, "/newpoll Hvor skal benken stå?\nVed dammen\nVed skolen")
    heading, question, saved = harness.new_texts(staff)
    assert heading.startswith("<b>Forhåndsvisning</b>")
    assert "bare på bokmål" in heading
    assert "/cancel" not in heading + question  # no break to take in a one-question poll
    assert "Hvor skal benken stå?" in question
    assert "Lagret som utkast" in saved
    await harness.press(staff, "⚙")
    await harness.press(staff, "▶ Åpne")
    amina = await _resident(harness, 7603, "en")
    offer = harness.last(amina)
    assert "This consultation is not in English; it is only in Norsk bokmål." in offer
    assert amina.buttons() == ["Norsk bokmål"]
    await harness.press(amina, "Norsk bokmål")
    # The poll's title is its question: no "?." where a sentence ends with it.
    await harness.press(amina, "Ved dammen")
    assert not any("?." in t or "??" in t for t in harness.new_texts(amina))


async def _resident(harness: Harness, user_id: int, language: str) -> Citizen:
    person = harness.citizen(user_id, language)
    await harness.send(person, "/start")
    await harness.press(person, "✅")
    await harness.press(person, "Hvor skal benken")
    return person


# ---------------------------------------------------------------------- the nine languages


async def _stored_language(sessionmaker: Sessions, user_id: int) -> str | None:
    async with sessionmaker() as session:
        person = await find_participant(session, user_id)
        return person.language if person else None


def _in(code: str, message: str) -> str:
    with language(code):
        return str(_(message))


async def test_a_resident_whose_telegram_is_in_ukrainian_gets_ukrainian_at_once(
    harness: Harness, sessionmaker: Sessions
) -> None:
    olena = harness.citizen(7611, "uk-UA")
    await harness.send(olena, "/start")
    assert _in("uk", "Do you agree that we store your answers this way?") in harness.last(olena)
    assert olena.buttons()[0] == _in("uk", "✅ Yes, I agree")
    await harness.press(olena, _in("uk", "✅ Yes, I agree"))
    assert await _stored_language(sessionmaker, 7611) == "uk"


async def test_a_somali_resident_with_an_english_phone_picks_soomaali_from_the_first_message(
    harness: Harness, sessionmaker: Sessions
) -> None:
    hodan = harness.citizen(7612, "en")
    await harness.send(hodan, "/start")
    assert "Do you agree that we store your answers this way?" in harness.last(hodan)
    assert "Soomaali" in hodan.buttons()
    await harness.press(hodan, "Soomaali")
    # The same message, now in Somali, with the consent kept for the link.
    assert _in("so", "Do you agree that we store your answers this way?") in harness.last(hodan)
    await harness.press(hodan, _in("so", "✅ Yes, I agree"))
    assert await _stored_language(sessionmaker, 7612) == "so"
    await harness.send(hodan, "/help")
    assert harness.last(hodan).startswith("<b>Waxa aad samayn karto</b>")  # "What you can do"


async def test_a_resident_picks_arabic_and_reads_numbers_isolated_in_it(
    harness: Harness, sessionmaker: Sessions
) -> None:
    amal = harness.citizen(7613, None)
    await harness.send(amal, "/start")
    await harness.press(amal, "العربية")
    await harness.press(amal, _in("ar", "✅ Yes, I agree"))
    assert await _stored_language(sessionmaker, 7613) == "ar"
    await harness.send(amal, "/privacy")
    # The chat's number keeps its own direction inside the Arabic sentence.
    assert f"{FSI}7613{PDI}" in harness.last(amal)
    await harness.send(amal, "/language")
    assert len(amal.buttons()) == 9


# A consultation in Bokmål, Ukrainian, Somali and Arabic.
LIBRARY = """
slug: bibliotek
title: {nb: Biblioteket, uk: Бібліотека, so: Maktabadda, ar: المكتبة}
questions:
  - id: visit
    type: yes_no
    text:
      nb: Bruker du biblioteket?
      uk: Ви користуєтеся бібліотекою?
      so: Ma isticmaashaa maktabadda?
      ar: هل تستخدم المكتبة؟
"""


async def test_three_residents_answer_in_their_language_and_pick_one_where_it_is_missing(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session, LIBRARY)
        await add_consultation(session, NB_EN)
    # (user, Telegram's language, the language button pressed first if any, the question)
    residents = [
        (7621, "uk", None, "Ви користуєтеся бібліотекою?"),
        (7622, "en", "Soomaali", "Ma isticmaashaa maktabadda?"),
        (7623, None, "العربية", "هل تستخدم المكتبة؟"),
    ]
    for user_id, phone, picked, question in residents:
        person = harness.citizen(user_id, phone)
        code = {"uk": "uk", "Soomaali": "so", "العربية": "ar"}[picked or phone or ""]
        await harness.send(person, "/start c_bibliotek")
        if picked is not None:
            await harness.press(person, picked)
        await harness.press(person, _in(code, "✅ Yes, I agree"))
        # Their language is the consultation's: the question and its buttons are in it.
        assert harness.last(person).endswith(question)
        assert person.buttons()[:2] == [_in(code, "Yes"), _in(code, "No")]
        await harness.press(person, _in(code, "Yes"))
        assert _in(code, "Thank you! Your answers are saved.") in harness.last(person)

        # A consultation without their language: told so in theirs, and they pick.
        await harness.send(person, "/start c_benk")
        offer = harness.last(person)
        assert "Norsk bokmål, English" in offer
        assert "Where do you want benches?" not in offer
        assert person.buttons() == ["Norsk bokmål", "English"]
        await harness.press(person, "English")
        assert "Where do you want benches?" in harness.last(person)
        assert person.buttons() == ["⬜ By the pond", "⬜ By the playground", "Done ✔"]
        assert await _stored_language(sessionmaker, user_id) == code
