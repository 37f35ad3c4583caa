"""Search stored emails by customer, invoice, intent and status; newest first, paged."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from arinbox.persistence import models as m
from arinbox.web.queue_query import customer_names, customer_of, masked_subjects

STATUSES = ("pending", "processing", "waiting_approval", "done", "rejected", "failed")


@dataclass(frozen=True)
class EmailFilter:
    customer: str | None = None
    invoice: str | None = None
    intent: str | None = None
    status: str | None = None
    page: int = 1
    page_size: int = 50

    def query_args(self, **change: Any) -> dict[str, str]:
        values = {"customer": self.customer, "invoice": self.invoice, "intent": self.intent, "status": self.status,
                  "page": self.page} | change
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


@dataclass(frozen=True)
class EmailRow:
    work_item_id: int
    message_id: str
    received_at: dt.datetime
    status: str
    intent: str | None
    customer_id: str | None
    customer_name: str | None
    invoices: list[str]
    subject: str


@dataclass(frozen=True)
class EmailPage:
    rows: list[EmailRow]
    total: int
    filter: EmailFilter
    intents: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.filter.page_size))


def search_emails(s: Session, f: EmailFilter) -> EmailPage:
    q = (select(m.WorkItem.id).join(m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id))
    if f.status:
        q = q.where(m.WorkItem.status == f.status)
    if f.intent:
        q = q.where(m.WorkItem.intent == f.intent)
    if f.customer:
        text = f.customer.strip()
        named = select(m.Customer.customer_id).where(m.Customer.name.ilike(f"%{text}%"))
        q = q.where(or_(customer_of() == text, customer_of().in_(named)))
    if f.invoice:
        # the outcome keeps the invoice numbers the extractor resolved, as a JSON list of strings
        q = q.where(cast(m.WorkItem.outcome, String).ilike(f'%"{f.invoice.strip()}"%'))
    total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
    ids = list(s.scalars(q.order_by(m.WorkItem.id.desc()).limit(f.page_size).offset((f.page - 1) * f.page_size)))
    intents = sorted(i for i in s.scalars(select(m.WorkItem.intent).distinct()) if i)
    if not ids:
        return EmailPage([], total, f, intents)
    rows = s.execute(select(m.WorkItem, m.RawMessage.message_id, m.RawMessage.received_at)
                     .join(m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id)
                     .where(m.WorkItem.id.in_(ids)).order_by(m.WorkItem.id.desc())).all()
    subjects = masked_subjects(s, ids)
    names = customer_names(s, {c for wi, _, _ in rows if (c := (wi.outcome or {}).get("customer_id"))})
    out = []
    for wi, message_id, received_at in rows:
        outcome = wi.outcome or {}
        cust = outcome.get("customer_id")
        out.append(EmailRow(wi.id, message_id, received_at, wi.status, wi.intent, cust,
                            names.get(cust) if cust else None, list(outcome.get("invoices") or []),
                            subjects.get(wi.id, "")))
    return EmailPage(out, total, f, intents)
