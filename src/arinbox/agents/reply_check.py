"""Facts in a reply must come from the ledger: check a (possibly edited) draft before it is sent.

Every amount written in the text must be one of the figures the email's ledger facts or proposals
hold, and every invoice or order it names must belong to the email's customer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from arinbox.agents.amounts import find_amounts
from arinbox.agents.references import ReferenceIndex
from arinbox.domain.models import LedgerFacts


def ledger_figures(facts: LedgerFacts, proposals: list[dict[str, Any]]) -> set[Decimal]:
    figures = {facts.balance, facts.overdue}
    for inv in [*facts.invoices, *facts.open_invoices]:
        figures |= {inv.amount, inv.open_amount}
    for p in proposals:
        figures.add(Decimal(str(p.get("amount", "0"))))
        payload = p.get("payload", {})
        for key in ("payment", "amount"):
            if key in payload:
                figures.add(Decimal(str(payload[key])))
        figures |= {Decimal(str(a["amount"])) for a in payload.get("allocations", [])}
    return {f.quantize(Decimal("0.01")) for f in figures}


def check_reply(text: str, facts: LedgerFacts, proposals: list[dict[str, Any]], index: ReferenceIndex,
                language: str | None) -> list[str]:
    """Problems found; an empty list means every figure and reference is the ledger's."""
    problems: list[str] = []
    figures = ledger_figures(facts, proposals)
    for money in find_amounts(text, language):
        if money.amount.quantize(Decimal("0.01")) not in figures:
            problems.append(f"the amount {money.text} is not a ledger figure of this email")
    customer = facts.customer.customer_id if facts.customer else None
    invoices, orders, _ = index.resolve(text, customer)
    for number in [*invoices, *orders]:
        owner = index.owner(number)
        if owner != customer:
            problems.append(f"{number} is not a document of this customer")
    return problems
