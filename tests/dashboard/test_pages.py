"""Staff pages driven over HTTP: upload, schedule, results with filters, exports."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import FormData
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.i18n import language
from handlers.views.manage import results_text
from models import outbox
from models.consultation import find_consultation
from models.response import find_response
from models.results import consultation_results
from models.roles import AuditLog
from tests.auxil.answers import IDEA_ADA, build_sample
from tests.auxil.broadcasts import confirmed_broadcast
from tests.auxil.consultations import EVERY_TYPE, add_consultation
from tests.auxil.dashboard import Desk
from tests.auxil.people import add_people
from tests.dashboard.conftest import ADMIN, STAFF

pytestmark = pytest.mark.postgres

Sessions = async_sessionmaker[AsyncSession]
HOLMEN = Path(__file__).parents[2] / "examples" / "holmen-frivilligsentral.yaml"
BROKEN = b"slug: Not A Slug\ntitle: x\nquestions:\n  - {id: q, type: single_choice, text: Hva?}\n"


def _file(csrf: str, content: bytes, name: str = "file.yaml") -> FormData:
    form = FormData()
    form.add_field("csrf", csrf)
    form.add_field("file", content, filename=name, content_type="application/yaml")
    return form


async def test_an_uploaded_file_is_checked_saved_as_draft_and_previewed(
    desk: Desk, sessionmaker: Sessions
) -> None:
    csrf = await desk.log_in(STAFF)
    refused = await desk.client.post("/dashboard/consultations/upload", data=_file(csrf, BROKEN))
    page = await refused.text()
    assert refused.status == 400
    assert "The file was not saved" in page
    assert "slug" in page
    saved = await desk.client.post(
        "/dashboard/consultations/upload", data=_file(csrf, HOLMEN.read_bytes())
    )
    page = await saved.text()
    assert saved.status == 200, page
    assert "Saved as a draft: holmen-frivilligsentral" in page
    assert "Preview in Bokmål" in page
    assert "Preview in English" in page
    assert '<div class="message" lang="en">' in page  # read out in English by screen readers
    async with sessionmaker() as session:
        stored = await find_consultation(session, "holmen-frivilligsentral")
    assert stored is not None
    assert stored.status == "draft"


async def test_results_are_those_of_chat_and_narrow_by_source_and_language(
    desk: Desk, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        sample = await build_sample(session)
        # Ada answered in English, everyone else in Bokmål (the park's first language).
        ada = await find_response(session, sample.people["ada"], sample.park_id)
        assert ada is not None
        ada.language = "en"
        await session.commit()
    await desk.log_in(STAFF)
    url = f"/dashboard/consultations/{sample.park_id}/results"
    everyone = await (await desk.client.get(url)).text()
    async with sessionmaker() as session:
        counted = await consultation_results(session, sample.park_id)
    assert counted is not None
    with language("en"):
        chat = results_text(counted)
    assert "5 started, 3 completed (60 %)" in chat
    assert "5 started, 3 completed (60 %)" in everyone
    poster = await (await desk.client.get(url, params={"source": "poster"})).text()
    assert "2 started, 2 completed (100 %)" in poster
    direct = await (await desk.client.get(url, params={"source": "direct"})).text()
    assert "2 started, 1 completed (50 %)" in direct
    english = await (await desk.client.get(url, params={"language": "en"})).text()
    assert "1 started, 1 completed (100 %)" in english
    bokmal = await (await desk.client.get(url, params={"language": "nb"})).text()
    assert "4 started, 2 completed (50 %)" in bokmal
    assert IDEA_ADA in everyone  # approved, shown to staff
    assert IDEA_ADA in english
    assert IDEA_ADA not in bokmal  # Ada answered in English
    found = await (await desk.client.get(url, params={"q": "grill"})).text()
    assert IDEA_ADA in found
    assert "Texts 1 to 1" in found
    nothing = await (await desk.client.get(url, params={"q": "sykkel"})).text()
    assert "No texts here." in nothing


async def test_a_schedule_opens_and_closes_by_itself_and_a_wrong_one_is_refused(
    desk: Desk, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        park = await add_consultation(session, EVERY_TYPE, publish=False)
    csrf = await desk.log_in(STAFF)
    url = f"/dashboard/consultations/{park.id}/schedule"
    wrong = await desk.client.post(
        url, data={"csrf": csrf, "opens": "2027-02-01T08:00", "closes": "2027-01-20T08:00"}
    )
    assert "must be after the opening time" in await wrong.text()
    done = await desk.client.post(
        url, data={"csrf": csrf, "opens": "2027-02-01T08:00", "closes": "2027-02-10T23:59"}
    )
    page = await done.text()
    assert "opens 1 Feb 08:00 (Norwegian time)" in page  # local time, as in chat
    async with sessionmaker() as session:
        stored = await find_consultation(session, park.slug)
    assert stored is not None
    assert stored.status == "open"
    assert stored.closes_at is not None
    assert stored.closes_at.hour == 22  # 23:59 in Oslo is 22:59 UTC


async def test_staff_pause_and_cancel_a_broadcast_and_follow_its_numbers(
    desk: Desk, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_people(session, [8801, 8802, 8803])
        await session.commit()
    broadcast_id = await confirmed_broadcast(
        sessionmaker, desk.now, text={"nb": "Møte <b>i kveld</b>"}
    )
    async with sessionmaker() as session, session.begin():
        found = await session.get(outbox.Broadcast, broadcast_id)
        assert found is not None
        await outbox.start_due(session, desk.now)
    csrf = await desk.log_in(STAFF)
    rows = await (await desk.client.get("/dashboard/broadcasts?rows=1")).text()
    assert "Møte i kveld" in rows
    assert "<html" not in rows  # only the rows, for the live update
    paused = await desk.client.post(
        f"/dashboard/broadcasts/{broadcast_id}/pause", data={"csrf": csrf}
    )
    assert "Resume" in await paused.text()
    question = await desk.client.get(f"/dashboard/broadcasts/{broadcast_id}/cancel-question")
    assert "Cancel the broadcast?" in await question.text()
    await desk.client.post(f"/dashboard/broadcasts/{broadcast_id}/cancel", data={"csrf": csrf})
    async with sessionmaker() as session:
        cancelled = await session.get(outbox.Broadcast, broadcast_id)
        actions = (await session.exec(select(AuditLog.action))).all()
    assert cancelled is not None
    assert cancelled.state == "cancelled"
    assert {"broadcast.pause", "broadcast.cancel"} <= set(actions)


async def test_admins_read_the_audit_log_filtered(desk: Desk) -> None:
    await desk.log_in(STAFF)
    desk.client.session.cookie_jar.clear()
    await desk.log_in(ADMIN)
    page = await (
        await desk.client.get("/dashboard/admin/audit", params={"action": "dashboard.login"})
    ).text()
    assert page.count("<code>dashboard.login</code>") == 2
    mine = await (
        await desk.client.get("/dashboard/admin/audit", params={"actor": str(STAFF)})
    ).text()
    assert mine.count("<code>dashboard.login</code>") == 1
