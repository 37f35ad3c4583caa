"""Replies leave through the mailbox their email came in by: SMTP for an IMAP mailbox, Graph for a
Microsoft 365 one, the outbox folder for a folder mailbox or anything not configured."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arinbox.domain.ports import Outbox, OutgoingMail
from arinbox.persistence import models as m


class RoutedOutbox:
    """One Outbox over many: each mailbox's own adapter is built on first use (a deployment whose
    mailboxes.yaml names a Graph mailbox never connects to it until a reply is due)."""

    def __init__(self, sessions: sessionmaker[Session], default: Outbox,
                 factory: Callable[[str], Outbox | None]) -> None:
        self._sessions, self._default, self._factory = sessions, default, factory
        self._built: dict[str, Outbox] = {}
        self._lock = threading.Lock()

    def _for(self, mailbox: str) -> Outbox:
        with self._lock:
            if mailbox not in self._built:
                self._built[mailbox] = (self._factory(mailbox) if mailbox else None) or self._default
            return self._built[mailbox]

    def _mailbox_of(self, idempotency_key: str) -> str:
        with self._sessions() as s:
            name = s.scalar(select(m.Mailbox.name)
                            .join(m.RawMessage, m.RawMessage.mailbox_id == m.Mailbox.id)
                            .join(m.WorkItem, m.WorkItem.raw_message_id == m.RawMessage.id)
                            .join(m.ActionRow, m.ActionRow.work_item_id == m.WorkItem.id)
                            .where(m.ActionRow.idempotency_key == idempotency_key))
        return name or ""

    def send(self, mail: OutgoingMail) -> str:
        return self._for(mail.mailbox).send(mail)

    def was_sent(self, idempotency_key: str) -> bool:
        return self._for(self._mailbox_of(idempotency_key)).was_sent(idempotency_key)

    def close(self) -> None:
        for outbox in self._built.values():
            closer = getattr(outbox, "close", None)
            if callable(closer):
                closer()
