"""Each citizen command and each kind of bad input, through ``process_update``."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import callbacks as cb
from models.consultation import Status, set_status
from models.response import Answer, Response
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.handlers.conftest import Harness

Sessions = async_sessionmaker[AsyncSession]


async def _answers(sessionmaker: Sessions) -> list[tuple[int, int | None, str | None]]:
    async with sessionmaker() as session:
        rows = await session.exec(select(Answer.question_id, Answer.number, Answer.text))
        return sorted(rows.all())


async def _consented(harness: Harness, user_id: int = 7001, start: str = "/start") -> Citizen:
    person = harness.citizen(user_id)
    await harness.send(person, start)
    await harness.press(person, "Ja, jeg godtar")
    return person


async def _at_free_text(harness: Harness, sessionmaker: Sessions) -> Citizen:
    """A person who answered up to the free-text question of the park consultation."""
    async with sessionmaker() as session:
        await add_consultation(session)
    person = await _consented(harness, start="/start c_park")
    await harness.press(person, "Aldri")
    await harness.press(person, "3")
    await harness.press(person, "Nei")
    assert "4/4" in harness.last(person)
    return person


async def test_start_shows_the_privacy_notice_and_consent_buttons(harness: Harness) -> None:
    person = harness.citizen(7000)
    await harness.send(person, "/start")
    assert "Før vi begynner" in harness.last(person)
    assert "Vi lagrer ikke navnet" in harness.last(person)
    assert person.buttons() == [
        "✅ Ja, jeg godtar",
        "Nei takk",
        "Norsk bokmål",
        "Norsk nynorsk",
        "English",
        "Polski",
        "Українська",
        "Lietuvių",
        "العربية",
        "Soomaali",
        "ትግርኛ",
    ]


async def test_help_privacy_and_language_work_before_consent(harness: Harness) -> None:
    person = harness.citizen(7002)
    await harness.send(person, "/help")
    assert "/consultations" in harness.last(person)
    await harness.send(person, "/privacy")
    assert "Du har ikke godtatt dette ennå" in harness.last(person)
    await harness.send(person, "/language")
    assert person.buttons() == [
        "Norsk bokmål",
        "Norsk nynorsk",
        "English",
        "Polski",
        "Українська",
        "Lietuvių",
        "العربية",
        "Soomaali",
        "ትግርኛ",
    ]


async def test_privacy_shows_the_consent_date(harness: Harness) -> None:
    person = await _consented(harness)
    await harness.send(person, "/privacy")
    assert "Du godtok dette 15. jan. 2027." in harness.last(person)


async def test_commands_need_consent_first(harness: Harness) -> None:
    person = harness.citizen(7003)
    for command in ("/consultations", "/cancel"):
        await harness.send(person, command)
        assert "godta personvernerklæringen" in harness.last(person)


async def test_consultations_lists_only_open_ones(
    harness: Harness, sessionmaker: Sessions
) -> None:
    person = await _consented(harness)
    await harness.send(person, "/consultations")
    assert "ingen åpne undersøkelser" in harness.last(person)
    async with sessionmaker() as session:
        await add_consultation(session)
        await add_consultation(
            session, (await _park_source()).replace("slug: park", "slug: draft"), publish=False
        )
    await harness.send(person, "/consultations")
    assert person.buttons() == ["Ny park"]


async def _park_source() -> str:
    from tests.auxil.consultations import EVERY_TYPE

    return EVERY_TYPE


async def test_cancel_without_a_consultation_says_so(harness: Harness) -> None:
    person = await _consented(harness)
    await harness.send(person, "/cancel")
    assert "ingenting å avbryte" in harness.last(person)


async def test_an_unknown_command_is_answered(harness: Harness) -> None:
    person = harness.citizen(7004)
    await harness.send(person, "/hemmelig")
    assert "Den kommandoen kjenner jeg ikke" in harness.last(person)


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "document"])
async def test_attachments_get_a_polite_answer_and_change_nothing(
    harness: Harness, sessionmaker: Sessions, kind: str
) -> None:
    person = await _at_free_text(harness, sessionmaker)
    before = await _answers(sessionmaker)
    person.cursor = harness.sandbox.cursor
    if kind == "sticker":
        await harness.sandbox.send_sticker(person.id)
    elif kind == "photo":
        await harness.sandbox.send_photo(person.id)
    elif kind == "voice":
        await harness.sandbox.send_voice(person.id)
    else:
        await harness.sandbox.send_document(person.id, "svar.pdf", b"%PDF-1.4", "application/pdf")
    await harness.process()
    texts = harness.new_texts(person)
    assert "Jeg kan bare lese tekst og knappetrykk" in texts[0]
    assert "4/4" in texts[1]  # the question again, so the person knows what to do
    assert await _answers(sessionmaker) == before


async def test_text_where_a_button_is_expected(harness: Harness, sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
    person = await _consented(harness, start="/start c_park")
    await harness.send(person, "ofte")
    assert "Svar med knappene under spørsmålet." in harness.last(person)
    assert await _answers(sessionmaker) == []


async def test_a_5000_character_answer_is_refused_and_nothing_stored(
    harness: Harness, sessionmaker: Sessions
) -> None:
    person = await _at_free_text(harness, sessionmaker)
    before = await _answers(sessionmaker)
    await harness.send(person, "x" * 5000)
    assert "Det er for langt: høyst 200 tegn." in harness.last(person)
    assert await _answers(sessionmaker) == before
    await harness.send(person, "Kortere nå")
    assert "Svarene dine: Ny park" in harness.last(person)


async def test_a_button_of_a_closed_consultation(harness: Harness, sessionmaker: Sessions) -> None:
    person = await _at_free_text(harness, sessionmaker)
    before = await _answers(sessionmaker)
    async with sessionmaker() as session:
        await set_status(session, "park", Status.CLOSED)
        await session.commit()
    toast = await harness.press(person, "Hopp over")
    assert "avsluttet" in toast
    assert await _answers(sessionmaker) == before


async def test_a_stale_button_shows_where_the_person_is(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
    person = await _consented(harness, start="/start c_park")
    first_message, _ = person.button("Aldri")
    _, often = person.button("Ofte")
    await harness.press(person, "Aldri")
    before = await _answers(sessionmaker)
    # The old message lost its buttons, but a client may still send its data.
    toast = await harness.press_data(person, often, first_message)
    assert "allerede svart på" in toast
    assert "2/4" in harness.last(person)
    assert await _answers(sessionmaker) == before


@pytest.mark.parametrize(
    "forged",
    [
        "a:999999:1",  # unknown question
        "a:{question}:{other_option}",  # an option that does not exist
        "n:{question}:3",  # a scale press on a choice question
        "a:{question}",  # missing a field
        "a:x:y",  # not numbers
        "zz:1:2",  # unknown kind
        "\x00\xff garbage",  # bytes
        "p:1:xx:0:",  # consent with an unknown language still only consents
    ],
)
async def test_forged_buttons_are_refused_politely(
    harness: Harness, sessionmaker: Sessions, forged: str
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
    person = await _consented(harness, start="/start c_park")
    message_id, real = person.button("Ofte")
    question = int(real.split(":")[1])
    async with sessionmaker() as session:
        other_option = (
            await session.exec(select(func.max(Answer.id)))  # any id not of this question
        ).one() or 9999
    data = forged.format(question=question, other_option=other_option + 9999)
    before = await _answers(sessionmaker)
    toast = await harness.press_data(person, data, message_id)
    if forged.startswith("p:"):
        assert toast == ""
    else:
        assert "virker ikke lenger" in toast
    assert await _answers(sessionmaker) == before


async def test_another_questions_option_is_refused(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
    person = await _consented(harness, start="/start c_park")
    _, real = person.button("Ofte")
    question = int(real.split(":")[1])
    async with sessionmaker() as session:
        from models.consultation import Option

        foreign = (
            await session.exec(select(Option.id).where(Option.question_id != question))
        ).first()
    toast = await harness.press_data(person, cb.Choose(question, foreign).pack())
    assert "virker ikke lenger" in toast
    assert await _answers(sessionmaker) == []


async def test_start_with_an_unknown_slug(harness: Harness) -> None:
    person = harness.citizen(7010)
    await harness.send(person, "/start c_finnes-ikke")
    texts = harness.new_texts(person)
    assert "Jeg fant ikke den undersøkelsen" in texts[0]
    assert "Før vi begynner" in texts[1]


async def test_start_with_a_malformed_payload(harness: Harness) -> None:
    person = await _consented(harness)
    await harness.send(person, "/start <script>")
    assert "Jeg fant ikke den undersøkelsen" in harness.new_texts(person)[0]


async def test_an_edited_message_is_not_taken_as_an_answer(
    harness: Harness, sessionmaker: Sessions
) -> None:
    person = await _at_free_text(harness, sessionmaker)
    await harness.send(person, "Første forslag")
    before = await _answers(sessionmaker)
    message = next(
        event.message
        for event in reversed(harness.sandbox.events(person.id))
        if event.kind == "user_message"
    )
    assert message is not None
    await harness.sandbox.edit_user_message(person.id, message["message_id"], "Endret forslag")
    await harness.process()
    assert "Jeg leser ikke endrede meldinger" in harness.last(person)
    assert await _answers(sessionmaker) == before


async def test_commands_in_a_group_point_to_a_private_chat(harness: Harness) -> None:
    person = harness.citizen(7020)
    group = harness.sandbox.add_group(-100123, "Nabolaget", [person.id])
    await harness.sandbox.send_text(person.id, "/start", chat_id=group)
    await harness.process()
    assert "privat chat" in harness.sandbox.messages(group)[-1]["text"]


async def test_a_completed_consultation_resumes_at_the_summary(
    harness: Harness, sessionmaker: Sessions
) -> None:
    person = await _at_free_text(harness, sessionmaker)
    await harness.send(person, "Benker")
    await harness.send(person, "/consultations")
    assert person.buttons() == ["✓ Ny park"]
    await harness.press(person, "Ny park")
    assert "Svarene dine: Ny park" in harness.last(person)
    async with sessionmaker() as session:
        assert len((await session.exec(select(Response))).all()) == 1


@pytest.mark.parametrize(
    "data",
    [
        "zz:1:2",  # a button no handler knows (fallback.unknown_button)
        cb.PreviewOnly(1).pack(),  # a button of a staff preview (authoring.on_preview_button)
        "a:x:1",  # a known kind with garbled data (the error handler)
    ],
    ids=["unknown", "preview", "garbled"],
)
async def test_every_button_toast_is_in_the_persons_own_language(
    harness: Harness, data: str
) -> None:
    person = await _consented(harness)  # Telegram says Bokmål
    await harness.send(person, "/language")
    await harness.press(person, "English")  # the stored choice is English
    toast = await harness.press_data(person, data)
    assert toast
    assert "virker ikke" not in toast
    assert "forhåndsvisning" not in toast
    assert "button" in toast


EARLY = """
slug: early
title: {nb: Ny skole, en: New school}
opens: 2027-01-16T10:00:00+01:00
questions:
  - {id: q, type: yes_no, text: {nb: Trenger vi den?, en: Do we need it?}}
"""


async def test_a_poster_scanned_a_day_early_says_when_it_opens_and_offers_to_tell(
    harness: Harness, sessionmaker: Sessions
) -> None:
    from models.outbox import Delivery

    async with sessionmaker() as session:
        await add_consultation(session, EARLY)
    person = await _consented(harness, start="/start c_early__plakat")
    shown = harness.last(person)
    assert "stengt" not in shown  # not "closed"
    assert "16. jan. 2027" in shown
    assert "10:00" in shown  # local time: the file says 10:00 +01:00
    message_id, data = person.button("🔔 Si fra når den åpner")
    await harness.press(person, "🔔 Si fra når den åpner")
    assert "Vi sender deg en melding" in harness.last(person)
    await harness.press_data(person, data, message_id)  # pressed twice: still one message
    async with sessionmaker() as session:
        reminders = (await session.exec(select(Delivery))).all()
    assert [(d.kind, d.due_at.isoformat()) for d in reminders] == [
        ("remind-opens", "2027-01-16T09:00:00+00:00")
    ]


TWO_QUESTIONS = """
slug: kafe
title: {nb: Kafé}
questions:
  - {id: like, type: yes_no, text: {nb: Liker du kafeen?}}
  - {id: score, type: scale, min: 1, max: 5, text: {nb: Hvor god er kaffen?}}
"""


async def _position_of(sessionmaker: Sessions, user_id: int) -> list[tuple[int, int | None]]:
    async with sessionmaker() as session:
        rows = await session.exec(select(Response.consultation_id, Response.current_question_id))
        return sorted(rows.all())


async def test_an_old_button_never_pulls_a_person_out_of_their_consultation(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session)
        await add_consultation(session, TWO_QUESTIONS)
    person = await _consented(harness, 7010, "/start c_park")
    park_question = person.button("Ofte")  # park's first question, left open
    await harness.send(person, "/start c_kafe")
    assert "1/2" in harness.last(person)
    before = await _position_of(sessionmaker, 7010)
    notice = await harness.press_data(person, park_question[1], park_question[0])
    assert notice == "Du er midt i «Kafé». Fullfør den, eller ta en pause med /cancel, først."
    assert await _position_of(sessionmaker, 7010) == before
    assert await _answers(sessionmaker) == []
    # Typed text still answers the consultation the person is in.
    await harness.send(person, "ja")
    assert "2/2" in harness.last(person)
    # After a break, the old button may take them back.
    await harness.send(person, "/cancel")
    assert await harness.press_data(person, park_question[1], park_question[0]) == "✓ Ofte"


async def test_a_summary_changed_in_place_keeps_no_stale_buttons(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session, TWO_QUESTIONS)
    person = await _consented(harness, 7011, "/start c_kafe")
    await harness.press(person, "Ja")
    await harness.press(person, "3")
    summary = person.button("Endre 2")[0]
    await harness.press(person, "Endre 2")
    # The summary's own message became the question; answering makes it the summary again.
    assert "2/2" in (harness.sandbox.message(person.id, summary) or {}).get("text", "")
    await harness.press(person, "5")
    shown = harness.sandbox.message(person.id, summary) or {}
    assert "Svarene dine" in shown.get("text", "")
    assert "→ 5" in shown.get("text", "")
    texts = [m.get("text", "") for m in harness.sandbox.messages(person.id)]
    assert sum("Svarene dine" in t for t in texts) == 1


async def test_cancel_after_the_last_answer_has_nothing_to_pause(
    harness: Harness, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        await add_consultation(session, TWO_QUESTIONS)
    person = await _consented(harness, 7012, "/start c_kafe")
    await harness.press(person, "Ja")
    await harness.press(person, "3")
    await harness.send(person, "/cancel")
    assert "ingenting å avbryte" in harness.last(person)
