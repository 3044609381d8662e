"""Settings from the environment or a ``.env`` file; every one is documented in .env.example."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SUPPORTED_LANGUAGES = ("nb", "nn", "en")


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
    broadcast_rate: float = Field(default=25.0, gt=0)
    log_level: str = "INFO"

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept ``ADMIN_IDS=1,2,3`` as well as a list."""
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(" ", "").split(",") if part)
        if isinstance(value, int):
            return frozenset({value})
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
