"""A consultation's languages: complete ones, the translator's file, and a response's language."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import polib
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from models import response as flow
from models.consultation import load_consultation
from models.export import write_export
from models.moderation import load_item, next_for
from models.participant import get_or_create_participant, set_language
from models.results import ResultFilter, consultation_results
from models.translation import (
    TranslationRefused,
    add_translation,
    complete_languages,
    coverage,
    read_translation,
    translator_file,
)
from tests.auxil.consultations import EVERY_TYPE, add_consultation

pytestmark = pytest.mark.postgres

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)

# Bokmål whole; Polish only in the title: a language not complete cannot be picked.
HALF_POLISH = """
slug: benk
title: {nb: Benker, pl: Ławki}
questions:
  - id: where
    type: single_choice
    text: Hvor?
    options: [{id: a, text: Ved dammen}, {id: b, text: Ved skolen}]
  - id: idea
    type: free_text
    text: Noe mer?
"""


def _filled(data: str, texts: dict[str, str]) -> str:
    po = polib.pofile(data)
    for entry in po:
        entry.msgstr = texts[entry.msgctxt]
    return str(po)


POLISH = {
    "title": "Ławki",
    "questions.where.text": "Gdzie?",
    "questions.where.options.a": "Przy stawie",
    "questions.where.options.b": "Przy szkole",
    "questions.idea.text": "Coś jeszcze?",
}


async def _person(session: AsyncSession, user_id: int, language: str | None) -> flow.Participant:
    person = await get_or_create_participant(session, user_id, user_id)
    person.language = language
    await session.flush()
    return person


async def test_only_complete_languages_count_and_a_missing_one_is_offered_to_choose(
    session: AsyncSession,
) -> None:
    consultation = await add_consultation(session, HALF_POLISH, publish=True)
    view = await load_consultation(session, consultation.id or 0)
    assert view is not None
    assert {code: (c.written, c.total) for code, c in coverage(view).items()} == {
        "nb": (5, 5),
        "pl": (1, 5),
    }
    assert complete_languages(view) == ["nb"]
    person = await _person(session, 2001, "pl")
    with pytest.raises(flow.ChooseLanguage) as offered:
        await flow.start(session, person, view.id, source="poster", now=NOW, reader="pl")
    assert offered.value.languages == ["nb"]
    assert offered.value.source == "poster"
    assert await flow.find_response(session, person, view.id) is None  # nothing stored


async def test_a_translation_is_stored_and_the_response_is_answered_in_it(
    session: AsyncSession,
) -> None:
    consultation = await add_consultation(session, HALF_POLISH, publish=True)
    view = await load_consultation(session, consultation.id or 0)
    assert view is not None
    translation = read_translation(view, _filled(translator_file(view, "pl"), POLISH))
    await add_translation(session, view, translation, actor=None, now=NOW)
    await session.commit()
    view = await load_consultation(session, consultation.id or 0)
    assert view is not None
    assert complete_languages(view) == ["nb", "pl"]
    person = await _person(session, 2002, "en")
    position = await flow.start(
        session, person, view.id, source=None, now=NOW, reader="en", choice="pl"
    )
    assert position.response.language == "pl"
    assert position.question is not None
    pond = position.question.options[0]
    assert pond.text["pl"] == "Przy stawie"
    position = await flow.choose(session, person, position.question.id, pond.id or 0, NOW)
    await flow.type_answer(session, person, "Więcej cienia", NOW)
    item = await next_for(session, 9001, NOW)
    assert item is not None
    assert item.language == "pl"  # the moderator learns the text's language
    assert (await load_item(session, item.id)) == item


async def test_a_file_with_problems_changes_nothing(session: AsyncSession) -> None:
    consultation = await add_consultation(session, HALF_POLISH)
    view = await load_consultation(session, consultation.id or 0)
    assert view is not None
    broken = dict(POLISH, **{"questions.idea.text": ""})
    with pytest.raises(TranslationRefused) as refused:
        read_translation(view, _filled(translator_file(view, "pl"), broken))
    assert refused.value.problems == [
        "questions.idea.text (question 2 (free text): the question): not translated"
    ]
    assert complete_languages(view) == ["nb"]


async def test_resuming_keeps_the_language_and_changing_language_follows_when_it_can(
    session: AsyncSession,
) -> None:
    consultation = await add_consultation(session, EVERY_TYPE, publish=True)
    person = await _person(session, 2003, "nn")
    position = await flow.start(
        session, person, consultation.id or 0, source=None, now=NOW, reader="nn", choice="en"
    )
    assert position.response.language == "en"
    again = await flow.start(
        session, person, consultation.id or 0, source=None, now=NOW, reader="nb"
    )
    assert again.response.language == "en"
    await set_language(session, person, "nn")  # not a language of the consultation: no change
    assert again.response.language == "en"
    await set_language(session, person, "nb")
    assert again.response.language == "nb"


async def test_results_and_the_export_split_by_the_language_answered_in(
    session: AsyncSession,
) -> None:
    consultation = await add_consultation(session, EVERY_TYPE, publish=True)
    cid = consultation.id or 0
    for user_id, language in ((2011, "nb"), (2012, "en"), (2013, "nn")):
        person = await _person(session, user_id, language)
        # The Nynorsk reader picked English: the park has no Nynorsk.
        choice = "en" if language == "nn" else None
        position = await flow.start(
            session, person, cid, source=None, now=NOW, reader=language, choice=choice
        )
        assert position.question is not None
        first = position.question.options[0].id or 0
        await flow.choose(session, person, position.question.id, first, NOW)
    await session.commit()
    everyone = await consultation_results(session, cid)
    assert everyone is not None
    assert [(a.language, a.responses) for a in everyone.answered_in] == [("en", 2), ("nb", 1)]
    english = await consultation_results(session, cid, ResultFilter(language="en"))
    assert english is not None
    assert english.started == 2
    assert english.questions[0].answered == 2
    out = io.BytesIO()
    rows = await write_export(session, cid, "json", out, language="en")
    assert rows == 2
    exported = json.loads(out.getvalue())
    assert "language" in exported["columns"]
    assert [row["language"] for row in exported["rows"]] == ["en", "en"]
