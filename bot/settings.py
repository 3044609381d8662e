"""Settings from the environment or a ``.env`` file; every one is documented in .env.example."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.outbox import QuietHours

#: The UI languages are the catalogues in handlers/locales (handlers.i18n.LANGUAGES); looked up
#: by path, since importing the handlers takes a second that every CLI command would pay.
LOCALES = Path(__file__).parents[1] / "handlers" / "locales"
WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


def is_ui_language(code: str) -> bool:
    """Whether ``code`` has a UI catalogue (a language the bot can speak)."""
    return (
        re.fullmatch(r"[a-z]{2,3}", code) is not None
        and (LOCALES / code / "LC_MESSAGES" / "medvirk.po").is_file()
    )


#: Telegram's own Bot API server.
TELEGRAM_API = "https://api.telegram.org"


class Settings(BaseSettings):
    """Everything an operator can set."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///./medvirk.db"
    telegram_api_url: str = TELEGRAM_API
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
    # The public address of the web server (https://medvirk.kommune.no), for the links the bot
    # sends (the dashboard's login links). Unset: WEBHOOK_URL's host, else WEB_HOST:WEB_PORT.
    public_url: str | None = None
    # A dashboard session ends after this many minutes without a request (docs/dashboard.md).
    dashboard_idle_minutes: int = Field(default=30, ge=1, le=720)
    # The residents' web chat (bot/webchannel/, docs/web-channel.md): served on WEB_HOST:WEB_PORT
    # beside the webhook; alone when there is no BOT_TOKEN.
    web_channel: bool = False
    # The page's name (the municipality's), and how else residents reach the municipality
    # (shown on every page, also without JavaScript).
    web_title: str = "Medvirk"
    web_contact: str = ""
    # Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (comma-separated
    # addresses): the client's address for the per-address limit, and https for Secure cookies.
    web_trusted_proxies: Annotated[frozenset[str], NoDecode] = frozenset()
    # Requests a minute: per web session, and per client address (a library's or a school's
    # network is one address for many people).
    web_limit_session: int = Field(default=60, ge=1)
    web_limit_address: int = Field(default=600, ge=1)
    retention_free_text_days: int = Field(default=180, ge=1)
    retention_inactive_months: int = Field(default=24, ge=1)
    # Reminders (docs/arenas.md): hours before an event; after how long unfinished answers
    # are reminded (0: never); how late a reminder may still go out.
    event_reminders: Annotated[tuple[float, ...], NoDecode] = (24.0, 2.0)
    finish_reminder_hours: float = Field(default=24.0, ge=0)
    reminder_max_age_hours: float = Field(default=12.0, gt=0)
    # Who answered against who lives here (docs/representation.md): a band is under-represented
    # when its share of the respondents is below its share of the residents divided by this.
    underrepresented_factor: float = Field(default=1.5, ge=1, le=10)
    # Volunteering (docs/volunteering.md): invitations one volunteer gets from one
    # coordinator's needs in seven days (a coordinator may have their own); days after a
    # need that the contact details volunteers shared are kept.
    volunteer_weekly_cap: int = Field(default=3, ge=1, le=50)
    retention_volunteer_contact_days: int = Field(default=30, ge=1)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept ``ADMIN_IDS=1,2,3`` as well as a list."""
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(" ", "").split(",") if part)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("web_trusted_proxies", mode="before")
    @classmethod
    def _split_addresses(cls, value: object) -> object:
        """Accept ``WEB_TRUSTED_PROXIES=127.0.0.1,10.0.0.2``."""
        if isinstance(value, str):
            return frozenset(part for part in value.replace(" ", "").split(",") if part)
        return value

    @field_validator("web_channel", mode="before")
    @classmethod
    def _on_off(cls, value: object) -> object:
        """``WEB_CHANNEL=on`` or ``off`` (true/false, 1/0 and empty work too)."""
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("", "off"):
                return False
            if text == "on":
                return True
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

    @field_validator(
        "bot_token", "webhook_url", "webhook_secret", "session_secret", "public_url", mode="before"
    )
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
        if not is_ui_language(value):
            found = sorted(path.parents[1].name for path in LOCALES.glob("*/LC_MESSAGES/*.po"))
            raise ValueError(f"must be one of {', '.join(found)}")
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def talks_to_telegram(self) -> bool:
        """True for a live bot: a token and Telegram's own Bot API (not the sandbox's)."""
        live = self.telegram_api_url.rstrip("/") == TELEGRAM_API
        return self.bot_token is not None and live

    @property
    def web_url(self) -> str:
        """Where people reach the web server: PUBLIC_URL, else WEBHOOK_URL's root, else local."""
        if self.public_url:
            return self.public_url.rstrip("/")
        if self.webhook_url:
            scheme, _, rest = self.webhook_url.partition("://")
            return f"{scheme}://{rest.split('/', 1)[0]}"
        host = "127.0.0.1" if self.web_host in ("0.0.0.0", "::") else self.web_host  # noqa: S104
        return f"http://{host}:{self.web_port}"

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
