"""Staff and moderators find their commands: their own menu, /help sections, a /start of theirs."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.menu import publish_commands
from models.roles import Role, grant
from tests.handlers.conftest import ADMIN_ID, NOW, Harness

Sessions = async_sessionmaker[AsyncSession]


def menu(harness: Harness, user_id: int) -> list[str]:
    """The commands in someone's own menu (empty: they see the citizens' menu)."""
    return [c["command"] for c in harness.sandbox.get_commands(f"chat:{user_id}")]


async def test_a_granted_role_brings_its_menu_and_a_revoked_one_takes_it_away(
    harness: Harness,
) -> None:
    admin = harness.citizen(ADMIN_ID)
    await harness.send(admin, "/grant 4242 staff")
    staff_menu = menu(harness, 4242)
    assert staff_menu[:3] == ["manage", "results", "export"]
    assert {"broadcast", "link", "newpoll", "consultations", "help"} <= set(staff_menu)
    assert "review" not in staff_menu
    assert "grant" not in staff_menu
    await harness.send(admin, "/grant 4242 moderator")
    assert "review" in menu(harness, 4242)
    await harness.send(admin, "/revoke 4242 staff")
    assert menu(harness, 4242)[0] == "review"
    assert "manage" not in menu(harness, 4242)
    await harness.send(admin, "/revoke 4242 moderator")
    assert menu(harness, 4242) == []  # the citizens' menu again


async def test_every_role_holder_gets_their_menu_when_the_bot_starts(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:  # granted from the command line
        await grant(session, 4300, Role.MODERATOR, by=None, now=NOW)
        await session.commit()
    await publish_commands(harness.app.bot, harness.runtime)
    assert menu(harness, 4300)[0] == "review"
    assert {"grant", "revoke", "manage", "review"} <= set(menu(harness, ADMIN_ID))
    # The descriptions are in the person's language (the default here).
    assert harness.sandbox.get_commands("chat:4300")[0]["description"].startswith("Vurder")


async def test_help_has_a_section_for_each_role(harness: Harness, sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        await grant(session, 4400, Role.STAFF, by=None, now=NOW)
        await grant(session, 4401, Role.MODERATOR, by=None, now=NOW)
        await session.commit()
    staff, moderator, citizen = (harness.citizen(i) for i in (4400, 4401, 4402))
    await harness.send(staff, "/help")
    assert "<b>For ansatte</b>" in harness.last(staff)
    assert "/link" in harness.last(staff)
    assert "For moderatorer" not in harness.last(staff)
    assert "/consultations" in harness.last(staff)  # what every resident can do, too
    await harness.send(moderator, "/help")
    assert "<b>For moderatorer</b>" in harness.last(moderator)
    assert "/review" in harness.last(moderator)
    assert "For ansatte" not in harness.last(moderator)
    await harness.send(citizen, "/help")
    assert "For ansatte" not in harness.last(citizen)
    assert "For moderatorer" not in harness.last(citizen)
    # A role given from the command line while the bot ran: /help brings the menu too.
    assert menu(harness, 4401)[0] == "review"


async def test_start_for_staff_is_not_the_new_residents_consent_notice(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await grant(session, 4500, Role.STAFF, by=None, now=NOW)
        await session.commit()
    staff = harness.citizen(4500)
    await harness.send(staff, "/start")
    welcome = harness.last(staff)
    assert "Her er kommandoene dine" in welcome
    assert "/manage" in welcome
    assert "Godtar du at vi lagrer" not in welcome
    assert menu(harness, 4500)[0] == "manage"
    # To answer as a resident, the notice is one press away.
    await harness.press(staff, "Delta som innbygger")
    assert "Godtar du at vi lagrer" in harness.last(staff)
    # A poster's link opens the consultation's way in, as for anyone.
    await harness.send(staff, "/start c_park")
    assert "Godtar du at vi lagrer" in harness.last(staff)
