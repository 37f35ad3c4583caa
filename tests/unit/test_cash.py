from __future__ import annotations

import datetime as dt
from decimal import Decimal

from arinbox.agents.cash import corroborated, match, one_slip_apart, unique_subset
from arinbox.domain.models import Allocation, InvoiceFact

D = Decimal


def inv(number: str, open_amount: str, status: str = "open", amount: str | None = None) -> InvoiceFact:
    return InvoiceFact(invoice_number=number, customer_id="C1", issue_date=dt.date(2026, 9, 1),
                       due_date=dt.date(2026, 10, int(number[-1]) + 1), currency="USD",
                       amount=D(amount or open_amount), open_amount=D(open_amount), status=status)


A, B, C, E = inv("I1", "100.00"), inv("I2", "250.00"), inv("I3", "250.00"), inv("I4", "75.50")
OPEN = [A, B, C, E]


def alloc(*pairs: tuple[str, str]) -> list[Allocation]:
    return [Allocation(invoice=i, amount=D(a)) for i, a in pairs]


def test_referenced_invoices_paid_in_full() -> None:
    r = match(D("175.50"), [A, E], {}, OPEN, False)
    assert r.allocations == alloc(("I1", "100.00"), ("I4", "75.50"))
    assert r.confidence >= 0.95 and not r.signals


def test_no_amount_written_anywhere_is_for_a_person_to_confirm() -> None:
    # "paid yesterday" under the subject of our reminder for I1: proposed in full, below the usual
    # threshold for running alone (0.9), since nothing says all of it was paid
    r = match(None, [A], {}, OPEN, False)
    assert r.allocations == alloc(("I1", "100.00"))
    assert r.confidence < 0.9


def test_stated_lines_are_used_and_short_lines_recorded() -> None:
    r = match(D("330.00"), [A, B], {"I1": D("100.00"), "I2": D("230.00")}, OPEN, True)
    assert r.allocations == alloc(("I1", "100.00"), ("I2", "230.00"))
    assert r.short_paid == {"I2": D("20.00")}


def test_a_payment_that_is_some_of_the_stated_lines_applies_those_only() -> None:
    # I1 and I2 are paid; I4 is mentioned (a credit note is awaited for it) but not paid
    r = match(D("350.00"), [A, B, E], {"I1": D("100.00"), "I2": D("250.00"), "I4": D("75.50")}, OPEN, False)
    assert r.allocations == alloc(("I1", "100.00"), ("I2", "250.00"))
    assert r.payment == D("350.00") and not r.signals
    assert any("I4 mentioned but not paid" in e for e in r.evidence)
    # two ways to make the payment: nothing is guessed
    r = match(D("250.00"), [B, C, E], {"I2": D("250.00"), "I3": D("250.00"), "I4": D("75.50")}, OPEN, False)
    assert sum((a.amount for a in r.allocations), D(0)) <= D("250.00")
    assert "amount_mismatch" in r.signals


def test_never_more_than_open_amount() -> None:
    r = match(D("400.00"), [A], {"I1": D("400.00")}, OPEN, False)
    assert r.allocations == alloc(("I1", "100.00"))
    assert "amount_mismatch" in r.signals


def test_amount_only_unique_match() -> None:
    r = match(D("75.50"), [], {}, OPEN, False)
    assert r.allocations == alloc(("I4", "75.50"))


def test_amount_only_two_equal_invoices_is_ambiguous() -> None:
    r = match(D("250.00"), [], {}, OPEN, False)
    assert r.allocations == [] and "ambiguous_match" in r.signals


def test_amount_only_unique_subset() -> None:
    r = match(D("175.50"), [], {}, OPEN, False)
    assert r.allocations == alloc(("I1", "100.00"), ("I4", "75.50"))
    assert r.confidence < 0.9  # a combination guessed from the amount waits for a person


def test_paid_invoice_is_not_applied_again() -> None:
    r = match(D("100.00"), [inv("I9", "0.00", status="paid", amount="100.00")], {}, OPEN, False)
    assert r.allocations == [] and "invoice_not_open" in r.signals


def test_partial_and_overpayment() -> None:
    partial = match(D("60.00"), [A], {}, OPEN, False)
    assert partial.allocations == alloc(("I1", "60.00")) and partial.short_paid == {"I1": D("40.00")}
    over = match(D("150.00"), [A], {}, OPEN, False)
    assert over.allocations == alloc(("I1", "100.00")) and "amount_mismatch" in over.signals


def test_unique_subset_bounded_and_unique() -> None:
    assert unique_subset(OPEN, D("350.00")) is None  # I1+I2 and I1+I3
    assert unique_subset(OPEN, D("425.50")) is None  # I1+I2+I4 and I1+I3+I4
    assert [i.invoice_number for i in unique_subset(OPEN, D("425.50") + D("250.00")) or []] == ["I1", "I2", "I3", "I4"]


def test_early_payment_discount_is_recognised() -> None:
    r = match(D("98.00"), [A], {}, OPEN, False)
    assert r.allocations == alloc(("I1", "98.00")) and r.confidence >= 0.9
    assert r.short_paid == {}
    assert any("early-payment discount of 2%" in e for e in r.evidence)
    assert match(D("97.10"), [A], {}, OPEN, False).confidence < 0.9  # 2.9 %: no usual rate


def test_two_digits_swapped_is_a_keying_slip_not_a_partial_payment() -> None:
    big = inv("I5", "3840.00")
    stated = {"I5": D("3480.00")}
    for r in (match(D("3480.00"), [big], {}, [big], False), match(D("3480.00"), [big], stated, [big], False)):
        assert r.allocations == [] and "amount_mismatch" in r.signals
        assert any("two digits swapped" in e for e in r.evidence)
    assert match(D("3400.00"), [big], {}, [big], False).allocations == alloc(("I5", "3400.00"))  # a real partial


def test_one_slip_apart() -> None:
    assert one_slip_apart("INV-2026-066403", "INV-2026-066463")  # one digit replaced
    assert one_slip_apart("inv 2026 066436", "INV-2026-066463")  # two neighbours swapped
    assert not one_slip_apart("INV-2026-066400", "INV-2026-066463")  # two digits differ
    assert not one_slip_apart("INV-2026-66463", "INV-2026-066463")  # not full length
    assert not one_slip_apart("INV-2026-066463", "INV-2026-066463")  # the same: nothing to forgive


def test_a_mistyped_line_reference_is_found_only_when_its_amount_agrees() -> None:
    mine = [inv(f"INV-2026-00{n}", a) for n, a in (("4519", "100.00"), ("4528", "250.00"), ("4538", "250.00"))]
    found, evidence = corroborated({"INV-2026-004518": D("100.00")}, mine, set())
    assert found == {"INV-2026-004519": D("100.00")} and "one character differs" in evidence[0]
    assert corroborated({"INV-2026-004518": D("99.00")}, mine, set())[0] == {}  # the amount disagrees
    assert corroborated({"INV-2026-004548": D("250.00")}, mine, set())[0] == {}  # 4528 or 4538: cannot tell
    assert corroborated({"INV-2026-004518": D("100.00")}, mine, {"INV-2026-004519"})[0] == {}  # already named


def test_another_customers_number_on_an_advice_is_corroborated_by_amount() -> None:
    from arinbox.agents.references import ReferenceIndex
    from arinbox.domain.models import CustomerFact, RemittanceDoc, RemittanceLine
    from arinbox.remittance.resolve import resolve_lines

    customers = [CustomerFact(customer_id=c, name=c, currency="USD", language="en", payment_terms_days=30,
                              credit_limit=D("1000")) for c in ("C1", "C2")]
    own = inv("I1", "800.00").model_copy(update={"invoice_number": "INV-2026-004519"})
    foreign = inv("I2", "410.00").model_copy(update={"invoice_number": "INV-2026-004529", "customer_id": "C2"})
    index = ReferenceIndex.build(customers, [own, foreign], [])
    doc = RemittanceDoc(format="csv", total=D("800.00"), lines=[RemittanceLine(reference="INV-2026-004529",
                                                                               amount=D("800.00"))])
    lines = resolve_lines([doc], index, "C1")
    assert lines.unresolved_amounts == {"INV-2026-004529": D("800.00")}
    assert corroborated(lines.unresolved_amounts, [own], set())[0] == {"INV-2026-004519": D("800.00")}
