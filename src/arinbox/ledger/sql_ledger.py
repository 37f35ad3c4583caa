"""The embedded AR ledger on the project's own database (the default ``Ledger`` adapter).

Each write runs in one transaction keyed by its idempotency key: a second call with the same key
changes nothing and returns what the first one did.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arinbox.domain.errors import LedgerError
from arinbox.domain.models import Allocation, CustomerFact, InvoiceFact, OrderFact
from arinbox.domain.ports import LedgerWrite
from arinbox.ledger.rules import check_allocations, status_after_payment
from arinbox.persistence import models as m


def customer_fact(c: m.Customer) -> CustomerFact:
    return CustomerFact(
        customer_id=c.customer_id,
        name=c.name,
        email_domains=[d for d in c.email_domains.split(";") if d],
        contact_emails=[e for e in c.contact_emails.split(";") if e],
        currency=c.currency,
        language=c.language,
        payment_terms_days=c.payment_terms_days,
        credit_limit=c.credit_limit,
        strategic=c.strategic,
        credit_risk=c.credit_risk,
    )


def invoice_fact(i: m.Invoice) -> InvoiceFact:
    return InvoiceFact(
        invoice_number=i.invoice_number,
        customer_id=i.customer_id,
        issue_date=i.issue_date,
        due_date=i.due_date,
        currency=i.currency,
        amount=i.amount,
        open_amount=i.open_amount,
        status=i.status,
        po_number=i.po_number,
        order_number=i.order_number,
    )


def order_fact(o: m.Order) -> OrderFact:
    return OrderFact(
        order_number=o.order_number,
        customer_id=o.customer_id,
        po_number=o.po_number,
        status=o.status,
        order_date=o.order_date,
        promised_ship_date=o.promised_ship_date,
        ship_date=o.ship_date,
        carrier=o.carrier,
        tracking_number=o.tracking_number,
    )


def _snapshot(inv: m.Invoice) -> dict[str, Any]:
    return {"invoice": inv.invoice_number, "open_amount": str(inv.open_amount), "status": inv.status}


class SqlLedger:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # --- reads ---
    def customers(self) -> list[CustomerFact]:
        with self._sessions() as s:
            return [customer_fact(c) for c in s.scalars(select(m.Customer).order_by(m.Customer.customer_id))]

    def customer(self, customer_id: str) -> CustomerFact | None:
        with self._sessions() as s:
            c = s.get(m.Customer, customer_id)
            return customer_fact(c) if c else None

    def invoices(self, customer_id: str | None = None) -> list[InvoiceFact]:
        q = select(m.Invoice).order_by(m.Invoice.invoice_number)
        if customer_id is not None:
            q = q.where(m.Invoice.customer_id == customer_id)
        with self._sessions() as s:
            return [invoice_fact(i) for i in s.scalars(q)]

    def orders(self, customer_id: str | None = None) -> list[OrderFact]:
        q = select(m.Order).order_by(m.Order.order_number)
        if customer_id is not None:
            q = q.where(m.Order.customer_id == customer_id)
        with self._sessions() as s:
            return [order_fact(o) for o in s.scalars(q)]

    # --- writes ---
    def apply_payment(
        self,
        key: str,
        customer_id: str,
        amount: Decimal,
        currency: str,
        allocations: Sequence[Allocation],
        reference: str,
        received: dt.date,
    ) -> LedgerWrite:
        with self._sessions.begin() as s:
            done = s.scalar(select(m.Payment).where(m.Payment.idempotency_key == key))
            if done is not None:
                return self._replayed(s, key)
            rows = {
                a.invoice: s.get(m.Invoice, a.invoice, with_for_update=True) for a in allocations
            }
            facts = {k: invoice_fact(v) for k, v in rows.items() if v is not None}
            check_allocations(customer_id, amount, currency, allocations, facts)
            before: dict[str, object] = {"invoices": [_snapshot(r) for r in rows.values() if r]}
            applied = sum((a.amount for a in allocations), Decimal("0"))
            pay = m.Payment(
                idempotency_key=key,
                customer_id=customer_id,
                amount=amount,
                currency=currency,
                received_date=received,
                reference=reference[:2000],
                unapplied_amount=amount - applied,
            )
            s.add(pay)
            s.flush()
            for a in allocations:
                inv = rows[a.invoice]
                assert inv is not None
                inv.open_amount = inv.open_amount - a.amount
                inv.status = status_after_payment(inv.amount, inv.open_amount, inv.status)
                s.add(m.PaymentApplication(payment_id=pay.id, invoice_number=a.invoice, amount=a.amount))
            after: dict[str, object] = {"invoices": [_snapshot(r) for r in rows.values() if r],
                                        "unapplied": str(pay.unapplied_amount)}
            return LedgerWrite(key, True, before, after, f"payment:{pay.id}")

    def open_dispute(
        self,
        key: str,
        customer_id: str,
        invoice_number: str,
        amount: Decimal,
        reason: str,
        owner: str,
        note: str,
    ) -> LedgerWrite:
        with self._sessions.begin() as s:
            if s.scalar(select(m.Dispute).where(m.Dispute.idempotency_key == key)) is not None:
                return self._replayed(s, key)
            inv = s.get(m.Invoice, invoice_number, with_for_update=True)
            if inv is None:
                raise LedgerError(f"invoice {invoice_number} does not exist")
            if inv.customer_id != customer_id:
                raise LedgerError(f"invoice {invoice_number} belongs to another customer")
            before: dict[str, object] = {"invoices": [_snapshot(inv)]}
            d = m.Dispute(
                idempotency_key=key,
                customer_id=customer_id,
                invoice_number=invoice_number,
                amount=amount,
                reason=reason,
                owner=owner,
                note=note[:4000],
                previous_invoice_status=inv.status,
            )
            s.add(d)
            if inv.status in ("open", "partially_paid"):
                inv.status = "disputed"
            s.flush()
            return LedgerWrite(key, True, before, {"invoices": [_snapshot(inv)]}, f"dispute:{d.id}")

    def record_promise(
        self,
        key: str,
        customer_id: str,
        invoice_numbers: Sequence[str],
        amount: Decimal,
        currency: str,
        promised_date: dt.date,
    ) -> LedgerWrite:
        with self._sessions.begin() as s:
            if s.scalar(select(m.PromiseToPay).where(m.PromiseToPay.idempotency_key == key)) is not None:
                return self._replayed(s, key)
            for n in invoice_numbers:
                inv = s.get(m.Invoice, n)
                if inv is None or inv.customer_id != customer_id:
                    raise LedgerError(f"invoice {n} is not an invoice of {customer_id}")
            p = m.PromiseToPay(
                idempotency_key=key,
                customer_id=customer_id,
                invoice_numbers=list(invoice_numbers),
                amount=amount,
                currency=currency,
                promised_date=promised_date,
            )
            s.add(p)
            s.flush()
            after: dict[str, object] = {"promise": {"invoices": list(invoice_numbers), "amount": str(amount),
                                                    "date": promised_date.isoformat()}}
            return LedgerWrite(key, True, {"promise": None}, after, f"promise:{p.id}")

    def _replayed(self, s: Session, key: str) -> LedgerWrite:
        effect = self._effect(s, key) or {}
        return LedgerWrite(key, False, {}, effect, str(effect.get("record", "")))

    # --- verification ---
    def read_effect(self, key: str) -> dict[str, object] | None:
        with self._sessions() as s:
            return self._effect(s, key)

    def _effect(self, s: Session, key: str) -> dict[str, Any] | None:
        pay = s.scalar(select(m.Payment).where(m.Payment.idempotency_key == key))
        if pay is not None:
            apps = s.scalars(select(m.PaymentApplication).where(m.PaymentApplication.payment_id == pay.id)).all()
            invs = [s.get(m.Invoice, a.invoice_number) for a in apps]
            return {
                "record": f"payment:{pay.id}",
                "amount": str(pay.amount),
                "unapplied": str(pay.unapplied_amount),
                "applications": [{"invoice": a.invoice_number, "amount": str(a.amount)} for a in apps],
                "invoices": [_snapshot(i) for i in invs if i],
            }
        d = s.scalar(select(m.Dispute).where(m.Dispute.idempotency_key == key))
        if d is not None:
            inv = s.get(m.Invoice, d.invoice_number)
            return {
                "record": f"dispute:{d.id}",
                "invoice": d.invoice_number,
                "amount": str(d.amount),
                "reason": d.reason,
                "invoices": [_snapshot(inv)] if inv else [],
            }
        p = s.scalar(select(m.PromiseToPay).where(m.PromiseToPay.idempotency_key == key))
        if p is not None:
            return {
                "record": f"promise:{p.id}",
                "invoices": p.invoice_numbers,
                "amount": str(p.amount),
                "date": p.promised_date.isoformat(),
            }
        return None
