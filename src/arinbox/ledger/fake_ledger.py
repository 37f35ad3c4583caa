"""An in-memory ``Ledger`` with the same rules as the SQL one, for tests of the stages around it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from arinbox.domain.errors import LedgerError
from arinbox.domain.models import Allocation, CustomerFact, InvoiceFact, OrderFact
from arinbox.domain.ports import LedgerWrite
from arinbox.ledger.rules import check_allocations, status_after_payment


class InMemoryLedger:
    def __init__(
        self,
        customers: Sequence[CustomerFact] = (),
        invoices: Sequence[InvoiceFact] = (),
        orders: Sequence[OrderFact] = (),
    ) -> None:
        self._customers = {c.customer_id: c for c in customers}
        self._invoices = {i.invoice_number: i for i in invoices}
        self._orders = {o.order_number: o for o in orders}
        self.effects: dict[str, dict[str, object]] = {}

    def customers(self) -> list[CustomerFact]:
        return sorted(self._customers.values(), key=lambda c: c.customer_id)

    def customer(self, customer_id: str) -> CustomerFact | None:
        return self._customers.get(customer_id)

    def invoices(self, customer_id: str | None = None) -> list[InvoiceFact]:
        return [i for _, i in sorted(self._invoices.items()) if customer_id in (None, i.customer_id)]

    def orders(self, customer_id: str | None = None) -> list[OrderFact]:
        return [o for _, o in sorted(self._orders.items()) if customer_id in (None, o.customer_id)]

    def _replay(self, key: str) -> LedgerWrite | None:
        if key in self.effects:
            return LedgerWrite(key, False, {}, self.effects[key], key)
        return None

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
        if (done := self._replay(key)) is not None:
            return done
        check_allocations(customer_id, amount, currency, allocations, self._invoices)
        before: dict[str, object] = {"invoices": [self._snap(a.invoice) for a in allocations]}
        for a in allocations:
            inv = self._invoices[a.invoice]
            left = inv.open_amount - a.amount
            self._invoices[a.invoice] = inv.model_copy(
                update={"open_amount": left, "status": status_after_payment(inv.amount, left, inv.status)}
            )
        self.effects[key] = {
            "applications": [{"invoice": a.invoice, "amount": str(a.amount)} for a in allocations],
            "invoices": [self._snap(a.invoice) for a in allocations],
        }
        return LedgerWrite(key, True, before, self.effects[key], key)

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
        if (done := self._replay(key)) is not None:
            return done
        inv = self._invoices.get(invoice_number)
        if inv is None or inv.customer_id != customer_id:
            raise LedgerError(f"invoice {invoice_number} is not an invoice of {customer_id}")
        before: dict[str, object] = {"invoices": [self._snap(invoice_number)]}
        if inv.status in ("open", "partially_paid"):
            self._invoices[invoice_number] = inv.model_copy(update={"status": "disputed"})
        self.effects[key] = {"invoice": invoice_number, "amount": str(amount), "reason": reason,
                             "invoices": [self._snap(invoice_number)]}
        return LedgerWrite(key, True, before, self.effects[key], key)

    def record_promise(
        self,
        key: str,
        customer_id: str,
        invoice_numbers: Sequence[str],
        amount: Decimal,
        currency: str,
        promised_date: dt.date,
    ) -> LedgerWrite:
        if (done := self._replay(key)) is not None:
            return done
        for n in invoice_numbers:
            inv = self._invoices.get(n)
            if inv is None or inv.customer_id != customer_id:
                raise LedgerError(f"invoice {n} is not an invoice of {customer_id}")
        self.effects[key] = {"invoices": list(invoice_numbers), "amount": str(amount),
                             "date": promised_date.isoformat()}
        return LedgerWrite(key, True, {"promise": None}, self.effects[key], key)

    def read_effect(self, key: str) -> dict[str, object] | None:
        return self.effects.get(key)

    def _snap(self, number: str) -> dict[str, str]:
        inv = self._invoices[number]
        return {"invoice": number, "open_amount": str(inv.open_amount), "status": inv.status}
