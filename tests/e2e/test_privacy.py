"""Citizens own their data: /mydata, /delete, withdrawal, consent versions, retention."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import BigInteger, func
from sqlalchemy import select as select_rows
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

import models.participant
import models.roles
from models import privacy
from models.consultation import Status, set_status
from models.participant import Participant
from models.response import Answer, Response
from models.results import consultation_results
from sandbox import Sandbox
from tests.auxil.citizen import Citizen
from tests.auxil.consultations import add_consultation
from tests.e2e.conftest import Clock

pytestmark = pytest.mark.postgres

Sessions = async_sessionmaker[AsyncSession]


async def answer_park(person: Citizen, start: str = "/start c_park__bibliotek") -> None:
    """Consent and answer the park consultation to the end, with a free text."""
    await person.send(start)
    await person.expect("Før vi begynner")
    await person.press("Ja, jeg godtar")
    await person.expect("1/5")
    await person.press("Aldri")
    await person.expect("2/4")
    await person.press("2")
    await person.expect("3/4")
    await person.press("Ja")
    await person.expect("4/4")
    await person.send("Jeg heter Kari og vil ha benker")
    await person.expect("Svarene dine: Ny park")


async def _row_counts(db: Sessions) -> dict[str, int]:
    async with db() as session:
        return {
            table.name: (
                await session.exec(select_rows(func.count()).select_from(table))
            ).scalar_one()
            for table in SQLModel.metadata.sorted_tables
        }


async def test_delete_erases_every_row_of_the_person_and_results_recompute(
    sandbox: Sandbox, db: Sessions, bot: None
) -> None:
    async with db() as session:
        consultation = await add_consultation(session)
    kari, ola = Citizen(sandbox, 9501), Citizen(sandbox, 9502)
    await answer_park(kari)
    await answer_park(ola, "/start c_park__plakat")
    await kari.send("/manage")  # a refused staff command leaves her id in the audit log
    await kari.expect("Den kommandoen kjenner jeg ikke")

    async with db() as session:
        person = (
            await session.exec(select(Participant).where(Participant.telegram_user_id == 9501))
        ).one()
        owned = await privacy._owned_rows(session, person.id)
    assert {"participant", "consent", "response", "answer", "answerchoice"} <= set(owned)

    await kari.send("/delete")
    await kari.expect("Vil du slette alt vi lagrer om deg?")
    await kari.press("Ja, slett alt")
    await kari.expect("alt vi lagret om deg er slettet")

    async with db() as session:
        # Walk every table: nothing that belonged to her is left, and her id is nowhere.
        for table_name, rows in owned.items():
            table = SQLModel.metadata.tables[table_name]
            primary = list(table.primary_key.columns)
            for row in rows:
                still = await session.exec(
                    select_rows(func.count())
                    .select_from(table)
                    .where(*(column == row[column.name] for column in primary))
                )
                assert still.scalar_one() == 0, f"{table_name} still holds {row}"
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, BigInteger):
                    found = await session.exec(
                        select_rows(func.count()).select_from(table).where(column == 9501)
                    )
                    assert found.scalar_one() == 0, f"{table.name}.{column.name} holds her id"
        results = await consultation_results(session, consultation.id)
        assert results.started == 1
        assert [s.source for s in results.sources] == ["plakat"]
        erasures = (
            await session.exec(
                select(models.roles.AuditLog).where(
                    models.roles.AuditLog.action == "participant.erased"
                )
            )
        ).all()
        assert [(e.actor, e.target) for e in erasures] == [(None, None)]

    # She can begin afresh.
    await kari.send("/start")
    await kari.expect("Før vi begynner")


async def test_mydata_holds_every_kind_of_record(
    sandbox: Sandbox, db: Sessions, bot: None
) -> None:
    async with db() as session:
        await add_consultation(session)
    kari = Citizen(sandbox, 9503)
    await answer_park(kari)
    await kari.send("/mydata")
    message = await kari.sandbox.wait_for_message(
        kari.id, lambda m: bool(m.get("document")), after=kari.cursor
    )
    data = json.loads(sandbox.file_content(message["document"]["file_id"]))
    answers = data["svar"]
    assert [a["spørsmål"] for a in answers][:1] == ["Ville du brukt parken?"]
    assert answers[0]["svar"] == ["Aldri"]
    assert answers[-1]["svar"] == "Jeg heter Kari og vil ha benker"
    assert answers[0]["kom fra"] == "bibliotek"
    records = data["alle opplysninger"]
    async with db() as session:
        person = (
            await session.exec(select(Participant).where(Participant.telegram_user_id == 9503))
        ).one()
        owned = await privacy._owned_rows(session, person.id)
    assert set(records) == set(owned)
    assert {"participant", "consent", "response", "answer", "answerchoice"} <= set(records)
    assert records["participant"][0]["telegram_user_id"] == 9503


async def test_withdrawing_consent_stops_answers_and_offers_erasure(
    sandbox: Sandbox, db: Sessions, bot: None
) -> None:
    async with db() as session:
        await add_consultation(session)
    kari = Citizen(sandbox, 9504)
    await answer_park(kari)
    await kari.send("/privacy")
    await kari.expect("Dette lagrer Medvirk om deg")
    await kari.press("Trekk tilbake samtykket")
    await kari.expect("Trekke tilbake samtykket?")
    await kari.press("Ja, trekk tilbake")
    await kari.expect("Vil du slette alt vi lagrer om deg?")
    await kari.send("/consultations")
    await kari.expect("godta personvernerklæringen")
    await kari.press("Nei")
    await kari.expect("Ingenting ble endret.")
    async with db() as session:
        assert len((await session.exec(select(Answer))).all()) == 4  # kept until she deletes them


async def test_a_new_privacy_notice_is_accepted_before_the_next_answer(
    sandbox: Sandbox, db: Sessions, bot: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db() as session:
        await add_consultation(session)
    kari = Citizen(sandbox, 9505)
    await kari.send("/start c_park")
    await kari.expect("Før vi begynner")
    await kari.press("Ja, jeg godtar")
    await kari.expect("1/5")
    monkeypatch.setattr(models.participant, "PRIVACY_NOTICE_VERSION", "2")
    await kari.press("Aldri")
    await kari.expect("Personvernerklæringen vår er endret")
    async with db() as session:
        assert (await session.exec(select(Answer))).all() == []
    await kari.press("Ja, jeg godtar")
    await kari.expect("Takk!")
    await kari.send("/consultations")
    await kari.expect("Åpne undersøkelser")
    await kari.press("Ny park")
    await kari.expect("1/5")
    await kari.press("Aldri")
    await kari.expect("2/4")
    async with db() as session:
        assert len((await session.exec(select(Answer))).all()) == 1


async def test_retention_deletes_old_free_texts_and_inactive_people(
    sandbox: Sandbox, db: Sessions, bot: None, clock: Clock
) -> None:
    async with db() as session:
        consultation = await add_consultation(session)
    kari = Citizen(sandbox, 9506)
    await answer_park(kari)
    async with db() as session:
        await set_status(session, "park", Status.CLOSED, now=clock.now)
        await session.commit()

    async def run_retention() -> None:
        async with db() as session, session.begin():
            await privacy.expire_free_texts(session, clock.now, 180)
            await privacy.erase_inactive(session, clock.now, 24)

    clock.now += timedelta(days=179)
    await run_retention()
    async with db() as session:
        assert len([a for a in (await session.exec(select(Answer))).all() if a.text]) == 1
    clock.now += timedelta(days=2)
    await run_retention()
    async with db() as session:
        answers = (await session.exec(select(Answer))).all()
        assert [a.text for a in answers if a.text] == []
        assert len(answers) == 3  # the other answers stay
        assert len((await session.exec(select(Participant))).all()) == 1
    clock.now += timedelta(days=30 * 24)
    await run_retention()
    async with db() as session:
        assert (await session.exec(select(Participant))).all() == []
        assert (await session.exec(select(Response))).all() == []
    assert consultation.id
