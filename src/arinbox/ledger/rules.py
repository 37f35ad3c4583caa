"""Checks every ledger adapter applies before a write, so the fake and the SQL ledger agree."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from arinbox.domain.errors import LedgerError
from arinbox.domain.models import Allocation, InvoiceFact


def check_allocations(
    customer_id: str,
    amount: Decimal,
    currency: str,
    allocations: Sequence[Allocation],
    invoices: dict[str, InvoiceFact],
) -> None:
    """Never more than the open amount, never another customer's invoice, never another currency."""
    total = Decimal("0")
    seen: set[str] = set()
    for a in allocations:
        inv = invoices.get(a.invoice)
        if inv is None:
            raise LedgerError(f"invoice {a.invoice} does not exist")
        if a.invoice in seen:
            raise LedgerError(f"invoice {a.invoice} allocated twice in one payment")
        seen.add(a.invoice)
        if inv.customer_id != customer_id:
            raise LedgerError(f"invoice {a.invoice} belongs to another customer")
        if inv.currency != currency:
            raise LedgerError(f"invoice {a.invoice} is in {inv.currency}, payment in {currency}")
        if a.amount <= 0:
            raise LedgerError(f"allocation to {a.invoice} is not positive")
        if a.amount > inv.open_amount:
            raise LedgerError(f"allocation {a.amount} exceeds open amount {inv.open_amount} of {a.invoice}")
        total += a.amount
    if total > amount:
        raise LedgerError(f"allocations {total} exceed the payment {amount}")


def status_after_payment(amount: Decimal, open_amount: Decimal, current: str) -> str:
    if open_amount == 0:
        return "paid"
    if current == "disputed":
        return current
    return "partially_paid" if open_amount < amount else "open"
