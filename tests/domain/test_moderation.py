"""The moderation queue: texts in, decisions (one of two at once), undo, the group, exports."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import moderation as mod
from models import response as flow
from models.answers import Answer
from models.consultation import Consultation
from models.export import write_export
from models.masking import Kind
from models.moderation import ItemView, ModerationItem, Reason, Status
from models.participant import Participant
from models.privacy import erase
from models.roles import AuditLog
from tests.auxil.consultations import add_consultation
from tests.auxil.ideas import IDEAS, write_idea

pytestmark = pytest.mark.postgres

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
MODERATOR = 8_100_000_001
OTHER_MODERATOR = 8_100_000_002
# Writers' Telegram ids: long enough that finding one in a view cannot be a coincidence.
KARI = 7_400_000_001
OLA = 7_400_000_002
EMMA = 7_400_000_003


async def write(
    session: AsyncSession,
    consultation: Consultation,
    telegram_id: int,
    text: str,
    now: datetime = NOW,
) -> Participant:
    """A person answers the free-text question with ``text`` (and yes/no with "ja")."""
    return await write_idea(session, consultation, telegram_id, text, now)


async def items(session: AsyncSession) -> list[ModerationItem]:
    rows = await session.exec(
        select(ModerationItem)
        .order_by(col(ModerationItem.id))
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def only_item(session: AsyncSession) -> ItemView:
    (item,) = await items(session)
    view = await mod.load_item(session, item.id or 0)
    assert view is not None
    return view


def text_of(view: ItemView) -> str:
    return "".join(f"[{p.value}]" if isinstance(p, Kind) else p for p in view.parts)


# ---------------------------------------------------------------------------- into the queue


async def test_every_free_text_enters_the_queue_as_pending(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    await write(session, ideas, KARI, "Flere benker")
    await write(session, ideas, OLA, "Grill ved vannet")
    stored = await items(session)
    assert [i.status for i in stored] == [Status.PENDING, Status.PENDING]  # yes/no: no item
    assert await mod.queue_size(session) == 2
    view = await mod.load_item(session, stored[0].id or 0)
    assert view is not None
    assert text_of(view) == "Flere benker"
    assert view.title("en") == "Ideas for Holmen"
    assert view.question("nb") == "Har du en idé?"


async def test_personal_data_and_abuse_come_first_marked(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    await write(session, ideas, KARI, "Flere benker", NOW)
    await write(session, ideas, OLA, "Ring meg på 998 87 766", NOW + timedelta(minutes=1))
    await write(session, ideas, EMMA, "For en jævla plan", NOW + timedelta(minutes=2))
    first = await mod.next_for(session, MODERATOR, NOW)
    second = await mod.next_for(session, OTHER_MODERATOR, NOW)
    third = await mod.next_for(session, MODERATOR + 5, NOW)
    assert first is not None
    assert second is not None
    assert third is not None
    assert text_of(first) == "Ring meg på [phone]"
    assert first.personal_data == {Kind.PHONE}
    assert not first.abusive
    assert text_of(second) == "For en jævla plan"
    assert second.abusive
    assert text_of(third) == "Flere benker"
    assert not third.personal_data
    assert not third.abusive


async def test_a_changed_text_is_pending_again_with_the_new_text(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    kari = await write(session, ideas, KARI, "Flere benker")
    view = await only_item(session)
    await mod.decide(session, view.id, view.version, MODERATOR, Status.APPROVED, NOW)
    await session.commit()

    # Kari changes her answer from the summary.
    question = (await flow.show_summary(session, kari, ideas.id or 0, NOW)).view.questions[0]
    await flow.edit(session, kari, question.id, NOW)
    later = NOW + timedelta(hours=1)
    await flow.type_answer(session, kari, "Flere benker og et bord", later)
    await session.commit()
    changed = await only_item(session)
    assert changed.id == view.id
    assert changed.status is Status.PENDING
    assert changed.decided_by is None
    assert changed.version > view.version
    assert text_of(changed) == "Flere benker og et bord"
    (row,) = await items(session)
    assert row.submitted_at == later
    # The old buttons cannot decide on the new text.
    with pytest.raises(mod.TextChanged) as caught:
        await mod.decide(session, view.id, view.version, OTHER_MODERATOR, Status.APPROVED, NOW)
    assert text_of(caught.value.item) == "Flere benker og et bord"


async def test_the_same_text_again_keeps_the_decision(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    kari = await write(session, ideas, KARI, "Flere benker")
    view = await only_item(session)
    await mod.decide(session, view.id, view.version, MODERATOR, Status.APPROVED, NOW)
    question = (await flow.show_summary(session, kari, ideas.id or 0, NOW)).view.questions[0]
    await flow.edit(session, kari, question.id, NOW)
    await flow.type_answer(session, kari, "  Flere benker ", NOW)
    await session.commit()
    assert (await only_item(session)).status is Status.APPROVED


async def test_a_text_replaced_by_a_skip_leaves_the_queue(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    kari = await write(session, ideas, KARI, "Flere benker")
    question = (await flow.show_summary(session, kari, ideas.id or 0, NOW)).view.questions[0]
    await flow.edit(session, kari, question.id, NOW)
    await flow.skip(session, kari, question.id, NOW)
    await session.commit()
    assert await items(session) == []
    assert await mod.queue_size(session) == 0


async def test_erasing_the_answer_or_the_person_removes_the_item(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    kari = await write(session, ideas, KARI, "Flere benker")
    await write(session, ideas, OLA, "Grill")
    first, second = await items(session)
    # The answer goes (a changed answer hid its question, or retention): the item goes too.
    await session.exec(delete(Answer).where(col(Answer.id) == first.answer_id))  # type: ignore[call-overload]
    await session.commit()
    assert [i.id for i in await items(session)] == [second.id]
    with pytest.raises(mod.ItemGone):
        await mod.decide(session, first.id or 0, first.version, MODERATOR, Status.APPROVED, NOW)
    # The person erases everything: their item goes with their answers.
    ola = (
        await session.exec(select(Participant).where(Participant.telegram_user_id == OLA))
    ).one()
    await erase(session, ola, NOW)
    await session.commit()
    assert await items(session) == []
    assert kari.id is not None


# ---------------------------------------------------------------------------- decisions


async def test_a_decision_is_stored_once_and_audited(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    await write(session, ideas, KARI, "Selg tomta til meg, tlf 99887766")
    view = await only_item(session)
    later = NOW + timedelta(minutes=5)
    decided = await mod.decide(
        session, view.id, view.version, MODERATOR, Status.REJECTED, later, Reason.PERSONAL_DATA
    )
    await session.commit()
    assert decided.status is Status.REJECTED
    assert decided.reason is Reason.PERSONAL_DATA
    assert decided.decided_by == MODERATOR
    (row,) = await items(session)
    assert row.decided_at == later
    assert await mod.queue_size(session) == 0
    (log,) = (await session.exec(select(AuditLog))).all()
    assert (log.actor, log.action, log.target, log.at) == (
        MODERATOR,
        "moderation.rejected",
        f"moderation_item:{view.id}",
        later,
    )
    assert log.detail == {"reason": "personal_data"}
    # Nothing of the text in the audit log.
    assert "99887766" not in json.dumps(log.detail)

    with pytest.raises(mod.AlreadyDecided) as caught:
        await mod.decide(session, view.id, view.version, OTHER_MODERATOR, Status.APPROVED, NOW)
    assert caught.value.item.status is Status.REJECTED
    assert caught.value.item.decided_by == MODERATOR
    assert len((await session.exec(select(AuditLog))).all()) == 1


async def test_a_rejection_needs_a_reason(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    await write(session, ideas, KARI, "Reklame for min butikk")
    view = await only_item(session)
    with pytest.raises(ValueError, match="reason"):
        await mod.decide(session, view.id, view.version, MODERATOR, Status.REJECTED, NOW)
    with pytest.raises(ValueError, match="pending"):
        await mod.decide(session, view.id, view.version, MODERATOR, Status.PENDING, NOW)
    flagged = await mod.decide(session, view.id, view.version, MODERATOR, Status.FLAGGED, NOW)
    assert flagged.status is Status.FLAGGED
    assert flagged.reason is None


async def test_two_moderators_at_once_give_one_decision(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ideas = await add_consultation(session, IDEAS)
    for n in range(5):
        await write(session, ideas, KARI + n, f"Idé nummer {n}")
    stored = await items(session)

    async def press(item: ModerationItem, moderator: int, status: Status) -> str:
        async with sessionmaker() as own, own.begin():
            try:
                await mod.decide(own, item.id or 0, item.version, moderator, status, NOW)
            except mod.AlreadyDecided:
                return "too late"
        return "decided"

    for item in stored:
        outcomes = await asyncio.gather(
            press(item, MODERATOR, Status.APPROVED),
            press(item, OTHER_MODERATOR, Status.FLAGGED),
        )
        assert sorted(outcomes) == ["decided", "too late"]

    async with sessionmaker() as check:
        rows = await items(check)
        assert all(r.status in (Status.APPROVED, Status.FLAGGED) for r in rows)
        logs = (await check.exec(select(AuditLog))).all()
        # One decision and one audit line per text, by whoever stored it.
        assert len(logs) == len(stored)
        assert {(log.target, log.actor) for log in logs} == {
            (f"moderation_item:{r.id}", r.decided_by) for r in rows
        }


async def test_a_moderator_can_undo_their_own_decision(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    await write(session, ideas, KARI, "Flere benker")
    view = await only_item(session)
    decided = await mod.decide(session, view.id, view.version, MODERATOR, Status.APPROVED, NOW)

    with pytest.raises(mod.NotUndoable):
        await mod.undo(session, view.id, decided.version, OTHER_MODERATOR, NOW)
    undone = await mod.undo(session, view.id, decided.version, MODERATOR, NOW)
    assert undone.pending
    assert undone.decided_by is None
    assert await mod.queue_size(session) == 1
    with pytest.raises(mod.NotUndoable):  # once
        await mod.undo(session, view.id, decided.version, MODERATOR, NOW)
    again = await mod.decide(
        session, view.id, undone.version, OTHER_MODERATOR, Status.REJECTED, NOW, Reason.SPAM
    )
    assert again.reason is Reason.SPAM
    actions = [log.action for log in (await session.exec(select(AuditLog))).all()]
    assert actions == ["moderation.approved", "moderation.undo", "moderation.rejected"]


async def test_private_reviews_get_different_texts_for_a_while(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    await write(session, ideas, KARI, "Første", NOW)
    await write(session, ideas, OLA, "Andre", NOW + timedelta(seconds=1))
    first = await mod.next_for(session, MODERATOR, NOW)
    second = await mod.next_for(session, OTHER_MODERATOR, NOW)
    assert first is not None
    assert second is not None
    assert (text_of(first), text_of(second)) == ("Første", "Andre")
    # Asking again shows the same text to the same moderator.
    again = await mod.next_for(session, MODERATOR, NOW)
    assert again is not None
    assert again.id == first.id
    # Once the reservation lapsed, another moderator may take it.
    late = await mod.next_for(session, OTHER_MODERATOR + 1, NOW + mod.RESERVATION)
    assert late is not None
    assert late.id == first.id
    assert await mod.next_for(session, OTHER_MODERATOR + 2, NOW) is None


async def test_what_a_moderator_gets_leads_to_nobody(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    kari = await write(session, ideas, KARI, "Ring meg på 99887766 eller kari@example.no")
    view = await only_item(session)
    assert {f.name for f in dataclasses.fields(view)} == {
        "id",
        "version",
        "status",
        "reason",
        "note",
        "consultation_title",
        "question_text",
        "languages",
        "parts",
        "personal_data",
        "abusive",
        "decided_by",
        "group_chat_id",
        "group_message_id",
        "handled_by",  # the staff member who dealt with a flag: staff, never the writer
        "language",  # the language the text was written in: shared by everyone who wrote in it
    }
    shown = repr(view)
    assert str(KARI) not in shown
    assert "99887766" not in shown
    assert "kari@example.no" not in shown
    assert kari.id is not None
    # The item itself refers to the answer only.
    columns = set(ModerationItem.model_fields)
    assert not {c for c in columns if "participant" in c or "response" in c}


# ---------------------------------------------------------------------------- the group


async def test_the_group_gets_new_texts_once_within_its_rate(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    await write(session, ideas, KARI, "Før gruppen fantes", NOW - timedelta(minutes=1))
    assert await mod.register_group(session, -1001, MODERATOR, NOW)
    assert not await mod.register_group(session, -1001, MODERATOR, NOW)
    for n in range(mod.GROUP_POSTS_PER_MINUTE + 2):
        await write(session, ideas, OLA + n, f"Idé {n}", NOW + timedelta(seconds=n))
    group = await mod.moderation_group(session)
    assert group is not None

    later = NOW + timedelta(minutes=1)
    claimed = await mod.claim_for_group(session, group, later)
    assert len(claimed) == mod.GROUP_POSTS_PER_MINUTE
    assert [text_of(c) for c in claimed[:2]] == ["Idé 0", "Idé 1"]  # oldest first
    assert await mod.claim_for_group(session, group, later) == []  # the minute's budget is used
    # Two could not be sent: they are released for the next round; the others recorded.
    for number, item in enumerate(claimed[:-2], start=1):
        await mod.record_post(session, item.id, item.version, group.chat_id, number)
    await mod.release_posts(session, [c.id for c in claimed])
    next_minute = later + timedelta(minutes=1)
    rest = await mod.claim_for_group(session, group, next_minute)
    assert {text_of(c) for c in rest} == {
        text_of(claimed[-2]),
        text_of(claimed[-1]),
        "Idé 12",
        "Idé 13",
    }
    # The text written before the group was registered is left to /review.
    assert "Før gruppen fantes" not in {text_of(c) for c in claimed + rest}
    posted = await mod.load_item(session, claimed[0].id)
    assert posted is not None
    assert (posted.group_chat_id, posted.group_message_id) == (group.chat_id, 1)

    await mod.move_group(session, -1001, -100_2000, NOW)
    moved = await mod.moderation_group(session)
    assert moved is not None
    assert moved.chat_id == -100_2000
    assert await mod.unregister_group(session, -100_2000, MODERATOR, NOW)
    assert await mod.moderation_group(session) is None
    actions = [log.action for log in (await session.exec(select(AuditLog))).all()]
    assert actions == [
        "moderation.group.register",
        "moderation.group.moved",
        "moderation.group.unregister",
    ]


# ---------------------------------------------------------------------------- counts, exports


async def test_texts_are_counted_by_status(session: AsyncSession) -> None:
    ideas = await add_consultation(session, IDEAS)
    for n in range(4):
        await write(session, ideas, KARI + n, f"Idé {n}")
    stored = await items(session)
    await mod.decide(session, stored[0].id or 0, 1, MODERATOR, Status.APPROVED, NOW)
    await mod.decide(session, stored[1].id or 0, 1, MODERATOR, Status.REJECTED, NOW, Reason.SPAM)
    question_id = (await session.exec(select(Answer.question_id).limit(1))).one()
    counts = await mod.text_counts(session, [question_id])
    assert counts == {question_id: {Status.APPROVED: 1, Status.REJECTED: 1, Status.PENDING: 2}}


async def test_exports_carry_approved_texts_masked_unless_all_are_asked_for(
    session: AsyncSession,
) -> None:
    ideas = await add_consultation(session, IDEAS)
    await write(session, ideas, KARI, "Benker, ring 99887766", NOW)
    await write(session, ideas, OLA, "Kjøp min bok på example.no", NOW + timedelta(seconds=1))
    await write(session, ideas, EMMA, "Mer lys, mail kari@example.no", NOW + timedelta(seconds=2))
    first, second, _third = await items(session)
    await mod.decide(session, first.id or 0, 1, MODERATOR, Status.APPROVED, NOW)
    await mod.decide(session, second.id or 0, 1, MODERATOR, Status.REJECTED, NOW, Reason.SPAM)
    await session.commit()
    assert ideas.id is not None

    out = io.BytesIO()
    assert await write_export(session, ideas.id, "csv", out) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode("utf-8-sig")), delimiter=";"))
    assert [r["q_idea"] for r in rows] == ["Benker, ring [phone]", "", ""]
    assert "q_idea_moderation" not in rows[0]

    out = io.BytesIO()
    assert await write_export(session, ideas.id, "json", out, all_texts=True) == 3
    data = json.loads(out.getvalue())
    assert [(r["q_idea"], r["q_idea_moderation"]) for r in data["rows"]] == [
        ("Benker, ring [phone]", "approved"),
        ("Kjøp min bok på example.no", "rejected"),
        ("Mer lys, mail [e-mail]", "pending"),
    ]
    assert "q_idea_moderation" in data["questions"][0]["columns"]
    assert b"99887766" not in out.getvalue()
    assert b"kari@example.no" not in out.getvalue()
