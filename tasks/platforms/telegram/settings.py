"""Telegram channels: Herald's own bot (the token @BotFather gave) posts to every connected channel."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TelegramSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    bot_token: str | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    api_url: str = Field("https://api.telegram.org", alias="TELEGRAM_API_URL")  # requests: {url}/bot{token}/{method}

    @property
    def secret_values(self) -> tuple[str, ...]:
        return (self.bot_token,) if self.bot_token else ()
