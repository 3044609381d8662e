"""Volunteering end to end: the real bot and its delivery worker against the sandbox.

A need's invitations leave the outbox best matches first, at the broadcast pace; a yes takes
the place, the next yes waits, a withdrawal gives the place to the one waiting (who is told),
and the reminder comes the day before at the local time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from handlers.views.volunteer import NeedTexts
from models import matching
from models.matching import Matching
from sandbox import Sandbox
from tests.auxil.citizen import Citizen
from tests.auxil.volunteers import Profile, a_need, add_centres, add_volunteers
from tests.e2e.conftest import BotRunner, Clock

pytestmark = pytest.mark.postgres

Sessions = async_sessionmaker[AsyncSession]
ZONE = "Europe/Oslo"
# Saturday 23 January 2027, 11:00 in Oslo; the clock starts at Friday 15 January, 13:00.
SATURDAY = datetime(2027, 1, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def settings(sandbox: Sandbox, prepared_database_url: str) -> Settings:
    """Five messages a second, one after the other: the order they arrive in is the order sent."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=SecretStr(sandbox.token),
        telegram_api_url=sandbox.url,
        database_url=prepared_database_url,
        broadcast_rate=5,
        quiet_hours="22-08",
    )


async def settle() -> None:
    """Give the delivery worker time to send what is due (it polls every second)."""
    await asyncio.sleep(2.5)


def arrival(sandbox: Sandbox, chat: int, needle: str) -> int:
    """The sandbox-wide number of the first message in the chat containing ``needle``."""
    return next(
        event.seq
        for event in sandbox.events(chat)
        if event.kind == "message" and needle in ((event.message or {}).get("text") or "")
    )


async def test_invitations_go_best_first_and_a_freed_place_goes_to_the_one_waiting(
    sandbox: Sandbox, db: Sessions, run_bot: BotRunner, clock: Clock
) -> None:
    people = [Citizen(sandbox, uid, "en") for uid in (7901, 7902, 7903)]
    one_tag, two_tags, other = people
    async with db() as session:
        centres = await add_centres(session, clock.now)
        await add_volunteers(
            session,
            [p.id for p in people],
            [Profile(tags=("repair",)), Profile(tags=("transport", "repair")), Profile()],
            language="en",
        )
        need = a_need(centres["holmen"], SATURDAY, tags=("transport", "repair"), places=1)
        session.add(need)
        await session.flush()
        texts = NeedTexts(ZONE, {need.centre_id: centres["holmen"]})
        invited = await matching.publish(session, need, Matching(clock.now, ZONE, 3), texts, "nb")
        await session.commit()
    assert invited == 3

    async with run_bot():
        await settle()
        asks = "asks for your help"
        order = sorted(people, key=lambda p: arrival(sandbox, p.id, asks))
        # Two tags in common first; then one each, who volunteered first.
        assert [p.id for p in order] == [two_tags.id, one_tag.id, other.id]

        await two_tags.press("Yes, I can help")
        await two_tags.expect("you have a place")
        await one_tag.press("Yes, I can help")
        await one_tag.expect("You are number 1 on the waiting list")
        await two_tags.press("I cannot come after all")
        await two_tags.expect("Your answer: no.")
        await settle()
        assert "A place came free: you have it now." in one_tag.texts()[-1]

        # The day before, at the same local time: the reminder.
        clock.now = SATURDAY - timedelta(days=1, minutes=-1)
        await settle()
        assert "<b>Reminder</b>: you said you would help." in one_tag.texts()[-1]
        assert not any("Reminder" in text for text in two_tags.texts())
