"""``kill -9`` under webhook load: every answer sent is stored exactly once.

A load generator plays Telegram: 40 connections POST people's answers and resend every update
that did not get a 2xx, as Telegram does. The bot process is killed twice with SIGKILL in the
middle of it and started again. Each person types six digits, one per question, each sent
only after the previous one was accepted, so the stored answers must be exactly those digits
in that order: an update lost would leave a question empty, an update handled twice would
answer the next question with the wrong digit.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from bot.web import SECRET_HEADER
from models.participant import Participant
from models.response import Answer, Response
from models.updates import ProcessedUpdate
from sandbox import Sandbox
from tests.auxil.updates import add_scales, prepare_people, question_ids, text_update
from tests.runtime.conftest import NOW, SECRET, BotProcess

pytestmark = pytest.mark.postgres

# One wave of people, one per connection: each step of theirs takes a second (the bot keeps
# Telegram's one message a second per chat), so more people per connection only take longer.
PEOPLE = 40
QUESTIONS = 6
CONNECTIONS = 40


def digit(person: int, question: int) -> int:
    """The answer a person gives to a question (1-9)."""
    return (person * 7 + question * 3) % 9 + 1


class Telegram:
    """Delivers each person's updates in order, resending until a 2xx, like Telegram."""

    def __init__(self, url: str, people: list[int]) -> None:
        self.url = url
        self.people = people
        self.acknowledged = 0
        self.attempts = 0
        self.failures = 0

    async def deliver_all(self) -> None:
        """Send everyone's answers over CONNECTIONS parallel connections."""
        queue: asyncio.Queue[int] = asyncio.Queue()
        for person in self.people:
            queue.put_nowait(person)
        connector = aiohttp.TCPConnector(limit=CONNECTIONS)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            await asyncio.gather(*(self._worker(http, queue) for _ in range(CONNECTIONS)))

    async def _worker(self, http: aiohttp.ClientSession, queue: asyncio.Queue[int]) -> None:
        while not queue.empty():
            person = queue.get_nowait()
            for question in range(QUESTIONS):
                update_id = person * 100 + question
                update = text_update(update_id, person, str(digit(person, question)))
                await self._until_accepted(http, update)

    async def _until_accepted(
        self, http: aiohttp.ClientSession, update: dict[str, object]
    ) -> None:
        body = json.dumps(update)  # the very same bytes every time, as Telegram resends
        delay = 0.05
        while True:
            self.attempts += 1
            try:
                async with http.post(
                    self.url,
                    data=body,
                    headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"},
                ) as response:
                    await response.read()
                    if 200 <= response.status < 300:
                        self.acknowledged += 1
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            self.failures += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)


async def test_kill_9_under_webhook_load_loses_nothing_and_doubles_nothing(
    sandbox: Sandbox,
    settings: Settings,
    db: async_sessionmaker[AsyncSession],
    bot_processes: Callable[[], BotProcess],
) -> None:
    people = list(range(8_100_001, 8_100_001 + PEOPLE))
    for person in people:
        sandbox.add_user(person, "Last")
    async with db() as session:
        consultation = await add_scales(session)
        questions = await question_ids(session, consultation.id or 0)
    await prepare_people(db, people, consultation.id or 0, NOW)

    bot = bot_processes()
    await bot.start()
    telegram = Telegram(f"{bot.base}/telegram", people)
    load = asyncio.create_task(telegram.deliver_all())
    total = PEOPLE * QUESTIONS
    for fraction in (0.25, 0.6):
        while telegram.acknowledged < total * fraction:
            assert not load.done(), "the load ended before the kill"
            await asyncio.sleep(0.01)
        bot.signal(signal.SIGKILL)  # mid-load: requests in flight, transactions open
        assert await bot.wait() == -signal.SIGKILL
        bot = bot_processes()
        await bot.start()
    await asyncio.wait_for(load, 120)
    assert telegram.failures > 0, "the kills should have failed some deliveries"

    async with db() as session:
        rows = await session.exec(
            select(Participant.telegram_user_id, Answer.question_id, Answer.number)
            .join(Response, col(Response.id) == col(Answer.response_id))
            .join(Participant, col(Participant.id) == col(Response.participant_id))
        )
        stored = {(person, question): number for person, question, number in rows.all()}
        processed = await session.exec(select(func.count()).select_from(ProcessedUpdate))
        assert processed.one() == total
    expected = {
        (person, questions[q]): digit(person, q) for person in people for q in range(QUESTIONS)
    }
    assert stored == expected

    bot.signal(signal.SIGTERM)
    assert await bot.wait() == 0
    log = bot.lines()
    assert sandbox.token not in "\n".join(log)
    # JSON logs: one object per line, each handled update with its kind and latency.
    entries = [json.loads(line) for line in log if line.startswith("{")]
    handled = [e for e in entries if e.get("kind") == "text" and "latency_ms" in e]
    assert len(handled) >= total
