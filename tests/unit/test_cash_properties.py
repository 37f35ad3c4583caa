"""Property tests of the cash-application guarantees, over generated ledgers and remittances.

Whatever a remittance says: an allocation never exceeds its invoice's open amount, never touches
another customer's invoice, never names an invoice twice, and the allocations never add up to more
than the payment; the ledger accepts what cash application proposes, and a second application
with the same idempotency key changes nothing. The ledger's own rules refuse the rest.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arinbox.agents.propose import Proposer, ReplyContext
from arinbox.agents.replies import ReplyRenderer
from arinbox.domain.errors import LedgerError
from arinbox.domain.models import (
    ActionKind,
    Allocation,
    Classification,
    CustomerFact,
    Extraction,
    Intent,
    InvoiceFact,
    LedgerFacts,
    Money,
)
from arinbox.ledger.fake_ledger import InMemoryLedger
from arinbox.policies.reconciliation import ReconciliationRule, ReconciliationRules, Tolerance

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 11, 10)
RULES = ReconciliationRules(name="props", version=1, rules=[
    ReconciliationRule(id="fees", tolerance=Tolerance(absolute=Decimal("5"), percent=Decimal("1")), action="auto")])
PROPOSER = Proposer(ReplyRenderer(ROOT / "agents" / "templates", "Brightwater"), RULES)
CLS = Classification(intent=Intent.REMITTANCE_ADVICE, confidence=0.97, engine="test", cues=["paid"])
CUSTOMERS = [CustomerFact(customer_id=c, name=f"Customer {c}", currency="EUR", language="en",
                          payment_terms_days=30, credit_limit=Decimal("1000000")) for c in ("C1", "C2")]

cents = st.integers(min_value=1, max_value=2_000_000).map(lambda c: Decimal(c).scaleb(-2))


@st.composite
def ledgers(draw: st.DrawFn) -> list[InvoiceFact]:
    """2-16 invoices over two customers, some partly paid, some paid or credited, a few equal amounts."""
    n = draw(st.integers(min_value=2, max_value=16))
    out = []
    amounts = draw(st.lists(cents, min_size=n, max_size=n))
    for k, amount in enumerate(amounts):
        if k and draw(st.booleans()) and draw(st.booleans()):
            amount = amounts[k - 1]  # equal open amounts make amount-only matching ambiguous
        status = draw(st.sampled_from(["open", "open", "open", "partially_paid", "paid", "credited", "disputed"]))
        open_amount = amount if status in ("open", "disputed") else (
            (amount / 2).quantize(Decimal("0.01")) if status == "partially_paid" else Decimal("0.00"))
        out.append(InvoiceFact(
            invoice_number=f"INV-{k:04d}", customer_id=draw(st.sampled_from(["C1", "C1", "C2"])),
            issue_date=dt.date(2026, 9, 1), due_date=dt.date(2026, 9, 1) + dt.timedelta(days=draw(
                st.integers(0, 90))), currency="EUR", amount=amount, open_amount=open_amount, status=status))
    return out


@st.composite
def remittances(draw: st.DrawFn, invoices: list[InvoiceFact]) -> tuple[Extraction, LedgerFacts]:
    """What extraction and lookup might hand cash application, including references to the other
    customer's invoices (a lookup bug or a forged email) and lines that claim too much."""
    numbers = [i.invoice_number for i in invoices]
    referenced = draw(st.lists(st.sampled_from(numbers), max_size=6))
    stated: dict[str, Decimal] = {}
    if referenced and draw(st.booleans()):
        for n in referenced:
            inv = next(i for i in invoices if i.invoice_number == n)
            stated[n] = draw(st.sampled_from([inv.open_amount, inv.amount, (inv.open_amount * Decimal("0.98"))
                                              .quantize(Decimal("0.01")), Decimal("0.00")])) if draw(
                st.booleans()) else draw(cents)
    open_sum = sum((i.open_amount for i in invoices if i.invoice_number in referenced), Decimal("0"))
    near = open_sum + draw(st.integers(min_value=-600, max_value=600).map(lambda c: Decimal(c).scaleb(-2)))
    payment = draw(st.one_of(st.none(), cents, st.just(sum(stated.values(), Decimal("0"))),
                             st.just(near).filter(lambda x: x > 0)))  # within or just outside a tolerance
    # lines whose reference was mistyped (a digit off), paying the open amount or something else
    unresolved = {n[:-1] + str((int(n[-1]) + 1) % 10): draw(st.sampled_from(
        [next(i.open_amount for i in invoices if i.invoice_number == n), Decimal("1.00")]))
        for n in draw(st.lists(st.sampled_from(numbers), max_size=3))}
    ex = Extraction(customer_id="C1", customer_how="contact", invoices=list(dict.fromkeys(referenced)),
                    invoice_amounts=stated, unresolved_amounts=unresolved,
                    amount=Money(amount=payment, currency="EUR", text=str(payment)) if payment else None)
    facts = LedgerFacts(customer=CUSTOMERS[0], invoices=[i for i in invoices if i.invoice_number in referenced],
                        open_invoices=[i for i in invoices if i.open_amount > 0])
    return ex, facts


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[InvoiceFact], Extraction, LedgerFacts]:
    invoices = draw(ledgers())
    ex, facts = draw(remittances(invoices))
    return invoices, ex, facts


# derandomized and without an example database: the same 300 cases on every run and machine
FAST = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(cases())
def test_proposed_allocations_keep_every_guarantee(case: tuple[list[InvoiceFact], Extraction, LedgerFacts]) -> None:
    invoices, ex, facts = case
    by_number = {i.invoice_number: i for i in invoices}
    out = PROPOSER.propose(CLS, ex, facts, ReplyContext("<PERSON_1>", "en"), DAY)
    for p in out.proposals:
        if p.kind is not ActionKind.APPLY_PAYMENT:
            continue
        allocations = [Allocation.model_validate(a) for a in p.payload["allocations"]]
        assert allocations
        assert len({a.invoice for a in allocations}) == len(allocations)  # never one invoice twice
        for a in allocations:
            inv = by_number[a.invoice]
            assert inv.customer_id == "C1"  # never another customer's invoice
            assert 0 < a.amount <= inv.open_amount  # never more than is open
        assert sum((a.amount for a in allocations), Decimal("0")) <= Decimal(p.payload["payment"])
        for w in p.payload.get("write_offs", []):
            assert Decimal(w["amount"]) > 0 and w["invoice"] in {a.invoice for a in allocations}

        # the ledger accepts what was proposed, and the same key a second time changes nothing
        ledger = InMemoryLedger(CUSTOMERS, invoices)
        first = ledger.apply_payment("k-1", "C1", Decimal(p.payload["payment"]), "EUR", allocations, "ref", DAY)
        after = ledger.invoices()
        second = ledger.apply_payment("k-1", "C1", Decimal(p.payload["payment"]), "EUR", allocations, "ref", DAY)
        assert first.applied and not second.applied
        assert ledger.invoices() == after
        for a in allocations:
            now = next(i for i in after if i.invoice_number == a.invoice)
            assert now.open_amount == by_number[a.invoice].open_amount - a.amount >= 0


@FAST
@given(st.data())
def test_the_ledger_refuses_what_breaks_a_guarantee(data: st.DataObject) -> None:
    invoices = data.draw(ledgers())
    numbers = [i.invoice_number for i in invoices]
    allocations = [Allocation(invoice=n, amount=data.draw(cents)) for n in
                   data.draw(st.lists(st.sampled_from(numbers), min_size=1, max_size=5))]
    payment = data.draw(cents)
    ledger = InMemoryLedger(CUSTOMERS, invoices)
    by_number = {i.invoice_number: i for i in invoices}
    ok = (len({a.invoice for a in allocations}) == len(allocations)
          and all(by_number[a.invoice].customer_id == "C1" and a.amount <= by_number[a.invoice].open_amount
                  for a in allocations)
          and sum((a.amount for a in allocations), Decimal("0")) <= payment)
    if ok:
        assert ledger.apply_payment("k", "C1", payment, "EUR", allocations, "ref", DAY).applied
    else:
        with pytest.raises(LedgerError):
            ledger.apply_payment("k", "C1", payment, "EUR", allocations, "ref", DAY)
        assert ledger.invoices() == sorted(invoices, key=lambda i: i.invoice_number)  # nothing half-done
        assert ledger.read_effect("k") is None
