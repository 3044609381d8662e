"""Telegram misbehaves during a citizen's flow (5xx, timeouts, 429): the flow still completes."""

from __future__ import annotations

import functools
import logging

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

import bot.app
import handlers.common
from models.response import Answer, Response
from sandbox import Sandbox
from tests.auxil.citizen import Citizen
from tests.auxil.updates import add_scales
from tests.runtime.conftest import Webhook

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers.common, "SEND_BACKOFF", 0.05)
    # A held call (the sandbox's delay fault) times out after half a second, not fifteen.
    monkeypatch.setattr(
        bot.app,
        "build_application",
        functools.partial(bot.app.build_application, read_timeout=0.5),
    )


async def test_a_flow_completes_through_5xx_timeouts_and_429(
    sandbox: Sandbox,
    webhook: Webhook,
    db: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with db() as session:
        await add_scales(session)
    await webhook.use_sandbox_delivery()
    kari = Citizen(sandbox, 6301)

    with caplog.at_level(logging.WARNING):
        sandbox.inject_fault(method="sendMessage", status=500, count=2)
        await kari.send("/start c_scales")
        await kari.expect("Før vi begynner", timeout=15)

        # The button's answer rides on the webhook's 200 (Telegram makes that call itself);
        # the bot's own requests for this step are the edit and the messages it sends.
        sandbox.inject_fault(method="sendMessage", status=502)
        sandbox.inject_fault(method="editMessageText", status=429, retry_after=1)
        await kari.press("Ja, jeg godtar")
        await kari.expect("1/10", timeout=15)

        # Held past the bot's read timeout: the bot retries; Telegram may show it twice.
        sandbox.inject_fault(method="sendMessage", delay=1.0)
        await kari.send("5")
        await kari.expect("2/10", timeout=15)

        # A press is answered by one edit: the question's message becomes the next question.
        sandbox.inject_fault(method="editMessageText", status=503)
        sandbox.inject_fault(method="editMessageText", status=504)
        await kari.press("7")
        await kari.expect("3/10", timeout=15)

        for question in range(3, 11):
            sandbox.inject_fault(method="sendMessage", status=500)
            await kari.send(str(question % 9 + 1))
            await kari.expect(f"{question + 1}/10" if question < 10 else "Svarene dine", 15)

    assert sandbox.faults == []  # every fault was hit
    assert sandbox.stats.server_errors == 13  # 2 + 1 + 2 + 8 injected, each retried
    assert sandbox.stats.rate_limited == 1
    assert "Telegram call failed" in caplog.text  # retried, and said so
    assert "Traceback" not in caplog.text  # nothing failed for good
    async with db() as session:
        response = (await session.exec(select(Response))).one()
        assert response.completed_at is not None
        answers = await session.exec(select(func.count()).select_from(Answer))
        assert answers.one() == 10
