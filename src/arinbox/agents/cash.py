"""Cash application, first version: match a remittance to the customer's open invoices.

Order of evidence: stated per-invoice amounts, referenced invoices against the payment total, then
amount only (one exact open amount, or a unique bounded subset-sum). The result carries a
confidence and the evidence used; ambiguity and disagreement become signals for a person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import combinations

from arinbox.domain.models import Allocation, InvoiceFact

ZERO = Decimal("0")
MAX_SUBSET_INVOICES = 14  # 2**14 subsets at most: bounded work per email


@dataclass
class CashMatch:
    allocations: list[Allocation] = field(default_factory=list)
    confidence: float = 0.0
    payment: Decimal = ZERO
    evidence: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    short_paid: dict[str, Decimal] = field(default_factory=dict)  # invoice -> amount not paid


def _is_open(inv: InvoiceFact) -> bool:
    return inv.open_amount > 0 and inv.status in ("open", "partially_paid", "disputed")


DISCOUNT_RATES = (Decimal("1"), Decimal("1.5"), Decimal("2"), Decimal("2.5"), Decimal("3"))
CENT = Decimal("0.01")


def early_payment_discount(open_amount: Decimal, paid: Decimal) -> Decimal | None:
    """The usual cash-discount rate (1-3 %) that turns the open amount into the payment, if any."""
    for rate in DISCOUNT_RATES:
        expected = (open_amount * (100 - rate) / 100).quantize(CENT)
        if abs(expected - paid) <= CENT:
            return rate
    return None


def unique_subset(invoices: Sequence[InvoiceFact], target: Decimal) -> list[InvoiceFact] | None:
    """The one subset of open amounts summing to target, or None when none or several exist."""
    pool = sorted(invoices, key=lambda i: i.due_date)[:MAX_SUBSET_INVOICES]
    found: list[InvoiceFact] | None = None
    for size in range(1, len(pool) + 1):
        for combo in combinations(pool, size):
            if sum((i.open_amount for i in combo), ZERO) == target:
                if found is not None:
                    return None
                found = list(combo)
    return found


def match(
    payment: Decimal | None,
    referenced: Sequence[InvoiceFact],
    stated: dict[str, Decimal],
    open_invoices: Sequence[InvoiceFact],
    deduction_mentioned: bool,
    discounts: dict[str, Decimal] | None = None,
    deductions: dict[str, Decimal] | None = None,
) -> CashMatch:
    """``discounts`` and ``deductions``: what a structured remittance says each invoice's short
    payment is (a cash discount taken, a deduction with a reason)."""
    r = CashMatch()
    discounts, deductions = discounts or {}, deductions or {}
    closed = [i for i in referenced if not _is_open(i)]
    live = [i for i in referenced if _is_open(i)]
    for i in closed:
        r.signals.append("invoice_not_open")
        r.evidence.append(f"{i.invoice_number} is {i.status} with nothing open")

    if live and stated and all(i.invoice_number in stated for i in live):
        total = ZERO
        exact = True
        explained = True  # every short line is a usual cash discount or an announced deduction
        for i in live:
            want = stated[i.invoice_number]
            amt = min(want, i.open_amount)
            if want > i.open_amount:
                r.signals.append("amount_mismatch")
                r.evidence.append(f"{i.invoice_number}: stated {want} > open {i.open_amount}")
            if amt < i.open_amount:
                exact = False
                rate = early_payment_discount(i.open_amount, amt)
                stated_discount = discounts.get(i.invoice_number, ZERO)
                deducted = deductions.get(i.invoice_number, ZERO)
                if rate is not None:
                    r.evidence.append(f"early-payment discount of {rate}% taken on {i.invoice_number}")
                elif stated_discount and not deducted and abs(amt + stated_discount - i.open_amount) <= CENT:
                    r.evidence.append(f"cash discount of {stated_discount} stated for {i.invoice_number}")
                elif deducted:
                    # a deduction the remittance itemises is announced: the rest may become a dispute
                    r.short_paid[i.invoice_number] = i.open_amount - amt
                    r.evidence.append(f"deduction of {deducted} stated for {i.invoice_number}")
                else:
                    r.short_paid[i.invoice_number] = i.open_amount - amt
                    explained = explained and deduction_mentioned
            r.allocations.append(Allocation(invoice=i.invoice_number, amount=amt))
            total += amt
        r.payment = payment if payment is not None else total
        if payment is not None and payment != sum(stated.values(), ZERO):
            r.evidence.append(f"payment {payment} differs from the sum of stated lines")
            r.signals.append("amount_mismatch")
        # the customer said what each invoice gets; an unexplained short line is a partial payment
        # a person should see, an explained one (discount, announced deduction) is routine
        r.confidence = 0.97 if exact else (0.93 if explained else 0.85)
        r.evidence.append("per-invoice amounts stated in the remittance")
        return r

    if live:
        open_sum = sum((i.open_amount for i in live), ZERO)
        if payment is None or payment == open_sum:
            r.allocations = [Allocation(invoice=i.invoice_number, amount=i.open_amount) for i in live]
            r.payment = open_sum
            r.confidence = 0.96 if payment is not None else (0.92 if len(live) == 1 else 0.9)
            r.evidence.append("referenced invoices paid in full" + ("" if payment is not None else
                                                                    " (no amount stated)"))
            return r
        if payment < open_sum:
            subset = unique_subset(live, payment) if len(live) > 1 else None
            if subset is not None:
                r.allocations = [Allocation(invoice=i.invoice_number, amount=i.open_amount) for i in subset]
                r.payment, r.confidence = payment, 0.85
                r.evidence.append("payment equals a subset of the referenced invoices")
                return r
            if len(live) == 1:
                inv = live[0]
                r.allocations = [Allocation(invoice=inv.invoice_number, amount=payment)]
                r.short_paid[inv.invoice_number] = inv.open_amount - payment
                r.payment = payment
                rate = early_payment_discount(inv.open_amount, payment)
                if rate is not None:
                    r.confidence = 0.92
                    r.evidence.append(f"early-payment discount of {rate}% taken on {inv.invoice_number}")
                    r.short_paid.pop(inv.invoice_number)
                else:
                    r.confidence = 0.9 if deduction_mentioned else 0.8
                    r.evidence.append(f"partial payment: {payment} of {inv.open_amount} open")
                return r
            r.signals.append("amount_mismatch")
            r.evidence.append(f"payment {payment} does not fit referenced open total {open_sum}")
            r.payment = payment
            return r
        # overpayment: apply everything referenced, the rest stays unapplied
        r.allocations = [Allocation(invoice=i.invoice_number, amount=i.open_amount) for i in live]
        r.payment, r.confidence = payment, 0.8
        r.signals.append("amount_mismatch")
        r.evidence.append(f"overpayment: {payment - open_sum} left unapplied")
        return r

    if closed:
        r.payment = payment or ZERO
        return r
    if payment is None:
        r.evidence.append("no invoice reference and no amount")
        return r
    r.payment = payment
    candidates = [i for i in open_invoices if _is_open(i)]
    same = [i for i in candidates if i.open_amount == payment]
    if len(same) == 1:
        r.allocations = [Allocation(invoice=same[0].invoice_number, amount=payment)]
        r.confidence = 0.9
        r.evidence.append("amount matches exactly one open invoice")
        return r
    if len(same) > 1:
        r.signals.append("ambiguous_match")
        r.evidence.append(f"amount matches {len(same)} open invoices")
        return r
    subset = unique_subset(candidates, payment)
    if subset is not None:
        r.allocations = [Allocation(invoice=i.invoice_number, amount=i.open_amount) for i in subset]
        r.confidence = 0.8
        r.evidence.append(f"amount equals exactly one combination of {len(subset)} open invoices")
        return r
    r.evidence.append("amount matches no open invoice or combination")
    return r
