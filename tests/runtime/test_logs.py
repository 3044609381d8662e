"""Logs: one line per event, JSON when asked, never the token, an answer text or a name."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram.error import BadRequest

from bot.cli import main
from bot.logs import REDACTED, RedactSecrets, configure_logging
from sandbox import Sandbox
from tests.auxil.updates import add_scales, prepare_people, text_update
from tests.runtime.conftest import NOW, Webhook

TOKEN = "987654321:AAFakeTokenForTheRedactionTest_x-y"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Install the production logging into a buffer; restore the test logging after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    handler = configure_logging("INFO", "json", [TOKEN, "webhook-secret"])
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    yield stream
    for current in list(root.handlers):
        root.removeHandler(current)
    for old in handlers:
        root.addHandler(old)
    root.setLevel(level)


def test_json_logs_are_one_object_per_line_with_the_extra_fields(captured: io.StringIO) -> None:
    log = logging.getLogger("medvirk.test")
    log.info("Update %s handled", 7, extra={"update_id": 7, "kind": "text", "latency_ms": 1.5})
    try:
        raise ValueError("with\nnewlines")
    except ValueError:
        log.exception("It failed")
    lines = captured.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "Update 7 handled"
    assert (first["update_id"], first["kind"], first["latency_ms"]) == (7, "text", 1.5)
    assert first["level"] == "INFO"
    assert second["exc_type"] == "ValueError"
    assert "Traceback" in second["exception"]


def test_secrets_are_redacted_wherever_they_hide(captured: io.StringIO) -> None:
    log = logging.getLogger("medvirk.test")
    log.warning("GET https://api.telegram.org/bot%s/getMe", TOKEN)
    log.warning("quoted: %s", TOKEN.replace(":", "%3A"))
    log.warning("header webhook-secret sent")
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError:
        log.exception("Start failed")
    text = captured.getvalue()
    assert TOKEN not in text
    assert TOKEN.replace(":", "%3A") not in text
    assert "webhook-secret" not in text
    assert text.count(REDACTED) == 4


def test_httpx_stays_quiet_because_it_logs_urls(captured: io.StringIO) -> None:
    logging.getLogger("httpx").info("HTTP Request: POST https://x/bot%s/sendMessage", TOKEN)
    assert captured.getvalue() == ""
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING


def test_a_broken_record_is_still_logged() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", ("one",), None)
    assert RedactSecrets([TOKEN]).filter(record)  # the handler reports it; nothing raises here


@pytest.mark.postgres
async def test_one_line_per_update_with_kind_and_latency_and_no_text_or_name(
    sandbox: Sandbox,
    webhook: Webhook,
    db: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    person = 6501
    sandbox.add_user(person, "Kari")
    async with db() as session:
        consultation = await add_scales(session)
    await prepare_people(db, [person], consultation.id or 0, NOW)
    update = text_update(900, person, "Min hemmelige mening om Holmen")
    update["message"]["from"]["first_name"] = "Kari Nordmann"
    with caplog.at_level(logging.DEBUG):
        assert await webhook.post(update) == 200
        assert await webhook.post(text_update(901, person, "3")) == 200
    handled = [r for r in caplog.records if r.name == "bot.app" and hasattr(r, "latency_ms")]
    assert [(r.update_id, r.kind, r.outcome) for r in handled] == [  # type: ignore[attr-defined]
        (900, "text", "ok"),
        (901, "text", "ok"),
    ]
    everything = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "hemmelige" not in everything
    assert "Kari" not in everything
    assert sandbox.token not in everything


def test_webhook_mode_refuses_to_start_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_URL", "https://medvirk.example.no/telegram")
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 1
    assert "WEBHOOK_SECRET must be" in result.output
    assert result.output.count("\n") == 1
    assert TOKEN not in result.output

    monkeypatch.setenv("WEBHOOK_SECRET", "has spaces!")
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 1
    assert "WEBHOOK_SECRET" in result.output
    assert "Traceback" not in result.output


def test_a_live_bot_refuses_to_start_without_a_privacy_contact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.delenv("TELEGRAM_API_URL", raising=False)  # Telegram's own: a live bot
    monkeypatch.delenv("WEBHOOK_URL", raising=False)
    monkeypatch.setenv("PRIVACY_CONTACT", "  ")
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 1
    assert "PRIVACY_CONTACT must be set" in result.output
    assert result.output.count("\n") == 1
    assert TOKEN not in result.output


def test_a_token_echoed_by_telegram_is_redacted_after_ptb_changed_its_case(
    captured: io.StringIO,
) -> None:
    # PTB strips "Bad Request: " and capitalises the rest, which lower-cases the token.
    error = BadRequest(f"Bad Request: chat not found for bot{TOKEN}")
    assert TOKEN not in str(error)
    log = logging.getLogger("medvirk.test")
    log.error("Sending failed: %s", error)
    log.warning("header WEBHOOK-SECRET sent")
    text = captured.getvalue()
    assert TOKEN.lower() not in text.lower()
    assert "webhook-secret" not in text.lower()
