"""What one answer costs, counted: SQL statements per step and Bot API calls per step.

An answer is what Medvirk does millions of times, so its work has a budget that CI keeps. The
statements are counted with an SQLAlchemy event listener on the engine, the Bot API calls with
the sandbox's call log; neither depends on timing. (The webhook's share is in
tests/runtime/test_webhook.py: there the button's answer rides on the HTTP response.)
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.handlers.conftest import Harness

pytestmark = pytest.mark.postgres

#: A button answer: claim the update, read the person (and their consent), read their
#: response with its consultation and answers, write the answer, move the response on.
BUTTON_STATEMENTS = 5
#: A choice also writes the chosen option's row.
CHOICE = 1
#: A typed answer reads one more thing first: whether a staff dialog waits for the text.
TYPED_STATEMENTS = BUTTON_STATEMENTS + 1


@contextlib.contextmanager
def counted(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement sent to the database in the block."""
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)


def bot_calls(harness: Harness) -> Counter[str]:
    """Bot API calls since the last reset, less the harness's own polling."""
    calls = Counter(harness.sandbox.stats.calls)
    del calls["getupdates"]
    return calls


async def _in_question(
    harness: Harness, sessionmaker: async_sessionmaker[AsyncSession]
) -> Citizen:
    async with sessionmaker() as session:
        await add_consultation(session)
    person = harness.citizen(7601)
    await harness.send(person, "/start c_park")
    await harness.press(person, "Ja, jeg godtar")
    await harness.press(person, "Ofte")  # the first answer of the day also notes "last seen"
    return person


async def _step(harness: Harness, engine: AsyncEngine, act: Any) -> tuple[list[str], Counter[str]]:
    harness.sandbox.stats.reset()
    with counted(engine) as statements:
        await act
    return statements, bot_calls(harness)


async def test_a_button_answer_costs_at_most_six_statements_and_two_bot_calls(
    harness: Harness, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    person = await _in_question(harness, sessionmaker)
    # Tick an option, confirm the ticks, rate, choose yes.
    for label, budget in (
        ("Leke", BUTTON_STATEMENTS),
        ("Ferdig", BUTTON_STATEMENTS),
        ("4", BUTTON_STATEMENTS),
        ("Ja", BUTTON_STATEMENTS + CHOICE),
    ):
        statements, calls = await _step(harness, engine, harness.press(person, label))
        assert len(statements) <= budget, "\n".join(statements)
        # The question's message becomes the next question; the press is answered. No
        # message is sent.
        assert calls == {"editmessagetext": 1, "answercallbackquery": 1}, calls


async def test_a_typed_answer_costs_at_most_seven_statements_and_one_message(
    harness: Harness, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    person = await _in_question(harness, sessionmaker)
    await harness.press(person, "Leke")
    await harness.press(person, "Ferdig")
    await harness.press(person, "4")
    statements, calls = await _step(harness, engine, harness.send(person, "ja"))
    assert len(statements) <= TYPED_STATEMENTS + CHOICE, "\n".join(statements)
    assert calls == {"sendmessage": 1}, calls


async def test_finishing_is_one_message_whatever_it_says(
    harness: Harness, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    person = await _in_question(harness, sessionmaker)
    for label in ("Leke", "Ferdig", "4", "Ja"):
        await harness.press(person, label)
    # The free-text question is optional: skipping it finishes the consultation.
    statements, calls = await _step(harness, engine, harness.press(person, "Hopp over"))
    # Thanks, summary and the follow-up offer in the question's own message.
    assert calls == {"editmessagetext": 1, "answercallbackquery": 1}, calls
    # The answer, no reminder to finish any more, and what the person said about follow-ups.
    assert len(statements) <= BUTTON_STATEMENTS + 3, "\n".join(statements)
