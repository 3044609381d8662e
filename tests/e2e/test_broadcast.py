"""Broadcasts end to end: staff compose them in the chat, the worker sends them via the sandbox.

The real bot long polls the sandbox; its delivery worker sends through its own HTTP pool.
Functional tests run the sandbox without rate limits and a fast BROADCAST_RATE; the limits
themselves are exercised in test_broadcast_limits.py.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models.arenas import Arena, subscribe
from models.outbox import BroadcastState, Delivery
from models.participant import Participant
from models.response import Response
from sandbox import Sandbox
from tests.auxil.broadcasts import (
    audience,
    broadcast_state,
    confirmed_broadcast,
    delivery_states,
    wait_for_sends,
    wait_for_state,
)
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.auxil.people import add_people
from tests.e2e.conftest import BotRunner, Clock

pytestmark = pytest.mark.postgres

STAFF = 9000
NOW_UTC = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)  # the e2e clock: 13:00 in Oslo
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def settings(sandbox: Sandbox, prepared_database_url: str) -> Settings:
    """A fast broadcast rate (the sandbox has no limits here) and one admin."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=SecretStr(sandbox.token),
        telegram_api_url=sandbox.url,
        database_url=prepared_database_url,
        admin_ids=frozenset({STAFF}),
        broadcast_rate=200,
        quiet_hours="off",
    )


def staff_member(sandbox: Sandbox) -> Citizen:
    """The admin, writing in English."""
    return Citizen(sandbox, STAFF, language_code="en")


async def test_staff_send_a_consultation_to_everyone_who_agreed_once_each(
    sandbox: Sandbox, db: Sessions, run_bot: BotRunner
) -> None:
    async with db() as session:
        consultation = await add_consultation(session)
    bokmal = list(range(20_001, 20_031))
    english = list(range(21_001, 21_011))
    await audience(sandbox, db, bokmal, language="nb")
    await audience(sandbox, db, english, language="en")
    staff = staff_member(sandbox)
    async with run_bot():
        await staff.send("/broadcast")
        await staff.expect("What do you want to send?")
        await staff.press("New park")  # the consultation, in the staff member's language
        await staff.expect("Who should get it?")
        await staff.press("Everyone who agreed")
        summary = await staff.expect("Ready to send")
        assert "That is 40 people now." in summary["text"]
        # A preview in each language the audience reads, exactly as they will get it.
        texts = staff.texts()
        assert any("Preview in Bokmål</b> (30 people)" in t for t in texts)
        assert any("Preview in English</b> (10 people)" in t for t in texts)
        assert any(t.startswith("<b>New park</b>") for t in texts)
        await staff.press("Send to 40 people")
        await staff.expect("📣")
        report = await staff.expect("Broadcast finished", timeout=30)
        assert "40 of 40 people got it." in report["text"]

    assert all(sandbox.stats.per_chat[uid] == 1 for uid in bokmal + english)
    nb_message = sandbox.messages(bokmal[0])[0]
    en_message = sandbox.messages(english[0])[0]
    assert nb_message["text"].startswith("<b>Ny park</b>")
    assert en_message["text"].startswith("<b>New park</b>")
    button = en_message["reply_markup"]["inline_keyboard"][0][0]
    assert button["callback_data"] == f"c:{consultation.id}"
    # The progress message, edited in place, ends as a summary without buttons.
    progress = [m for m in sandbox.messages(STAFF) if "Done." in m["text"]]
    assert len(progress) == 1
    assert "Sent to 40 of 40 people." in progress[0]["text"]
    assert "reply_markup" not in progress[0]


async def test_a_recipient_answers_from_the_broadcast_button(
    sandbox: Sandbox, db: Sessions, run_bot: BotRunner
) -> None:
    async with db() as session:
        consultation = await add_consultation(session)
    staff = staff_member(sandbox)
    person = Citizen(sandbox, 20_100)
    async with db() as session:
        await add_people(session, [person.id])
        await session.commit()
    async with run_bot():
        await staff.send("/manage")
        await staff.expect("Consultations")
        await staff.press("park")
        await staff.expect_button("📣 Broadcast")
        await staff.press("📣 Broadcast")
        await staff.expect("Who should get it?")
        await staff.press("Everyone who agreed")
        await staff.expect("Ready to send")
        await staff.press("Send to 1 person")
        await person.expect("Ny park", timeout=15)
        await person.press("Svar")
        await person.expect("1/5")
    async with db() as session:
        response = await session.get(Response, 1)
        assert response is not None
        assert response.consultation_id == consultation.id


async def _arena(db: Sessions, members: list[int]) -> int:
    async with db() as session:
        arena = Arena(slug="frivillighet", name={"nb": "Frivillighet", "en": "Volunteering"})
        session.add(arena)
        await session.flush()
        for pid in members:
            await subscribe(session, pid, arena.id or 0, NOW_UTC)
        await session.commit()
        return arena.id or 0


@pytest.mark.parametrize(
    ("choice", "second", "expected"),
    [
        ("Everyone who agreed", None, {"sub", "unfinished", "library", "plain"}),
        ("Members of an arena", "Volunteering", {"sub"}),
        ("Started a consultation", "New park", {"unfinished"}),
        ("Came from a link source", "library", {"library"}),
    ],
)
async def test_each_kind_of_audience_reaches_exactly_its_people(
    sandbox: Sandbox,
    db: Sessions,
    run_bot: BotRunner,
    choice: str,
    second: str | None,
    expected: set[str],
) -> None:
    async with db() as session:
        consultation = await add_consultation(session)
    people = {"sub": 30_001, "unfinished": 30_002, "library": 30_003, "plain": 30_004}
    ids = {name: (await audience(sandbox, db, [uid]))[0] for name, uid in people.items()}
    # Declined: in no audience, even with a subscription, a started response and a source.
    declined = 30_005
    sandbox.add_user(declined)
    async with db() as session:
        refused = (await add_people(session, [declined], consent=False, source="library"))[0]
        session.add(Response(participant_id=ids["unfinished"], consultation_id=consultation.id))
        session.add(Response(participant_id=refused, consultation_id=consultation.id))
        await session.commit()
    await _arena(db, [ids["sub"], refused])
    async with db() as session:
        library = await session.get(Participant, ids["library"])
        assert library is not None
        library.source = "library"
        await session.commit()

    staff = staff_member(sandbox)
    async with run_bot():
        await staff.send("/broadcast")
        await staff.expect("What do you want to send?")
        await staff.press("Write an announcement")
        await staff.expect("Write the announcement")
        await staff.send("The library is open late on Thursday.")
        await staff.expect("Who should get it?")
        await staff.press(choice)
        if second is not None:
            await staff.expect_button(second)
            await staff.press(second)
        summary = await staff.expect("Ready to send")
        n = len(expected)
        assert f"That is {n} {'person' if n == 1 else 'people'} now." in summary["text"]
        await staff.press("Send to")
        await staff.expect("Broadcast finished", timeout=20)
    reached = {name for name, uid in people.items() if sandbox.stats.per_chat[uid]}
    assert reached == expected
    assert sandbox.stats.per_chat[declined] == 0
    assert all(sandbox.stats.per_chat[people[name]] == 1 for name in expected)


async def test_an_announcement_in_two_languages_waits_for_its_scheduled_time(
    sandbox: Sandbox, db: Sessions, run_bot: BotRunner, clock: Clock
) -> None:
    bokmal, english = [31_001, 31_002], [31_003]
    await audience(sandbox, db, bokmal, language="nb")
    await audience(sandbox, db, english, language="en")
    staff = staff_member(sandbox)
    async with run_bot():
        await staff.send("/broadcast")
        await staff.expect("What do you want to send?")
        await staff.press("Write an announcement")
        await staff.expect("Write the announcement in English")
        await staff.send("The pool is closed on Monday.")
        await staff.expect("Who should get it?")
        await staff.press("Everyone who agreed")
        await staff.expect("Ready to send")
        await staff.press("+ Bokmål")
        await staff.expect("Write the announcement in Bokmål")
        await staff.send("Bassenget er stengt mandag.")
        screen = await staff.expect("Ready to send")
        assert "Written in: English, Bokmål" in screen["text"]
        assert any("Preview in Bokmål" in t for t in staff.texts())
        await staff.press("Schedule for later")
        await staff.expect("When should it be sent?")
        await staff.send("31.02 25:00")
        await staff.expect("When should it be sent?")  # asked again, nothing changed
        await staff.send("14:00")  # Oslo time: 13:00 UTC, an hour after the clock's now
        await staff.expect("When: 14:00")
        await staff.press("Schedule for 3 people")
        await staff.expect("Scheduled for 14:00.")
        await asyncio.sleep(2.5)
        assert sandbox.stats.per_chat[bokmal[0]] == 0
        clock.now = NOW_UTC + timedelta(hours=1)
        await wait_for_sends(sandbox, bokmal + english, timeout=15)
        await staff.expect("Broadcast finished", timeout=15)
    assert sandbox.messages(bokmal[0])[0]["text"] == "Bassenget er stengt mandag."
    assert sandbox.messages(english[0])[0]["text"] == "The pool is closed on Monday."


async def test_quiet_hours_hold_what_is_not_urgent_until_morning(
    sandbox: Sandbox, db: Sessions, settings: Settings, run_bot: BotRunner, clock: Clock
) -> None:
    settings.quiet_hours = "22-08"
    people = [32_001, 32_002, 32_003]
    await audience(sandbox, db, people)
    night = datetime(2027, 1, 15, 22, 30, tzinfo=UTC)  # 23:30 in Oslo
    clock.now = night
    calm = await confirmed_broadcast(db, night, text={"nb": "God morgen!"}, staff_chat=STAFF)
    urgent = await confirmed_broadcast(
        db, night, text={"nb": "Vannet er stengt nå."}, urgent=True, staff_chat=STAFF
    )
    async with run_bot():
        await wait_for_state(db, urgent, reported=True, timeout=15)
        await asyncio.sleep(1.5)
        assert all(sandbox.stats.per_chat[uid] == 1 for uid in people)  # only the urgent one
        assert (await broadcast_state(db, calm)).state == BroadcastState.RUNNING
        clock.now = datetime(2027, 1, 16, 6, 59, tzinfo=UTC)  # 07:59 in Oslo: still quiet
        await asyncio.sleep(1.5)
        assert all(sandbox.stats.per_chat[uid] == 1 for uid in people)
        clock.now = datetime(2027, 1, 16, 7, 0, tzinfo=UTC)  # 08:00
        await wait_for_state(db, calm, timeout=15)
    assert all(sandbox.stats.per_chat[uid] == 2 for uid in people)
    assert [m["text"] for m in sandbox.messages(people[0])] == [
        "Vannet er stengt nå.",
        "God morgen!",
    ]


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries after 50 ms instead of a second, and a 2 s request timeout."""
    import bot.app
    from bot import delivery

    def worker(*args: object, **kwargs: object) -> delivery.DeliveryWorker:
        return delivery.delivery_worker(
            *args,  # type: ignore[arg-type]
            **{"backoff": 0.05, "request_timeout": 2.0, **kwargs},  # type: ignore[arg-type]
        )

    monkeypatch.setattr(bot.app, "delivery_worker", worker)


@pytest.mark.usefixtures("quick_retries")
async def test_403_429_5xx_and_timeouts_mid_broadcast_each_end_as_they_should(
    sandbox: Sandbox, db: Sessions, settings: Settings, run_bot: BotRunner
) -> None:
    settings.broadcast_rate = 20
    people = list(range(33_001, 33_061))
    ids = dict(zip(people, await audience(sandbox, db, people), strict=True))
    # People late in the broadcast: their faults strike when it is well under way.
    blocked, flaky, broken, slow = people[-24:-20]
    sandbox.inject_fault(method="sendMessage", chat_id=blocked, status=403)
    sandbox.inject_fault(method="sendMessage", chat_id=flaky, status=500, count=2)
    sandbox.inject_fault(method="sendMessage", chat_id=broken, status=502, count=50)
    sandbox.inject_fault(method="sendMessage", chat_id=slow, delay=3.0)  # times out once
    broadcast = await confirmed_broadcast(db, NOW_UTC, text={"nb": "Hei!"}, staff_chat=STAFF)
    async with run_bot():
        await wait_for_sends(sandbox, people[:10])  # under way; now Telegram says "too many"
        sandbox.inject_fault(method="sendMessage", status=429, retry_after=1)
        await wait_for_state(db, broadcast, timeout=30)
    states = await delivery_states(db, broadcast)
    assert states[ids[blocked]] == "unreachable"
    assert states[ids[broken]] == "failed"
    assert {states[ids[uid]] for uid in people if uid not in (blocked, broken)} == {"sent"}
    async with db() as session:
        person = await session.get(Participant, ids[blocked])
        assert person is not None
        assert person.unreachable_at is not None
        rows = {
            d.participant_id: d
            for d in (await session.exec(select(Delivery))).all()  # type: ignore[call-overload]
        }
    assert rows[ids[flaky]].attempts == 3
    assert rows[ids[broken]].attempts == 5
    assert rows[ids[broken]].detail.startswith("502")
    assert rows[ids[slow]].attempts == 2
    # Everyone but the blocked and the broken got it once, the slow one maybe twice (a timed
    # out send may have arrived; Telegram cannot tell).
    assert sandbox.stats.per_chat[blocked] == 0
    assert sandbox.stats.per_chat[broken] == 0
    assert all(
        sandbox.stats.per_chat[uid] == 1 for uid in people if uid not in (blocked, broken, slow)
    )
    assert sandbox.stats.per_chat[slow] in (1, 2)
    # The 429 stopped all sending for its retry_after.
    times = sandbox.stats.send_times
    assert sandbox.stats.rate_limited == 1
    assert max(b - a for a, b in itertools.pairwise(times)) >= 0.9

    # Nobody unreachable is tried again.
    again = await confirmed_broadcast(db, NOW_UTC, text={"nb": "Igjen"}, staff_chat=STAFF)
    forbidden = sandbox.stats.forbidden
    async with run_bot():
        await wait_for_state(db, again, timeout=20)
    assert sandbox.stats.forbidden == forbidden
    assert ids[blocked] not in await delivery_states(db, again)


async def test_staff_pause_resume_and_cancel_from_the_progress_message(
    sandbox: Sandbox, db: Sessions, settings: Settings, run_bot: BotRunner
) -> None:
    settings.broadcast_rate = 10
    people = list(range(34_001, 34_101))
    await audience(sandbox, db, people)
    staff = staff_member(sandbox)
    async with run_bot():
        await staff.send("/broadcast")
        await staff.expect("What do you want to send?")
        await staff.press("Write an announcement")
        await staff.expect("Write the announcement")
        await staff.send("Ny bussrute fra mandag.")
        await staff.expect("Who should get it?")
        await staff.press("Everyone who agreed")
        await staff.expect("Ready to send")
        await staff.press("Send to 100 people")
        await staff.expect_button("Pause", timeout=10)
        await wait_for_sends(sandbox, people[:5])
        query = await staff.press("Pause")
        assert await staff.notice(query) == "Paused."
        await staff.expect("Paused. Nothing is sent until you resume.")
        await asyncio.sleep(0.5)  # the sends in flight land
        paused_at = sandbox.stats.sends
        await asyncio.sleep(2)
        assert sandbox.stats.sends == paused_at
        await staff.press("Resume")
        await staff.expect("Sending")
        await wait_for_sends(sandbox, people[: paused_at + 10])
        await staff.press("Cancel")
        await staff.expect("Cancel the broadcast?")
        await staff.press("Yes, stop the broadcast")
        await staff.expect("Cancelled.")
        report = await staff.expect("Broadcast cancelled", timeout=15)
    sent = sum(sandbox.stats.per_chat[uid] for uid in people)
    assert 15 <= sent < 100
    assert all(sandbox.stats.per_chat[uid] <= 1 for uid in people)
    assert f"{sent} of 100 people got it." in report["text"]
    assert f"{100 - sent} people did not get it" in report["text"]


async def test_a_person_who_blocks_the_bot_is_left_out_until_they_unblock_it(
    sandbox: Sandbox, db: Sessions, run_bot: BotRunner
) -> None:
    people = [35_001, 35_002]
    ids = await audience(sandbox, db, people)

    async def reachable() -> bool:
        async with db() as session:
            person = await session.get(Participant, ids[0])
            assert person is not None
            return person.unreachable_at is None

    async def until(wanted: bool) -> None:
        for _ in range(100):
            if await reachable() is wanted:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"reachable is not {wanted}")

    async with run_bot():
        await sandbox.block(people[0])
        await until(False)
        first = await confirmed_broadcast(db, NOW_UTC, text={"nb": "En"}, staff_chat=STAFF)
        await wait_for_state(db, first)
        await sandbox.unblock(people[0])
        await until(True)
        second = await confirmed_broadcast(db, NOW_UTC, text={"nb": "To"}, staff_chat=STAFF)
        await wait_for_state(db, second)
    assert sandbox.stats.forbidden == 0  # never tried while blocked
    assert ids[0] not in await delivery_states(db, first)
    assert [m["text"] for m in sandbox.messages(people[0])] == ["To"]
    assert [m["text"] for m in sandbox.messages(people[1])] == ["En", "To"]
