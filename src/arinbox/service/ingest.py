"""Ingest: store every raw message exactly once, before any processing.

Keyed by mailbox + source key (file name, folder/UIDVALIDITY/UID, Graph id); a message whose
Message-ID and content are already stored in the mailbox under another key is a duplicate too.
A message that cannot be parsed is stored and its work item marked failed with the reason, and so
is one over the size limits (``ARINBOX_MAX_MESSAGE_BYTES``, ``ARINBOX_MAX_ATTACHMENT_BYTES``): a
person sees it, nothing reads it.
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
from arinbox.settings import Settings, get_settings

MIB = 1024 * 1024
# Above this only the head of a message is kept (its headers and first part, enough for a person to
# see who sent what), with the full size and hash: a database row is no place for a 300 MB message,
# and a mail server or the sender still holds the original.
STORE_CAP_BYTES = 64 * MIB
STORED_HEAD_BYTES = 1 * MIB


@dataclass(frozen=True)
class SizeLimits:
    max_message_bytes: int = 25 * MIB
    max_attachment_bytes: int = 10 * MIB
    store_cap_bytes: int = STORE_CAP_BYTES
    stored_head_bytes: int = STORED_HEAD_BYTES

    @classmethod
    def of(cls, settings: Settings) -> SizeLimits:
        return cls(settings.max_message_bytes, settings.max_attachment_bytes)


def _size(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n} bytes"


def oversize(raw: bytes, limits: SizeLimits) -> str | None:
    """Why a message is too large to process (one line naming the limit), or None."""
    if len(raw) > limits.max_message_bytes:
        return (f"message is {_size(len(raw))}, over the {_size(limits.max_message_bytes)} limit "
                "(ARINBOX_MAX_MESSAGE_BYTES)")
    return None


def oversize_attachment(sizes: list[tuple[str, int]], limits: SizeLimits) -> str | None:
    for name, size in sizes:
        if size > limits.max_attachment_bytes:
            return (f"attachment {name or '(unnamed)'!r} is {_size(size)}, over the "
                    f"{_size(limits.max_attachment_bytes)} limit (ARINBOX_MAX_ATTACHMENT_BYTES)")
    return None


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


def ingest(source: MailSource, sessions: sessionmaker[Session], kind: str,
           limits: SizeLimits | None = None) -> IngestReport:
    limits = limits or SizeLimits.of(get_settings())
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
        message_id = f"{digest[:32]}@arinbox.invalid"
        error = oversize(mail.raw, limits)  # too large: not parsed at all, the id is the content's
        if error is None:
            try:
                parsed = parse_email(mail.raw)
                message_id = parsed.message_id
                error = oversize_attachment([(a.filename, a.size) for a in parsed.attachments], limits)
            except MailParseError as e:
                error = f"cannot parse: {e}"
        stored = mail.raw if len(mail.raw) <= limits.store_cap_bytes else mail.raw[:limits.stored_head_bytes]
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
                               sha256=digest, raw=stored, size=len(mail.raw),
                               parse_status="failed" if error else "ok", parse_error=error)
            s.add(raw)
            s.flush()
            item = m.WorkItem(raw_message_id=raw.id, status="failed" if error else "pending", last_error=error)
            s.add(item)
            s.flush()
            trace.append(s, key=f"{item.id}:ingest", node="ingest", work_item_id=item.id, body={
                "mailbox": source.name, "source_key": mail.source_key, "message_id": message_id,
                "sha256": digest, "size": len(mail.raw), "stored": len(stored), "parsed": error is None,
                "error": error})
        known.add(mail.source_key)
        source.acknowledge(mail.source_key)  # only now, with the raw message committed
        if error:
            report.failed += 1
            report.failures.append(f"{mail.source_key}: {error}")
        else:
            report.new += 1
    return report
