"""Volunteering through ``process_update``: residents' profiles, coordinators' needs, sign-up.

Outbox rows (the invitations, reminders, thanks) are sent here as the delivery worker sends
them: the same Bot API request (``bot.delivery.outbox_request``) to the sandbox.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.delivery import BotApi, outbox_request
from handlers.views.volunteer import NeedTexts
from models import matching, needs
from models.centres import make_coordinator
from models.matching import Matching
from models.needs import Need, NeedState, Signup
from models.outbox import Delivery, DeliveryState
from models.participant import Consent, Participant, find_participant
from models.roles import AuditLog
from models.volunteers import VOLUNTEER, VolunteerChoice, VolunteerProfile
from tests.auxil.citizen import Citizen
from tests.auxil.volunteers import Profile, a_need, add_centres, add_volunteers
from tests.handlers.conftest import NOW, Harness

Sessions = async_sessionmaker[AsyncSession]
HOLMEN_NORA = 9301  # coordinator of Holmen
SENTRUM_SIV = 9302  # coordinator of Sentrum
NEEDS_FILE = Path(__file__).parents[2] / "examples" / "needs.yaml"


async def _centres(sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        await add_centres(session, NOW)
        await make_coordinator(session, HOLMEN_NORA, ["holmen"], by=None, now=NOW)
        await make_coordinator(session, SENTRUM_SIV, ["sentrum"], by=None, now=NOW)
        await session.commit()


async def _send_outbox(harness: Harness, sessionmaker: Sessions) -> int:
    """Send every due outbox row as the delivery worker would; how many."""
    async with sessionmaker() as session:
        rows = (
            await session.exec(
                select(Delivery, Participant)
                .join(Participant, col(Participant.id) == col(Delivery.participant_id))
                .where(
                    col(Delivery.state) == DeliveryState.PENDING,
                    col(Delivery.due_at) <= harness.now,
                )
                .order_by(col(Delivery.due_at), col(Delivery.id))
            )
        ).all()
        api = BotApi(f"{harness.sandbox.url}/bot", harness.sandbox.token)
        try:
            for delivery, person in rows:
                assert delivery.payload is not None
                result = await api.call(*outbox_request(person.chat_id, delivery.payload))
                assert result.ok, result.description
                delivery.state = DeliveryState.SENT
        finally:
            await api.close()
        await session.commit()
    return len(rows)


async def _published(harness: Harness, sessionmaker: Sessions, places: int = 2) -> int:
    """A need of Holmen a week ahead, by its coordinator, published and sent; its id."""
    async with sessionmaker() as session:
        centres = await add_centres(session, NOW)
        holmen = centres["holmen"]
        need = a_need(holmen, NOW + timedelta(days=8), created_by=HOLMEN_NORA, places=places)
        session.add(need)
        await session.flush()
        texts = NeedTexts("Europe/Oslo", {holmen.id or 0: holmen})
        await matching.publish(session, need, Matching(NOW, "Europe/Oslo", 3), texts, "nb")
        await session.commit()
    await _send_outbox(harness, sessionmaker)
    return need.id or 0


async def _consented(harness: Harness, user_id: int) -> Citizen:
    person = harness.citizen(user_id, "en")
    await harness.send(person, "/start")
    await harness.press(person, "Yes, I agree")
    return person


async def _participant(sessionmaker: Sessions, user_id: int) -> Participant:
    async with sessionmaker() as session:
        found = await find_participant(session, user_id)
        assert found is not None
        return found


async def _volunteer(harness: Harness, user_id: int) -> Citizen:
    """A resident who made a profile by hand: transport, in Holmen, weekends, Norwegian."""
    person = await _consented(harness, user_id)
    await harness.send(person, "/volunteer")
    await harness.press(person, "Yes, make my profile")
    await harness.press(person, "Transport")
    await harness.press(person, "Next")
    await harness.press(person, "Holmen")
    await harness.press(person, "Next")
    await harness.press(person, "Weekends")
    await harness.press(person, "Next")
    await harness.press(person, "norsk")
    await harness.press(person, "Done")
    return person


async def test_a_resident_volunteers_from_a_centre_link_and_ends_it_any_time(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _centres(sessionmaker)
    kari = harness.citizen(7801, "en")
    await harness.send(kari, "/start v_holmen__library")
    assert "Before we start" in harness.last(kari)
    await harness.press(kari, "Yes, I agree")
    intro = harness.last(kari)
    assert intro.startswith("👋 <b>Holmen volunteer centre</b> is looking for volunteers.")
    assert "What we store for this" in intro
    async with sessionmaker() as session:
        assert (await session.exec(select(VolunteerProfile))).all() == []  # not before a yes
    await harness.press(kari, "Yes, make my profile")
    assert "<b>What you like to do</b>" in harness.last(kari)
    await harness.press(kari, "Transport")
    assert "✅ Transport" in kari.buttons()
    await harness.press(kari, "Homework help")
    await harness.press(kari, "Transport")  # and untick it again
    assert "▫️ Transport" in kari.buttons()
    await harness.press(kari, "Next")
    await harness.press(kari, "Sentrum")
    await harness.press(kari, "Next")
    await harness.press(kari, "Weekday evenings")
    await harness.press(kari, "Next")
    await harness.press(kari, "polski")
    await harness.press(kari, "Done")
    card = harness.last(kari)
    assert "<b>What you like to do</b>: Homework help" in card
    assert "<b>Where you can help</b>: Sentrum" in card
    assert "<b>When you can help</b>: Weekday evenings" in card
    assert "<b>Languages you speak</b>: polski" in card
    assert "You get requests that fit this." in card
    pid = (await _participant(sessionmaker, 7801)).id
    assert (await _participant(sessionmaker, 7801)).source == "library"

    # /mydata shows the profile and its consent.
    await harness.send(kari, "/mydata")
    document = harness.sandbox.messages(7801)[-1]["document"]
    data = json.loads(harness.sandbox.file_content(document["file_id"]))
    records = data["all records"]
    assert {c["value"] for c in records["volunteer_choice"]} == {
        "homework",
        "Sentrum",
        "evening",
        "pl",
    }
    assert [c["kind"] for c in records["consent"]] == ["privacy", "volunteer"]

    # Ended any time: the profile goes, the consent is withdrawn.
    await harness.send(kari, "/volunteer")
    await harness.press(kari, "End volunteering")
    assert harness.last(kari).startswith("End volunteering?")
    await harness.press(kari, "Yes, end it")
    assert "your volunteer profile is deleted" in harness.last(kari)
    async with sessionmaker() as session:
        assert (await session.exec(select(VolunteerProfile))).all() == []
        assert (await session.exec(select(VolunteerChoice))).all() == []
        consent = (
            await session.exec(
                select(Consent).where(Consent.participant_id == pid, Consent.kind == VOLUNTEER)
            )
        ).one()
        assert consent.withdrawn_at == NOW
    # A stale button of the ended profile changes nothing and says so.
    await harness.press_data(kari, "vp:tag:homework")
    assert "You have no volunteer profile" in harness.last(kari)


async def test_profile_buttons_that_cannot_work_are_answered_and_change_nothing(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _centres(sessionmaker)
    stranger = harness.citizen(7811, "en")
    await harness.send(stranger, "/volunteer")
    assert "First, please read and accept the privacy notice" in harness.last(stranger)
    await harness.send(stranger, "/start v_nowhere")
    assert harness.new_texts(stranger)[0].startswith("I could not find that volunteer centre")
    person = await _volunteer(harness, 7812)
    for forged in ("vp:tag:gardening", "vp:district:ffffffff", "vp:colour:", "vc:7:0"):
        assert "does not work" in await harness.press_data(person, forged)
    async with sessionmaker() as session:
        values = (await session.exec(select(VolunteerChoice.value))).all()
        assert sorted(values) == ["Holmen", "no", "transport", "weekend"]


async def test_a_coordinator_creates_a_need_and_the_matching_volunteers_are_invited(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _centres(sessionmaker)
    await _volunteer(harness, 7821)
    async with sessionmaker() as session:
        await add_volunteers(session, [7822], Profile(tags=("homework",)))
        await session.commit()
    nora = harness.citizen(HOLMEN_NORA, "en")
    await harness.send(nora, "/needs")
    assert "No needs yet." in harness.last(nora)
    await harness.press(nora, "New need for Holmen")
    assert "<b>New need</b> for Holmen volunteer centre." in harness.last(nora)
    await harness.send(nora, "x" * 101)
    assert harness.new_texts(nora)[0].startswith("That is too long: at most 100 characters.")
    await harness.send(nora, "Two drivers for the repair café")
    await harness.send(nora, "Drive elderly people there and back.")
    await harness.press(nora, "+ Norsk bokmål")
    await harness.send(nora, "To sjåfører til reparasjonskafeen")
    await harness.press(nora, "Skip")
    await harness.press(nora, "Next")
    assert await harness.press(nora, "Next") == "Choose at least one tag of the centre."
    await harness.press(nora, "Transport")
    await harness.press(nora, "Next")
    await harness.press(nora, "Holmen")
    await harness.send(nora, "14.01.2027 10:00")
    assert harness.new_texts(nora)[0] == "That time has passed. Please write a later one."
    await harness.send(nora, "23.01 10:00-14:00")  # a Saturday
    await harness.send(nora, "0")
    assert harness.new_texts(nora)[0] == "Write a number from 1 to 100."
    await harness.send(nora, "2")
    await harness.press(nora, "No, any language")
    texts = harness.new_texts(nora)
    assert "1 volunteer matches: they get this invitation" in texts[-1]
    assert "Two drivers for the repair café" in texts[-2]
    await harness.press(nora, "Send to 1 volunteer")
    assert "Invited: 1 · 0 of 2 filled" in harness.last(nora)
    async with sessionmaker() as session:
        need = (await session.exec(select(Need))).one()
        assert need.title == {
            "en": "Two drivers for the repair café",
            "nb": "To sjåfører til reparasjonskafeen",
        }
        assert (need.state, need.tags, need.invited) == (NeedState.OPEN, ["transport"], 1)
        audit = await session.exec(select(AuditLog.action).where(AuditLog.actor == HOLMEN_NORA))
        assert "need.publish" in audit.all()
    assert await _send_outbox(harness, sessionmaker) == 1
    volunteer = harness.sandbox.messages(7821)[-1]["text"]
    assert volunteer.startswith("🙋 <b>Holmen volunteer centre</b> asks for your help:")
    assert harness.sandbox.messages(7822) == []  # homework only: not asked


async def test_contact_details_reach_the_coordinator_only_after_a_yes_and_an_explicit_share(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _centres(sessionmaker)
    ana = await _volunteer(harness, 7831)
    bo = await _volunteer(harness, 7832)
    nid = await _published(harness, sessionmaker, places=1)
    nora = harness.citizen(HOLMEN_NORA, "en")
    siv = harness.citizen(SENTRUM_SIV, "en")

    # Before a yes there is nothing to share.
    assert await harness.press_data(ana, f"ns:{nid}:name") == (
        "Say yes first; then you can choose what to share."
    )
    assert await harness.press(ana, "Yes, I can help") == "Thank you! You have a place."
    card = harness.last(ana)
    assert "you have a place" in card
    assert "May they see your first name and how to reach you?" in card
    await harness.send(nora, "/needs")
    await harness.press(nora, "Drive to the repair café")
    assert "Nobody has shared yet." in harness.last(nora)
    assert "1 more person said yes without sharing" in harness.last(nora)

    await harness.press(ana, "Share my name and Telegram username")
    assert "The centre sees: Person7831." in harness.last(ana)
    assert await harness.press(bo, "Yes, I can help") == "It is full: you are on the waiting list."
    await harness.press(bo, "Type a phone number")
    await harness.send(bo, "call me maybe")
    assert harness.last(bo).startswith("That does not look like a phone number.")
    await harness.send(bo, "912 34 567")
    assert "can now see your first name and 91234567" in harness.last(bo)

    await harness.press(nora, "🔄")
    page = harness.last(nora)
    assert "• Person7831" in page
    assert "• Person7832, 91234567 (waiting list)" in page
    # A coordinator of another centre sees nothing of it, not even that it exists.
    await harness.send(siv, "/needs")
    assert "Drive to the repair café" not in harness.last(siv)
    assert await harness.press_data(siv, f"nx:{nid}:show") == "That need no longer exists."
    assert "Person7831" not in "".join(siv.texts())
    # A resident is not a coordinator.
    await harness.send(ana, "/needs")
    assert "I do not know that command" in harness.last(ana)
    assert "does not work" in await harness.press_data(ana, f"nx:{nid}:show")

    # Ana cannot come after all: Bo has the place now, and Ana's name is gone.
    await harness.press(ana, "I cannot come after all")
    await harness.press(nora, "🔄")
    page = harness.last(nora)
    assert "Person7831" not in page
    assert "• Person7832, 91234567" in page
    await _send_outbox(harness, sessionmaker)
    assert "A place came free: you have it now." in harness.last(bo)


async def test_delete_removes_the_volunteer_profile_and_every_sign_up(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _centres(sessionmaker)
    ana = await _volunteer(harness, 7841)
    nid = await _published(harness, sessionmaker)
    await harness.press(ana, "Yes, I can help")
    await harness.press(ana, "Share my name")
    await harness.send(ana, "/delete")
    await harness.press(ana, "Yes, delete everything")
    async with sessionmaker() as session:
        assert (await session.exec(select(VolunteerProfile))).all() == []
        assert (await session.exec(select(Signup))).all() == []
        pending = await session.exec(
            select(Delivery).where(col(Delivery.state) == DeliveryState.PENDING)
        )
        assert pending.all() == []
        assert (await needs.counts(session, nid)).yes == 0
