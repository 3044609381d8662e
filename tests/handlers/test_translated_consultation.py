"""The translator's round trip, as residents and moderators meet it: a consultation in Bokmål
is translated into Polish; a resident whose language it lacks picks Polish and answers in it."""

from __future__ import annotations

import polib
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.consultation import VIEWS, find_consultation, load_consultation
from models.participant import find_participant
from models.response import find_response
from models.roles import Role, grant
from models.translation import add_translation, read_translation, translator_file
from tests.auxil.consultations import add_consultation
from tests.handlers.conftest import NOW, Harness

Sessions = async_sessionmaker[AsyncSession]
MODERATOR = 9300

LIBRARY = """
slug: bibliotek
title: Nytt bibliotek
questions:
  - id: when
    type: single_choice
    text: Når vil du bruke biblioteket?
    options:
      - {id: morning, text: Om morgenen}
      - {id: evening, text: Om kvelden}
  - id: wish
    type: free_text
    text: Hva ønsker du deg?
"""

POLISH = {
    "title": "Nowa biblioteka",
    "questions.when.text": "Kiedy chcesz korzystać z biblioteki?",
    "questions.when.options.morning": "Rano",
    "questions.when.options.evening": "Wieczorem",
    "questions.wish.text": "Czego sobie życzysz?",
}


async def _translated(sessionmaker: Sessions) -> None:
    """Import the library consultation, write its file for Polish, fill it in, read it back."""
    async with sessionmaker() as session:
        consultation = await add_consultation(session, LIBRARY)
        view = await load_consultation(session, consultation.id or 0)
        assert view is not None
        po = polib.pofile(translator_file(view, "pl"))
        for entry in po:
            entry.msgstr = POLISH[entry.msgctxt]
        await add_translation(session, view, read_translation(view, str(po)), actor=None, now=NOW)
        await grant(session, MODERATOR, Role.MODERATOR, by=None, now=NOW)
        await session.commit()


async def test_a_resident_picks_the_new_language_and_answers_in_it_and_the_moderator_sees_it(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _translated(sessionmaker)
    # An English phone: the library consultation has Bokmål and Polish, not English.
    anna = harness.citizen(7701, "en")
    await harness.send(anna, "/start c_bibliotek__poster")
    await harness.press(anna, "✅")
    offer = harness.last(anna)
    assert "This consultation is not in English. It is in: Norsk bokmål, Polski." in offer
    assert anna.buttons() == ["Norsk bokmål", "Polski"]
    await harness.press(anna, "Polski")
    question = harness.last(anna)
    # The question and every button under it in Polish: nothing in Bokmål.
    assert "Kiedy chcesz korzystać z biblioteki?" in question
    assert "Når" not in question
    assert anna.buttons() == ["Rano", "Wieczorem"]
    await harness.press(anna, "Wieczorem")
    assert "Czego sobie życzysz?" in harness.last(anna)
    await harness.send(anna, "Więcej książek po polsku")
    async with sessionmaker() as session:
        person = await find_participant(session, anna.id)
        consultation = await find_consultation(session, "bibliotek")
        assert person is not None
        assert consultation is not None
        response = await find_response(session, person, consultation.id or 0)
    assert response is not None
    assert response.language == "pl"
    assert response.source == "poster"  # the deep link's source came through the choice
    assert response.completed_at is not None
    moderator = harness.citizen(MODERATOR, "en")
    await harness.send(moderator, "/review")
    card = harness.last(moderator)
    assert "Więcej książek po polsku" in card  # stored and shown as written
    assert "🌐 Written in: Polish" in card


async def test_a_resident_whose_language_the_translation_added_opens_it_directly(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _translated(sessionmaker)
    VIEWS.clear()
    # Bokmål readers are not asked: the consultation is in their language.
    kari = harness.citizen(7702, "nb")
    await harness.send(kari, "/start c_bibliotek")
    await harness.press(kari, "✅")
    assert "Når vil du bruke biblioteket?" in harness.last(kari)
    assert kari.buttons() == ["Om morgenen", "Om kvelden"]
