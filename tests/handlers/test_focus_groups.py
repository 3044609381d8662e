"""Staff draw a focus group by lot in the chat; those drawn answer; the composition fills."""

from __future__ import annotations

import csv
import io

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.arenas import Arena, subscribe
from models.focus_groups import FocusGroup, FocusMember, MemberState
from models.lottery import rank
from models.outbox import Delivery
from models.participant import Participant
from models.roles import AuditLog, Role, grant
from tests.auxil.background import add_population, add_profile, give_background
from tests.auxil.citizen import Citizen
from tests.auxil.people import add_people
from tests.handlers.conftest import NOW, Harness

Sessions = async_sessionmaker[AsyncSession]
STAFF_ID = 9200
MEMBERS = 8_900_000


async def _arena_with_members(sessionmaker: Sessions) -> tuple[int, list[int]]:
    """An arena whose members consented: three young and three old from the east, and one
    who kept their age to themselves (they cannot be drawn for an age quota)."""
    async with sessionmaker() as session:
        questions = await add_profile(session)
        await add_population(session)
        arena = Arena(slug="fokus", name={"nb": "Fokusgrupper", "en": "Focus groups"})
        session.add(arena)
        await session.flush()
        ids = await add_people(session, [MEMBERS + i for i in range(7)], language="en")
        ages = ["young"] * 3 + ["old"] * 3 + [None]
        for pid, age in zip(ids, ages, strict=True):
            await subscribe(session, pid, arena.id or 0, NOW)
            await give_background(session, questions, pid, {"age": age, "district": "east"})
        await grant(session, STAFF_ID, Role.STAFF, by=None, now=NOW)
        await session.commit()
        return arena.id or 0, ids


async def _draw(harness: Harness, staff: Citizen) -> None:
    """Compose a group of two seats shared by age, and draw it."""
    await harness.send(staff, "/focusgroup")
    assert "<b>Focus groups</b>" in harness.last(staff)
    await harness.press(staff, "+ Focus groups")
    assert "What is it about?" in harness.last(staff)
    await harness.send(staff, "Hva trenger Holmen?")
    await harness.send(staff, "i går")
    assert "I could not read that time." in harness.new_texts(staff)[0]
    await harness.send(staff, "20.01 18:00")
    await harness.send(staff, "Biblioteket")
    await harness.send(staff, "201")
    assert "Write a number from 1 to 200." in harness.new_texts(staff)[0]
    await harness.send(staff, "2")
    assert "<b>Share the seats by</b>" in harness.last(staff)
    await harness.press(staff, "Age")
    assert "☑ Age" in staff.buttons()
    await harness.press(staff, "Continue")
    quotas = harness.last(staff)
    # 400 young, 600 old: 0.8 and 1.2 seats -> 1 and 1.
    assert "• Young: 1 (can be drawn: 3)" in quotas
    assert "• Old: 1 (can be drawn: 3)" in quotas
    await harness.press(staff, "Use these")
    confirm = harness.last(staff)
    assert "<b>Ready to draw</b>" in confirm
    assert "6 members can be drawn." in confirm
    assert await harness.press(staff, "Draw and invite") == "Drawn: 2 people invited."


async def test_staff_draw_a_group_and_the_invitations_go_to_the_outbox(
    harness: Harness, sessionmaker: Sessions
) -> None:
    _arena_id, ids = await _arena_with_members(sessionmaker)
    staff = harness.citizen(STAFF_ID, "en")
    await _draw(harness, staff)
    shown = harness.new_texts(staff)[-1]
    assert "Seed: <code>" in shown
    assert "0 of 2 seats taken, 2 waiting for an answer." in shown
    async with sessionmaker() as session:
        group = (await session.exec(select(FocusGroup))).one()
        assert group.seed is not None
        assert group.seed in shown
        assert group.quotas == {"age=young": 1, "age=old": 1}
        members = (await session.exec(select(FocusMember))).all()
        assert sorted(m.stratum for m in members) == ["age=old", "age=young"]
        assert ids[6] not in {m.participant_id for m in members}
        invitations = (await session.exec(select(Delivery))).all()
        assert sorted(d.participant_id for d in invitations) == sorted(
            m.participant_id for m in members
        )
        assert "You are invited to a focus group" in str(invitations[0].payload)
        drawn = await session.exec(select(AuditLog).where(AuditLog.action == "focus.draw"))
        assert drawn.one().actor == STAFF_ID

    # The draw record: everyone drawn or in the pool, with ranks anyone can recompute.
    await harness.press(staff, "Draw record")
    document = next(m for m in harness.sandbox.messages(staff.id) if m.get("document"))
    content = harness.sandbox.file_content(document["document"]["file_id"]).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content), delimiter=";"))
    assert len(rows) == 6
    assert all(r["rank"] == rank(group.seed, r["lottery_key"]) for r in rows)
    for stratum in ("age=young", "age=old"):
        mine = [r for r in rows if r["stratum"] == stratum]
        assert [r["state"] for r in mine] == ["invited", "pool", "pool"]


async def test_a_resident_says_no_and_someone_of_the_same_age_is_invited_instead(
    harness: Harness, sessionmaker: Sessions
) -> None:
    _arena_id, ids = await _arena_with_members(sessionmaker)
    staff = harness.citizen(STAFF_ID, "en")
    await _draw(harness, staff)
    async with sessionmaker() as session:
        group = (await session.exec(select(FocusGroup))).one()
        members = (await session.exec(select(FocusMember))).all()
    young = next(m for m in members if m.stratum == "age=young")
    old = next(m for m in members if m.stratum == "age=old")
    # The residents the invitations reached (the delivery worker is tested elsewhere).
    drawn_young = await _resident(harness, sessionmaker, young.participant_id)
    toast = await harness.press_data(drawn_young, f"fr:{group.id}:no")
    assert toast == "Thank you for letting us know."
    assert "You said no." in harness.new_texts(drawn_young)[-1]
    async with sessionmaker() as session:
        now_members = (await session.exec(select(FocusMember))).all()
        replacement = next(m for m in now_members if m.replacement)
        assert replacement.stratum == "age=young"
        assert replacement.state == MemberState.INVITED
        waiting = await session.exec(
            select(Delivery).where(col(Delivery.participant_id) == replacement.participant_id)
        )
        assert waiting.one().kind == "focus-invite"
    drawn_old = await _resident(harness, sessionmaker, old.participant_id)
    assert await harness.press_data(drawn_old, f"fr:{group.id}:yes") == "Thank you! See you there."
    # Staff see the composition fill.
    await harness.press(staff, "🔄")
    shown = harness.new_texts(staff)[-1]
    assert "1 of 2 seats taken, 1 waiting for an answer." in shown
    assert "• Young: 0/1 yes, 1 invited, 1 no" in shown
    assert "• Old: 1/1 yes, 0 invited, 0 no" in shown
    # Someone who was not drawn cannot answer for it.
    stranger = await _resident(harness, sessionmaker, ids[6])
    assert await harness.press_data(stranger, f"fr:{group.id}:yes") == (
        "This invitation is not for you."
    )


async def _resident(harness: Harness, sessionmaker: Sessions, participant_id: int) -> Citizen:
    """The drawn participant in the sandbox, with a message in their chat to press buttons on."""
    async with sessionmaker() as session:
        found = await session.get(Participant, participant_id)
        assert found is not None
    person = harness.citizen(found.telegram_user_id, "en")
    await harness.send(person, "/help")
    return person


async def test_focus_groups_are_for_staff_only(harness: Harness, sessionmaker: Sessions) -> None:
    arena_id, _ids = await _arena_with_members(sessionmaker)
    person = harness.citizen(7700)
    await harness.send(person, "/focusgroup")
    assert "Den kommandoen kjenner jeg ikke" in harness.last(person)
    assert "virker ikke lenger" in await harness.press_data(person, f"ws:f:{arena_id}:")
    assert "virker ikke lenger" in await harness.press_data(person, "fg:1:csv")
    async with sessionmaker() as session:
        assert (await session.exec(select(FocusGroup))).all() == []
        denied = await session.exec(select(AuditLog.target).where(AuditLog.action == "denied"))
        assert denied.all() == ["/focusgroup", "focus.new", "focus.admin"]
