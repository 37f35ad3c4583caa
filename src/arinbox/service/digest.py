"""The daily digest: where the queue stands, written to the log and as a text mail to the AR team
(``ARINBOX_SERVICE__DIGEST_TO``) in the outbox folder. One mail per day and address, whatever the
number of runs."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arinbox.domain.ports import Outbox, OutgoingMail
from arinbox.persistence import models as m

log = logging.getLogger("arinbox.digest")
STATUSES = ("pending", "processing", "retry", "waiting_approval", "done", "failed")


@dataclass(frozen=True)
class Digest:
    day: dt.date
    by_status: dict[str, int]  # every work item
    received_24h: int
    pending_approvals: int
    escalated_approvals: int
    broken_promises: int

    def text(self) -> str:
        lines = [f"arinbox daily digest for {self.day.isoformat()}", "",
                 f"emails received in the last 24 hours: {self.received_24h}", "", "emails by status:"]
        lines += [f"  {status:<17} {self.by_status.get(status, 0)}" for status in STATUSES]
        lines += [f"  {status:<17} {n}" for status, n in sorted(self.by_status.items()) if status not in STATUSES]
        lines += ["", f"approvals waiting for a person: {self.pending_approvals} "
                      f"({self.escalated_approvals} past the policy's limit)",
                  f"broken promises to pay: {self.broken_promises}",
                  f"emails that need a person (failed): {self.by_status.get('failed', 0)}"]
        return "\n".join(lines) + "\n"


def compute_digest(s: Session, now: dt.datetime) -> Digest:
    by_status = dict(s.execute(select(m.WorkItem.status, func.count()).group_by(m.WorkItem.status)).all())
    received = s.scalar(select(func.count()).select_from(m.RawMessage)
                        .where(m.RawMessage.received_at >= now - dt.timedelta(days=1))) or 0
    pending = s.scalar(select(func.count()).select_from(m.Approval).where(m.Approval.status == "pending")) or 0
    escalated = s.scalar(select(func.count()).select_from(m.Approval).where(
        m.Approval.status == "pending", m.Approval.escalated_at.is_not(None))) or 0
    broken = s.scalar(select(func.count()).select_from(m.PromiseToPay)
                      .where(m.PromiseToPay.status == "broken")) or 0
    return Digest(now.date(), {str(k): int(v) for k, v in by_status.items()}, received, pending, escalated, broken)


def send_digest(sessions: sessionmaker[Session], outbox: Outbox, *, now: dt.datetime, to: str,
                sender: str) -> Digest:
    with sessions() as s:
        digest = compute_digest(s, now)
    log.info("daily digest", extra={"day": digest.day.isoformat(), "by_status": digest.by_status,
                                    "received_24h": digest.received_24h,
                                    "pending_approvals": digest.pending_approvals,
                                    "broken_promises": digest.broken_promises})
    outbox.send(OutgoingMail(idempotency_key=f"digest:{digest.day.isoformat()}:{to}", to=to, sender=sender,
                             subject=f"arinbox daily digest {digest.day.isoformat()}", body=digest.text()))
    return digest
