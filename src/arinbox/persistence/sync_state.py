"""The database-backed SyncState: one mailbox adapter's cursors, committed on every set."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from arinbox.persistence import models as m


class SqlSyncState:
    def __init__(self, sessions: sessionmaker[Session], mailbox_name: str) -> None:
        self._sessions = sessions
        self.mailbox_name = mailbox_name

    def get(self, key: str) -> str | None:
        with self._sessions() as s:
            row = s.get(m.MailboxSyncState, (self.mailbox_name, key))
            return row.value if row else None

    def set(self, key: str, value: str) -> None:
        with self._sessions.begin() as s:
            row = s.get(m.MailboxSyncState, (self.mailbox_name, key))
            if row is None:
                s.add(m.MailboxSyncState(mailbox_name=self.mailbox_name, key=key, value=value))
            else:
                row.value = value
