"""Process settings, read from the environment (HAZARDLOOP_*) by pydantic-settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

TIMEZONE = "Asia/Shanghai"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAZARDLOOP_", extra="ignore")

    home: Path = Path("var")
    database_url: str | None = None
    # 发文机关 and the prefix of every document number (文号), e.g. 肥安办函〔2026〕12号.
    issuing_body: str = "肥城市安全生产委员会办公室"
    doc_prefix: str = "肥安办"
    city: str = "肥城市"

    @property
    def data_dir(self) -> Path:
        return self.home.resolve()

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    def resolved_database_url(self, override: str | None = None) -> str:
        if override:
            return override
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'hazardloop.sqlite'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
