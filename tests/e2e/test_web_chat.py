"""The residents' web chat over real HTTP: the real bot, the web channel alone (no token).

Each resident is a browser of their own (cookie jar), posting the page's forms as a person
does, with htmx's fragments or, without JavaScript, form posts and redirects.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func
from sqlmodel import select

from bot.db import create_engine, create_sessionmaker, upgrade
from bot.settings import Settings
from bot.web import create_web_app
from models.answers import Answer, Response
from models.base import utcnow
from models.consultation import Status, change_status, find_consultation
from models.followups import new_outcome_draft, publish_outcome
from models.participant import Participant
from models.webchat import WebMessage, WebRequest
from tests.auxil.consultations import add_consultation
from tests.auxil.web import WebResident

pytestmark = pytest.mark.postgres


@dataclass
class WebChat:
    """A running web chat: its address and the database behind it."""

    base: str
    settings: Settings

    async def count(self, model: type, *where: object) -> int:
        engine = create_engine(self.settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                statement = select(func.count()).select_from(model)
                for condition in where:
                    statement = statement.where(condition)  # type: ignore[arg-type]
                return int((await session.exec(statement)).one())
        finally:
            await engine.dispose()


Starter = Callable[..., Awaitable[WebChat]]


@pytest.fixture
def web_settings(empty_database_url: str) -> Settings:
    """The web chat alone: no bot token, no quiet hours (follow-ups go out at once)."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=empty_database_url,
        web_channel=True,
        quiet_hours="off",
        web_contact="Servicetorget, 12 34 56 78",
    )


@pytest.fixture
async def start_web(web_settings: Settings) -> AsyncIterator[Starter]:
    """Start (and, when asked again, restart) the web chat on a free port, on one database."""
    servers: list[TestServer] = []
    engine = create_engine(web_settings.database_url)
    await upgrade(engine)
    async with create_sessionmaker(engine)() as session:
        await add_consultation(session)
    await engine.dispose()

    async def start(**changes: object) -> WebChat:
        settings = web_settings.model_copy(update=changes)
        server = TestServer(create_web_app(settings))
        await server.start_server()
        servers.append(server)
        return WebChat(str(server.make_url("")).rstrip("/"), settings)

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def browsers() -> AsyncIterator[Callable[..., WebResident]]:
    """Residents, each a browser with cookies of its own."""
    opened: list[WebResident] = []

    def browser(chat: WebChat, **options: object) -> WebResident:
        resident = WebResident(chat.base, **options)  # type: ignore[arg-type]
        opened.append(resident)
        return resident

    yield browser
    for resident in opened:
        await resident.close()


async def _consent_and_open_park(kari: WebResident) -> None:
    await kari.open("/c/park?src=plakat")
    assert kari.status == 200
    await kari.start()
    assert "Før vi begynner" in kari.last()
    await kari.press("Ja, jeg godtar")
    assert "1/5" in kari.last()


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-javascript"])
async def test_a_resident_answers_every_question_type_and_comes_back(
    start_web: Starter, browsers: Callable[..., WebResident], htmx: bool
) -> None:
    chat = await start_web()
    kari = browsers(chat, htmx=htmx)
    await _consent_and_open_park(kari)
    await kari.press("Ofte")
    assert "2/5" in kari.last()
    # The press's toast shows under the conversation, not as a line below the next question.
    assert '<div id="toast"' in kari.html
    assert "✓ Ofte" in kari.html
    assert not any("✓ Ofte" in text for text in kari.texts())
    await kari.press("Leke")
    await kari.press("Idrett")
    assert "☑️ Idrett" in kari.chat()[-1].buttons
    await kari.press("Ferdig")
    assert "3/5" in kari.last()
    await kari.send("4")  # a typed digit for a scale
    assert "4/5" in kari.last()
    await kari.press("◀")  # back
    assert "3/5" in kari.last()
    await kari.press("4")
    await kari.press("Ja")
    assert "5/5" in kari.last()
    # Pause, and come back in the same browser later.
    await kari.menu("Ta en pause")
    await kari.open("/chat")
    assert "5/5" in "\n".join(kari.texts())
    await kari.open("/c/park")
    await kari.start()
    assert "Velkommen tilbake" in "\n".join(kari.texts()[-2:])
    await kari.send("Benker og <b>grill</b>")
    assert "Takk" in "\n".join(kari.texts())
    summary = kari.chat()[-1]
    assert "Benker og <b>grill</b>" in summary.text  # shown as typed, never as markup
    assert await chat.count(Answer) == 5
    assert await chat.count(Participant, Participant.channel == "web") == 1

    # Someone else's browser is someone else: an empty chat.
    ola = browsers(chat, htmx=htmx)
    await ola.open("/chat")
    assert ola.chat() == []


async def test_typed_markup_is_shown_as_text(
    start_web: Starter, browsers: Callable[..., WebResident]
) -> None:
    chat = await start_web()
    kari = browsers(chat)
    await kari.open("/chat")
    await kari.start()
    await kari.send('<script>alert("x")</script><img src=x onerror=alert(1)>')
    await kari.open("/chat")
    assert "<script>alert" not in kari.html
    assert "<img src=x" not in kari.html
    assert '&lt;script&gt;alert("x")&lt;/script&gt;' in kari.html


async def test_one_session_answers_a_consultation_once(
    start_web: Starter, browsers: Callable[..., WebResident]
) -> None:
    chat = await start_web()
    kari = browsers(chat, htmx=True)
    await _consent_and_open_park(kari)
    await kari.open("/c/park?src=bibliotek")
    await kari.start()
    await kari.open("/c/park")
    await kari.start()
    assert await chat.count(Response) == 1


async def test_the_same_form_sent_twice_counts_once(
    start_web: Starter, browsers: Callable[..., WebResident]
) -> None:
    chat = await start_web()
    kari = browsers(chat)
    await _consent_and_open_park(kari)
    form = next(f for f in kari.chat()[-1].forms)
    data = {**form.fields, "button": "2.0"}  # "Aldri": a double click
    async with kari.http.post(chat.base + form.action, data=data) as first:
        assert first.status == 200
    async with kari.http.post(chat.base + form.action, data=data) as second:
        assert second.status == 200
        assert "Det er sendt allerede" in await second.text()
    assert await chat.count(Answer) == 1


async def test_a_forged_or_missing_cookie_gets_a_new_session_never_someone_elses(
    start_web: Starter, browsers: Callable[..., WebResident]
) -> None:
    chat = await start_web()
    kari = browsers(chat)
    await _consent_and_open_park(kari)
    cookie = kari.cookie()
    assert cookie is not None
    key, expiry, mac = cookie.split(".")

    other = "B" if key[3] == "A" else "A"
    forged = [
        f"{key[:3]}{other}{key[4:]}.{expiry}.{mac}",  # another session's key, Kari's signature
        f"{key}.{int(expiry) + 99}.{mac}",  # Kari's key for longer
        "nonsense",
        "",
    ]
    for value in forged:
        async with aiohttp.ClientSession() as stranger:
            headers = {"Cookie": f"medvirk_session={value}"} if value else {}
            async with stranger.get(chat.base + "/chat", headers=headers) as response:
                page = await response.text()
                new = response.cookies["medvirk_session"].value
        assert "Ville du brukt parken" not in page
        assert new.split(".")[0] != key
        # Posting with it does nothing in anyone's name.
        async with aiohttp.ClientSession() as stranger:
            data = {"csrf": "x", "nonce": "n" * 12, "text": "/delete"}
            async with stranger.post(
                chat.base + "/chat/send", data=data, headers={"Cookie": f"medvirk_session={value}"}
            ) as response:
                assert response.status == 403
    assert await chat.count(Participant) == 1


async def test_a_form_without_the_csrf_token_is_refused(
    start_web: Starter, browsers: Callable[..., WebResident]
) -> None:
    chat = await start_web()
    kari = browsers(chat)
    await _consent_and_open_park(kari)
    requests, messages = await chat.count(WebRequest), await chat.count(WebMessage)
    form = kari.chat()[-1].forms[0]
    for token in (None, "", form.fields["csrf"][:-2] + "xx"):
        fields = {k: v for k, v in form.fields.items() if k != "csrf"}
        if token is not None:
            fields["csrf"] = token
        async with kari.http.post(chat.base + form.action, data={**fields, "button": "0.0"}) as r:
            assert r.status == 403
            assert "siden var for gammel" in await r.text()
    assert (await chat.count(WebRequest), await chat.count(WebMessage)) == (requests, messages)
    assert await chat.count(Answer) == 0


async def test_the_driver_api_and_the_bot_api_are_not_there(start_web: Starter) -> None:
    chat = await start_web()
    async with aiohttp.ClientSession() as http:
        for path in (
            "/sandbox/api/users",
            "/sandbox/api/messages?chat_id=1",
            "/sandbox/web/events",
            "/botweb-only/getMe",
            "/botweb-only/sendMessage",
        ):
            async with http.get(chat.base + path) as response:
                assert response.status == 404, path
            async with http.post(chat.base + path, json={"chat_id": 1}) as response:
                assert response.status in (404, 405), path


async def test_limits_are_hit_with_a_clear_message(
    start_web: Starter, browsers: Callable[..., WebResident]
) -> None:
    chat = await start_web(web_limit_session=6)
    kari = browsers(chat, htmx=True)
    await _consent_and_open_park(kari)  # two forms of Kari's six a minute
    statuses = []
    while len(statuses) < 10 and 429 not in statuses:
        statuses.append(await kari.menu("Hjelp"))
    assert statuses[-1] == 429
    assert len(statuses) in (5, 6)  # four left, and one more refilled while she clicked
    assert "fortere enn vi klarer å følge" in kari.html

    ola = browsers(chat, htmx=True)
    await ola.open("/chat")
    await ola.start()
    assert ola.status == 200  # the limit is Kari's, not everyone's
    too_long = "x" * 4097
    assert await ola.send(too_long) == 400
    assert "høyst 4096 tegn" in ola.html
    assert too_long in ola.html  # kept in the box: nothing lost
    form = ola.form("/chat/send")
    async with ola.http.post(
        chat.base + "/chat/send", data={**form.fields, "text": "y" * 40_000}
    ) as response:
        assert response.status == 413


async def test_the_address_limit_counts_every_session_from_one_address(
    start_web: Starter, browsers: Callable[..., WebResident]
) -> None:
    chat = await start_web(web_limit_address=5)
    statuses = []
    for _ in range(6):
        someone = browsers(chat)
        await someone.open("/")
        statuses.append(someone.status)
    assert statuses == [200] * 5 + [429]


async def test_a_follow_up_waits_for_the_resident_and_survives_a_restart(
    start_web: Starter, browsers: Callable[..., WebResident], web_settings: Settings
) -> None:
    chat = await start_web()
    kari = browsers(chat, htmx=True)
    await _consent_and_open_park(kari)
    for label in ("Aldri",):
        await kari.press(label)
    await kari.press("3")
    await kari.press("Nei")
    await kari.send("Flere benker")
    await kari.press("Ja, si fra")
    cookie = kari.cookie()

    engine = create_engine(web_settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            park = await find_consultation(session, "park")
            assert park is not None
            now = utcnow()
            change_status(park, Status.CLOSED, now)
            draft = await new_outcome_draft(session, park.id or 0, 9000, 9000, "nb", now)
            draft.text = "Kommunen bygger parken."
            sent = await publish_outcome(
                session, draft, park, now, lambda code: [{"text": "Kommunen bygger parken."}]
            )
        assert sent == 1
    finally:
        await engine.dispose()

    # The worker stores it in Kari's chat while she is away...
    async def arrived() -> bool:
        return await chat.count(WebMessage, WebMessage.text == "Kommunen bygger parken.") == 1

    for _ in range(100):
        if await arrived():
            break
        await asyncio.sleep(0.1)
    assert await arrived()
    # ... and after a restart she finds it, in the same browser.
    again = await start_web()
    back = browsers(again)
    back.http.cookie_jar.update_cookies({"medvirk_session": cookie or ""})
    await back.open("/chat")
    assert "Kommunen bygger parken." in back.last()
    assert any("Flere benker" in text for text in back.texts())


async def test_my_data_is_a_download_and_delete_erases_the_chat(
    start_web: Starter, browsers: Callable[..., WebResident]
) -> None:
    chat = await start_web()
    kari = browsers(chat)
    await _consent_and_open_park(kari)
    await kari.press("Aldri")
    await kari.menu("Mine data")
    download = next(
        href
        for m in reversed(kari.chat())
        for label, href in m.links
        if "medvirk-my-data" in label
    )
    async with kari.http.get(chat.base + download) as response:
        assert response.status == 200
        assert "attachment" in response.headers["Content-Disposition"]
        data = await response.text()
    assert '"Aldri"' in data
    assert '"channel": "web"' in data
    # Nobody else gets it.
    ola = browsers(chat)
    await ola.open("/chat")
    async with ola.http.get(chat.base + download) as response:
        assert response.status == 404

    await kari.menu("Slett dataene mine")
    await kari.press(re.compile("Ja, slett"))
    assert await chat.count(Participant) == 0
    await kari.open("/chat")
    assert len(kari.chat()) == 1  # only the confirmation
    assert "slettet" in kari.last()


async def test_a_web_resident_has_no_staff_powers(
    start_web: Starter, browsers: Callable[..., WebResident]
) -> None:
    chat = await start_web(admin_ids=frozenset())
    kari = browsers(chat)
    await _consent_and_open_park(kari)
    for command in ("/broadcast", "/manage", "/results park", "/export park csv", "/review"):
        await kari.send(command)
        assert "Den kommandoen kjenner jeg ikke" in kari.last()
