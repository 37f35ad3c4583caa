"""Ingest: store every raw message exactly once, before any processing.

Keyed by mailbox + source key (file name, folder/UIDVALIDITY/UID, Graph id); a message whose
Message-ID and content are already stored in the mailbox under another key is a duplicate too.
A message that cannot be parsed is stored and its work item marked failed with the reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arinbox.domain.errors import MailParseError
from arinbox.domain.ports import MailSource
from arinbox.mail.parse import parse_email
from arinbox.persistence import models as m
from arinbox.persistence import trace


@dataclass
class IngestReport:
    new: int = 0
    duplicates: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)  # "source key: reason"


def ensure_mailbox(sessions: sessionmaker[Session], name: str, kind: str, address: str) -> int:
    with sessions.begin() as s:
        box = s.scalar(select(m.Mailbox).where(m.Mailbox.name == name))
        if box is None:
            box = m.Mailbox(name=name, kind=kind, address=address)
            s.add(box)
            s.flush()
        return box.id


def ingest(source: MailSource, sessions: sessionmaker[Session], kind: str) -> IngestReport:
    mailbox_id = ensure_mailbox(sessions, source.name, kind, source.address)
    report = IngestReport()
    with sessions() as s:
        known = set(s.scalars(select(m.RawMessage.source_key).where(m.RawMessage.mailbox_id == mailbox_id)))
    for mail in source.fetch():
        if mail.source_key in known:
            report.duplicates += 1
            source.acknowledge(mail.source_key)
            continue
        digest = hashlib.sha256(mail.raw).hexdigest()
        error: str | None = None
        try:
            message_id = parse_email(mail.raw).message_id
        except MailParseError as e:
            error = str(e)
            message_id = f"{digest[:32]}@arinbox.invalid"
        with sessions.begin() as s:
            same = s.scalar(select(m.RawMessage.id).where(
                m.RawMessage.mailbox_id == mailbox_id, m.RawMessage.message_id == message_id,
                m.RawMessage.sha256 == digest))
            if same is not None:
                report.duplicates += 1
                known.add(mail.source_key)
                source.acknowledge(mail.source_key)
                continue
            raw = m.RawMessage(mailbox_id=mailbox_id, source_key=mail.source_key, message_id=message_id,
                               sha256=digest, raw=mail.raw, size=len(mail.raw),
                               parse_status="failed" if error else "ok", parse_error=error)
            s.add(raw)
            s.flush()
            item = m.WorkItem(raw_message_id=raw.id, status="failed" if error else "pending",
                              last_error=f"cannot parse: {error}" if error else None)
            s.add(item)
            s.flush()
            trace.append(s, key=f"{item.id}:ingest", node="ingest", work_item_id=item.id, body={
                "mailbox": source.name, "source_key": mail.source_key, "message_id": message_id,
                "sha256": digest, "size": len(mail.raw), "parsed": error is None, "error": error})
        known.add(mail.source_key)
        source.acknowledge(mail.source_key)  # only now, with the raw message committed
        if error:
            report.failed += 1
            report.failures.append(f"{mail.source_key}: {error}")
        else:
            report.new += 1
    return report
