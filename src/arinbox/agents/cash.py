"""Cash application: match a remittance to the customer's open invoices.

Order of evidence: stated per-invoice amounts, referenced invoices against the payment total, then
amount only (one exact open amount, or a unique bounded subset-sum). Finance's reconciliation rules
come first: the references a rule read arrive as referenced invoices (see ``agents.rule_refs``) and a
``tolerance`` rule accepts a small difference (the difference stays open, or is proposed for
write-off when the rule says so). The result carries a confidence and the evidence used, naming
each rule; ambiguity and disagreement become signals for a person.

Guarantees (checked again by the ledger before any write): never more than an invoice's open
amount, never an invoice twice, never more in total than the payment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from arinbox.domain.models import Allocation, InvoiceFact
from arinbox.policies.reconciliation import ReconciliationRule

ZERO = Decimal("0")
# the oldest open invoices searched for a combination. More would find more combinations by chance
# (2**20 subset sums of 1,000-euro invoices collide with a given total one time in ten)
MAX_SUBSET_INVOICES = 14


@dataclass
class CashMatch:
    allocations: list[Allocation] = field(default_factory=list)
    confidence: float = 0.0
    payment: Decimal = ZERO
    evidence: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    short_paid: dict[str, Decimal] = field(default_factory=dict)  # invoice -> amount not paid
    write_offs: dict[str, Decimal] = field(default_factory=dict)  # invoice -> difference to write off
    rules: dict[str, str] = field(default_factory=dict)  # reconciliation rule id -> what it decided

    def tolerated(self, rule: ReconciliationRule, invoice: str, difference: Decimal, what: str) -> None:
        """A short difference a tolerance rule accepts: no partial payment, no dispute."""
        assert rule.tolerance is not None
        if rule.tolerance.write_off:
            self.write_offs[invoice] = self.write_offs.get(invoice, ZERO) + difference
            line = f"{what} {difference} on {invoice} within tolerance: proposed for write-off (rule {rule.id})"
        else:
            line = f"{what} {difference} on {invoice} within tolerance: stays open (rule {rule.id})"
        self.evidence.append(line)
        self.rules.setdefault(rule.id, line)


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


def transposed(paid: Decimal, open_amount: Decimal) -> bool:
    """``3480.00`` for ``3840.00``: two digits swapped, a keying slip rather than a partial payment."""
    a, b = f"{paid:.2f}", f"{open_amount:.2f}"
    if len(a) != len(b) or a == b:
        return False
    diff = [k for k in range(len(a)) if a[k] != b[k]]
    return len(diff) == 2 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def _subset_sums(amounts: Sequence[int]) -> list[tuple[int, int]]:
    """Every (sum, bitmask) over the subsets of ``amounts``, the empty one included."""
    sums = [(0, 0)]
    for bit, amount in enumerate(amounts):
        sums += [(s + amount, m | (1 << bit)) for s, m in sums]
    return sums


def unique_subset(invoices: Sequence[InvoiceFact], target: Decimal) -> list[InvoiceFact] | None:
    """The one subset of open amounts summing to target, or None when none or several exist.

    The oldest ``MAX_SUBSET_INVOICES`` are searched, meet in the middle: the subset sums of each
    half (2**7) are joined on ``target - left``, so uniqueness costs a few hundred steps where
    listing every combination costs 2**14 sums of up to 14 amounts.
    """
    pool = sorted(invoices, key=lambda i: i.due_date)[:MAX_SUBSET_INVOICES]
    if not pool or target <= 0:
        return None
    places = max(0, *(-int(i.open_amount.as_tuple().exponent) for i in pool),
                 -int(target.as_tuple().exponent))
    cents = [int(i.open_amount.scaleb(places)) for i in pool]
    goal = int(target.scaleb(places))
    half = len(pool) // 2
    right: dict[int, list[int]] = {}
    for total, mask in _subset_sums(cents[half:]):
        right.setdefault(total, []).append(mask)
    found: tuple[int, int] | None = None
    for total, left_mask in _subset_sums(cents[:half]):
        for right_mask in right.get(goal - total, ()):
            if found is not None:
                return None
            found = (left_mask, right_mask)
    if found is None:
        return None
    left_mask, right_mask = found
    chosen = [i for b, i in enumerate(pool[:half]) if left_mask >> b & 1]
    chosen += [i for b, i in enumerate(pool[half:]) if right_mask >> b & 1]
    return sorted(chosen, key=lambda i: pool.index(i))


def _key(number: str) -> str:
    return "".join(c for c in number.upper() if c.isalnum())


def one_slip_apart(written: str, number: str) -> bool:
    """One character replaced, or two neighbours swapped, in a full-length number."""
    a, b = _key(written), _key(number)
    if len(a) != len(b) or a == b:
        return False
    diff = [k for k in range(len(a)) if a[k] != b[k]]
    return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                              and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])


def corroborated(unresolved: dict[str, Decimal], open_invoices: Sequence[InvoiceFact],
                 taken: set[str]) -> tuple[dict[str, Decimal], list[str]]:
    """Invoices for remittance lines whose reference named no document of the customer: the one
    open invoice whose number is one slip away from what was written and whose open amount is
    exactly the line's amount. A reference or an amount alone is not enough. Returns invoice ->
    amount and the evidence; ``taken`` (invoices already referenced) are never found twice."""
    by_amount: dict[Decimal, list[InvoiceFact]] = {}
    for inv in open_invoices:
        if _is_open(inv) and inv.invoice_number not in taken:
            by_amount.setdefault(inv.open_amount, []).append(inv)
    found: dict[str, Decimal] = {}
    evidence: list[str] = []
    for written, amount in unresolved.items():
        near = [i for i in by_amount.get(amount, []) if one_slip_apart(written, i.invoice_number)]
        if len(near) == 1 and near[0].invoice_number not in found:
            found[near[0].invoice_number] = amount
            evidence.append(f"{written!r} -> {near[0].invoice_number}: one character differs and {amount} "
                            "is its open amount")
    return found, evidence


def _shave(r: CashMatch, payment: Decimal) -> Decimal:
    """Take what the allocations exceed the payment by off the last ones: never more than paid."""
    excess = sum((a.amount for a in r.allocations), ZERO) - payment
    kept: list[Allocation] = []
    for a in reversed(r.allocations):
        cut = min(excess, a.amount)
        excess -= cut
        if a.amount - cut > 0:
            kept.append(a if not cut else Allocation(invoice=a.invoice, amount=a.amount - cut))
        if cut:
            r.short_paid[a.invoice] = r.short_paid.get(a.invoice, ZERO) + cut
    r.allocations = kept[::-1]
    return excess


def _in_due_order(live: Sequence[InvoiceFact], payment: Decimal) -> list[Allocation]:
    """The payment over the invoices oldest first; the last one takes what is short."""
    out, left = [], payment
    for i in sorted(live, key=lambda i: (i.due_date, i.invoice_number)):
        amount = min(left, i.open_amount)
        if amount > 0:
            out.append(Allocation(invoice=i.invoice_number, amount=amount))
        left -= amount
    return out


def _paid_lines(payment: Decimal | None, live: Sequence[InvoiceFact],
                stated: dict[str, Decimal]) -> list[InvoiceFact] | None:
    """The one proper subset of the stated lines, each within its invoice's open amount, that adds
    up to the payment; None when the lines add up to it all together, or none or several subsets do."""
    lines = [i for i in live if 0 < stated[i.invoice_number] <= i.open_amount]
    if payment is None or len(lines) != len(live) or not 2 <= len(lines) <= MAX_SUBSET_INVOICES:
        return None
    if sum((stated[i.invoice_number] for i in lines), ZERO) == payment:
        return None
    as_open = [i.model_copy(update={"open_amount": stated[i.invoice_number]}) for i in lines]
    found = unique_subset(as_open, payment)
    if found is None:
        return None
    numbers = {i.invoice_number for i in found}
    return [i for i in lines if i.invoice_number in numbers]


def match(
    payment: Decimal | None,
    referenced: Sequence[InvoiceFact],
    stated: dict[str, Decimal],
    open_invoices: Sequence[InvoiceFact],
    deduction_mentioned: bool,
    discounts: dict[str, Decimal] | None = None,
    deductions: dict[str, Decimal] | None = None,
    tolerance: ReconciliationRule | None = None,
) -> CashMatch:
    """``discounts`` and ``deductions``: what a structured remittance says each invoice's short
    payment is (a cash discount taken, a deduction with a reason). ``tolerance``: the reconciliation
    rule of kind tolerance that applies to this customer and currency, if any."""
    r = CashMatch()
    tol = tolerance.tolerance if tolerance is not None else None
    discounts, deductions = discounts or {}, deductions or {}
    closed = [i for i in referenced if not _is_open(i)]
    live = list({i.invoice_number: i for i in referenced if _is_open(i)}.values())  # never one twice
    for i in closed:
        r.signals.append("invoice_not_open")
        r.evidence.append(f"{i.invoice_number} is {i.status} with nothing open")

    if live and stated and all(i.invoice_number in stated for i in live):
        part = _paid_lines(payment, live, stated)
        if part is not None:
            # the payment is exactly some of the lines: the others are mentioned, not paid
            r.allocations = [Allocation(invoice=i.invoice_number, amount=stated[i.invoice_number]) for i in part]
            r.payment = payment or ZERO
            r.confidence = 0.9
            left = [i.invoice_number for i in live if i not in part]
            r.evidence.append(f"payment equals the stated lines of {', '.join(a.invoice for a in r.allocations)}; "
                              f"{', '.join(left)} mentioned but not paid")
            return r
        total = ZERO
        exact = True
        explained = True  # every short line is a usual cash discount or an announced deduction
        for i in live:
            want = stated[i.invoice_number]
            amt = min(want, i.open_amount)
            if want > i.open_amount:
                r.signals.append("amount_mismatch")
                r.evidence.append(f"{i.invoice_number}: stated {want} > open {i.open_amount}")
            if amt <= 0:
                r.signals.append("amount_mismatch")
                r.evidence.append(f"{i.invoice_number}: stated {want} is nothing to apply")
                continue
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
                elif tolerance is not None and tol is not None and tol.accepts(i.open_amount - amt, i.open_amount):
                    r.tolerated(tolerance, i.invoice_number, i.open_amount - amt, "short by")
                elif transposed(amt, i.open_amount):
                    r.signals.append("amount_mismatch")
                    r.evidence.append(f"{i.invoice_number}: {amt} looks like {i.open_amount} with two digits "
                                      "swapped: not applied")
                    continue
                else:
                    r.short_paid[i.invoice_number] = i.open_amount - amt
                    explained = explained and deduction_mentioned
            r.allocations.append(Allocation(invoice=i.invoice_number, amount=amt))
            total += amt
        r.payment = payment if payment is not None else total
        stated_sum = sum(stated.values(), ZERO)
        if payment is not None and payment != stated_sum:
            if tolerance is not None and tol is not None and tol.accepts(stated_sum - payment, stated_sum):
                if payment < total:
                    last = r.allocations[-1].invoice if r.allocations else ""
                    _shave(r, payment)
                    r.short_paid.pop(last, None)
                    r.tolerated(tolerance, last, total - payment, "payment short of the lines by")
                else:
                    line = f"payment {payment} vs lines {stated_sum} within tolerance (rule {tolerance.id})"
                    r.evidence.append(line)
                    r.rules.setdefault(tolerance.id, line)
            else:
                r.evidence.append(f"payment {payment} differs from the sum of stated lines")
                r.signals.append("amount_mismatch")
                if payment < total:
                    _shave(r, payment)  # never apply more than was paid
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
            # "paid yesterday" under our reminder's subject: with no amount written anywhere, whether
            # all of it was paid is for a person to see on the bank statement
            r.confidence = 0.96 if payment is not None else 0.85
            r.evidence.append("referenced invoices paid in full" + ("" if payment is not None else
                                                                    " (no amount stated)"))
            return r
        r.payment = payment
        if payment <= 0:
            r.signals.append("amount_mismatch")
            r.evidence.append(f"payment {payment} is nothing to apply")
            return r
        within = tolerance is not None and tol is not None and tol.accepts(open_sum - payment, open_sum)
        if payment < open_sum:
            subset = unique_subset(live, payment) if len(live) > 1 else None
            if subset is not None:
                r.allocations = [Allocation(invoice=i.invoice_number, amount=i.open_amount) for i in subset]
                r.confidence = 0.85
                r.evidence.append("payment equals a subset of the referenced invoices")
                return r
            rate = early_payment_discount(live[0].open_amount, payment) if len(live) == 1 else None
            if rate is not None:
                inv = live[0]
                r.allocations = [Allocation(invoice=inv.invoice_number, amount=payment)]
                r.confidence = 0.92
                r.evidence.append(f"early-payment discount of {rate}% taken on {inv.invoice_number}")
                return r
            if within:
                assert tolerance is not None
                r.allocations = _in_due_order(live, payment)
                r.tolerated(tolerance, r.allocations[-1].invoice, open_sum - payment, "short by")
                r.confidence = 0.93
                return r
            if len(live) == 1 and transposed(payment, live[0].open_amount):
                r.signals.append("amount_mismatch")
                r.evidence.append(f"payment {payment} looks like {live[0].open_amount} with two digits swapped")
                return r
            if len(live) == 1:
                inv = live[0]
                r.allocations = [Allocation(invoice=inv.invoice_number, amount=payment)]
                r.short_paid[inv.invoice_number] = inv.open_amount - payment
                r.confidence = 0.9 if deduction_mentioned else 0.8
                r.evidence.append(f"partial payment: {payment} of {inv.open_amount} open")
                return r
            r.signals.append("amount_mismatch")
            r.evidence.append(f"payment {payment} does not fit referenced open total {open_sum}")
            return r
        # overpayment: apply everything referenced, the rest stays unapplied
        r.allocations = [Allocation(invoice=i.invoice_number, amount=i.open_amount) for i in live]
        if within:
            assert tolerance is not None
            line = f"overpayment {payment - open_sum} within tolerance: left unapplied (rule {tolerance.id})"
            r.evidence.append(line)
            r.rules.setdefault(tolerance.id, line)
            r.confidence = 0.93
            return r
        r.confidence = 0.8
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
