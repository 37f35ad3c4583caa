"""The approval queue as one paged query: filters and sorting happen in the database, and only the
rows of the page shown are enriched (customer name, amounts, masked subject)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, Numeric, Select, case, cast, func, or_, select
from sqlalchemy.orm import Session

from arinbox.persistence import models as m
from arinbox.persistence.models import utcnow

Sort = Literal["oldest", "newest", "amount_desc", "amount_asc", "tier", "intent", "customer"]
SORTS: tuple[Sort, ...] = ("oldest", "newest", "amount_desc", "amount_asc", "tier", "intent", "customer")
TIERS = ("low", "medium", "high")


@dataclass(frozen=True)
class QueueFilter:
    intent: str | None = None
    tier: str | None = None
    customer: str | None = None  # a customer id, or part of the name
    min_amount: Decimal | None = None
    min_age_hours: float | None = None  # waiting at least this long
    sort: Sort = "oldest"
    page: int = 1
    page_size: int = 50

    def query_args(self, **change: Any) -> dict[str, str]:
        """The filter as URL parameters (for paging and sort links)."""
        values = {"intent": self.intent, "tier": self.tier, "customer": self.customer,
                  "min_amount": self.min_amount, "min_age_hours": self.min_age_hours, "sort": self.sort,
                  "page": self.page} | change
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


@dataclass(frozen=True)
class QueueRow:
    approval_id: int
    work_item_id: int
    message_id: str
    requested_at: dt.datetime
    age_hours: float
    tier: str
    intent: str | None
    customer_id: str | None
    customer_name: str | None
    amount: Decimal | None  # the largest amount among the proposed actions
    currency: str | None
    kinds: list[str]
    rule_id: str
    reason: str
    escalated: bool
    edited_by: str | None
    subject: str  # masked


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    filter: QueueFilter
    intents: list[str] = field(default_factory=list)  # intents present in the queue, for the filter

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.filter.page_size))


def customer_of(item: type[m.WorkItem] = m.WorkItem) -> ColumnElement[str]:
    """The customer the extractor found, kept in the work item's outcome."""
    expr: ColumnElement[str] = item.outcome["customer_id"].as_string()
    return expr


def _max_amount() -> Any:
    return (select(func.max(cast(m.ActionRow.amount, Numeric(20, 4))))
            .where(m.ActionRow.work_item_id == m.WorkItem.id).scalar_subquery())


def _filtered(f: QueueFilter, now: dt.datetime) -> tuple[Select[int, int], Any]:
    amount = _max_amount()
    customer = customer_of()
    q = (select(m.Approval.id, m.Approval.work_item_id)
         .join(m.WorkItem, m.WorkItem.id == m.Approval.work_item_id)
         .where(m.Approval.status == "pending"))
    if f.intent:
        q = q.where(m.WorkItem.intent == f.intent)
    if f.tier:
        q = q.where(m.Approval.tier == f.tier)
    if f.min_age_hours is not None:
        q = q.where(m.Approval.requested_at <= now - dt.timedelta(hours=f.min_age_hours))
    if f.min_amount is not None:
        q = q.where(amount >= f.min_amount)
    if f.customer:
        text = f.customer.strip()
        names = select(m.Customer.customer_id).where(m.Customer.name.ilike(f"%{text}%"))
        q = q.where(or_(customer == text, customer.in_(names)))
    return q, amount


def _order(q: Select[int, int], f: QueueFilter, amount: Any) -> Select[int, int]:
    tier_rank = case((m.Approval.tier == "high", 3), (m.Approval.tier == "medium", 2), else_=1)
    orders: dict[str, tuple[Any, ...]] = {
        "oldest": (m.Approval.requested_at, m.Approval.id),
        "newest": (m.Approval.requested_at.desc(), m.Approval.id.desc()),
        "amount_desc": (amount.desc().nulls_last(), m.Approval.id),
        "amount_asc": (amount.asc().nulls_last(), m.Approval.id),
        "tier": (tier_rank.desc(), m.Approval.requested_at, m.Approval.id),
        "intent": (m.WorkItem.intent, m.Approval.requested_at, m.Approval.id),
        "customer": (customer_of(), m.Approval.requested_at, m.Approval.id),
    }
    return q.order_by(*orders[f.sort])


def masked_subjects(s: Session, work_item_ids: list[int]) -> dict[int, str]:
    """The masked subject of each email, from its mask trace record."""
    if not work_item_ids:
        return {}
    rows = s.execute(select(m.TraceRecord.work_item_id, m.TraceRecord.body)
                     .where(m.TraceRecord.work_item_id.in_(work_item_ids), m.TraceRecord.node == "mask"))
    return {wi: str(json.loads(body).get("masked_subject", "")) for wi, body in rows if wi is not None}


def customer_names(s: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = s.execute(select(m.Customer.customer_id, m.Customer.name).where(m.Customer.customer_id.in_(ids)))
    return {cid: name for cid, name in rows}


def queue_page(s: Session, f: QueueFilter, now: dt.datetime | None = None) -> QueuePage:
    now = now or utcnow()
    q, amount = _filtered(f, now)
    total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
    page_ids = s.execute(_order(q, f, amount).limit(f.page_size).offset((f.page - 1) * f.page_size)).all()
    ids = [row.id for row in page_ids]
    if not ids:
        return QueuePage([], total, f, queue_intents(s))
    rows = s.execute(select(m.Approval, m.WorkItem, m.RawMessage.message_id)
                     .join(m.WorkItem, m.WorkItem.id == m.Approval.work_item_id)
                     .join(m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id)
                     .where(m.Approval.id.in_(ids))).all()
    by_id = {ap.id: (ap, wi, mid) for ap, wi, mid in rows}
    items = [by_id[i][1].id for i in ids]
    actions: dict[int, list[tuple[str, Decimal, str | None]]] = defaultdict(list)
    for wi_id, kind, amt, cur in s.execute(
            select(m.ActionRow.work_item_id, m.ActionRow.kind, m.ActionRow.amount, m.ActionRow.currency)
            .where(m.ActionRow.work_item_id.in_(items)).order_by(m.ActionRow.proposal_index)):
        actions[wi_id].append((kind, amt, cur))
    subjects = masked_subjects(s, items)
    customers = {wi.id: (wi.outcome or {}).get("customer_id") for _, wi, _ in by_id.values()}
    names = customer_names(s, {c for c in customers.values() if c})
    out = []
    for approval_id in ids:
        ap, wi, message_id = by_id[approval_id]
        acts = actions.get(wi.id, [])
        money = [(amt, cur) for _, amt, cur in acts if amt]
        top = max(money, key=lambda x: x[0]) if money else (None, None)
        cust = customers.get(wi.id)
        out.append(QueueRow(
            approval_id=ap.id, work_item_id=wi.id, message_id=message_id, requested_at=ap.requested_at,
            age_hours=(now - ap.requested_at).total_seconds() / 3600, tier=ap.tier, intent=wi.intent,
            customer_id=cust, customer_name=names.get(cust) if cust else None, amount=top[0], currency=top[1],
            kinds=[k for k, _, _ in acts], rule_id=str(ap.request.get("rule_id", "")),
            reason=str(ap.request.get("reason", "")), escalated=ap.escalated_at is not None,
            edited_by=ap.edited_by, subject=subjects.get(wi.id, "")))
    return QueuePage(out, total, f, queue_intents(s))


def queue_intents(s: Session) -> list[str]:
    q = (select(m.WorkItem.intent).join(m.Approval, m.Approval.work_item_id == m.WorkItem.id)
         .where(m.Approval.status == "pending", m.WorkItem.intent.is_not(None)).distinct())
    return sorted(i for i in s.scalars(q) if i)
