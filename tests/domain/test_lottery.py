"""Focus groups by stratified lottery: reproducible, fair, strata kept, opt-outs respected."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.arenas import Arena, subscribe
from models.focus_groups import (
    FocusAnswer,
    FocusGroup,
    FocusMember,
    FocusRefused,
    MemberState,
    composition,
    draw_group,
    draw_record,
    new_draft,
    pool,
    proposed_quotas,
    read_quotas,
    reply,
    set_lottery_choice,
)
from models.lottery import apportion, draw, in_order, next_in_line, rank
from models.outbox import Delivery
from models.profile import BackgroundQuestion
from models.reminders import ReminderPolicy
from tests.auxil.background import NOW, add_population, add_profile, give_background
from tests.auxil.people import add_people

pytestmark = pytest.mark.postgres

POLICY = ReminderPolicy()


class Messages:
    """Invitations as plain text, enough to see who got one."""

    def invitation(self, group: FocusGroup, arena: Arena, language: str) -> dict[str, Any]:
        return {"text": f"{group.title} ({language})"}


# ---------------------------------------------------------------------- the algorithm


def test_a_rank_is_the_sha256_of_seed_and_key() -> None:
    # What docs/focus-groups.md tells people to run: printf '%s' "123456789:00ff" | sha256sum
    assert rank("123456789", "00ff") == hashlib.sha256(b"123456789:00ff").hexdigest()


def test_the_same_seed_gives_the_same_draw() -> None:
    pool_ = {"a": [f"{i:016x}" for i in range(30)], "b": [f"{i:016x}" for i in range(30, 50)]}
    quotas = {"a": 4, "b": 2}
    first = draw("271828182", pool_, quotas)
    assert first == draw("271828182", {s: list(reversed(k)) for s, k in pool_.items()}, quotas)
    assert [len(first[s]) for s in ("a", "b")] == [4, 2]
    assert set(first["b"]) <= set(pool_["b"])
    assert first != draw("314159265", pool_, quotas)


def test_every_member_of_a_stratum_is_drawn_equally_often() -> None:
    # 10,000 draws with the seeds 0 to 9999 (fixed: the outcome is the same every run) of 3
    # from a stratum of 10: each member is expected 3,000 times.
    members = [f"{i * 7919:016x}" for i in range(10)]
    times = dict.fromkeys(members, 0)
    for seed in range(10_000):
        for key in draw(str(seed), {"s": members}, {"s": 3})["s"]:
            times[key] += 1
    expected = 10_000 * 3 / 10
    chi_square = sum((n - expected) ** 2 / expected for n in times.values())
    # 27.88 is the 0.1 % critical value of chi-square with 9 degrees of freedom.
    assert chi_square < 27.88, times
    # Binomial spread: sqrt(10000 * 0.3 * 0.7) = 46; no member is off by more than four.
    assert all(abs(n - expected) < 4 * 46 for n in times.values()), times


def test_a_replacement_is_the_next_by_rank() -> None:
    members = [f"{i:016x}" for i in range(6)]
    ordered = in_order("42", members)
    assert next_in_line("42", members, ordered[:2]) == ordered[2]
    assert next_in_line("42", members, members) is None


def test_quotas_by_largest_remainder() -> None:
    # 10 seats for 400 : 350 : 250 -> exact 4, 3.5, 2.5 -> 4, 3, 2 and one more for the
    # larger remainder (a tie: the first by name).
    assert apportion(10, {"a": 400, "b": 350, "c": 250}) == {"a": 4, "b": 4, "c": 2}
    assert apportion(5, {"x": 0, "y": 1, "z": 1}) == {"x": 0, "y": 3, "z": 2}
    assert apportion(4, {"x": 0, "y": 0}) == {"x": 2, "y": 2}  # no figures: equal
    assert apportion(0, {"x": 1}) == {"x": 0}


# ---------------------------------------------------------------------- in the database


async def _arena_with_members(
    session: AsyncSession, questions: list[BackgroundQuestion], bands: list[dict[str, str]]
) -> tuple[Arena, list[int]]:
    """An arena whose members consented and gave these bands (one person each)."""
    arena = Arena(slug="fokus", name={"nb": "Fokusgrupper"})
    session.add(arena)
    await session.flush()
    ids = await add_people(session, [8_800_000 + i for i in range(len(bands))])
    for pid, given in zip(ids, bands, strict=True):
        await subscribe(session, pid, arena.id or 0, NOW)
        await give_background(session, questions, pid, dict(given))
    await session.commit()
    return arena, ids


async def _group(session: AsyncSession, arena: Arena, strata: list[str], seats: int) -> FocusGroup:
    group = await new_draft(session, arena.id or 0, 9001, 9001, "nb", NOW)
    group.title, group.place = "Hva trenger Holmen?", "Biblioteket"
    group.starts_at = NOW + timedelta(days=14)
    group.seats = seats
    group.strata = strata
    group.quotas = await proposed_quotas(session, group)
    return group


TEXTS = (Messages(), POLICY)
YOUNG_EAST = {"age": "young", "district": "east"}
OLD_WEST = {"age": "old", "district": "west"}


async def test_a_draw_with_a_stored_seed_can_be_done_again(session: AsyncSession) -> None:
    questions = await add_profile(session)
    arena, _ids = await _arena_with_members(session, questions, [YOUNG_EAST] * 6 + [OLD_WEST] * 6)
    first = await _group(session, arena, ["age"], 4)
    assert first.quotas == {"age=young": 2, "age=old": 2}  # no population: equal shares
    assert await draw_group(session, first, NOW, Messages(), POLICY, seed="123456789") == 4
    second = await _group(session, arena, ["age"], 4)
    await draw_group(session, second, NOW, Messages(), POLICY, seed="123456789")
    await session.commit()

    async def drawn(group: FocusGroup) -> list[int]:
        rows = await session.exec(
            select(FocusMember.participant_id)
            .where(FocusMember.focus_group_id == group.id)
            .order_by(FocusMember.participant_id)
        )
        return list(rows.all())

    assert await drawn(first) == await drawn(second)
    assert first.seed == "123456789"
    assert first.pool == {"age=young": 6, "age=old": 6}
    # The record lets anyone check it: the drawn have the lowest ranks of their stratum.
    record = await draw_record(session, first)
    for stratum in ("age=young", "age=old"):
        rows = [r for r in record if r.stratum == stratum]
        assert [r.rank for r in rows] == sorted(r.rank for r in rows)
        assert [r.state for r in rows] == ["invited"] * 2 + ["pool"] * 4
        assert all(r.rank == rank("123456789", r.key) for r in rows)
    # Each person drawn has an invitation waiting in the outbox, until the group meets.
    deliveries = (await session.exec(select(Delivery))).all()
    assert len(deliveries) == 8
    assert {d.kind for d in deliveries} == {"focus-invite"}
    assert all(d.expires_at == first.starts_at for d in deliveries)


async def test_quotas_follow_the_population(session: AsyncSession) -> None:
    questions = await add_profile(session)
    await add_population(session)
    arena, _ids = await _arena_with_members(session, questions, [YOUNG_EAST])
    group = await _group(session, arena, ["age", "district"], 10)
    # 1000 residents: 200, 100, 100, 200, 300, 100 -> 2, 1, 1, 2, 3, 1.
    assert group.quotas == {
        "age=young;district=east": 2,
        "age=young;district=west": 1,
        "age=young;district=north": 1,
        "age=old;district=east": 2,
        "age=old;district=west": 3,
        "age=old;district=north": 1,
    }
    typed = read_quotas("young east 3\nold \u00d7 north: 0", questions, group)
    assert typed["age=young;district=east"] == 3
    assert typed["age=old;district=north"] == 0


async def test_someone_who_declines_is_replaced_from_the_same_stratum(
    session: AsyncSession,
) -> None:
    questions = await add_profile(session)
    arena, _ids = await _arena_with_members(session, questions, [YOUNG_EAST] * 3 + [OLD_WEST] * 3)
    group = await _group(session, arena, ["age"], 2)
    await draw_group(session, group, NOW, Messages(), POLICY, seed="555")
    young = next(
        m for m in (await session.exec(select(FocusMember))).all() if m.stratum == "age=young"
    )
    later = NOW + timedelta(hours=1)
    result = await reply(
        session, group.id or 0, young.participant_id, FocusAnswer.NO, later, Messages(), POLICY
    )
    assert result.member.state == MemberState.DECLINED
    assert result.replacement is not None
    assert result.replacement.stratum == "age=young"
    assert result.replacement.replacement
    counts = {c.stratum: c for c in await composition(session, group)}
    assert (counts["age=young"].invited, counts["age=young"].declined) == (1, 1)
    assert counts["age=old"].invited == 1
    # A yes after a no is refused: the seat went to someone else.
    with pytest.raises(FocusRefused) as refused:
        await reply(
            session,
            group.id or 0,
            young.participant_id,
            FocusAnswer.YES,
            later,
            Messages(),
            POLICY,
        )
    assert refused.value.reason == "declined"
    # When the stratum's pool runs out, nobody from another stratum is drawn instead.
    for _ in range(2):
        waiting = (
            await session.exec(
                select(FocusMember).where(
                    FocusMember.stratum == "age=young", FocusMember.state == MemberState.INVITED
                )
            )
        ).first()
        assert waiting is not None
        last = await reply(
            session,
            group.id or 0,
            waiting.participant_id,
            FocusAnswer.NO,
            later,
            Messages(),
            POLICY,
        )
    assert last.replacement is None
    strata = (await session.exec(select(FocusMember.stratum))).all()
    assert strata.count("age=old") == 1


async def test_someone_who_opted_out_is_never_drawn(session: AsyncSession) -> None:
    questions = await add_profile(session)
    arena, ids = await _arena_with_members(session, questions, [YOUNG_EAST] * 5)
    await set_lottery_choice(session, ids[2], may_draw=False, now=NOW)
    # Someone who said "prefer not to say" to the age cannot be placed in an age stratum.
    await give_background(session, questions, ids[3], {"age": None})
    group = await _group(session, arena, ["age"], 5)
    assert {c.participant_id for c in await pool(session, group)} == {ids[0], ids[1], ids[4]}
    for seed in range(20):
        trial = await _group(session, arena, ["age"], 5)
        await draw_group(session, trial, NOW, Messages(), POLICY, seed=str(seed))
    drawn = set((await session.exec(select(FocusMember.participant_id))).all())
    assert drawn == {ids[0], ids[1], ids[4]}
    # "Never" on an invitation records the same choice; taking it back makes them drawable.
    group = await _group(session, arena, [], 1)
    await draw_group(session, group, NOW, Messages(), POLICY, seed="7")
    member = (
        await session.exec(select(FocusMember).where(FocusMember.focus_group_id == group.id))
    ).one()
    await reply(
        session, group.id or 0, member.participant_id, FocusAnswer.NEVER, NOW, Messages(), POLICY
    )
    assert member.participant_id not in {c.participant_id for c in await pool(session, group)}
    await set_lottery_choice(session, ids[2], may_draw=True, now=NOW + timedelta(minutes=1))
    assert ids[2] in {c.participant_id for c in await pool(session, group)}
