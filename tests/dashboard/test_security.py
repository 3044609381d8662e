"""Who gets in, and what they may do: sessions, links, roles and CSRF on the dashboard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.signing import sign
from models.consultation import Consultation, find_consultation, import_consultation
from models.consultation_file import parse_consultation_file
from models.roles import AuditLog, Role, revoke
from tests.auxil.dashboard import Desk
from tests.dashboard.conftest import CITIZEN, MODERATOR, STAFF

pytestmark = pytest.mark.postgres

Sessions = async_sessionmaker[AsyncSession]
HOLMEN = Path(__file__).parents[2] / "examples" / "holmen-frivilligsentral.yaml"

# Every route, with what fills its placeholders; the login pages are the only open ones.
ROUTES = [
    ("GET", "/dashboard/"),
    ("GET", "/dashboard/consultations"),
    ("GET", "/dashboard/consultations/upload"),
    ("POST", "/dashboard/consultations/upload"),
    ("GET", "/dashboard/consultations/1"),
    ("POST", "/dashboard/consultations/1/open"),
    ("GET", "/dashboard/consultations/1/close"),
    ("POST", "/dashboard/consultations/1/close"),
    ("POST", "/dashboard/consultations/1/schedule"),
    ("GET", "/dashboard/consultations/1/qr.svg"),
    ("GET", "/dashboard/consultations/1/export?format=csv"),
    ("GET", "/dashboard/consultations/1/results"),
    ("GET", "/dashboard/broadcasts"),
    ("GET", "/dashboard/broadcasts/1/cancel-question"),
    ("POST", "/dashboard/broadcasts/1/cancel"),
    ("GET", "/dashboard/events"),
    ("GET", "/dashboard/events/1"),
    ("GET", "/dashboard/events/1/attendance.csv"),
    ("GET", "/dashboard/moderation"),
    ("POST", "/dashboard/moderation/decide"),
    ("POST", "/dashboard/moderation/undo"),
    ("POST", "/dashboard/moderation/skip"),
    ("GET", "/dashboard/admin/roles"),
    ("POST", "/dashboard/admin/roles/give"),
    ("POST", "/dashboard/admin/roles/take"),
    ("GET", "/dashboard/admin/audit"),
    ("POST", "/dashboard/logout"),
    ("POST", "/dashboard/language"),
]


async def _holmen(sessionmaker: Sessions) -> int:
    async with sessionmaker() as session, session.begin():
        spec = parse_consultation_file(HOLMEN.read_bytes())
        stored, _ = await import_consultation(session, spec)
        return stored.id or 0


def test_every_route_of_the_dashboard_is_in_this_list(desk: Desk) -> None:
    app = desk.client.server.app._subapps[0]  # type: ignore[attr-defined]
    routes = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    listed = {(method, path.split("?")[0]) for method, path in ROUTES}
    public = {("GET", "/dashboard/login"), ("POST", "/dashboard/login")}
    static = {r for r in routes if "static" in r[1] or "vendor" in r[1]}
    canonical = {
        (m, p.replace("{id}", "1").replace("{change}", "give")) for m, p in routes - static
    }
    unlisted = {
        r for r in canonical if r not in listed and r not in public and "{action}" not in r[1]
    }
    assert unlisted == set()


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_no_page_or_endpoint_answers_without_a_session(
    desk: Desk, sessionmaker: Sessions, method: str, path: str
) -> None:
    await _holmen(sessionmaker)
    response = await desk.client.request(method, path, allow_redirects=False)
    assert response.status in (303, 401), (method, path, response.status)
    if response.status == 303:
        assert response.headers["Location"].startswith("/dashboard/login")
    async with sessionmaker() as session:
        holmen = await find_consultation(session, "holmen-frivilligsentral")
        assert holmen is not None
        assert holmen.status == "draft"


async def test_a_login_link_works_once(desk: Desk) -> None:
    link = await desk.link(STAFF)
    page = await (await desk.client.get(link)).text()
    assert "Log in" in page
    assert 'name="t"' in page
    first = await desk.use(link)
    assert first.status == 200
    assert "Consultations" in await first.text()
    desk.client.session.cookie_jar.clear()
    again = await desk.use(link)
    assert "cannot be used" in await again.text()
    assert "Consultations" not in await (await desk.client.get("/dashboard/")).text()


async def test_an_expired_or_forged_link_opens_nothing(desk: Desk) -> None:
    link = await desk.link(STAFF)
    desk.now += timedelta(minutes=11)
    assert "cannot be used" in await (await desk.use(link)).text()
    desk.now -= timedelta(minutes=11)
    fresh = await desk.link(STAFF)
    token = fresh.split("t=", 1)[1]
    login_id, expiry, _mac = token.split(".")
    forged = [
        f"{login_id}.{int(expiry) + 3600}.{_mac}",  # a longer life
        f"{login_id[:-1]}x.{expiry}.{_mac}",  # another login
        sign(b"not-the-secret", login_id, desk.now + timedelta(minutes=5)),
    ]
    for token in forged:
        page = await desk.client.post("/dashboard/login", data={"t": token})
        assert "cannot be used" in await page.text()
    assert (await desk.use(fresh)).status == 200  # the real one still works


async def test_a_session_ends_when_idle_and_on_log_out(desk: Desk) -> None:
    csrf = await desk.log_in(STAFF)
    desk.now += timedelta(minutes=31)
    page = await desk.client.get("/dashboard/consultations")
    assert "Your session has ended" in await page.text()
    desk.now += timedelta(minutes=1)
    csrf = await desk.log_in(STAFF)
    out = await desk.client.post("/dashboard/logout", data={"csrf": csrf})
    assert "You are logged out" in await out.text()
    again = await desk.client.get("/dashboard/consultations", allow_redirects=False)
    assert again.status == 303


async def test_a_state_change_without_the_csrf_token_is_refused(
    desk: Desk, sessionmaker: Sessions
) -> None:
    consultation_id = await _holmen(sessionmaker)
    csrf = await desk.log_in(STAFF)
    url = f"/dashboard/consultations/{consultation_id}/open"
    for data, headers in [
        ({}, {}),
        ({"csrf": "guessed"}, {}),
        ({"csrf": csrf}, {"Origin": "https://evil.example"}),
    ]:
        refused = await desk.client.post(url, data=data, headers=headers)
        assert refused.status == 403
        assert "Nothing was changed" in await refused.text()
    async with sessionmaker() as session:
        assert (await session.get(Consultation, consultation_id)).status == "draft"  # type: ignore[union-attr]
    done = await desk.client.post(url, headers={"X-CSRF-Token": csrf})
    assert done.status == 200
    async with sessionmaker() as session:
        assert (await session.get(Consultation, consultation_id)).status == "open"  # type: ignore[union-attr]
        lines = (await session.exec(select(AuditLog.action, AuditLog.actor))).all()
    assert ("consultation.open", STAFF) in lines


async def test_a_moderator_cannot_reach_staff_pages_and_is_audited(
    desk: Desk, sessionmaker: Sessions
) -> None:
    await desk.log_in(MODERATOR)
    for path in ["/dashboard/consultations", "/dashboard/admin/roles", "/dashboard/broadcasts"]:
        page = await desk.client.get(path)
        assert page.status == 403
        assert "not for your role" in await page.text()
    assert (await desk.client.get("/dashboard/moderation")).status == 200
    async with sessionmaker() as session:
        denied = (
            await session.exec(select(AuditLog.target).where(AuditLog.action == "denied"))
        ).all()
    assert "dashboard.consultations" in denied


async def test_staff_do_not_moderate_and_citizens_get_no_session(desk: Desk) -> None:
    await desk.log_in(STAFF)
    assert (await desk.client.get("/dashboard/moderation")).status == 403
    desk.client.session.cookie_jar.clear()
    refused = await desk.use(await desk.link(CITIZEN))
    assert "cannot be used" in await refused.text()


async def test_a_revoked_role_takes_effect_on_the_next_request(
    desk: Desk, sessionmaker: Sessions
) -> None:
    await desk.log_in(STAFF)
    assert (await desk.client.get("/dashboard/consultations")).status == 200
    async with sessionmaker() as session, session.begin():
        await revoke(session, STAFF, Role.STAFF, by=None, now=desk.now)
    page = await desk.client.get("/dashboard/consultations")
    assert "no longer have a role" in await page.text()
    again = await desk.client.get("/dashboard/", allow_redirects=False)
    assert again.status == 303  # the session ended with the role
