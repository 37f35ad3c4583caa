"""Pending approvals written straight into the database, as the graph would leave them (work item,
raw message, proposed actions, approval, mask trace record): for the console's route tests and its
queue benchmark, without running the models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.persistence.models import utcnow

CUSTOMERS = (("C1", "Acme Tools Ltd"), ("C2", "Durand Mecanique SA"), ("C3", "Northwind Traders"))
INTENTS = ("remittance_advice", "dispute", "promise_to_pay", "invoice_request")
TIERS = ("low", "medium", "high")
PERSON = "Jane Whitfield"  # appears only in the raw message; the mask record holds <PERSON_1>
BATCH = 2000


def raw_email(i: int) -> bytes:
    return (f"From: {PERSON} <jane@acme.example>\r\nTo: ar@brightwater-supply.example\r\n"
            f"Subject: Payment for INV-{i:06d}\r\nMessage-ID: <seed-{i}@acme.example>\r\n"
            "Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\n"
            f"Hello,\r\n\r\nwe paid INV-{i:06d} today. Call me on +44 20 7946 0991.\r\n\r\n{PERSON}\r\n").encode()


def seed_queue(sessions: sessionmaker[Session], count: int, *, now: dt.datetime | None = None) -> list[int]:
    """``count`` pending approvals, one a minute back from ``now``; returns the approval ids in order."""
    now = now or utcnow()
    with sessions.begin() as s:
        if s.get(m.Customer, CUSTOMERS[0][0]) is None:
            for cid, name in CUSTOMERS:
                s.add(m.Customer(customer_id=cid, name=name, currency="EUR", language="en", payment_terms_days=30,
                                 credit_limit=Decimal("100000")))
        box = m.Mailbox(name=f"seed-{now.timestamp()}", kind="folder", address="ar@brightwater-supply.example")
        s.add(box)
        s.flush()
        prev = s.scalar(select(m.TraceRecord.hash).order_by(m.TraceRecord.id.desc()).limit(1)) or trace.GENESIS
        ids: list[int] = []
        for start in range(0, count, BATCH):
            prev = _seed_batch(s, box.id, range(start, min(count, start + BATCH)), now, prev, ids)
    return ids


def _seed_batch(s: Session, mailbox_id: int, numbers: range, now: dt.datetime, prev: str, ids: list[int]) -> str:
    items = []
    for i in numbers:
        cid = CUSTOMERS[i % len(CUSTOMERS)][0]
        invoice = f"INV-{i:06d}"
        s.add(m.Invoice(invoice_number=invoice, customer_id=cid, issue_date=dt.date(2026, 9, 1),
                        due_date=dt.date(2026, 10, 1), currency="EUR", amount=Decimal("1000.00") + i,
                        open_amount=Decimal("1000.00") + i, status="open"))
        raw = raw_email(i)
        msg = m.RawMessage(mailbox_id=mailbox_id, source_key=f"seed-{i}", message_id=f"seed-{i}@acme.example",
                           sha256=f"{i:064d}", raw=raw, size=len(raw))
        s.add(msg)
        items.append((i, cid, invoice, msg))
    s.flush()
    work = []
    approvals: list[m.Approval] = []
    for i, cid, invoice, msg in items:
        wi = m.WorkItem(raw_message_id=msg.id, status="waiting_approval", intent=INTENTS[i % len(INTENTS)],
                        outcome={"customer_id": cid, "invoices": [invoice]})
        s.add(wi)
        work.append((i, cid, invoice, wi))
    s.flush()
    for i, cid, invoice, wi in work:
        amount = Decimal("100.00") + (i * 37) % 5000
        s.add(m.ActionRow(work_item_id=wi.id, proposal_index=0, idempotency_key=f"email-{wi.id}-action-0",
                          kind="apply_payment", summary=f"apply {amount} EUR to {invoice}", confidence=0.8,
                          amount=amount, currency="EUR", outcome="approval", rule_id="action.apply_payment.max_amount",
                          policy_version="seed@1", status="awaiting_approval", evidence=[],
                          payload={"customer_id": cid, "payment": str(amount), "currency": "EUR",
                                   "received": "2026-11-02", "allocations": [{"invoice": invoice,
                                                                              "amount": str(amount)}]}))
        s.add(m.ActionRow(work_item_id=wi.id, proposal_index=1, idempotency_key=f"email-{wi.id}-action-1",
                          kind="send_reply", summary="acknowledge the payment", confidence=0.9, amount=Decimal("0"),
                          outcome="approval", rule_id="action.send_reply", policy_version="seed@1",
                          status="awaiting_approval", evidence=[],
                          payload={"body": f"Dear <PERSON_1>,\n\nthank you for your payment of {amount} EUR "
                                           f"for {invoice}.\n\nKind regards,\nAccounts Receivable\n"}))
        approval = m.Approval(work_item_id=wi.id, tier=TIERS[i % len(TIERS)],
                              requested_at=now - dt.timedelta(minutes=i),
                              request={"rule_id": "action.apply_payment.max_amount",
                                       "reason": f"amount {amount} over the automatic limit", "signals": []})
        s.add(approval)
        approvals.append(approval)
        body = trace.canonical({"masked_subject": f"Payment for {invoice}",
                                "masked_body": f"Hello,\n\nwe paid {invoice} today. Call me on <PHONE_NUMBER_1>."
                                               "\n\n<PERSON_1>", "placeholders": ["<PERSON_1>", "<PHONE_NUMBER_1>"],
                                "entities": {"PERSON": 1, "PHONE_NUMBER": 1}})
        created = utcnow()
        key = f"{wi.id}:mask"
        digest = trace.record_hash(prev, key, "mask", wi.id, created, body)
        s.add(m.TraceRecord(key=key, work_item_id=wi.id, node="mask", body=body, created_at=created, prev_hash=prev,
                            hash=digest))
        prev = digest
    s.flush()
    ids += [ap.id for ap in approvals]
    return prev
