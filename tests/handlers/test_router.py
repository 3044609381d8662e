"""The text router: typed text reaches the one owner waiting for it, and only that owner."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import callbacks as cb
from models.answers import Answer
from models.moderation import ModerationItem, Reason, Status
from models.outbox import Broadcast
from models.roles import Role, grant
from tests.auxil.consultations import add_consultation
from tests.auxil.ideas import IDEAS, write_idea
from tests.handlers.conftest import NOW, Harness

Sessions = async_sessionmaker[AsyncSession]
STAFF, MODERATOR, KARI, OLA = 9301, 9302, 7351, 7352


async def test_each_text_reaches_its_owner_when_all_three_wait_at_once(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        ideas = await add_consultation(session, IDEAS)
        await write_idea(session, ideas, 7350, "Flere benker", NOW)
        await grant(session, STAFF, Role.STAFF, by=None, now=NOW)
        await grant(session, MODERATOR, Role.MODERATOR, by=None, now=NOW)
        await session.commit()
    staff, moderator = harness.citizen(STAFF, "en"), harness.citizen(MODERATOR, "en")
    kari = harness.citizen(KARI, "en")
    # A staff dialog waits for an announcement's text,
    await harness.send(staff, "/broadcast")
    await harness.press(staff, "Write an announcement")
    # a resident is at a free-text question,
    await harness.send(kari, "/start c_ideas")
    await harness.press(kari, "I agree")
    assert "Any idea?" in harness.last(kari)
    # and a moderator is asked for a reason in their own words.
    await harness.send(moderator, "/review")
    await harness.press(moderator, "Reject")
    await harness.press(moderator, "Another reason")
    assert "Write the reason in a few words" in harness.last(moderator)

    await harness.send(kari, "A bench by the pond")
    await harness.send(moderator, "Names a neighbour")
    await harness.send(staff, "The library is closed on Friday")

    assert "Saved." in harness.new_texts(staff)
    assert "Rejected: Names a neighbour" in harness.new_texts(moderator)[0]
    async with sessionmaker() as session:
        (draft,) = (await session.exec(select(Broadcast))).all()
        assert draft.text == {"en": "The library is closed on Friday"}
        texts = sorted(a.text for a in (await session.exec(select(Answer))).all() if a.text)
        assert texts == ["A bench by the pond", "Flere benker"]
        items = (await session.exec(select(ModerationItem))).all()
        decided = [i for i in items if i.status == Status.REJECTED]
        assert [(i.reason, i.note) for i in decided] == [(Reason.OTHER, "Names a neighbour")]


async def test_with_nothing_waiting_the_text_gets_the_polite_fallback(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session, IDEAS)
    ola = harness.citizen(OLA, "en")
    await harness.send(ola, "/start")
    await harness.press(ola, "I agree")
    await harness.send(ola, "hello?")
    assert harness.last(ola) == "I did not understand that. See /consultations or /help."
    async with sessionmaker() as session:
        assert (await session.exec(select(Answer))).all() == []


async def test_a_moderators_reason_is_refused_when_the_text_was_decided_meanwhile(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        ideas = await add_consultation(session, IDEAS)
        await write_idea(session, ideas, 7353, "Flere benker", NOW)
        await grant(session, MODERATOR, Role.MODERATOR, by=None, now=NOW)
        await grant(session, MODERATOR + 1, Role.MODERATOR, by=None, now=NOW)
        await session.commit()
    first, second = harness.citizen(MODERATOR, "en"), harness.citizen(MODERATOR + 1, "en")
    await harness.send(second, "/help")  # a chat with a message to press a button in
    await harness.send(first, "/review")
    await harness.press(first, "Reject")
    await harness.press(first, "Another reason")
    # Another moderator approves it in the moderation group before the reason arrives.
    async with sessionmaker() as session:
        (item,) = (await session.exec(select(ModerationItem))).all()
    await harness.press_data(second, cb.Moderate(item.id or 0, item.version, "approve").pack())
    await harness.send(first, "Names a neighbour")
    assert "Another moderator already decided on this text." in harness.new_texts(first)
    async with sessionmaker() as session:
        (item,) = (await session.exec(select(ModerationItem))).all()
        assert (item.status, item.note) == (Status.APPROVED, None)
