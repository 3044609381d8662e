"""``/dashboard`` in chat, and the dashboard beside the chat on one database."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import callbacks as cb
from models.moderation import ModerationItem, Status
from models.roles import AuditLog, Role, grant
from tests.auxil.consultations import add_consultation
from tests.auxil.dashboard import CSRF, dashboard_client
from tests.auxil.ideas import IDEAS, write_idea
from tests.handlers.conftest import NOW, Harness
from tests.handlers.test_staff import UNKNOWN_COMMAND

Sessions = async_sessionmaker[AsyncSession]
SIRI, MATS, MONA, KARI = 9301, 9302, 9303, 9304
LINK = re.compile(r"(http://dashboard\.test/dashboard/login\?t=[^\s\"<]+)")


async def _roles(sessionmaker: Sessions) -> None:
    async with sessionmaker() as session, session.begin():
        await grant(session, SIRI, Role.STAFF, by=None, now=NOW)
        await grant(session, MATS, Role.MODERATOR, by=None, now=NOW)
        await grant(session, MONA, Role.MODERATOR, by=None, now=NOW)


async def test_staff_and_moderators_get_a_login_link_and_citizens_an_unknown_command(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _roles(sessionmaker)
    kari, siri, mats = harness.citizen(KARI), harness.citizen(SIRI), harness.citizen(MATS)
    await harness.send(siri, "/dashboard")
    assert "ikke slått på" in harness.last(siri)  # no dashboard served by this bot yet
    async with dashboard_client(sessionmaker, runtime=harness.runtime) as desk:
        await harness.send(kari, "/dashboard")
        assert UNKNOWN_COMMAND in harness.last(kari)
        for person in (siri, mats):
            await harness.send(person, "/dashboard")
            found = LINK.search(harness.last(person))
            assert found is not None, harness.last(person)
            assert "10 minutter" in harness.last(person)
            path = found.group(1).replace("&amp;", "&").removeprefix("http://dashboard.test")
            page = await desk.use(path)
            assert "Logg ut" in await page.text()  # in Bokmål, the default language
            desk.client.session.cookie_jar.clear()
    async with sessionmaker() as session:
        denied = (
            await session.exec(select(AuditLog.actor).where(AuditLog.action == "denied"))
        ).all()
    assert KARI in denied


async def test_a_moderator_in_chat_and_one_on_the_dashboard_store_one_decision(
    harness: Harness, sessionmaker: Sessions
) -> None:
    await _roles(sessionmaker)
    async with sessionmaker() as session:
        ideas = await add_consultation(session, IDEAS)
        await write_idea(session, ideas, 7301, "Flere benker ved vannet", NOW)
    mona = harness.citizen(MONA)
    async with dashboard_client(sessionmaker, runtime=harness.runtime) as desk:
        await desk.log_in(MATS)
        page = await (await desk.client.get("/dashboard/moderation")).text()
        assert "Flere benker ved vannet" in page
        csrf = CSRF.search(page).group(1)  # type: ignore[union-attr]
        async with sessionmaker() as session:
            (item,) = (await session.exec(select(ModerationItem))).all()
        # The text is Mats's (reserved for his review), so Mona presses its group button.
        await harness.send(mona, "/review")
        pressed = await mona.press_data(cb.Moderate(item.id or 0, item.version, "flag").pack())
        updates = await harness.app.bot.get_updates(offset=harness.offset, timeout=0)
        harness.offset = updates[-1].update_id + 1
        form = {"csrf": csrf, "item": str(item.id), "version": str(item.version)}
        _chat, web = await asyncio.gather(
            harness.app.process_update(updates[0]),
            desk.client.post("/dashboard/moderation/decide", data={**form, "choice": "approve"}),
        )
        answer = await web.text()
        toast = await mona.notice(pressed, timeout=2)
    async with sessionmaker() as session:
        (item,) = (await session.exec(select(ModerationItem))).all()
        decisions = (
            await session.exec(
                select(AuditLog.action).where(AuditLog.action.startswith("moderation."))  # type: ignore[attr-defined]
            )
        ).all()
    assert len(decisions) == 1
    if item.status == Status.APPROVED:
        assert "allerede avgjort" in toast
        assert "Godkjent" in answer
    else:
        assert item.status == Status.FLAGGED
        assert "En annen moderator har allerede avgjort" in answer
