"""A focus group drawn by lot, end to end: the delivery worker brings the invitations, a no
brings the next in line of the same group, a yes keeps the seat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from handlers.views.focus_groups import FocusTexts
from models.arenas import Arena, subscribe
from models.focus_groups import FocusMember, MemberState, draw_group, new_draft
from models.participant import Participant
from models.reminders import ReminderPolicy
from sandbox import Sandbox
from tests.auxil.background import add_profile, give_background
from tests.auxil.citizen import Citizen
from tests.auxil.people import add_people
from tests.e2e.conftest import Clock

pytestmark = pytest.mark.postgres

Sessions = async_sessionmaker[AsyncSession]
PEOPLE = {9601: "young", 9602: "young", 9603: "old", 9604: "old"}


@pytest.fixture
def settings(sandbox: Sandbox, prepared_database_url: str) -> Settings:
    """A fast outbox; 13:00 in Oslo is outside the quiet hours."""
    assert sandbox.url is not None
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=SecretStr(sandbox.token),
        telegram_api_url=sandbox.url,
        database_url=prepared_database_url,
        broadcast_rate=200,
    )


async def _drawn(db: Sessions, clock: Clock) -> dict[int, FocusMember]:
    """An arena of four members (two young, two old) and a group of one of each, drawn."""
    async with db() as session:
        questions = await add_profile(session)
        arena = Arena(slug="fokus", name={"en": "Focus groups"})
        session.add(arena)
        await session.flush()
        ids = await add_people(session, list(PEOPLE), language="en")
        for pid, age in zip(ids, PEOPLE.values(), strict=True):
            await subscribe(session, pid, arena.id or 0, clock.now)
            await give_background(session, questions, pid, {"age": age})
        group = await new_draft(session, arena.id or 0, 9000, 9000, "en", clock.now)
        group.title, group.place = "What should the centre offer?", "The library"
        group.starts_at = clock.now + timedelta(days=7)
        group.seats, group.strata = 2, ["age"]
        group.quotas = {"age=young": 1, "age=old": 1}
        texts, policy = FocusTexts("Europe/Oslo"), ReminderPolicy()
        assert await draw_group(session, group, clock.now, texts, policy, seed="2718") == 2
        await session.commit()
        rows = await session.exec(
            select(Participant.telegram_user_id, FocusMember).join(
                FocusMember, FocusMember.participant_id == Participant.id
            )
        )
        return dict(rows.all())


async def test_invitations_arrive_and_a_no_is_replaced_from_the_same_group(
    sandbox: Sandbox, db: Sessions, clock: Clock, bot: None
) -> None:
    people = {user_id: Citizen(sandbox, user_id, "en") for user_id in PEOPLE}
    drawn = await _drawn(db, clock)
    young = next(uid for uid, m in drawn.items() if m.stratum == "age=young")
    old = next(uid for uid, m in drawn.items() if m.stratum == "age=old")
    for user_id in (young, old):
        invitation = await people[user_id].expect("You are invited to a focus group")
        assert "The library" in invitation["text"]
    other_young = next(uid for uid, age in PEOPLE.items() if age == "young" and uid != young)

    await people[young].press("No, thanks")
    await people[young].expect("You said no.")
    await people[other_young].expect("You are invited to a focus group")
    await people[old].press("Yes, I will come")
    await people[old].expect("You are coming")

    async with db() as session:
        members = {m.participant_id: m for m in (await session.exec(select(FocusMember))).all()}
    states = sorted((m.stratum, m.state, m.replacement) for m in members.values())
    assert states == [
        ("age=old", MemberState.ACCEPTED, False),
        ("age=young", MemberState.DECLINED, False),
        ("age=young", MemberState.INVITED, True),
    ]
