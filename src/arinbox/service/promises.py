"""Promise-to-pay follow-ups: a promise whose date has passed while one of its invoices is still open
is broken, and a person is told.

The simplest honest design: arinbox does not chase the customer by itself. A broken promise gets
status ``broken``, a trace record (node ``promise_follow_up``) on the email that made it, and a
notice mail to the collections address (``ARINBOX_SERVICE__FOLLOW_UP_TO``) in the outbox folder; a
person decides what to say. A promise whose invoices were all paid becomes ``kept``. Each step is
keyed by the promise, so running the check twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arinbox.domain.ports import Outbox, OutgoingMail
from arinbox.persistence import models as m
from arinbox.persistence import trace


@dataclass(frozen=True)
class FollowUps:
    broken: list[int]
    kept: list[int]


def _notice(p: m.PromiseToPay, open_invoices: list[m.Invoice], *, to: str, sender: str) -> OutgoingMail:
    lines = [f"Customer {p.customer_id} promised to pay {p.amount} {p.currency} by {p.promised_date.isoformat()}.",
             "These invoices are still open:", ""]
    lines += [f"  {inv.invoice_number}  open {inv.open_amount} {inv.currency}  due {inv.due_date.isoformat()}"
              for inv in open_invoices]
    lines += ["", f"Promise record: promise:{p.id}. arinbox has not written to the customer; please follow up."]
    return OutgoingMail(idempotency_key=f"promise-follow-up:{p.id}", to=to, sender=sender,
                        subject=f"Broken promise to pay: {p.customer_id}, due {p.promised_date.isoformat()}",
                        body="\n".join(lines) + "\n")


def _work_item(s: Session, p: m.PromiseToPay) -> int | None:
    return s.scalar(select(m.ActionRow.work_item_id).where(m.ActionRow.idempotency_key == p.idempotency_key))


def follow_up_promises(sessions: sessionmaker[Session], outbox: Outbox, *, today: dt.date, to: str,
                       sender: str) -> FollowUps:
    broken: list[int] = []
    kept: list[int] = []
    with sessions() as s:
        due = list(s.scalars(select(m.PromiseToPay).where(m.PromiseToPay.status == "open",
                                                           m.PromiseToPay.promised_date < today)
                             .order_by(m.PromiseToPay.id)))
        plans = []
        for p in due:
            invoices = [inv for n in p.invoice_numbers if (inv := s.get(m.Invoice, n)) is not None]
            plans.append((p, [inv for inv in invoices if inv.open_amount > 0]))
    for p, still_open in plans:
        if still_open:
            outbox.send(_notice(p, still_open, to=to, sender=sender))  # keyed: a second send is a no-op
        status = "broken" if still_open else "kept"
        with sessions.begin() as s:
            row = s.get(m.PromiseToPay, p.id, with_for_update=True)
            if row is None or row.status != "open":
                continue  # another process got here first
            row.status = status
            trace.append(s, key=f"promise:{p.id}:{status}", node="promise_follow_up", work_item_id=_work_item(s, p),
                         body={"promise": p.id, "status": status, "customer": p.customer_id,
                               "promised_date": p.promised_date, "amount": str(p.amount), "currency": p.currency,
                               "open_invoices": [i.invoice_number for i in still_open],
                               "notified": to if still_open else None, "checked_on": today})
        (broken if still_open else kept).append(p.id)
    return FollowUps(broken, kept)
