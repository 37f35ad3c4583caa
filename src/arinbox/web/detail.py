"""One email as a person reviews it: masked text, classification, proposal with its ledger effect,
the policy rule that held it, and the full trace. Raw text is read (and traced) separately."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from arinbox.domain.errors import NotFoundError
from arinbox.ledger.rules import status_after_payment
from arinbox.mail.parse import parse_email
from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.persistence.models import utcnow


@dataclass(frozen=True)
class TraceEntry:
    id: int
    node: str
    created_at: dt.datetime
    hash: str
    prev_hash: str
    body: dict[str, Any]

    @property
    def pretty(self) -> str:
        return json.dumps(self.body, indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class LedgerChange:
    action: str  # "[0] apply_payment"
    subject: str  # an invoice, or "promise to pay"
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class ActionView:
    index: int
    kind: str
    summary: str
    confidence: float
    amount: Decimal
    currency: str | None
    outcome: str  # auto | approval | skip
    rule_id: str
    status: str
    body: str | None  # a reply: the text as it will be sent (an edit replaces the draft)
    edited: bool


@dataclass(frozen=True)
class EmailView:
    work_item_id: int
    message_id: str
    status: str
    received_at: dt.datetime
    intent: str | None
    confidence: float | None
    language: str | None
    customer_id: str | None
    customer_name: str | None
    invoices: list[str]
    masked_subject: str
    masked_body: str
    placeholders: list[str]
    last_error: str | None
    actions: list[ActionView]
    changes: list[LedgerChange]
    trace: list[TraceEntry]


@dataclass(frozen=True)
class ApprovalView:
    id: int
    status: str
    tier: str
    rule_id: str
    reason: str
    signals: list[str]
    requested_at: dt.datetime
    escalated: bool
    edited_by: str | None
    approver: str | None
    decided_reason: str | None
    email: EmailView

    @property
    def draft(self) -> ActionView | None:
        return next((a for a in self.email.actions if a.kind == "send_reply"), None)


def trace_entries(s: Session, work_item_id: int) -> list[TraceEntry]:
    return [TraceEntry(r.id, r.node, r.created_at, r.hash, r.prev_hash, json.loads(r.body))
            for r in trace.records_for(s, work_item_id)]


def _money(value: Decimal | str | None) -> str:
    return "" if value is None else f"{Decimal(str(value)):,.2f}"


def _projected(s: Session, index: int, row: m.ActionRow) -> list[LedgerChange]:
    """What executing a pending action would change, from the ledger as it stands now."""
    label, pl = f"[{index}] {row.kind}", row.payload
    out: list[LedgerChange] = []
    if row.kind == "apply_payment":
        for alloc in pl.get("allocations", []):
            inv = s.get(m.Invoice, alloc["invoice"])
            if inv is None:
                out.append(LedgerChange(label, alloc["invoice"], "invoice", "not in the ledger", ""))
                continue
            left = inv.open_amount - Decimal(alloc["amount"])
            out.append(LedgerChange(label, inv.invoice_number, f"open amount ({inv.currency})",
                                    _money(inv.open_amount), _money(left)))
            new_status = status_after_payment(inv.amount, left, inv.status)
            if new_status != inv.status:
                out.append(LedgerChange(label, inv.invoice_number, "status", inv.status, new_status))
    elif row.kind == "open_dispute":
        inv = s.get(m.Invoice, pl.get("invoice", ""))
        before = inv.status if inv else "not in the ledger"
        after = "disputed" if inv and inv.status in ("open", "partially_paid") else before
        if after != before:
            out.append(LedgerChange(label, str(pl.get("invoice")), "status", before, after))
        out.append(LedgerChange(label, str(pl.get("invoice")), "dispute", "none",
                                f"{_money(pl.get('amount'))} ({pl.get('reason')})"))
    elif row.kind == "record_promise":
        out.append(LedgerChange(label, ", ".join(pl.get("invoices", [])), "promise to pay", "none",
                                f"{_money(pl.get('amount'))} {pl.get('currency', '')} by {pl.get('promised_date')}"))
    return out


def _recorded(index: int, row: m.ActionRow) -> list[LedgerChange]:
    """What an executed action changed, from the before/after snapshots it recorded."""
    label, result = f"[{index}] {row.kind}", row.result or {}
    before, after = result.get("before") or {}, result.get("after") or {}
    out: list[LedgerChange] = []
    old = {i.get("invoice"): i for i in before.get("invoices", []) if isinstance(i, dict)}
    for new in after.get("invoices", []):
        prev = old.get(new.get("invoice"), {})
        for key in ("open_amount", "status"):
            if prev.get(key) != new.get(key):
                out.append(LedgerChange(label, str(new.get("invoice")), key.replace("_", " "),
                                        str(prev.get(key, "")), str(new.get(key, ""))))
    if "promise" in after:
        out.append(LedgerChange(label, "promise to pay", "promise", "none", json.dumps(after["promise"])))
    return out


def ledger_changes(s: Session, actions: list[m.ActionRow]) -> list[LedgerChange]:
    out: list[LedgerChange] = []
    for row in actions:
        if row.kind == "send_reply" or row.status in ("skipped", "rejected"):
            continue
        out += _recorded(row.proposal_index, row) if row.result else _projected(s, row.proposal_index, row)
    return out


def _action_views(actions: list[m.ActionRow], edits: dict[str, Any]) -> list[ActionView]:
    views = []
    for a in actions:
        edited = str(a.proposal_index) in edits and a.kind == "send_reply"
        body = str(edits[str(a.proposal_index)]) if edited else a.payload.get("body")
        views.append(ActionView(a.proposal_index, a.kind, a.summary, a.confidence, a.amount, a.currency, a.outcome,
                                a.rule_id, a.status, body if a.kind == "send_reply" else None, edited))
    return views


def email_view(s: Session, work_item_id: int, edits: dict[str, Any] | None = None) -> EmailView:
    row = s.execute(select(m.WorkItem, m.RawMessage).join(m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id)
                    .where(m.WorkItem.id == work_item_id)).first()
    if row is None:
        raise NotFoundError(f"no email {work_item_id}")
    item, raw = row
    entries = trace_entries(s, work_item_id)
    nodes = {e.node: e.body for e in entries}
    masked, cls = nodes.get("mask", {}), nodes.get("classify", {})
    outcome = item.outcome or {}
    customer_id = outcome.get("customer_id") or nodes.get("extract", {}).get("customer_id")
    customer = s.get(m.Customer, customer_id) if customer_id else None
    actions = list(s.scalars(select(m.ActionRow).where(m.ActionRow.work_item_id == work_item_id)
                             .order_by(m.ActionRow.proposal_index)))
    return EmailView(
        work_item_id=item.id, message_id=raw.message_id, status=item.status, received_at=raw.received_at,
        intent=item.intent or cls.get("intent"), confidence=cls.get("confidence"), language=cls.get("language"),
        customer_id=customer_id, customer_name=customer.name if customer else None,
        invoices=list(outcome.get("invoices") or nodes.get("extract", {}).get("invoices", [])),
        masked_subject=str(masked.get("masked_subject", "")),
        masked_body=str(masked.get("masked_body") or masked.get("masked_text") or ""),
        placeholders=list(masked.get("placeholders", [])), last_error=item.last_error,
        actions=_action_views(actions, edits or {}), changes=ledger_changes(s, actions), trace=entries)


def approval_view(s: Session, approval_id: int) -> ApprovalView:
    ap = s.get(m.Approval, approval_id)
    if ap is None:
        raise NotFoundError(f"no approval {approval_id}")
    return ApprovalView(
        id=ap.id, status=ap.status, tier=ap.tier, rule_id=str(ap.request.get("rule_id", "")),
        reason=str(ap.request.get("reason", "")), signals=list(ap.request.get("signals", [])),
        requested_at=ap.requested_at, escalated=ap.escalated_at is not None, edited_by=ap.edited_by,
        approver=ap.approver, decided_reason=ap.reason, email=email_view(s, ap.work_item_id, ap.edits))


def approval_of(s: Session, work_item_id: int) -> int | None:
    return s.scalar(select(m.Approval.id).where(m.Approval.work_item_id == work_item_id))


@dataclass(frozen=True)
class RawView:
    work_item_id: int
    message_id: str
    sender: str
    subject: str
    date: str
    body: str


def read_raw(s: Session, work_item_id: int, *, actor: str, role: str) -> RawView:
    """The unmasked email; the view itself is appended to the decision trace in the same transaction."""
    row = s.execute(select(m.RawMessage).join(m.WorkItem, m.WorkItem.raw_message_id == m.RawMessage.id)
                    .where(m.WorkItem.id == work_item_id)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no email {work_item_id}")
    at = utcnow()
    trace.append(s, key=f"{work_item_id}:raw_view:{uuid.uuid4().hex}", node="raw_view", work_item_id=work_item_id,
                 body={"actor": actor, "role": role, "at": at.isoformat()})
    try:
        email = parse_email(row.raw)
    except Exception as e:  # a message that never parsed is still shown, as bytes decoded leniently
        return RawView(work_item_id, row.message_id, "", "", "", f"(not parseable: {e})\n\n"
                       + row.raw.decode("utf-8", errors="replace"))
    sender = f"{email.sender_name} <{email.sender}>" if email.sender_name else email.sender
    return RawView(work_item_id, row.message_id, sender, email.subject, email.date.isoformat() if email.date else "",
                   email.body)
