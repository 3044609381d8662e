"""Settings from the environment or a ``.env`` file; every one is documented in .env.example."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.outbox import QuietHours

SUPPORTED_LANGUAGES = ("nb", "nn", "en")
WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


class Settings(BaseSettings):
    """Everything an operator can set."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///./medvirk.db"
    telegram_api_url: str = "https://api.telegram.org"
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    default_language: str = "nb"
    timezone: str = "Europe/Oslo"
    quiet_hours: str = "22-08"
    # Up to Telegram's paid-broadcast tier (1000/s); the free limit is about 30/s.
    broadcast_rate: float = Field(default=25.0, gt=0, le=1000)
    log_level: str = "INFO"
    log_format: Literal["plain", "json"] = "plain"
    privacy_contact: str = ""
    # Signs the web pages' cookies and one-time links (bot/signing.py); unset: a random secret
    # kept in the database.
    session_secret: SecretStr | None = None
    retention_free_text_days: int = Field(default=180, ge=1)
    retention_inactive_months: int = Field(default=24, ge=1)
    # Reminders (docs/arenas.md): hours before an event; after how long unfinished answers
    # are reminded (0: never); how late a reminder may still go out.
    event_reminders: Annotated[tuple[float, ...], NoDecode] = (24.0, 2.0)
    finish_reminder_hours: float = Field(default=24.0, ge=0)
    reminder_max_age_hours: float = Field(default=12.0, gt=0)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept ``ADMIN_IDS=1,2,3`` as well as a list."""
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(" ", "").split(",") if part)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("event_reminders", mode="before")
    @classmethod
    def _reminder_hours(cls, value: object) -> object:
        """Accept ``EVENT_REMINDERS=24,2`` (hours before the start); empty or ``off``: none."""
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("", "off", "none", "0"):
                return ()
            try:
                hours = tuple(float(part) for part in text.replace(" ", "").split(",") if part)
            except ValueError:
                raise ValueError("write hours before the event, e.g. 24,2") from None
            value = hours
        if isinstance(value, int | float):
            value = (float(value),)
        if isinstance(value, tuple | list) and any(
            not isinstance(h, int | float) or not 0 < h <= 24 * 60 for h in value
        ):
            raise ValueError("each reminder is between 0 and 1440 hours before the event")
        return value

    @field_validator("bot_token", "webhook_url", "webhook_secret", "session_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """``WEBHOOK_URL=`` (as copied from .env.example) means polling, not an empty URL."""
        return None if value == "" else value

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's rule for secret_token; anything else makes setWebhook fail at start.
        if value is not None and not WEBHOOK_SECRET_RE.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def api_base_url(self) -> str:
        """The root PTB prepends to ``{token}/{method}``."""
        return f"{self.telegram_api_url}/bot"

    @property
    def file_base_url(self) -> str:
        """The root PTB prepends to ``{token}/{file_path}``."""
        return f"{self.telegram_api_url}/file/bot"

    # Broadcast delivery (bot/delivery.py, docs/broadcasts.md).

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be a time zone name such as Europe/Oslo") from None
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_window(cls, value: str) -> str:
        QuietHours.parse(value, "UTC")  # raises ValueError with what is wrong
        return value

    @property
    def quiet(self) -> QuietHours | None:
        """QUIET_HOURS in TIMEZONE; None when turned off."""
        return QuietHours.parse(self.quiet_hours, self.timezone)
