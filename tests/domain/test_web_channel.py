"""The web channel in the domain: pseudonymous web ids, one-time codes, the stored web chats."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import response as flow
from models.access_codes import (
    FAILURE_WINDOW,
    MAX_FAILURES,
    CodeCheck,
    ask_for_code,
    check_code,
    code_counts,
    generate_codes,
    waiting_prompt,
)
from models.channels import WEB_ID_BASE, Channel, channel_of, is_web_id, web_user_id
from models.consultation import import_consultation
from models.consultation_file import parse_consultation_file
from models.export import write_export
from models.participant import get_or_create_participant, record_privacy_decision
from models.privacy import erase, personal_data
from models.results import ChannelResult, consultation_results
from models.roles import Role, grant, roles_of
from models.webchat import (
    BOT,
    RESIDENT,
    Document,
    WebMessage,
    add_message,
    claim_request,
    prune_chats,
    recent_messages,
)
from tests.auxil.consultations import CLOSED, add_consultation

pytestmark = pytest.mark.postgres

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


def test_web_ids_are_pseudonymous_and_never_telegram_ids() -> None:
    kari, ola = web_user_id("key-of-kari-000000000"), web_user_id("key-of-ola-0000000000")
    assert kari != ola
    assert kari == web_user_id("key-of-kari-000000000")  # the same cookie, the same person
    assert is_web_id(kari)
    assert channel_of(kari) is Channel.WEB
    # Telegram's ids have at most 52 bits.
    assert not is_web_id(2**52)
    assert channel_of(7_301_000_001) is Channel.TELEGRAM
    assert kari >= WEB_ID_BASE > 2**52


async def test_a_web_resident_can_hold_no_role(session: AsyncSession) -> None:
    resident = web_user_id("someone-with-a-browser")
    with pytest.raises(ValueError, match="Telegram accounts only"):
        await grant(session, resident, Role.ADMIN, by=None, now=NOW)
    # Not even by naming the id in ADMIN_IDS.
    assert await roles_of(session, resident, frozenset({resident})) == set()


async def test_a_participant_knows_their_channel(session: AsyncSession) -> None:
    web = await get_or_create_participant(session, web_user_id("k" * 22), web_user_id("k" * 22))
    telegram = await get_or_create_participant(session, 7_301_000_001, 7_301_000_001)
    assert (web.channel, telegram.channel) == ("web", "telegram")


async def test_a_code_opens_one_response_once(session: AsyncSession) -> None:
    consultation, _ = await import_consultation(
        session, parse_consultation_file(CLOSED), publish=True
    )
    codes = await generate_codes(session, consultation.id or 0, 50, NOW)
    assert len(set(codes)) == 50
    assert all(len(c) == 11 and c[5] == "-" for c in codes)
    kari = await record_privacy_decision(session, 7_301_000_001, 7_301_000_001, granted=True)
    ola = await record_privacy_decision(session, 7_301_000_002, 7_301_000_002, granted=True)

    # No code, no response.
    with pytest.raises(flow.CodeRequired):
        await flow.start(session, kari, consultation.id or 0, source=None, now=NOW)
    await ask_for_code(session, kari, consultation.id or 0, "letter", NOW)
    prompt = await waiting_prompt(session, kari, NOW)
    assert prompt is not None
    # Typed as people type it: lower case, with spaces.
    typed = codes[0].lower().replace("-", " ")
    assert (await check_code(session, prompt, typed, NOW)).outcome is CodeCheck.ADMITTED
    position = await flow.start(
        session, kari, consultation.id or 0, source="letter", now=NOW, admitted=True
    )
    assert position.response.source == "letter"
    assert await waiting_prompt(session, kari, NOW) is None  # answering now, not asked

    # The same code does not open a second response for someone else.
    await ask_for_code(session, ola, consultation.id or 0, None, NOW)
    prompt = await waiting_prompt(session, ola, NOW)
    assert prompt is not None
    assert (await check_code(session, prompt, codes[0], NOW)).outcome is CodeCheck.USED
    assert await code_counts(session, consultation.id or 0) == (50, 1)

    # Kari comes back later: no code again.
    await flow.leave(session, kari)
    again = await flow.start(session, kari, consultation.id or 0, source=None, now=NOW)
    assert again.response.id == position.response.id


async def test_guessing_codes_stops_after_a_few_tries(session: AsyncSession) -> None:
    consultation, _ = await import_consultation(
        session, parse_consultation_file(CLOSED), publish=True
    )
    codes = await generate_codes(session, consultation.id or 0, 1, NOW)
    person = await record_privacy_decision(session, 7_301_000_001, 7_301_000_001, granted=True)
    await ask_for_code(session, person, consultation.id or 0, None, NOW)
    prompt = await waiting_prompt(session, person, NOW)
    assert prompt is not None
    for _ in range(MAX_FAILURES):
        assert (await check_code(session, prompt, "AAAAA-AAAAA", NOW)).outcome is CodeCheck.WRONG
    refused = await check_code(session, prompt, codes[0], NOW + timedelta(minutes=1))
    assert refused.outcome is CodeCheck.TOO_MANY  # even the right code waits
    assert refused.wait == FAILURE_WINDOW - timedelta(minutes=1)
    later = NOW + FAILURE_WINDOW + timedelta(seconds=1)
    await ask_for_code(session, person, consultation.id or 0, None, later)
    prompt = await waiting_prompt(session, person, later)
    assert prompt is not None
    assert (await check_code(session, prompt, codes[0], later)).outcome is CodeCheck.ADMITTED


async def test_a_form_is_taken_once(session: AsyncSession) -> None:
    chat = web_user_id("a" * 22)
    first = await claim_request(session, chat, "nonce-1", NOW)
    assert first is not None
    assert await claim_request(session, chat, "nonce-1", NOW) is None
    assert await claim_request(session, web_user_id("b" * 22), "nonce-1", NOW) is not None


async def test_erasing_a_web_resident_erases_their_chat(session: AsyncSession) -> None:
    chat = web_user_id("c" * 22)
    person = await record_privacy_decision(session, chat, chat, granted=True, language="en")
    await add_message(session, chat, RESIDENT, "Benches, please", NOW)
    await add_message(session, chat, BOT, "Thanks!", NOW)
    other = web_user_id("d" * 22)
    await add_message(session, other, BOT, "Someone else's", NOW)
    data = await personal_data(session, person, "en")
    assert [m["text"] for m in data["records"]["web_message"]] == ["Benches, please", "Thanks!"]
    await erase(session, person, NOW)
    assert await recent_messages(session, chat, 10) == []
    assert [m.text for m in await recent_messages(session, other, 10)] == ["Someone else's"]


async def test_old_chats_and_files_are_pruned(session: AsyncSession) -> None:
    stranger = web_user_id("e" * 22)  # never consented
    resident = web_user_id("f" * 22)
    await record_privacy_decision(session, resident, resident, granted=True)
    await add_message(session, stranger, BOT, "Welcome", NOW - timedelta(days=8))
    await add_message(session, resident, BOT, "Welcome", NOW - timedelta(days=8))
    await add_message(
        session,
        resident,
        BOT,
        "Your data",
        NOW - timedelta(days=2),
        document=Document("medvirk-my-data.json", b"{}", "application/json"),
    )
    await add_message(session, resident, BOT, "Very old", NOW - timedelta(days=200))
    assert await prune_chats(session, NOW, keep_days=180) == 2
    kept = await recent_messages(session, resident, 10)
    assert [m.text for m in kept] == ["Welcome", "Your data"]
    assert kept[1].file_content is None
    assert kept[1].file_name == "medvirk-my-data.json"
    assert await recent_messages(session, stranger, 10) == []


async def test_results_and_exports_count_the_channel(session: AsyncSession) -> None:
    park = await add_consultation(session)
    for user_id in (7_301_000_001, web_user_id("g" * 22), web_user_id("h" * 22)):
        person = await record_privacy_decision(session, user_id, user_id, granted=True)
        await flow.start(session, person, park.id or 0, source=None, now=NOW)
    await session.commit()
    results = await consultation_results(session, park.id or 0)
    assert results is not None
    assert results.channels == [ChannelResult("web", 2, 0), ChannelResult("telegram", 1, 0)]
    out = io.BytesIO()
    await write_export(session, park.id or 0, "json", out)
    rows = json.loads(out.getvalue())["rows"]
    assert sorted(row["channel"] for row in rows) == ["telegram", "web", "web"]
    stored = (await session.exec(select(WebMessage))).all()
    assert stored == []  # the domain alone writes no chat
