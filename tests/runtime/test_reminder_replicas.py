"""Two bot processes on one PostgreSQL database send each reminder once.

Both replicas run the job that decides reminders to finish (a unique key lets one of them
write each), and both run a delivery worker, of which only the holder of the advisory lock
sends. The subprocesses keep real time, so the reminders are made due relative to now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from handlers.views.events import EventTexts
from models import events
from models.arenas import Arena, subscribe
from models.base import utcnow
from models.consultation import Question
from models.events import RsvpAnswer
from models.outbox import Delivery, DeliveryState
from models.participant import Participant
from models.reminders import FinishReminder, ReminderPolicy
from models.response import Answer, Response
from sandbox import Sandbox
from tests.auxil.consultations import add_consultation
from tests.auxil.people import add_people
from tests.runtime.conftest import BotProcess, free_port, wait_until

pytestmark = [
    pytest.mark.postgres,
    # SQLite serves one process by design (docs/scaling.md): two would both send.
    pytest.mark.postgres_only("replicas share a PostgreSQL database"),
]

PEOPLE = 30
TWO = """
slug: tiny
title: {nb: Liten, en: Tiny}
questions:
  - {id: one, type: yes_no, text: {nb: Første?, en: First?}}
  - {id: two, type: yes_no, text: {nb: Andre?, en: Second?}}
"""


async def test_two_replicas_send_every_reminder_exactly_once(
    sandbox: Sandbox,
    settings: Settings,
    db: async_sessionmaker[AsyncSession],
    bot_processes: Callable[[], BotProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUIET_HOURS", "off")  # whatever time of day the test runs
    users = list(range(8_200_001, 8_200_001 + PEOPLE))
    for uid in users:
        sandbox.add_user(uid, f"P{uid}", language_code="en")
    now = utcnow()
    started = now - timedelta(hours=25)
    async with db() as session:
        consultation = await add_consultation(session, TWO)
        ids = await add_people(session, users, language="en")
        arena = Arena(slug="frivillighet", name={"en": "Volunteers"})
        session.add(arena)
        await session.flush()
        # Everyone started 25 hours ago and answered one question: a reminder to finish is due.
        first_question = await _first_question(session, consultation.id or 0)
        for pid in ids:
            response = Response(
                participant_id=pid, consultation_id=consultation.id or 0, started_at=started
            )
            session.add(response)
            await session.flush()
            session.add(
                Answer(
                    response_id=response.id or 0,
                    question_id=first_question,
                    number=None,
                    answered_at=started,
                )
            )
            await subscribe(session, pid, arena.id or 0, started)
        # And everyone said yes, three hours ago, to an event whose 2-hour reminder is due now.
        texts, policy = EventTexts("Europe/Oslo"), ReminderPolicy(quiet=None)
        then = now - timedelta(hours=3)
        draft = await events.new_draft(session, arena.id or 0, 1, 1, "en", then)
        draft.title, draft.place = "Dugnad", "Holmen"
        draft.starts_at = now + timedelta(hours=2) - timedelta(minutes=1)
        await events.publish(session, draft, then, texts, policy)
        people = (
            await session.exec(select(Participant).where(col(Participant.id).in_(ids)))
        ).all()
        for person in people:
            await events.answer(
                session, draft.id or 0, person, RsvpAnswer.YES, then, texts, policy
            )
        # The invitations went out three hours ago: only the reminders are news.
        await session.exec(
            Delivery.__table__.update()  # type: ignore[attr-defined]
            .where(col(Delivery.kind).in_(["invitation", "calendar"]))
            .values(state=DeliveryState.SENT)
        )
        await session.commit()

    first = bot_processes()
    second_settings = settings.model_copy(update={"web_port": free_port()})
    second_settings.webhook_url = f"http://127.0.0.1:{second_settings.web_port}/telegram"
    second = BotProcess(second_settings, first.log)
    try:
        await asyncio.gather(first.start(), second.start())
        await wait_until(lambda: all(sandbox.stats.per_chat[uid] >= 2 for uid in users), 60)
        # Several more rounds of both replicas' jobs and workers: nothing more may come.
        await asyncio.sleep(5)
    finally:
        for process in (first, second):
            if process.process is not None and process.process.returncode is None:
                process.process.kill()
                await process.process.wait()

    assert {uid: sandbox.stats.per_chat[uid] for uid in users} == dict.fromkeys(users, 2)
    for uid in users:
        texts_sent = [m.get("text") or "" for m in sandbox.messages(uid)]
        assert sum("but did not finish" in t for t in texts_sent) == 1
        assert sum("Reminder" in t for t in texts_sent) == 1
    async with db() as session:
        reminded = await session.exec(select(func.count()).select_from(FinishReminder))
        assert reminded.one() == PEOPLE
        sent = await session.exec(
            select(Delivery.kind, func.count())
            .where(col(Delivery.state) == DeliveryState.SENT)
            .group_by(col(Delivery.kind))
        )
        assert dict(sent.all()) == {
            "invitation": PEOPLE,
            "calendar": PEOPLE,
            "remind-finish": PEOPLE,
            "remind-event": PEOPLE,
        }
    log = "\n".join(first.lines())
    assert "Traceback" not in log


async def _first_question(session: AsyncSession, consultation_id: int) -> int:
    rows = await session.exec(
        select(Question.id)
        .where(col(Question.consultation_id) == consultation_id)
        .order_by(col(Question.position))
    )
    found = rows.first()
    assert found is not None
    return found
