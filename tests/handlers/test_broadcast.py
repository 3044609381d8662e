"""/broadcast in the chat: roles on every update, the draft as conversation state, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import callbacks as cb
from handlers.i18n import language
from handlers.views.broadcast import expected_finish, report_message
from handlers.wizards.when import parse_when
from models.arenas import Arena, subscribe
from models.followups import stop_messages
from models.outbox import Broadcast, BroadcastState, Counts, QuietHours
from models.participant import Participant
from models.response import Response
from models.roles import AuditLog, Role, grant
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.auxil.people import add_people
from tests.handlers.conftest import NOW, Harness

Sessions = async_sessionmaker[AsyncSession]
UNKNOWN_COMMAND = "Den kommandoen kjenner jeg ikke"
STALE_BUTTON = "virker ikke lenger"


async def _staff(harness: Harness, sessionmaker: Sessions, user_id: int = 9100) -> Citizen:
    async with sessionmaker() as session:
        await grant(session, user_id, Role.STAFF, by=None, now=NOW)
        await session.commit()
    return harness.citizen(user_id, language_code="en")


async def _drafts(sessionmaker: Sessions) -> list[Broadcast]:
    async with sessionmaker() as session:
        return list((await session.exec(select(Broadcast))).all())


async def test_citizens_cannot_broadcast_and_the_attempts_are_audited(
    harness: Harness, sessionmaker: Sessions
) -> None:
    person = harness.citizen(7200)
    await harness.send(person, "/broadcast")
    assert UNKNOWN_COMMAND in harness.last(person)
    for data in (
        cb.WizardStart("b", 1, ""),
        cb.WizardButton("b", 1, "pick", "0"),
        cb.WizardButton("b", 1, "audience", "consented"),
        cb.WizardButton("b", 1, "send", ""),
        cb.BroadcastControl(1, "cancel!"),
    ):
        assert STALE_BUTTON in await harness.press_data(person, data.pack())
    async with sessionmaker() as session:
        denied = (await session.exec(select(AuditLog).where(AuditLog.action == "denied"))).all()
    assert [d.target for d in denied] == [
        "/broadcast",
        "broadcast.new",
        "broadcast.pick",
        "broadcast.audience",
        "broadcast.send",
        "broadcast.control",
    ]
    assert await _drafts(sessionmaker) == []


async def test_the_draft_takes_the_staff_members_text_and_citizens_answers_stay_answers(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
        await add_people(session, [7300, 7301])
        await session.commit()
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/broadcast")
    await harness.press(staff, "Write an announcement")
    assert "Write the announcement in English" in harness.last(staff)
    # A citizen typing at the same time still answers their consultation.
    citizen = harness.citizen(7301)
    await harness.send(citizen, "/start c_park")
    await harness.press(citizen, "Ofte")
    too_long = "x" * 4001
    await harness.send(staff, too_long)
    assert "too long: at most 4000 characters" in harness.last(staff)
    await harness.send(staff, "Library closed <Friday> & Saturday")
    assert "Who should get it?" in harness.last(staff)
    [draft] = await _drafts(sessionmaker)
    assert draft.text == {"en": "Library closed &lt;Friday&gt; &amp; Saturday"}
    assert draft.state == BroadcastState.DRAFT
    await harness.press(staff, "Everyone who agreed")
    texts = harness.new_texts(staff)
    assert "That is 2 people now." in texts[-1]
    # Nobody reads English: the preview says who gets which text, and why.
    assert any(
        "2 people will get the English text because there is no Bokmål one" in t for t in texts
    )
    # Without a draft waiting for text, staff's typing is ordinary input again.
    await harness.send(staff, "hello")
    assert "accept the privacy notice" in harness.last(staff)
    async with sessionmaker() as session:
        assert len((await session.exec(select(Response))).all()) == 1


async def test_a_draft_belongs_to_the_one_who_started_it_and_confirms_once(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_people(session, [7400])
        await session.commit()
    staff = await _staff(harness, sessionmaker)
    colleague = await _staff(harness, sessionmaker, 9101)
    await harness.send(colleague, "/help")  # a chat with a message to press a button in
    await harness.send(staff, "/broadcast")
    await harness.press(staff, "Write an announcement")
    await harness.send(staff, "Hei")
    await harness.press(staff, "Everyone who agreed")
    _message_id, send = staff.button("Send to 1 person")
    assert "no longer open" in await harness.press_data(colleague, send)
    assert await harness.press_data(staff, send) == "Sending."
    assert "no longer open" in await harness.press_data(staff, send)
    [broadcast] = await _drafts(sessionmaker)
    assert broadcast.state == BroadcastState.SCHEDULED
    assert broadcast.audience_size == 1
    assert "📣" in harness.last(staff)
    async with sessionmaker() as session:
        confirmed = (
            await session.exec(select(AuditLog).where(AuditLog.action == "broadcast.confirm"))
        ).one()
    assert (confirmed.actor, confirmed.detail["size"]) == (staff.id, 1)  # type: ignore[index]


async def test_an_empty_audience_or_a_closed_consultation_is_refused_politely(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        consultation = await add_consultation(session, publish=False)
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/manage")
    toast = await harness.press_data(staff, cb.WizardStart("b", consultation.id or 0, "").pack())
    assert "Open the consultation first" in toast
    await harness.send(staff, "/broadcast")
    await harness.press(staff, "Write an announcement")
    await harness.send(staff, "Hei")
    await harness.press(staff, "Everyone who agreed")
    assert "Nobody is in this audience" in harness.last(staff)
    assert "Send to" not in "".join(staff.buttons())
    await harness.press(staff, "Change the audience")
    toast = await harness.press(staff, "Members of an arena")
    assert "There are no arenas yet." in toast
    [draft] = await _drafts(sessionmaker)
    assert draft.state == BroadcastState.DRAFT


async def test_staff_cancel_a_draft_and_nothing_is_kept(
    harness: Harness, sessionmaker: Sessions
) -> None:
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/broadcast")
    await harness.press(staff, "Cancel")
    assert "Nothing was sent." in harness.last(staff)
    assert await _drafts(sessionmaker) == []


OSLO = "Europe/Oslo"
NOON = datetime(2027, 1, 15, 11, 0, tzinfo=UTC)  # 12:00 in Oslo


@pytest.mark.parametrize(
    ("typed", "local"),
    [
        ("20.01 09:30", "2027-01-20 09:30"),
        ("20.01.2027 09:30", "2027-01-20 09:30"),
        ("2027-01-20 09:30", "2027-01-20 09:30"),
        ("kl. 14:15", "2027-01-15 14:15"),
        ("08:00", "2027-01-16 08:00"),  # already past today: tomorrow
        ("1.7 12:00", "2027-07-01 12:00"),  # summer time
    ],
)
def test_staff_write_times_the_way_people_in_norway_write_them(typed: str, local: str) -> None:
    expected = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(OSLO)).astimezone(UTC)
    assert parse_when(typed, NOON, OSLO) == expected


@pytest.mark.parametrize("typed", ["", "tomorrow", "31.02 10:00", "25:00", "20.01"])
def test_what_is_not_a_time_is_not_taken_as_one(typed: str) -> None:
    assert parse_when(typed, NOON, OSLO) is None


def test_the_expected_finish_counts_the_rate_and_the_quiet_hours() -> None:
    quiet = QuietHours.parse("22-08", OSLO)
    assert expected_finish(1500, now=NOON, rate=25, quiet=quiet, urgent=False) == NOON + (
        timedelta(minutes=1)
    )
    night = datetime(2027, 1, 15, 22, 0, tzinfo=UTC)  # 23:00 in Oslo
    morning = datetime(2027, 1, 16, 7, 0, tzinfo=UTC)  # 08:00 in Oslo
    assert expected_finish(25, now=night, rate=25, quiet=quiet, urgent=False) == morning + (
        timedelta(seconds=1)
    )
    assert expected_finish(25, now=night, rate=25, quiet=quiet, urgent=True) == night + (
        timedelta(seconds=1)
    )


async def test_the_arena_pickers_count_is_the_audience_that_gets_it(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        arena = Arena(slug="frivillighet", name={"nb": "Frivilligsentralen", "en": "Volunteers"})
        session.add(arena)
        await session.flush()
        ids = await add_people(session, [8101, 8102, 8103])
        for pid in ids:
            await subscribe(session, pid, arena.id or 0, NOW)
        stopped = await session.get(Participant, ids[0])
        assert stopped is not None
        await stop_messages(session, stopped, NOW)  # sent /stop: gets no broadcasts
        await session.commit()
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/broadcast")
    await harness.press(staff, "Write an announcement")
    await harness.send(staff, "Hei")
    await harness.press(staff, "Members of an arena")
    assert "Volunteers (2)" in staff.buttons()  # not 3: one of them stopped
    await harness.press(staff, "Volunteers (2)")
    assert "That is 2 people now." in harness.last(staff)


def test_the_report_says_how_long_sending_took_and_when_it_finished_in_local_time() -> None:
    started = datetime(2027, 1, 15, 21, 30, tzinfo=UTC)  # confirmed at 22:30 Oslo time
    first = datetime(2027, 1, 16, 7, 0, 5, tzinfo=UTC)  # sent after the quiet hours
    broadcast = Broadcast(
        id=1,
        state=BroadcastState.DONE,
        text={"en": "Hei"},
        language="en",
        started_at=started,
        finished_at=first + timedelta(seconds=40),
    )
    counts = Counts(sent=20)
    with language("en"):
        quick = report_message(
            broadcast, None, counts, "Europe/Oslo", (first, first + timedelta(seconds=35))
        )
        slow = report_message(
            broadcast, None, counts, "Europe/Oslo", (first, first + timedelta(minutes=12))
        )
    assert "It took less than a minute." in quick.text  # not the nine hours of quiet
    assert "Finished at 08:00 (Norwegian time)." in quick.text
    assert "It took 12 minutes." in slow.text


async def test_the_preview_says_who_gets_the_fallback_text_and_staff_choose_it(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_people(session, [7320, 7321], language="nb")
        await add_people(session, [7322], language="en")
        await add_people(session, [7323, 7324, 7325], language="nn")
        await session.commit()
    staff = await _staff(harness, sessionmaker)
    await harness.send(staff, "/broadcast")
    await harness.press(staff, "Write an announcement")
    await harness.send(staff, "Library closed on Friday")
    await harness.press(staff, "Everyone who agreed")
    await harness.press(staff, "+ Bokmål")
    await harness.send(staff, "Biblioteket er stengt fredag")
    texts = harness.new_texts(staff)
    # Written in English first: the Nynorsk readers get it, and the preview says so.
    assert any(
        "3 people will get the English text because there is no Nynorsk one" in t for t in texts
    )
    assert any("Preview in Bokmål</b> (2 people)" in t for t in texts)
    await harness.press(staff, "↪ Others get Bokmål")
    texts = harness.new_texts(staff)
    assert any(
        "3 people will get the Bokmål text because there is no Nynorsk one" in t for t in texts
    )
    assert "Readers of other languages get: Bokmål" in texts[-1]
    [draft] = await _drafts(sessionmaker)
    assert draft.language == "nb"
