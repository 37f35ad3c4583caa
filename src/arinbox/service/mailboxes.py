"""Mailboxes from ``connectors/mailboxes.yaml``: build each one's source and outbox, poll it once,
and settle on the server what processing has finished.

The Graph adapter is imported only for a Graph mailbox, so an IMAP-only deployment never needs msal.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arinbox.connectors.config import (
    FolderMailboxConfig,
    GraphMailboxConfig,
    ImapMailboxConfig,
    load_mailboxes,
)
from arinbox.connectors.folder import FolderMailbox, FolderOutbox
from arinbox.domain.errors import ConfigError
from arinbox.domain.ports import MailSource, Outbox
from arinbox.persistence import models as m
from arinbox.persistence.sync_state import SqlSyncState
from arinbox.service.ingest import IngestReport, ingest
from arinbox.settings import Settings

MailboxConfig = FolderMailboxConfig | ImapMailboxConfig | GraphMailboxConfig

# a work item's final status -> what the mailbox adapter is told
SETTLED_OUTCOMES = {"done": "processed", "failed": "failed", "waiting_approval": "needs_review"}


def mailboxes_path(settings: Settings) -> Path:
    return settings.mailboxes_file or settings.data_root / "connectors" / "mailboxes.yaml"


def load_mailbox(settings: Settings, name: str) -> MailboxConfig:
    """One configured mailbox; a folder mailbox's relative path is read from beside the file."""
    path = mailboxes_path(settings)
    config = load_mailboxes(path).get(name)
    if isinstance(config, FolderMailboxConfig) and not config.path.is_absolute():
        config = config.model_copy(update={"path": path.parent / config.path})
    return config


def _graph_module() -> Any:
    try:
        return importlib.import_module("arinbox.connectors.msgraph")
    except ModuleNotFoundError as e:
        raise ConfigError(f"msgraph support is not installed ({e.name} is missing)") from None


def build_source(config: MailboxConfig, sessions: sessionmaker[Session]) -> MailSource:
    if isinstance(config, FolderMailboxConfig):
        return FolderMailbox(config.path, name=config.name, address=config.address)
    state = SqlSyncState(sessions, config.name)
    if isinstance(config, ImapMailboxConfig):
        from arinbox.connectors.imap import ImapMailbox

        return ImapMailbox(config, state)
    source: MailSource = _graph_module().GraphMailbox(config, state)
    return source


def build_outbox(config: MailboxConfig, sessions: sessionmaker[Session], settings: Settings) -> Outbox:
    if isinstance(config, FolderMailboxConfig):
        return FolderOutbox(settings.outbox_dir)
    if isinstance(config, ImapMailboxConfig):
        from arinbox.connectors.imap import ImapConnection, ImapSentFolder
        from arinbox.connectors.smtp import SmtpOutbox

        folder = config.smtp.append_to_sent if config.smtp else None
        sent = ImapSentFolder(ImapConnection(config), folder) if folder else None
        return SmtpOutbox(config, sessions, sent=sent)
    outbox: Outbox = _graph_module().GraphOutbox(config, sessions)
    return outbox


def close(thing: object) -> None:
    """Adapters holding a connection have ``close``; folders do not."""
    closer = getattr(thing, "close", None)
    if callable(closer):
        closer()


def settle_finished(sessions: sessionmaker[Session], source: MailSource) -> int:
    """Tell the source the outcome of every stored message of its mailbox whose processing has
    finished and that was not settled yet; record each outcome once the source has it."""
    with sessions() as s:
        rows = s.execute(
            select(m.RawMessage.id, m.RawMessage.source_key, m.WorkItem.status)
            .join(m.WorkItem, m.WorkItem.raw_message_id == m.RawMessage.id)
            .join(m.Mailbox, m.Mailbox.id == m.RawMessage.mailbox_id)
            .where(m.Mailbox.name == source.name, m.RawMessage.settled_outcome.is_(None),
                   m.WorkItem.status.in_(SETTLED_OUTCOMES))
            .order_by(m.RawMessage.id)).all()
    for raw_id, key, status in rows:
        outcome = SETTLED_OUTCOMES[status]
        source.settle(key, outcome)
        with sessions.begin() as s:
            raw = s.get(m.RawMessage, raw_id)
            assert raw is not None
            raw.settled_outcome = outcome
    return len(rows)


@dataclass
class PollReport:
    ingest: IngestReport
    settled: int


def poll_once(config: MailboxConfig, sessions: sessionmaker[Session]) -> PollReport:
    """Ingest what is new in one mailbox, then settle what processing has finished."""
    source = build_source(config, sessions)
    try:
        report = ingest(source, sessions, kind=config.kind)
        return PollReport(report, settle_finished(sessions, source))
    finally:
        close(source)
