"""Staff see who answered against who lives here in /results, and reach the groups missing."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.outbox import Audience, AudienceKind, Broadcast
from models.participant import record_privacy_decision
from models.roles import Role, grant
from tests.auxil.answers import build_sample
from tests.auxil.background import FIRST_ID, add_profile, build_background_sample, give_background
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.handlers.conftest import NOW, Harness

Sessions = async_sessionmaker[AsyncSession]
STAFF_ID = 9300


async def _staff(harness: Harness, sessionmaker: Sessions) -> Citizen:
    async with sessionmaker() as session:
        await grant(session, STAFF_ID, Role.STAFF, by=None, now=NOW)
        await session.commit()
    return harness.citizen(STAFF_ID, "en")


async def test_results_compare_who_answered_with_who_lives_here(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await build_background_sample(session)
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/results benches")
    shown = next(t for t in harness.new_texts(staff) if "compared with who lives here" in t)
    assert "  Young: 10 (50 %) · residents 40 %" in shown
    assert "  not given: &lt;5" in shown  # two people: fewer than five are never shown
    assert "<b>Groups we are missing</b>" in shown
    assert (
        "• West (District) answered at half of their share (23 % of those who answered, "
        "40 % of residents)"
    ) in shown
    assert "• North (District): nobody answered (20 % of residents)" in shown
    assert (
        "Weighted by Age \u00d7 District on 20 of 22 who answered; effective sample size 16."
        in (shown)
    )
    assert "  Yes: 55 % → 46 %" in shown
    assert "  Average: 3.6 → 3.0" in shown
    assert "• poster (5): Age: Young 5; District: East 5" in shown


async def test_without_population_figures_staff_are_told_how_to_add_them(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_profile(session)
        await build_sample(session)  # five people answered "park"
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/results park")
    assert "medvirk population import" in harness.last(staff)


async def test_a_broadcast_reaches_the_missing_groups_who_have_not_answered(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        sample = await build_background_sample(session)
        # Four people who agreed to be contacted: two from the west and the north who have not
        # answered, one from the east (not a missing group), and one of the west's respondents.
        people = {}
        for user_id, district in ((7801, "west"), (7802, "north"), (7803, "east")):
            person = await record_privacy_decision(session, user_id, user_id, granted=True)
            await give_background(
                session, sample.questions, person.id or 0, {"district": district}
            )
            people[user_id] = person
        await record_privacy_decision(session, FIRST_ID + 16, FIRST_ID + 16, granted=True)
        await session.commit()
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/broadcast")
    await harness.press(staff, "Write an announcement")
    await harness.send(staff, "We want to hear from you too: /consultations")
    await harness.press(staff, "Groups missing from a consultation")
    assert "<b>Which consultation?</b>" in harness.new_texts(staff)[-1]
    await harness.press(staff, "Benches")
    texts = harness.new_texts(staff)
    assert any(
        "Audience: people in groups missing from Benches (District: West, District: North) "
        "who have not answered it" in t
        for t in texts
    )
    assert "That is 2 people now." in texts[-1]
    async with sessionmaker() as session:
        draft = (await session.exec(select(Broadcast))).one()
    audience = Audience.from_json(draft.audience)
    assert audience is not None
    assert audience.kind == AudienceKind.MISSING
    assert audience.ref_id == sample.consultation_id


async def test_nobody_missing_is_said(harness: Harness, sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/broadcast")
    await harness.press(staff, "Write an announcement")
    await harness.send(staff, "Hei")
    await harness.press(staff, "Groups missing from a consultation")
    toast = await harness.press(staff, "New park")
    assert toast.startswith("No group is missing from that consultation")
