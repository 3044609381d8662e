"""One conversation engine, two channels: the same answers on Telegram and in the web chat.

The real bot runs once, long polling the sandbox as Telegram and serving the web chat on the
same process. A consultation file only this test knows is answered the same way by a
Telegram citizen and a web resident; what is stored must be the same apart from the channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from bot.web import serve_web
from models.answers import Answer, AnswerChoice, Response
from models.consultation import Option, Question
from models.participant import Participant
from sandbox import Sandbox
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.auxil.web import WebResident

pytestmark = pytest.mark.postgres

HIDDEN = """
slug: bydel-2031
title: {nb: Bydelen i 2031, en: The district in 2031}
intro: {nb: Seks spørsmål om bydelen din.}
questions:
  - id: live
    type: single_choice
    text: {nb: Hvor lenge har du bodd her?}
    options:
      - {id: new, text: {nb: Under ett år}}
      - {id: some, text: {nb: Ett til ti år}}
      - {id: long, text: {nb: Over ti år}}
  - id: miss
    type: multiple_choice
    max_choices: 2
    text: {nb: Hva savner du?}
    options:
      - {id: cafe, text: {nb: Kafé}}
      - {id: park, text: {nb: Lekeplass}}
      - {id: bus, text: {nb: Buss}}
    show_if: {question: live, in: [some, long]}
  - id: safe
    type: scale
    min: 1
    max: 5
    text: {nb: Hvor trygt føler du deg?}
  - id: vote
    type: yes_no
    text: {nb: Vil du stemme ved neste valg?}
  - id: extra
    type: yes_no
    required: false
    text: {nb: Vil du svare på ett spørsmål til?}
  - id: idea
    type: free_text
    required: false
    text: {nb: Har du en idé for bydelen?}
"""


@pytest.fixture
async def both_channels(
    settings: Settings, db: async_sessionmaker[AsyncSession]
) -> AsyncIterator[str]:
    """The bot on Telegram (the sandbox) and in the web chat, in one process; the chat's URL."""
    async with db() as session:
        await add_consultation(session, HIDDEN)
    both = settings.model_copy(update={"web_channel": True, "web_port": 0})
    stop = asyncio.Event()
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_ready(port: int) -> None:
        ready.set_result(port)

    task = asyncio.create_task(serve_web(both, stop=stop, on_ready=on_ready))
    done, _ = await asyncio.wait({ready, task}, timeout=60, return_when="FIRST_COMPLETED")
    if task in done:
        task.result()
    yield f"http://127.0.0.1:{ready.result()}"
    stop.set()
    await asyncio.wait_for(task, timeout=30)


async def _stored(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """Every response, by channel: its source, whether completed, and its answers by key."""
    async with sessionmaker() as session:
        responses = (
            await session.exec(
                select(Response, Participant).join(
                    Participant, col(Participant.id) == col(Response.participant_id)
                )
            )
        ).all()
        stored: dict[str, Any] = {}
        for response, participant in responses:
            rows = (
                await session.exec(
                    select(Answer, Question)
                    .join(Question, col(Question.id) == col(Answer.question_id))
                    .where(Answer.response_id == response.id)
                )
            ).all()
            answers = {}
            for answer, question in rows:
                chosen = (
                    await session.exec(
                        select(Option.key)
                        .join(AnswerChoice, col(AnswerChoice.option_id) == col(Option.id))
                        .where(AnswerChoice.answer_id == answer.id)
                    )
                ).all()
                answers[question.key] = (
                    answer.skipped,
                    answer.number,
                    answer.text,
                    sorted(chosen),
                )
            stored[participant.channel] = {
                "source": response.source,
                "completed": response.completed_at is not None,
                "current": response.current_question_id,
                "answers": answers,
                "language": participant.language,
            }
        return stored


async def test_the_same_answers_on_telegram_and_in_the_web_chat(
    sandbox: Sandbox, db: async_sessionmaker[AsyncSession], both_channels: str
) -> None:
    kari = Citizen(sandbox, 5101)
    await kari.send("/start c_bydel-2031__plakat")
    await kari.expect("Før vi begynner")
    await kari.press("Ja, jeg godtar")
    await kari.expect("1/6")
    for label, shows in (("Over ti år", "2/6"), ("Kafé", "☑️ Kafé"), ("Buss", "☑️ Buss")):
        await kari.press(label)
        await kari.expect(shows) if "/" in shows else await kari.expect_button(shows)
    await kari.press("Ferdig")
    await kari.expect("3/6")
    await kari.send("2")
    await kari.expect("4/6")
    await kari.press("Ja")
    await kari.expect("5/6")
    await kari.press("Hopp over")
    await kari.expect("6/6")
    await kari.send("Flere benker ved elva")
    await kari.expect("Takk")

    ola = WebResident(both_channels)
    try:
        await ola.open("/c/bydel-2031?src=plakat")
        await ola.start()
        await ola.press("Ja, jeg godtar")
        await ola.press("Over ti år")
        await ola.press("Kafé")
        await ola.press("Buss")
        await ola.press("Ferdig")
        await ola.send("2")
        await ola.press("Ja")
        await ola.press("Hopp over")
        await ola.send("Flere benker ved elva")
        assert "Takk" in "\n".join(ola.texts())
    finally:
        await ola.close()

    stored = await _stored(db)
    assert set(stored) == {"telegram", "web"}
    assert stored["telegram"] == stored["web"]
    assert stored["web"]["answers"]["miss"] == (False, None, None, ["bus", "cafe"])
    assert stored["web"]["source"] == "plakat"
    assert stored["web"]["completed"]
