"""A resident and the background questions: offered once, optional, theirs to see and delete."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.focus_groups import never_drawn
from models.participant import find_participant
from models.profile import ProfileAnswer, answers_of
from models.roles import Role, grant
from tests.auxil.background import PROFILE, add_profile, give_background
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.auxil.ideas import IDEAS, write_idea
from tests.handlers.conftest import NOW, Harness

Sessions = async_sessionmaker[AsyncSession]
MODERATOR = 9210
ONE_QUESTION = """
slug: kafe
title: {nb: Kafé, en: Café}
questions:
  - {id: one, type: yes_no, text: {nb: Kommer du?, en: Will you come?}}
"""


async def _finish(harness: Harness, user_id: int, slug: str = "kafe") -> Citizen:
    """A person who consents and answers the one-question consultation."""
    person = harness.citizen(user_id, "en")
    await harness.send(person, f"/start c_{slug}")
    await harness.press(person, "Yes, I agree")
    await harness.press(person, "Yes")
    return person


async def _participant_id(sessionmaker: Sessions, user_id: int) -> int:
    async with sessionmaker() as session:
        found = await find_participant(session, user_id)
        assert found is not None
        return found.id or 0


async def test_a_resident_is_asked_once_after_a_consultation_and_may_keep_things_private(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        age, district = await add_profile(session)
        await add_consultation(session, ONE_QUESTION)
        await add_consultation(session, ONE_QUESTION.replace("kafe", "park"))
    ada = await _finish(harness, 7601)
    texts = harness.new_texts(ada)
    offer = next(t for t in texts if "Help us hear from everyone" in t)
    assert "May we ask about your age and district?" in offer
    assert '"Prefer not to say"' in offer
    assert "Moderators never see these answers" in offer
    # The summary takes the place of the last question; the offer follows it, on its own.
    assert "<b>Your answers: Café</b>" in texts[-2]
    assert texts[-1] == offer

    await harness.press(ada, "Answer 2 short questions")
    assert harness.last(ada) == "<i>About you, 1/2</i>\n<b>How old are you?</b>"
    assert ada.buttons() == ["Young", "Old", "Prefer not to say"]
    await harness.press(ada, "Prefer not to say")
    assert harness.last(ada) == "<i>About you, 2/2</i>\n<b>Where do you live?</b>"
    await harness.press(ada, "East")
    assert harness.last(ada).startswith("Thank you! Your answers help us see who we are missing.")
    pid = await _participant_id(sessionmaker, 7601)
    east = district.by_key("east")
    assert east is not None
    async with sessionmaker() as session:
        assert await answers_of(session, pid) == {age.id: None, district.id: east.id}

    # Another consultation: no second offer.
    await harness.send(ada, "/start c_park")
    await harness.press(ada, "Yes")
    assert not any("Help us hear from everyone" in t for t in harness.new_texts(ada))


async def test_no_thanks_is_respected(harness: Harness, sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        await add_profile(session)
        await add_consultation(session, ONE_QUESTION)
        await add_consultation(session, ONE_QUESTION.replace("kafe", "park"))
    bo = await _finish(harness, 7602)
    await harness.press(bo, "No thanks")
    assert harness.new_texts(bo)[-1].startswith("Okay, we will not ask again.")
    await harness.send(bo, "/start c_park")
    await harness.press(bo, "Yes")
    assert not any("Help us hear from everyone" in t for t in harness.new_texts(bo))
    async with sessionmaker() as session:
        assert (await session.exec(select(ProfileAnswer))).all() == []


async def test_background_answers_are_seen_changed_and_deleted_under_privacy(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_profile(session)
        await add_consultation(session, ONE_QUESTION)
    cai = await _finish(harness, 7603)
    await harness.press(cai, "Answer 2 short questions")
    await harness.press(cai, "Old")
    await harness.press(cai, "West")

    await harness.send(cai, "/mydata")
    sent = [m for m in harness.sandbox.messages(cai.id) if m.get("document")]
    data = json.loads(harness.sandbox.file_content(sent[-1]["document"]["file_id"]))
    assert data["background answers"] == [
        {"question": "How old are you?", "answer": "Old"},
        {"question": "Where do you live?", "answer": "West"},
    ]

    await harness.send(cai, "/privacy")
    assert "<b>Background questions</b>" in harness.last(cai)
    await harness.press(cai, "Background questions")
    card = harness.last(cai)
    assert "• Age: Old" in card
    assert "• District: West" in card
    # Changing one: the questions again, the current answer ticked.
    await harness.press(cai, "Answer or change")
    assert "✓ Old" in cai.buttons()
    await harness.press(cai, "Young")
    await harness.press(cai, "West")
    pid = await _participant_id(sessionmaker, 7603)
    assert await harness.press(cai, "Delete my background answers") == (
        "Your background answers are deleted."
    )
    assert "• Age: not answered" in harness.new_texts(cai)[-1]  # the card, in place
    async with sessionmaker() as session:
        assert await answers_of(session, pid) == {}
    # Never to be drawn for a focus group, and back.
    toast = await harness.press(cai, "Never draw me for focus groups")
    assert toast == "We will never draw you for a focus group."
    async with sessionmaker() as session:
        assert await never_drawn(session, [pid]) == {pid}
    await harness.press(cai, "You may draw me for focus groups")
    async with sessionmaker() as session:
        assert await never_drawn(session, [pid]) == set()


async def test_stale_and_forged_buttons_change_nothing(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        questions = await add_profile(session)
        await add_consultation(session, ONE_QUESTION)
    eli = await _finish(harness, 7604)
    age, district = questions
    east = district.by_key("east")
    assert east is not None
    # A band of another question, a question that is gone, an action that does not exist.
    assert await harness.press_data(eli, f"bg:{age.id}:{east.id}") == (
        "That question no longer exists. See /privacy."
    )
    assert await harness.press_data(eli, "bg:99999:0") == (
        "That question no longer exists. See /privacy."
    )
    assert "does not work" in await harness.press_data(eli, "bo:everything")
    async with sessionmaker() as session:
        assert (await session.exec(select(ProfileAnswer))).all() == []
    # Someone who never agreed to the privacy notice is asked to, and nothing is stored.
    stranger = harness.citizen(7605, "en")
    await harness.send(stranger, "/help")  # a message to press a (forged) button on
    await harness.press_data(stranger, f"bg:{age.id}:0")
    assert "privacy notice" in harness.last(stranger)
    async with sessionmaker() as session:
        assert await find_participant(session, 7605) is None


async def test_moderators_never_see_background_answers(
    harness: Harness, sessionmaker: Sessions
) -> None:
    # Band and question texts that cannot occur by chance in what moderators are sent.
    marked = (
        PROFILE.replace("Ung", "Bandmerke-ung")
        .replace("Vest", "Bandmerke-vest")
        .replace("Alder", "Spørsmålsmerke")
    )
    async with sessionmaker() as session:
        questions = await add_profile(session, marked)
        ideas = await add_consultation(session, IDEAS)
        await grant(session, MODERATOR, Role.MODERATOR, by=None, now=NOW)
        await session.commit()
        writer = await write_idea(session, ideas, 7606, "Flere benker ved vannet", NOW)
        bands = {"age": "young", "district": "west"}
        await give_background(session, questions, writer.id or 0, bands)
        await session.commit()
    mona = harness.citizen(MODERATOR)
    await harness.send(mona, "/review")
    assert "Flere benker ved vannet" in harness.last(mona)
    await harness.send(mona, "/results ideas")  # staff's, not a moderator's
    seen = "\n".join(mona.texts())
    for secret in ("Bandmerke", "Spørsmålsmerke", "young", "west"):
        assert secret not in seen
    assert "Den kommandoen kjenner jeg ikke" in harness.last(mona)
