"""Which process runs which email: claims with leases that expire when the holder dies.

PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` so workers on any number of machines never wait on
each other and never take the same item; times come from the database's clock, so machines whose
clocks drift still agree on when a lease has expired. SQLite: one conditional UPDATE per item (the
database has a single writer, which makes the UPDATE atomic).

An item's lease is renewed while it runs. When a holder dies its lease runs out and another worker
takes the item; the graph resumes from its checkpoint and effects are idempotent by key. A holder on
this machine whose process is gone is noticed at once, without waiting for the lease.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from arinbox.domain.errors import ServiceUnavailable
from arinbox.persistence import models as m
from arinbox.persistence.models import utcnow

log = logging.getLogger("arinbox.claims")
W = m.WorkItem
CANDIDATE_SLACK = 32  # SQLite: candidates looked at beyond the n wanted


class DatabaseUnavailable(ServiceUnavailable):
    """The database connection failed; the email was not changed and is taken again later."""


def owner_id() -> str:
    """host:pid:random — the pid lets a process on the same host see that a holder died."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _pid_gone(owner: str, host: str) -> bool:
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


@dataclass
class Leases:
    sessions: sessionmaker[Session]
    owner: str
    lease: dt.timedelta

    def now(self, s: Session) -> dt.datetime:
        if s.get_bind().dialect.name == "postgresql":
            value = s.scalar(select(func.now()))
            assert isinstance(value, dt.datetime)
            return value.astimezone(dt.UTC)
        return utcnow()

    @staticmethod
    def claimable(now: dt.datetime, *, due_only: bool) -> ColumnElement[bool]:
        """pending; retry once its back-off has passed (``due_only``) or at once when a person runs
        `arinbox process`; processing whose holder's lease is gone."""
        free = or_(W.lease_until.is_(None), W.lease_until < now)
        retry_ready = free if due_only else W.claimed_by.is_(None)
        return or_(W.status == "pending", and_(W.status == "retry", retry_ready),
                   and_(W.status == "processing", free))

    def claim(self, n: int = 1, *, due_only: bool = True) -> list[int]:
        """Take up to ``n`` items, oldest first: status processing, held by this owner."""
        with self.sessions.begin() as s:
            now = self.now(s)
            q = select(W.id).where(self.claimable(now, due_only=due_only)).order_by(W.id).limit(n)
            if s.get_bind().dialect.name == "postgresql":
                ids = list(s.scalars(q.with_for_update(skip_locked=True)))
                if ids:
                    s.execute(update(W).where(W.id.in_(ids)).values(self._taken(now)))
                return ids
            # another process may take a candidate first: look past the first n, stop at n taken
            taken: list[int] = []
            for i in s.scalars(q.limit(n + CANDIDATE_SLACK)):
                if len(taken) == n:
                    break
                if self._take_one(s, i, now, due_only=due_only):
                    taken.append(i)
            return taken

    def take_if_free(self, work_item_id: int) -> bool:
        """Claim this one item unless another process holds it (retry back-off does not apply)."""
        with self.sessions.begin() as s:
            return self._take_one(s, work_item_id, self.now(s), due_only=False)

    def take(self, work_item_id: int) -> None:
        """Claim an item whatever its status: a decided approval resumes it."""
        with self.sessions.begin() as s:
            s.execute(update(W).where(W.id == work_item_id).values(self._taken(self.now(s))))

    def _take_one(self, s: Session, work_item_id: int, now: dt.datetime, *, due_only: bool) -> bool:
        stmt = (update(W).where(W.id == work_item_id, self.claimable(now, due_only=due_only))
                .values(self._taken(now)).execution_options(synchronize_session=False))
        return bool(s.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def _taken(self, now: dt.datetime) -> dict[str, object]:
        return {"status": "processing", "attempts": W.attempts + 1, "claimed_by": self.owner,
                "lease_until": now + self.lease}

    def renew(self) -> int:
        """Extend every lease this owner holds; the number renewed."""
        with self.sessions.begin() as s:
            now = self.now(s)
            stmt = (update(W).where(W.claimed_by == self.owner, W.status == "processing")
                    .values(lease_until=now + self.lease).execution_options(synchronize_session=False))
            return int(s.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def release(self, ids: Sequence[int]) -> None:
        """Give items back untouched (shutdown, a lost database connection): claimable at once, and
        the attempt is not counted."""
        if not ids:
            return
        with self.sessions.begin() as s:
            s.execute(update(W).where(W.id.in_(list(ids)), W.claimed_by == self.owner, W.status == "processing")
                      .values(claimed_by=None, lease_until=None, attempts=W.attempts - 1)
                      .execution_options(synchronize_session=False))

    def release_dead_local(self) -> int:
        """Free at once what a process of this host held when it died (kill -9, out of memory)."""
        host = socket.gethostname()
        with self.sessions.begin() as s:
            owners = set(s.scalars(select(W.claimed_by).where(W.status == "processing", W.claimed_by.is_not(None))
                                   .distinct()))
            dead = [o for o in owners if o is not None and o != self.owner and _pid_gone(o, host)]
            if dead:
                s.execute(update(W).where(W.status == "processing", W.claimed_by.in_(dead))
                          .values(lease_until=None).execution_options(synchronize_session=False))
        for o in dead:
            log.info("released the emails of a dead worker", extra={"worker": o})
        return len(dead)
