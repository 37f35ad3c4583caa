"""Structured remittance lines against the ledger: which invoice each line pays, and how much.

Each invoice line's reference goes through the same reference resolver as free text (so ``4512``
finds ``INV-2026-004512`` for this customer); a reference that names no single document stays
unresolved. Amounts, discounts and deductions add up per invoice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from arinbox.agents.references import ReferenceIndex
from arinbox.domain.models import LineKind, RemittanceDoc

ZERO = Decimal("0")


@dataclass
class LineFacts:
    invoices: list[str] = field(default_factory=list)  # ledger spelling, in line order
    amounts: dict[str, Decimal] = field(default_factory=dict)  # paid per invoice
    discounts: dict[str, Decimal] = field(default_factory=dict)
    deductions: dict[str, Decimal] = field(default_factory=dict)  # positive: what the payer kept back
    reasons: dict[str, str] = field(default_factory=dict)  # invoice -> deduction reason code and text
    unresolved: list[str] = field(default_factory=list)
    # paid against a reference that named no single document of the customer: cash application may
    # still find the invoice when one character differs and the amount is its open amount
    unresolved_amounts: dict[str, Decimal] = field(default_factory=dict)
    total: Decimal | None = None  # the payment the documents state
    currency: str | None = None
    count: int = 0  # lines read


def resolve_lines(docs: Sequence[RemittanceDoc], index: ReferenceIndex, customer_id: str | None,
                  by_rule: Callable[[str], str | None] | None = None) -> LineFacts:
    """``by_rule``: a reconciliation rule's reading of a line's reference, tried first (rules first)."""
    facts = LineFacts()
    remittance_docs = [d for d in docs if any(line.kind is not LineKind.PAYMENT for line in d.lines)]
    for doc in remittance_docs:
        # the same advice often comes twice (a CSV and a table in the body): the first document
        # that names an invoice states its amounts
        earlier = set(facts.invoices)
        for line in doc.lines:
            facts.count += 1
            if line.kind is not LineKind.INVOICE or not line.reference:
                continue
            ruled = by_rule(line.reference) if by_rule is not None else None
            found = [ruled] if ruled else index.match(f"invoice {line.reference}", customer_id).invoices
            if len(found) != 1:
                if line.reference not in facts.unresolved:
                    facts.unresolved.append(line.reference)
                    if line.amount is not None and line.amount > 0:
                        facts.unresolved_amounts[line.reference] = line.amount
                continue
            number = found[0]
            # another customer's number on this customer's advice: most often a slip of the pen
            foreign = customer_id is not None and index.invoice_owner.get(number) not in (None, customer_id)
            if foreign and line.amount is not None and line.amount > 0:
                facts.unresolved_amounts.setdefault(line.reference, line.amount)
            if number in earlier:
                continue
            if number not in facts.invoices:
                facts.invoices.append(number)
            if line.amount is not None:
                facts.amounts[number] = facts.amounts.get(number, ZERO) + line.amount
            if line.discount:
                facts.discounts[number] = facts.discounts.get(number, ZERO) + abs(line.discount)
            if line.adjustment is not None and line.adjustment < 0:
                facts.deductions[number] = facts.deductions.get(number, ZERO) - line.adjustment
                why = " ".join(x for x in (line.reason_code, line.reason) if x)
                if why:
                    facts.reasons[number] = why
    totals = {d.total for d in remittance_docs if d.total is not None}
    if len(totals) == 1:
        facts.total = totals.pop()
    currencies = {d.currency for d in remittance_docs if d.currency}
    currencies |= {line.currency for d in remittance_docs for line in d.lines if line.currency}
    if len(currencies) == 1:
        facts.currency = currencies.pop()
    return facts
