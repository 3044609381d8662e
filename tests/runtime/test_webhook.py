"""Webhook mode: the secret, exactly-once effects, retries after failure, health and metrics."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import HANDLED_UPDATES, serve_polling
from bot.settings import Settings
from bot.web import serve_webhook
from models import response as flow
from models.participant import Participant
from models.response import Answer, Response
from models.updates import ProcessedUpdate
from sandbox import Sandbox
from tests.auxil.citizen import Citizen
from tests.auxil.updates import (
    add_scales,
    prepare_people,
    press_update,
    question_ids,
    text_update,
)
from tests.runtime.conftest import NOW, Clock, Webhook, free_port, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("no_reply_spacing")]

ANNA = 6001


async def answers_of(db: async_sessionmaker[AsyncSession], user_id: int) -> dict[int, int | None]:
    """The person's stored answers: question id -> number."""
    async with db() as session:
        rows = await session.exec(
            select(Answer.question_id, Answer.number)
            .join(Response, Response.id == Answer.response_id)  # type: ignore[arg-type]
            .join(Participant, Participant.id == Response.participant_id)  # type: ignore[arg-type]
            .where(Participant.telegram_user_id == user_id)
        )
        return dict(rows.all())


async def count(db: async_sessionmaker[AsyncSession], table: type) -> int:
    """Rows in ``table``."""
    async with db() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


async def scales_with_anna(sandbox: Sandbox, db: async_sessionmaker[AsyncSession]) -> list[int]:
    """The ten-scale consultation, and Anna (in the sandbox) at its first question."""
    sandbox.add_user(ANNA, "Anna")
    async with db() as session:
        consultation = await add_scales(session)
        questions = await question_ids(session, consultation.id or 0)
    await prepare_people(db, [ANNA], consultation.id or 0, NOW)
    return questions


async def test_a_citizen_answers_through_the_webhook_the_bot_set(
    sandbox: Sandbox, settings: Settings, db: async_sessionmaker[AsyncSession], clock: Clock
) -> None:
    async with db() as session:
        await add_scales(session)
    stop = asyncio.Event()
    ready = asyncio.Event()

    async def on_ready(port: int) -> None:
        ready.set()

    task = asyncio.create_task(serve_webhook(settings, stop=stop, clock=clock, on_ready=on_ready))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        assert sandbox.webhook_url == settings.webhook_url
        info = await sandbox_webhook_info(sandbox)
        assert sorted(info["allowed_updates"]) == sorted(HANDLED_UPDATES)

        # The sandbox now delivers like Telegram: POST with the secret, again until 2xx.
        kari = Citizen(sandbox, 6101)
        await kari.send("/start c_scales")
        await kari.expect("Før vi begynner")
        await kari.press("Ja, jeg godtar")
        await kari.expect("1/10")
        await kari.send("7")
        await kari.expect("2/10")
        await kari.press("3")
        await kari.expect("3/10")
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
    assert sorted(n or 0 for n in (await answers_of(db, 6101)).values()) == [3, 7]
    assert sandbox.stats.webhook_failures == 0
    # Stopping leaves the webhook set: Telegram keeps updates for the next start.
    assert sandbox.webhook_url == settings.webhook_url


async def sandbox_webhook_info(sandbox: Sandbox) -> dict[str, Any]:
    """getWebhookInfo, as the bot would ask it."""
    import aiohttp

    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sandbox.url}/bot{sandbox.token}/getWebhookInfo") as response,
    ):
        body = await response.json()
    return dict(body["result"])


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", "test-webhook-secret_12"])
async def test_a_request_without_the_secret_is_refused_and_changes_nothing(
    sandbox: Sandbox,
    webhook: Webhook,
    db: async_sessionmaker[AsyncSession],
    secret: str | None,
) -> None:
    sandbox.add_user(ANNA, "Anna")
    assert await webhook.post(text_update(1, ANNA, "/start"), secret=secret) == 403
    assert await count(db, Participant) == 0
    assert await count(db, ProcessedUpdate) == 0
    assert sandbox.messages(ANNA) == []
    assert await webhook.post(text_update(1, ANNA, "/start")) == 200
    assert len(sandbox.messages(ANNA)) == 1


async def test_an_update_delivered_twice_takes_effect_once(
    sandbox: Sandbox, webhook: Webhook, db: async_sessionmaker[AsyncSession]
) -> None:
    questions = await scales_with_anna(sandbox, db)
    first = text_update(10, ANNA, "4")
    assert await webhook.post(first) == 200
    assert await webhook.post(first) == 200  # a redelivery: Telegram did not see our 200
    # Two deliveries at once (a retry overtaking a slow first attempt).
    second = text_update(11, ANNA, "5")
    assert await asyncio.gather(webhook.post(second), webhook.post(second)) == [200, 200]

    assert await answers_of(db, ANNA) == {questions[0]: 4, questions[1]: 5}
    texts = [m["text"] for m in sandbox.messages(ANNA)]
    # One reply per update that took effect: the next question, once each.
    assert [t.split("\n")[0] for t in texts] == ["<b>Skalaer</b> · 2/10", "<b>Skalaer</b> · 3/10"]
    assert await count(db, ProcessedUpdate) == 2


async def test_a_reused_update_id_with_new_content_is_a_new_update(
    sandbox: Sandbox, webhook: Webhook, db: async_sessionmaker[AsyncSession]
) -> None:
    # Telegram picks a random id after a week of silence; a restarted sandbox counts from 1.
    questions = await scales_with_anna(sandbox, db)
    assert await webhook.post(text_update(1, ANNA, "2")) == 200
    assert await webhook.post(text_update(1, ANNA, "3")) == 200
    assert await answers_of(db, ANNA) == {questions[0]: 2, questions[1]: 3}


async def test_one_persons_updates_stay_in_order_when_posted_at_once(
    sandbox: Sandbox, webhook: Webhook, db: async_sessionmaker[AsyncSession]
) -> None:
    questions = await scales_with_anna(sandbox, db)
    updates = [text_update(20 + n, ANNA, str(n)) for n in range(1, 7)]
    # Sent in order without waiting for answers, as Telegram does with several connections.
    tasks = []
    for update in updates:
        tasks.append(asyncio.create_task(webhook.post(update)))
        await asyncio.sleep(0)
    assert await asyncio.gather(*tasks) == [200] * 6
    assert await answers_of(db, ANNA) == {questions[n - 1]: n for n in range(1, 7)}


async def test_a_failed_update_gets_500_and_succeeds_when_redelivered(
    sandbox: Sandbox,
    webhook: Webhook,
    db: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    questions = await scales_with_anna(sandbox, db)
    real_type_answer = flow.type_answer
    failures: list[int] = []

    async def failing_once(*args: object, **kwargs: object) -> flow.Position:
        position = await real_type_answer(*args, **kwargs)  # type: ignore[arg-type]
        if not failures:
            failures.append(1)
            # After the answer was written: the rollback must take it back.
            raise ConnectionResetError("the database went away")
        return position

    monkeypatch.setattr(flow, "type_answer", failing_once)
    update = text_update(30, ANNA, "6")
    with caplog.at_level(logging.ERROR):
        assert await webhook.post(update) == 500
    assert await answers_of(db, ANNA) == {}
    assert await count(db, ProcessedUpdate) == 0
    # The traceback is in the log, for the operator; the person got a plain apology.
    assert any(r.exc_info for r in caplog.records if r.levelno >= logging.ERROR)
    assert "Traceback" not in str(sandbox.messages(ANNA))

    assert await webhook.post(update) == 200  # Telegram's redelivery
    assert await answers_of(db, ANNA) == {questions[0]: 6}
    assert any("2/10" in (m.get("text") or "") for m in sandbox.messages(ANNA))
    assert await webhook.post(update) == 200  # and once more: nothing changes
    assert await answers_of(db, ANNA) == {questions[0]: 6}


async def test_the_sandbox_redelivers_a_failed_update_until_it_succeeds(
    sandbox: Sandbox,
    webhook: Webhook,
    db: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    questions = await scales_with_anna(sandbox, db)
    real_answer = flow.type_answer
    failures: list[int] = []

    async def failing_twice(*args: object, **kwargs: object) -> flow.Position:
        if len(failures) < 2:
            failures.append(1)
            raise TimeoutError("lock wait")
        return await real_answer(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(flow, "type_answer", failing_twice)
    await webhook.use_sandbox_delivery()
    anna = Citizen.__new__(Citizen)  # Anna exists in the sandbox already
    anna.sandbox, anna.id, anna.cursor = sandbox, ANNA, sandbox.cursor
    with caplog.at_level(logging.CRITICAL):
        await anna.send("8")
        await anna.expect("2/10")
    assert sandbox.stats.webhook_failures == 2
    assert await answers_of(db, ANNA) == {questions[0]: 8}


async def test_malformed_updates_are_dropped_politely(
    sandbox: Sandbox, webhook: Webhook, db: async_sessionmaker[AsyncSession]
) -> None:
    sandbox.add_user(ANNA, "Anna")
    broken = text_update(40, ANNA, "/start")
    broken["message"]["text"] = 5
    assert await webhook.post(broken) == 200  # Telegram must not resend it forever
    assert await webhook.post({"update_id": "x", "message": "nope"}) == 200
    assert await webhook.post([1, 2]) == 200  # not an update: acknowledged and dropped
    async with webhook.http.post(
        webhook.url(), data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": "x"}
    ) as response:
        assert response.status == 403  # the secret is checked before anything is read
    assert await count(db, Participant) == 0
    assert sandbox.messages(ANNA) == []


async def test_a_forged_button_is_answered_and_not_redelivered(
    sandbox: Sandbox, webhook: Webhook, db: async_sessionmaker[AsyncSession]
) -> None:
    questions = await scales_with_anna(sandbox, db)
    assert await webhook.post(text_update(50, ANNA, "/consultations")) == 200
    # Bad input is answered politely; sending it again would not make it better.
    for update_id, data in [(51, "n:abc:1"), (52, f"n:{questions[0]}:99"), (53, "zz:1")]:
        query = await sandbox.press(ANNA, data)
        update = press_update(update_id, ANNA, data, query_id=query)
        assert await webhook.post(update) == 200
        answer = await sandbox.wait_for_callback_answer(query, 5)
        assert answer["text"]
    assert await answers_of(db, ANNA) == {}


async def test_health_readiness_and_metrics(
    sandbox: Sandbox, webhook: Webhook, db: async_sessionmaker[AsyncSession]
) -> None:
    await scales_with_anna(sandbox, db)
    assert await webhook.get("/healthz") == (200, '{"status": "ok"}')
    assert (await webhook.get("/readyz"))[0] == 200
    assert await webhook.post(text_update(60, ANNA, "3")) == 200
    assert await webhook.post(text_update(61, ANNA, "/help")) == 200
    assert await webhook.post(text_update(62, ANNA, "/start"), secret="no") == 403

    status, body = await webhook.get("/metrics")
    assert status == 200
    assert _value(body, 'medvirk_updates_total{kind="text",outcome="ok"}') >= 1
    assert _value(body, 'medvirk_updates_total{kind="command",outcome="ok"}') >= 1
    assert _value(body, 'medvirk_update_duration_seconds_count{kind="text"}') >= 1
    assert _value(body, 'medvirk_webhook_requests_total{status="403"}') >= 1
    assert "medvirk_updates_in_flight 0.0" in body
    assert "process_resident_memory_bytes" in body
    # No ids in labels. Only labels are searched: a sample's value (memory in bytes, say) may
    # contain the same digits by chance.
    labels = [
        line.partition("{")[2].partition("}")[0] for line in body.splitlines() if "{" in line
    ]
    assert not [label for label in labels if str(ANNA) in label]

    # An old schema (or none) is not ready: the operator must run `medvirk db upgrade`.
    async with db() as session:
        await session.exec(text("UPDATE alembic_version SET version_num = '0000'"))  # type: ignore[call-overload]
        await session.commit()
    status, body = await webhook.get("/readyz")
    assert status == 503
    assert "medvirk db upgrade" in body


def _value(metrics: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", metrics, re.MULTILINE)
    assert match is not None, f"{series} not in /metrics"
    return float(match.group(1))


async def test_polling_mode_serves_health_and_metrics_too(
    sandbox: Sandbox, settings: Settings, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    import aiohttp

    polling = settings.model_copy(update={"webhook_url": None, "webhook_secret": None})
    stop = asyncio.Event()
    task = asyncio.create_task(serve_polling(polling, stop=stop, clock=clock, monitor=True))
    base = f"http://127.0.0.1:{polling.web_port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def healthy() -> bool:
                try:
                    async with http.get(f"{base}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_until(healthy, 20)
            async with http.get(f"{base}/readyz") as response:
                assert response.status == 200
            async with http.get(f"{base}/metrics") as response:
                assert "medvirk_updates_total" in await response.text()
            async with http.post(f"{base}/telegram", json={}) as response:
                assert response.status == 404  # no webhook in polling mode
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)

    # A taken port does not stop a small installation from answering people.
    with __import__("socket").socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        busy = polling.model_copy(update={"web_port": taken.getsockname()[1]})
        stop = asyncio.Event()
        with caplog.at_level(logging.WARNING):
            task = asyncio.create_task(serve_polling(busy, stop=stop, clock=clock, monitor=True))
            kari = Citizen(sandbox, 6201)
            await kari.send("/help")
            await kari.expect("/consultations", timeout=20)
            stop.set()
            await asyncio.wait_for(task, 20)
        assert "Health and metrics are not served" in caplog.text


def _what_runs_where() -> dict[str, str]:
    """The table "What runs where" of docs/operations.md: name -> where it runs."""
    guide = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    section = guide.split("### What runs where", 1)[1].split("\n#", 1)[0]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| ")]
    return {cells[0].strip().strip("`"): cells[2].strip() for cells in rows[1:]}


async def test_the_operators_guide_says_truly_which_job_runs_in_every_replica(
    webhook: Webhook,
) -> None:
    job_queue = webhook.bot.application.job_queue
    assert job_queue is not None
    jobs = {job.name for job in job_queue.jobs()}
    documented = _what_runs_where()
    # Every job runs wherever a bot runs: nothing gates the job queue on the lock.
    assert {name: documented.get(name) for name in jobs} == dict.fromkeys(jobs, "every replica")
    # The delivery worker is the one thing that waits for the lock (bot/leader.py).
    assert documented.pop("delivery worker") == "the lock holder only"
    assert set(documented) == jobs


async def test_a_press_costs_the_bot_one_request_the_answer_rides_on_the_200(
    sandbox: Sandbox, webhook: Webhook, db: async_sessionmaker[AsyncSession]
) -> None:
    questions = await scales_with_anna(sandbox, db)
    assert await webhook.post(text_update(60, ANNA, "4")) == 200  # brings question 2
    (shown,) = sandbox.messages(ANNA)
    sandbox.stats.reset()
    data = f"n:{questions[1]}:5"
    query = await sandbox.press(ANNA, data, shown["message_id"])
    assert await webhook.post(press_update(61, ANNA, data, shown["message_id"], query)) == 200
    # Telegram made the button's answer from the webhook's response; the bot itself made one
    # request: the edit that turned question 2 into question 3.
    assert sandbox.stats.answered_in_webhook == {"answercallbackquery": 1}
    assert sandbox.stats.calls == {"answercallbackquery": 1, "editmessagetext": 1}
    assert (await sandbox.wait_for_callback_answer(query, 5))["text"] == "✓ 5"
    assert "3/10" in sandbox.messages(ANNA)[-1]["text"]
    assert await answers_of(db, ANNA) == {questions[0]: 4, questions[1]: 5}
