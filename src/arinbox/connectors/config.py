"""``connectors/mailboxes.yaml``: which mailboxes arinbox watches and how it answers from them.

Secrets never live in this file: each one is named by an environment variable (``*_env``) or a
secret file (``*_file``), read when the adapter is built.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arinbox.domain.errors import ConfigError
from arinbox.yaml_files import load_yaml_model


class Secret(BaseModel):
    """Where a secret comes from: an environment variable or a file (e.g. a mounted secret)."""

    model_config = ConfigDict(extra="forbid")
    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Secret:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def read(self, what: str) -> str:
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError(f"{what}: environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError(f"{what}: cannot read secret file {self.file}: {e.strerror}") from None


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    address: str  # the mailbox's own address: replies are sent From it


class FolderMailboxConfig(_Base):
    kind: Literal["folder"]
    path: Path


class SmtpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: Secret | None = None
    verify_tls: bool = True
    ca_file: Path | None = None
    timeout_s: float = 30
    append_to_sent: str | None = None  # IMAP folder that receives a copy of each reply


class ImapMailboxConfig(_Base):
    kind: Literal["imap"]
    host: str
    port: int = 993
    security: Literal["tls", "starttls", "none"] = "tls"
    verify_tls: bool = True
    ca_file: Path | None = None
    username: str
    auth: Literal["password", "xoauth2"] = "password"
    password: Secret | None = None  # for auth: password
    oauth2_token: Secret | None = None  # for auth: xoauth2 (an access token)
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1)
    processed_folder: str | None = None  # move here after processing; None: flag only
    review_folder: str | None = None  # move here when a person must look
    idle: bool = True  # use IDLE when the server offers it
    poll_interval_s: float = Field(default=60, gt=0)
    timeout_s: float = 30
    smtp: SmtpConfig | None = None

    @model_validator(mode="after")
    def _credentials(self) -> ImapMailboxConfig:
        if self.auth == "password" and self.password is None:
            raise ValueError("auth: password needs password (env or file)")
        if self.auth == "xoauth2" and self.oauth2_token is None:
            raise ValueError("auth: xoauth2 needs oauth2_token (env or file)")
        return self


class GraphMailboxConfig(_Base):
    kind: Literal["msgraph"]
    tenant_id: str
    client_id: str
    client_secret: Secret
    user: str  # the shared mailbox (UPN or id) read with app-only permissions
    folders: list[str] = Field(default_factory=lambda: ["inbox"], min_length=1)
    processed_folder: str | None = None
    review_folder: str | None = None
    category: str | None = "arinbox"  # categorize processed mail (when not moved)
    reply_mode: Literal["send", "draft"] = "draft"  # the policy may still hold a reply for approval
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    ca_file: Path | None = None  # a private CA (tests, proxies); default: the system store
    poll_interval_s: float = Field(default=60, gt=0)
    timeout_s: float = 30


MailboxConfig = Annotated[
    FolderMailboxConfig | ImapMailboxConfig | GraphMailboxConfig, Field(discriminator="kind")
]


class MailboxesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mailboxes: list[MailboxConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> MailboxesFile:
        names = [m.name for m in self.mailboxes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"mailbox names must be unique: {', '.join(dupes)}")
        return self

    def get(self, name: str) -> FolderMailboxConfig | ImapMailboxConfig | GraphMailboxConfig:
        for m in self.mailboxes:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.mailboxes)
        raise ConfigError(f"no mailbox named {name!r} (configured: {known})")


def load_mailboxes(path: Path) -> MailboxesFile:
    return load_yaml_model(path, MailboxesFile)
