"""Moderators review free texts end to end: the real bot, the sandbox as Telegram.

Private review with /review, and the moderation group where any moderator decides; two
moderators at once, a non-moderator's press, a text its writer erased or changed meanwhile.
Every message a moderator gets is checked for anything that identifies the writer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import callbacks as cb
from models import privacy
from models import response as flow
from models.consultation import find_consultation
from models.moderation import ModerationItem, Reason, Status
from models.participant import Participant, record_privacy_decision
from models.roles import AuditLog, Role, grant
from sandbox import Sandbox
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.auxil.ideas import IDEAS
from tests.e2e.conftest import BotRunner

pytestmark = pytest.mark.postgres

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)

# Writers: Telegram ids and names that must never reach a moderator.
WRITERS = {
    7_500_000_001: ("Kari", "Nordmann", "kari_holmen"),
    7_500_000_002: ("Ola", "Bakken", "ola_b"),
    7_500_000_003: ("Emma", "Lie", "emmalie"),
    7_500_000_004: ("Nils", "Berg", "nilsb"),
}
KARI, OLA, EMMA, NILS = WRITERS
# Staff.
ANNE = 6_100_000_001  # admin
MONA = 6_100_000_002  # moderator
MATS = 6_100_000_003  # moderator
PER = 6_100_000_004  # in the moderators' group, but no moderator
GROUP = -4_001


@pytest.fixture
async def schema(db: Sessions) -> Sessions:
    """The migrated database, plus any table the migration does not have yet.

    The moderation tables come with the next regeneration of the initial migration; until
    then they are created here. Once the migration has them this does nothing.
    """
    async with db() as session:
        connection = await session.connection()
        await connection.run_sync(SQLModel.metadata.create_all)
        await session.commit()
    return db


@pytest.fixture
async def moderation_bot(schema: Sessions, run_bot: BotRunner) -> AsyncIterator[Sessions]:
    """The bot, running on a database with a consultation, an admin and two moderators."""
    async with schema() as session:
        await add_consultation(session, IDEAS)
        await grant(session, ANNE, Role.ADMIN, by=None, now=NOW)
        await grant(session, MONA, Role.MODERATOR, by=None, now=NOW)
        await grant(session, MATS, Role.MODERATOR, by=None, now=NOW)
        await session.commit()
    async with run_bot():
        yield schema


def person(sandbox: Sandbox, user_id: int, language: str = "nb") -> Citizen:
    """A sandbox user with a full name and a username, as real people have."""
    citizen = Citizen(sandbox, user_id, language)
    first, last, username = WRITERS.get(user_id, (f"Staff{user_id}", "Ansatt", None))
    user = sandbox.user(user_id)
    user.first_name, user.last_name, user.username = first, last, username
    return citizen


async def write_idea(citizen: Citizen, text: str) -> None:
    """Consent, answer the free-text question with ``text`` and the yes/no question."""
    await citizen.send("/start c_ideas")
    await citizen.expect("Før vi begynner")
    await citizen.press("Ja, jeg godtar")
    await citizen.expect("1/2")
    await citizen.send(text)
    await citizen.expect("2/2")
    await citizen.send("ja")
    await citizen.expect("Svarene dine: Ideer for Holmen")


async def ready(db: Sessions, sandbox: Sandbox, user_id: int) -> Citizen:
    """A person who consented and opened the consultation earlier: its free text is next.

    Set up in the database, to spare the welcome and consent messages (the bot spaces messages
    to a person a second apart); what they type next goes through the bot as always.
    """
    citizen = person(sandbox, user_id)
    async with db() as session:
        participant = await record_privacy_decision(
            session, user_id, user_id, granted=True, language="nb", now=NOW
        )
        consultation = await find_consultation(session, "ideas")
        assert consultation is not None
        assert consultation.id is not None
        await flow.start(session, participant, consultation.id, source=None, now=NOW)
        await session.commit()
    return citizen


async def type_idea(citizen: Citizen, text: str) -> None:
    """Type the free-text answer; the next question follows."""
    await citizen.send(text)
    await citizen.expect("2/2")


async def retype_idea(citizen: Citizen, text: str) -> None:
    """Go back from the next question and type the free text again."""
    await citizen.press("Tilbake")
    await citizen.expect("1/2")
    await type_idea(citizen, text)


def assert_no_identity(sandbox: Sandbox, chat_id: int) -> None:
    """Nothing the bot sent to this chat (messages, edits, buttons) names a writer."""
    events = [e.message for e in sandbox.events(chat_id) if e.message is not None]
    assert events, "the chat got nothing"
    shown = json.dumps(events, ensure_ascii=False)
    for user_id, (first, last, username) in WRITERS.items():
        for secret in (str(user_id), first, last, username):
            assert secret not in shown, f"{secret!r} reached chat {chat_id}"


async def stored(db: Sessions) -> list[ModerationItem]:
    async with db() as session:
        rows = await session.exec(select(ModerationItem).order_by(col(ModerationItem.id)))
        return list(rows.all())


async def moderation_log(db: Sessions) -> list[tuple[int | None, str, dict[str, Any] | None]]:
    async with db() as session:
        rows = await session.exec(
            select(AuditLog)
            .where(col(AuditLog.action).startswith("moderation."))
            .order_by(col(AuditLog.id))
        )
        return [(log.actor, log.action, log.detail) for log in rows.all()]


async def erase_writer(db: Sessions, telegram_id: int) -> None:
    """The writer erases their data (what /delete does), while a moderator looks at the text."""
    async with db() as session:
        participant = (
            await session.exec(
                select(Participant).where(Participant.telegram_user_id == telegram_id)
            )
        ).one()
        await privacy.erase(session, participant, NOW)
        await session.commit()


# ---------------------------------------------------------------------------- private review


async def test_a_moderator_reviews_texts_in_a_private_chat(
    sandbox: Sandbox, moderation_bot: Sessions
) -> None:
    db = moderation_bot
    # Kari from the very start, through consent; Ola had opened the consultation before.
    await write_idea(person(sandbox, KARI), "Ring meg på 998 87 766 om benkene")
    await type_idea(await ready(db, sandbox, OLA), "Flere benker ved vannet")
    mona = person(sandbox, MONA)

    await mona.send("/review")
    card = await mona.expect("Tekst til vurdering")
    # Personal data first, masked and marked; where it was written; the queue.
    assert "Ring meg på [telefonnummer] om benkene" in card["text"]
    assert "Personopplysninger skjult: telefonnummer" in card["text"]
    assert "Ideer for Holmen" in card["text"]
    assert "Har du en idé?" in card["text"]
    assert "2 tekster venter" in card["text"]
    assert "998" not in json.dumps(card)

    await mona.press("Avvis…")
    await mona.expect_button("Personopplysninger")
    query = await mona.press("Personopplysninger")
    assert "Avvist: personopplysninger" in await mona.notice(query)
    decided = await mona.expect("Avvist: personopplysninger</b> · av deg")
    assert decided["message_id"] == card["message_id"]  # the card itself shows the decision
    following = await mona.expect("Flere benker ved vannet")  # the next follows at once
    assert "1 tekst venter" in following["text"]

    # Undo the rejection: the first card waits again, with its buttons.
    query = await mona.press("Angre")
    assert "Angret" in await mona.notice(query)
    undone = await mona.expect("2 tekster venter")
    assert undone["message_id"] == card["message_id"]
    assert "Godkjenn" in json.dumps(undone["reply_markup"], ensure_ascii=False)

    # Approve Ola's (the newest card); Kari's comes again, still Mona's to decide.
    await mona.press("Godkjenn")
    await mona.expect("Godkjent</b> · av deg")
    again = await mona.expect("Ring meg på [telefonnummer]")
    assert again["message_id"] > following["message_id"]
    await mona.press("Avvis…")
    await mona.expect_button("Krenkende")
    await mona.press("Personopplysninger")
    await mona.expect("Ingenting venter på vurdering")

    kari_item, ola_item = await stored(db)
    assert (kari_item.status, kari_item.reason, kari_item.decided_by) == (
        Status.REJECTED,
        Reason.PERSONAL_DATA,
        MONA,
    )
    assert (ola_item.status, ola_item.decided_by) == (Status.APPROVED, MONA)
    assert await moderation_log(db) == [
        (MONA, "moderation.rejected", {"reason": "personal_data"}),
        (MONA, "moderation.undo", {"was": "rejected", "reason": "personal_data"}),
        (MONA, "moderation.approved", None),
        (MONA, "moderation.rejected", {"reason": "personal_data"}),
    ]
    assert_no_identity(sandbox, MONA)


async def test_bad_presses_get_a_clear_answer_and_change_nothing(
    sandbox: Sandbox, moderation_bot: Sessions
) -> None:
    db = moderation_bot
    kari = await ready(db, sandbox, KARI)
    await type_idea(kari, "Flere benker")
    (item,) = await stored(db)

    # A citizen with a forged (or forwarded) moderation button: refused like any stale button.
    query = await kari.press_data(cb.Moderate(item.id or 0, item.version, "approve").pack())
    assert "virker ikke lenger" in await kari.notice(query)
    query = await kari.press_data(cb.UndoDecision(item.id or 0, item.version).pack())
    assert "virker ikke lenger" in await kari.notice(query)
    # A citizen sending /review gets what any unknown command gets.
    await kari.send("/review")
    await kari.expect("Den kommandoen kjenner jeg ikke")
    (unchanged,) = await stored(db)
    assert unchanged.status == Status.PENDING
    assert unchanged.version == item.version

    # A moderator decides on a text whose writer erased it meanwhile.
    mona = person(sandbox, MONA)
    await mona.send("/review")
    await mona.expect("Flere benker")
    await type_idea(await ready(db, sandbox, EMMA), "Et bibliotek på Holmen")
    await erase_writer(db, KARI)
    query = await mona.press("Godkjenn")
    assert await mona.notice(query) == "Denne teksten finnes ikke lenger."
    await mona.expect("Denne teksten finnes ikke lenger: den som skrev den")
    await mona.expect("Et bibliotek på Holmen")  # and the next one follows

    # A garbled choice is answered politely too.
    (emma_item,) = await stored(db)
    query = await mona.press_data(f"md:{emma_item.id}:{emma_item.version}:maybe")
    assert "virker ikke lenger" in await mona.notice(query)
    (emma_item,) = await stored(db)
    assert emma_item.status == Status.PENDING
    assert await moderation_log(db) == []
    assert_no_identity(sandbox, MONA)


async def test_a_changed_text_comes_back_to_the_moderator(
    sandbox: Sandbox, moderation_bot: Sessions
) -> None:
    db = moderation_bot
    kari = await ready(db, sandbox, KARI)
    await type_idea(kari, "Flere benker")
    mona = person(sandbox, MONA)
    await mona.send("/review")
    await mona.expect("Flere benker")
    await retype_idea(kari, "Flere benker og et bord")
    query = await mona.press("Godkjenn")
    assert "har endret den" in await mona.notice(query)
    await mona.expect("Flere benker og et bord")  # the new version, in place, to decide on
    await mona.press("Godkjenn")
    await mona.expect("Godkjent</b> · av deg")
    (item,) = await stored(db)
    assert item.status == Status.APPROVED
    assert [action for _, action, _ in await moderation_log(db)] == ["moderation.approved"]


# ---------------------------------------------------------------------------- the group


def group_button(sandbox: Sandbox, label: str, message_id: int | None = None) -> tuple[int, str]:
    """The newest group message with a button labelled ``label`` (or that message's button)."""
    for message in reversed(sandbox.messages(GROUP)):
        if message_id is not None and message["message_id"] != message_id:
            continue
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if label in button["text"]:
                    return message["message_id"], button["callback_data"]
    texts = "\n---\n".join(m.get("text", "") for m in sandbox.messages(GROUP))
    raise AssertionError(f"no button {label!r} in the group; it shows:\n{texts}")


async def press_in_group(
    sandbox: Sandbox, user_id: int, label: str, message_id: int | None = None
) -> str:
    """Press a button in the group; return the query id."""
    found_id, data = group_button(sandbox, label, message_id)
    return await sandbox.press(user_id, data, found_id, chat_id=GROUP)


async def shows(sandbox: Sandbox, message_id: int, needle: str) -> dict[str, Any]:
    """Wait until the group's message, as it is now, shows ``needle`` (text or buttons)."""
    for _ in range(200):
        current = sandbox.message(GROUP, message_id)
        if current is not None and needle in json.dumps(current, ensure_ascii=False):
            return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"message {message_id} never showed {needle!r}: {current}")


async def toast(sandbox: Sandbox, query_id: str) -> str:
    return str((await sandbox.wait_for_callback_answer(query_id)).get("text") or "")


async def test_moderators_decide_in_the_moderation_group(
    sandbox: Sandbox, moderation_bot: Sessions
) -> None:
    db = moderation_bot
    kari = person(sandbox, KARI)
    # Mats's Telegram is in English; the group is in the installation's language all the same.
    staff = {uid: person(sandbox, uid, "en" if uid == MATS else "nb") for uid in (ANNE, MATS, PER)}
    mona = person(sandbox, MONA)
    assert staff
    sandbox.add_group(GROUP, "Moderatorer", [ANNE, MONA, MATS, PER])

    # Only an admin can make a group the moderation group.
    cursor = sandbox.cursor
    await sandbox.send_text(PER, "/moderationgroup", chat_id=GROUP)
    await sandbox.wait_for_message(GROUP, "Skriv til meg i en privat chat", after=cursor)
    cursor = sandbox.cursor
    await sandbox.send_text(ANNE, "/moderationgroup", chat_id=GROUP)
    await sandbox.wait_for_message(GROUP, "Dette er nå modereringsgruppen", after=cursor)

    # A new text is posted as it arrives.
    cursor = sandbox.cursor
    await write_idea(kari, "Lekeplass ved skolen, send svar til kari@example.no")
    post = await sandbox.wait_for_message(GROUP, "Ny tekst", after=cursor)
    assert "Lekeplass ved skolen, send svar til [e-postadresse]" in post["text"]
    assert "Personopplysninger skjult: e-postadresse" in post["text"]
    assert "1 tekst venter" in post["text"]

    # Someone in the group who is no moderator.
    query = await press_in_group(sandbox, PER, "Godkjenn")
    assert await toast(sandbox, query) == "Bare moderatorer kan avgjøre tekster."
    (item,) = await stored(db)
    assert item.status == Status.PENDING

    # Two moderators press at once: one decision, and the other is told.
    first = await press_in_group(sandbox, MONA, "Godkjenn")
    second = await press_in_group(sandbox, MATS, "Send til de ansatte")
    toasts = {await toast(sandbox, first), await toast(sandbox, second)}
    (item,) = await stored(db)
    winner, loser = (MONA, MATS) if item.decided_by == MONA else (MATS, MONA)
    assert item.status == (Status.APPROVED if winner == MONA else Status.FLAGGED)
    assert "En annen moderator har allerede avgjort denne teksten." in toasts
    decision = "Godkjent" if winner == MONA else "Sendt til de ansatte"
    await shows(sandbox, post["message_id"], f"{decision}</b> · av Staff{winner}")
    decisions = [a for _, a, _ in await moderation_log(db) if not a.startswith("moderation.group")]
    assert len(decisions) == 1

    # Only the moderator who decided can undo it; then it waits in the group again.
    query = await press_in_group(sandbox, loser, "Angre", post["message_id"])
    assert await toast(sandbox, query) == "Bare moderatoren som avgjorde, kan angre."
    query = await press_in_group(sandbox, winner, "Angre", post["message_id"])
    assert "Angret" in await toast(sandbox, query)
    await shows(sandbox, post["message_id"], "Avvis…")
    query = await press_in_group(sandbox, loser, "Avvis…", post["message_id"])
    await toast(sandbox, query)
    await shows(sandbox, post["message_id"], "Utenfor temaet")
    query = await press_in_group(sandbox, loser, "Utenfor temaet", post["message_id"])
    assert "Avvist: utenfor temaet" in await toast(sandbox, query)
    (item,) = await stored(db)
    assert (item.status, item.reason, item.decided_by) == (
        Status.REJECTED,
        Reason.OFF_TOPIC,
        loser,
    )

    # A text whose writer erased it before anyone decided.
    cursor = sandbox.cursor
    await type_idea(await ready(db, sandbox, OLA), "Flere søppelkasser")
    ola_post = await sandbox.wait_for_message(GROUP, "Flere søppelkasser", after=cursor)
    await erase_writer(db, OLA)
    query = await press_in_group(sandbox, MONA, "Godkjenn", ola_post["message_id"])
    assert await toast(sandbox, query) == "Denne teksten finnes ikke lenger."
    gone = await shows(sandbox, ola_post["message_id"], "Denne teksten finnes ikke lenger")
    assert not gone.get("reply_markup")

    # A text changed by its writer: the old post says so, the new version is posted anew.
    cursor = sandbox.cursor
    emma = await ready(db, sandbox, EMMA)
    await type_idea(emma, "Benker")
    old_post = await sandbox.wait_for_message(GROUP, "Benker", after=cursor)
    cursor = sandbox.cursor
    await retype_idea(emma, "Benker og bord")
    new_post = await sandbox.wait_for_message(GROUP, "Benker og bord", after=cursor)
    query = await press_in_group(sandbox, MATS, "Godkjenn", old_post["message_id"])
    assert await toast(sandbox, query) == "Den som skrev teksten, har endret den."
    await shows(sandbox, old_post["message_id"], "Den nye versjonen venter i køen")
    query = await press_in_group(sandbox, MATS, "Godkjenn", new_post["message_id"])
    assert "Godkjent" in await toast(sandbox, query)

    # A decision in a private review shows on the group's message too.
    cursor = sandbox.cursor
    await type_idea(await ready(db, sandbox, NILS), "Mer lys på stien")
    lamp_post = await sandbox.wait_for_message(GROUP, "Mer lys på stien", after=cursor)
    await mona.send("/review")
    await mona.expect("Mer lys på stien")
    await mona.press("Godkjenn")
    await mona.expect("Godkjent</b> · av deg")
    await shows(sandbox, lamp_post["message_id"], "Godkjent</b> · av en moderator")

    statuses = [(i.status, i.decided_by) for i in await stored(db)]
    assert statuses == [
        (Status.REJECTED, loser),
        (Status.APPROVED, MATS),
        (Status.APPROVED, MONA),
    ]
    assert_no_identity(sandbox, GROUP)
    assert_no_identity(sandbox, MONA)


async def wait_until(check: Any, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait until ``await check()`` is true."""
    for _ in range(int(timeout / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_failed_post_is_retried_and_a_lost_group_forgotten(
    sandbox: Sandbox, moderation_bot: Sessions
) -> None:
    db = moderation_bot
    person(sandbox, ANNE)
    sandbox.add_group(GROUP, "Moderatorer", [ANNE])
    cursor = sandbox.cursor
    await sandbox.send_text(ANNE, "/moderationgroup", chat_id=GROUP)
    await sandbox.wait_for_message(GROUP, "modereringsgruppen", after=cursor)

    # Telegram fails once: the text is released, and posted with the next one.
    sandbox.inject_fault(method="sendMessage", chat_id=GROUP, status=500)
    before = sandbox.cursor
    await type_idea(await ready(db, sandbox, KARI), "Benker")

    async def failed() -> bool:
        return not sandbox.faults

    await wait_until(failed)
    cursor = sandbox.cursor
    await type_idea(await ready(db, sandbox, OLA), "Bord")
    # (The scheduler's tick may have posted it already; either way it is posted once.)
    await sandbox.wait_for_message(GROUP, "Benker", after=before)
    await sandbox.wait_for_message(GROUP, "Bord", after=cursor)
    assert sum("Benker" in (m.get("text") or "") for m in sandbox.messages(GROUP)) == 1

    async def recorded() -> bool:
        return all(i.group_message_id is not None for i in await stored(db))

    await wait_until(recorded)

    # The bot was removed from the group (403): the group is forgotten, texts wait for /review.
    sandbox.inject_fault(method="sendMessage", chat_id=GROUP, status=403)
    await type_idea(await ready(db, sandbox, EMMA), "Lys")

    async def forgotten() -> bool:
        return any(a == "moderation.group.lost" for _, a, _ in await moderation_log(db))

    await wait_until(forgotten)
    items = await stored(db)
    assert items[-1].posted_at is None
    assert await moderation_log(db) == [
        (ANNE, "moderation.group.register", None),
        (None, "moderation.group.lost", None),
    ]


# ---------------------------------------------------------------------------- flags for staff

SIV = 6_100_000_005  # staff
TOR = 6_100_000_006  # staff, reads English


async def test_a_flagged_text_reaches_every_staff_member_at_once_masked_with_a_way_to_act(
    sandbox: Sandbox, moderation_bot: Sessions
) -> None:
    db = moderation_bot
    async with db() as session:
        await grant(session, SIV, Role.STAFF, by=None, now=NOW)
        await grant(session, TOR, Role.STAFF, by=None, now=NOW)
        await record_privacy_decision(session, TOR, TOR, granted=True, language="en", now=NOW)
        await session.commit()
    siv, tor, anne = person(sandbox, SIV), person(sandbox, TOR, "en"), person(sandbox, ANNE)
    await type_idea(
        await ready(db, sandbox, KARI), "Jeg skal skade noen på Holmen i morgen, ring 998 87 766"
    )
    mona = person(sandbox, MONA)
    await mona.send("/review")
    await mona.expect("Tekst til vurdering")
    await mona.press("Send til de ansatte")

    # Every staff member (admins too) gets it through the outbox, in their own language.
    for staff in (siv, anne):
        message = await staff.expect("En moderator har sendt denne")
        assert "ring [telefonnummer]" in message["text"]
        assert "998 87 766" not in message["text"]
    english = await tor.expect("A moderator flagged this text for staff")
    assert "[phone number]" in english["text"]
    for chat in (SIV, TOR, ANNE):
        assert_no_identity(sandbox, chat)

    # The flag waits in /manage until someone deals with it.
    await siv.send("/manage")
    await siv.expect("1 tekst sendt til de ansatte")
    await siv.press("Tekster til de ansatte")
    await siv.expect("1 tekst sendt til de ansatte</b> venter:")
    await siv.press("Ferdig behandlet")
    await siv.expect("Ferdig behandlet</b> · av deg")
    # Another staff member's message is out of date: pressing it says so and changes nothing.
    await tor.press("Approve after all")
    await tor.expect("by another staff member")
    await siv.send("/manage")
    await siv.expect("Undersøkelser")
    assert "sendt til de ansatte" not in siv.texts()[-1]
    (item,) = await stored(db)
    assert item.status == Status.FLAGGED
    assert item.handled_by == SIV
    assert "moderation.flag.handled" in [action for _a, action, _d in await moderation_log(db)]
