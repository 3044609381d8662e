"""The wizard engine on its own: a tiny two-step dialog declared in this test.

``/greet`` asks for a name (typed), then a colour (buttons), then says hello. The engine
must give it back, cancel, the text window, the role check and a restart in the middle,
without the dialog writing any of that itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup
from telegram.ext import CommandHandler, filters

from bot.app import build_application
from bot.settings import Settings
from handlers import wizard
from handlers.common import Reply
from handlers.views.outgoing import Outgoing, button
from handlers.wizard import End, Go, Result, Step, Turn, Typed, Wizard
from models.dialogs import Dialog
from models.roles import AuditLog, Role
from tests.handlers.conftest import ADMIN_ID, Harness

Sessions = async_sessionmaker[AsyncSession]

UNKNOWN_COMMAND = "I do not know that command"
STALE_BUTTON = "This button does not work any more"
# What typed text gets from the consultations when no dialog takes it (staff here have not
# accepted the residents' privacy notice).
NOT_FOR_THE_WIZARD = "First, please read and accept the privacy notice"


async def _ask_name(turn: Turn[None]) -> Outgoing:
    return Outgoing("What is your name?", InlineKeyboardMarkup([[_button("✖ Cancel", "drop")]]))


async def _take_name(turn: Turn[None], typed: Typed) -> Result:
    name = typed.text.strip()
    if not name.isalpha():
        return Reply(send=[Outgoing("Letters only, please.")])
    return Go(f"colour:{name}")


async def _ask_colour(turn: Turn[None]) -> Outgoing:
    rows = [[_button("Red", "pick", "red"), _button("Blue", "pick", "blue")]]
    rows.append([_button("◀ Back", "back"), _button("✖ Cancel", "drop")])
    return Outgoing(f"Which colour, {turn.param}?", InlineKeyboardMarkup(rows))


async def _pick(turn: Turn[None], colour: str) -> Result:
    return End(Reply(edit=Outgoing(f"Hello {turn.param}, {colour} it is.")))


def _button(text: str, choice: str, arg: str = "") -> Any:
    return button(text, GREET.button(0, choice, arg))


GREET: Wizard[None] = Wizard(
    name="greet",
    key="g",
    role=Role.STAFF,
    steps={
        "name": Step(ask=_ask_name, text=_take_name),
        "colour": Step(ask=_ask_colour, buttons={"pick": _pick}),
    },
    gone=lambda: "This greeting is over.",
    opener=lambda where, _ref, _arg: wizard.begin(GREET, where, None, None),
)


def _with_greet(harness: Harness) -> None:
    # First in the first group, as register() places the staff commands, so the fallback for
    # unknown commands does not take it.
    handler = wizard.command(GREET, what="/greet")
    harness.app.handlers[0].insert(0, CommandHandler("greet", handler, filters.ChatType.PRIVATE))


@pytest.fixture
async def greet(harness: Harness) -> AsyncIterator[Harness]:
    """The harness with ``/greet`` registered."""
    wizard.register(GREET)
    _with_greet(harness)
    yield harness
    wizard.unregister(GREET)


async def _dialogs(sessionmaker: Sessions) -> list[Dialog]:
    async with sessionmaker() as session:
        return list((await session.exec(select(Dialog))).all())


async def test_the_steps_go_forward_and_back(greet: Harness, sessionmaker: Sessions) -> None:
    staff = greet.citizen(ADMIN_ID, "en")
    await greet.send(staff, "/greet")
    assert greet.last(staff) == "What is your name?"
    await greet.send(staff, "K4ri")
    assert greet.last(staff) == "Letters only, please."
    await greet.send(staff, "Kari")
    assert greet.last(staff) == "Which colour, Kari?"
    await greet.press(staff, "Back")
    assert greet.last(staff) == "What is your name?"  # the question, in place
    await greet.send(staff, "Ola")
    await greet.press(staff, "Blue")
    assert greet.last(staff) == "Hello Ola, blue it is."
    assert await _dialogs(sessionmaker) == []  # the dialog is over
    await greet.send(staff, "Per")  # no longer for the wizard
    assert NOT_FOR_THE_WIZARD in greet.last(staff)


async def test_cancel_ends_the_dialog(greet: Harness, sessionmaker: Sessions) -> None:
    staff = greet.citizen(ADMIN_ID, "en")
    await greet.send(staff, "/greet")
    await greet.press(staff, "Cancel")
    assert greet.last(staff) == "Cancelled. Nothing was sent."
    assert await _dialogs(sessionmaker) == []
    await greet.send(staff, "Kari")
    assert NOT_FOR_THE_WIZARD in greet.last(staff)


async def test_typed_text_reaches_the_wizard_only_within_the_text_window(greet: Harness) -> None:
    staff = greet.citizen(ADMIN_ID, "en")
    await greet.send(staff, "/greet")
    greet.now += wizard.TEXT_WINDOW + timedelta(minutes=1)
    await greet.send(staff, "Kari")
    assert NOT_FOR_THE_WIZARD in greet.last(staff)
    # A button of the dialog still works and opens the window again.
    await greet.send(staff, "/greet")
    greet.now += wizard.TEXT_WINDOW - timedelta(minutes=1)
    await greet.send(staff, "Kari")
    assert greet.last(staff) == "Which colour, Kari?"


async def test_people_without_the_role_are_refused_and_audited(
    greet: Harness, sessionmaker: Sessions
) -> None:
    person = greet.citizen(7300, "en")
    await greet.send(person, "/greet")
    assert UNKNOWN_COMMAND in greet.last(person)
    forged = GREET.button(0, "pick", "red").pack()
    assert STALE_BUTTON in await greet.press_data(person, forged)
    async with sessionmaker() as session:
        rows = await session.exec(select(AuditLog).where(AuditLog.action == "denied"))
        assert [(r.actor, r.target) for r in rows.all()] == [
            (7300, "/greet"),
            (7300, "greet.pick"),
        ]
    assert await _dialogs(sessionmaker) == []


async def test_a_restart_in_the_middle_carries_on(greet: Harness) -> None:
    staff = greet.citizen(ADMIN_ID, "en")
    await greet.send(staff, "/greet")
    await greet.send(staff, "Kari")
    # A new process: a new application and nothing in memory but the database.
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=SecretStr(greet.sandbox.token),
        telegram_api_url=greet.sandbox.url,
    )
    fresh = build_application(settings, greet.runtime)
    async with fresh:
        greet.app = fresh
        _with_greet(greet)
        await greet.press(staff, "Red")
        assert greet.last(staff) == "Hello Kari, red it is."


async def test_a_button_of_an_ended_dialog_says_it_is_over(greet: Harness) -> None:
    staff = greet.citizen(ADMIN_ID, "en")
    await greet.send(staff, "/greet")
    await greet.send(staff, "Kari")
    await greet.press(staff, "Red")
    blue = GREET.button(0, "pick", "blue").pack()
    assert await greet.press_data(staff, blue) == "This greeting is over."
