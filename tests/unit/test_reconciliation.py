"""Reconciliation rules (policies/reconciliation.yaml): loading, each rule kind, and the decisions
they lead to from an email's text through extraction, cash application and the policy gate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from arinbox.agents.cash import match
from arinbox.agents.extract import extract
from arinbox.agents.propose import Proposer, ReplyContext
from arinbox.agents.references import ReferenceIndex
from arinbox.agents.replies import ReplyRenderer
from arinbox.domain.errors import ConfigError
from arinbox.domain.models import (
    ActionKind,
    Allocation,
    Classification,
    CustomerFact,
    Intent,
    InvoiceFact,
    LedgerFacts,
    Outcome,
    RemittanceDoc,
    RemittanceLine,
)
from arinbox.policies.engine import decide_email
from arinbox.policies.reconciliation import ReconciliationRules, load_reconciliation
from arinbox.policies.schema import load_policy

D = Decimal
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RULES = ROOT / "policies" / "reconciliation.yaml"
POLICY = load_policy(ROOT / "policies" / "default.yaml")
DAY = dt.date(2026, 11, 10)


def customer(cid: str, domain: str, currency: str = "EUR") -> CustomerFact:
    return CustomerFact(customer_id=cid, name=f"Customer {cid} Holdings", email_domains=[domain],
                        contact_emails=[f"ap@{domain}"], currency=currency, language="en",
                        payment_terms_days=30, credit_limit=D("90000"))


def invoice(number: str, cid: str, amount: str, currency: str = "EUR", due: int = 1) -> InvoiceFact:
    return InvoiceFact(invoice_number=number, customer_id=cid, issue_date=dt.date(2026, 9, 1),
                       due_date=dt.date(2026, 10, due), currency=currency, amount=D(amount), open_amount=D(amount),
                       status="open")


CUSTOMERS = [customer("C1", "alpha.example"), customer("C2", "beta.example")]
INVOICES = [
    invoice("INV-2026-004512", "C1", "1200.00"),
    invoice("INV-2026-004519", "C1", "800.00", due=5),
    invoice("INV-2026-007001", "C2", "950.00"),
    invoice("INV-2026-007002", "C2", "410.00", due=9),
]
INDEX = ReferenceIndex.build(CUSTOMERS, INVOICES, [])

RULES_YAML = """\
name: test
version: 3
rules:
  - id: alpha-docno
    customers: [C1]
    reference:
      pattern: 'our doc\\s*(?P<number>\\d{3,6})'
      invoice: 'INV-2026-{number:0>6}'
    action: auto
  - id: gamma-pays-for-beta
    partner:
      payers: [gamma-shared.example]
      payer_reference: 'GAM-\\d+'
      customer: C2
    action: review
  - id: fees
    currencies: [EUR]
    tolerance: {absolute: 10, percent: 1}
    action: auto
  - id: rounding-writeoff
    currencies: [USD]
    tolerance: {absolute: 0.50, write_off: true}
    action: auto
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> ReconciliationRules:
    path = tmp_path_factory.mktemp("rules") / "reconciliation.yaml"
    path.write_text(RULES_YAML)
    return load_reconciliation(path)


@pytest.fixture(scope="module")
def proposer(rules: ReconciliationRules) -> Proposer:
    return Proposer(ReplyRenderer(ROOT / "agents" / "templates", "Brightwater Industrial Supply Ltd."), rules)


def _extract(rules: ReconciliationRules, text: str, sender: str,
             docs: list[RemittanceDoc] | None = None) -> tuple[str | None, str | None, list[str], dict[str, str]]:
    ex = extract(text, sender, DAY, "en", CUSTOMERS, INVOICES, [], INDEX, intent=Intent.REMITTANCE_ADVICE,
                 remittance=docs or [], reconciliation=rules)
    return ex.customer_id, ex.customer_how, ex.invoices, ex.rules


def _decide(proposer: Proposer, text: str, sender: str) -> tuple[dict[str, object], list[str], str]:
    """The email's text as far as the gate: (payment payload, the email's signals, the deciding rule)."""
    ex = extract(text, sender, DAY, "en", CUSTOMERS, INVOICES, [], INDEX, intent=Intent.REMITTANCE_ADVICE,
                 reconciliation=proposer.reconciliation)
    assert ex.customer_id is not None
    mine = [i for i in INVOICES if i.customer_id == ex.customer_id]
    facts = LedgerFacts(customer=next(c for c in CUSTOMERS if c.customer_id == ex.customer_id),
                        invoices=[i for i in mine if i.invoice_number in ex.invoices], open_invoices=mine)
    cls = Classification(intent=Intent.REMITTANCE_ADVICE, confidence=0.97, engine="test", cues=["paid"])
    out = proposer.propose(cls, ex, facts, ReplyContext("<PERSON_1>", "en"), DAY)
    verdict = decide_email(out.proposals, cls, facts, out.signals, out.review_reason, POLICY, DAY)
    pay = next(p for p in out.proposals if p.kind is ActionKind.APPLY_PAYMENT)
    decision = verdict.decisions[pay.index]
    return pay.payload | {"evidence": pay.evidence, "outcome": decision.outcome}, out.signals, decision.rule_id


# ---------------------------------------------------------------- the file


def test_default_rules_load_with_a_content_hash() -> None:
    rules = load_reconciliation(DEFAULT_RULES)
    assert rules.rules and len(rules.content_hash) == 64
    assert {r.kind for r in rules.rules} == {"reference", "partner", "tolerance"}


@pytest.mark.parametrize(("old", "new", "field"), [
    ("(?P<number>\\d{3,6})", "(?P<number>\\d{3,6}", "rules.0.reference.pattern"),
    ("'INV-2026-{number:0>6}'", "'INV-2026-{num}'", "rules.0.reference"),
    ("    action: review\n", "    action: sometimes\n", "rules.1.action"),
    ("    tolerance: {absolute: 10, percent: 1}\n", "    tolerance: {absolute: -1}\n", "rules.2.tolerance.absolute"),
    ("  - id: fees\n", "  - id: Fees Rule\n", "rules.2.id"),
    ("    partner:\n", "    tolerance: {percent: 1}\n    partner:\n", "rules.1"),
])
def test_a_bad_rule_is_one_line_naming_file_line_and_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    assert old in RULES_YAML
    bad = tmp_path / "reconciliation.yaml"
    bad.write_text(RULES_YAML.replace(old, new, 1))
    changed = next(n for n, line in enumerate(bad.read_text().splitlines(), 1) if line not in RULES_YAML.splitlines())
    with pytest.raises(ConfigError) as exc:
        load_reconciliation(bad)
    message = str(exc.value)
    assert "\n" not in message and message.startswith(f"{bad}: line ")
    assert f"field {field}:" in message
    line = int(message.split("line ")[1].split(":")[0])
    assert abs(line - changed) <= 3  # the rule's own lines, not the top of the file


def test_duplicate_rule_ids_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "dup.yaml"
    bad.write_text(RULES_YAML.replace("  - id: rounding-writeoff", "  - id: fees"))
    with pytest.raises(ConfigError, match=r"dup.yaml: line \d+: field \(top level\): .*'fees' is used twice"):
        load_reconciliation(bad)


# ---------------------------------------------------------------- reference rules


def test_reference_rule_reads_the_customers_own_style(rules: ReconciliationRules) -> None:
    cid, how, invoices, used = _extract(rules, "Paid EUR 1,200.00 for our doc 4512 today.", "ap@alpha.example")
    assert (cid, how, invoices) == ("C1", "contact", ["INV-2026-004512"])
    assert "alpha-docno" in used and "INV-2026-004512" in used["alpha-docno"]
    # on a remittance line too, before the general resolver
    line = RemittanceLine(reference="our doc 4519", amount=D("800.00"))
    doc = RemittanceDoc(format="csv", lines=[line], total=D("800.00"))
    ex = extract("Remittance attached.", "ap@alpha.example", DAY, "en", CUSTOMERS, INVOICES, [], INDEX,
                 intent=Intent.REMITTANCE_ADVICE, remittance=[doc], reconciliation=rules)
    assert ex.invoices == ["INV-2026-004519"] and ex.invoice_amounts == {"INV-2026-004519": D("800.00")}


def test_reference_rule_is_scoped_to_its_customers(rules: ReconciliationRules) -> None:
    # C2 writes "our doc 4512" too: the rule is C1's, and 4512 would name C1's invoice
    _, _, invoices, used = _extract(rules, "Paid for our doc 4512.", "ap@beta.example")
    assert "INV-2026-004512" not in invoices and "alpha-docno" not in used


def test_a_rule_number_outside_the_ledger_reads_nothing(rules: ReconciliationRules) -> None:
    _, _, invoices, used = _extract(rules, "Paid for our doc 9999.", "ap@alpha.example")
    assert invoices == [] and used == {}


# ---------------------------------------------------------------- partner rules


def test_partner_rule_maps_a_payer_to_the_customer_it_pays_for(rules: ReconciliationRules) -> None:
    cid, how, invoices, used = _extract(rules, "Payment for INV-2026-007001.", "treasury@pay.gamma-shared.example")
    assert (cid, how, invoices) == ("C2", "partner", ["INV-2026-007001"])
    assert "gamma-pays-for-beta" in used and "pay.gamma-shared.example" in used["gamma-pays-for-beta"]
    doc = RemittanceDoc(format="camt.054", payer_reference="GAM-7731", lines=[])
    cid, how, _, _ = _extract(rules, "Payment advice", "noreply@bank.example", [doc])
    assert (cid, how) == ("C2", "partner")


def test_without_a_partner_rule_the_payer_is_unknown() -> None:
    cid, _, _, _ = _extract(ReconciliationRules(name="none", version=1), "Payment for INV-2026-007001.",
                            "treasury@pay.gamma-shared.example")
    assert cid == "C2"  # found by its invoice, as before: no rule, no partner evidence
    cid, _, _, _ = _extract(ReconciliationRules(name="none", version=1), "Payment advice", "noreply@bank.example",
                            [RemittanceDoc(format="camt.054", payer_reference="GAM-7731", lines=[])])
    assert cid is None


# ---------------------------------------------------------------- tolerance rules


def test_tolerance_keeps_the_difference_open_and_names_the_rule(rules: ReconciliationRules) -> None:
    fees = rules.tolerance_for("C1", "EUR")
    inv = INVOICES[0]
    r = match(D("1192.50"), [inv], {}, INVOICES[:2], False, tolerance=fees)
    assert r.allocations == [Allocation(invoice=inv.invoice_number, amount=D("1192.50"))]
    assert r.short_paid == {} and r.write_offs == {} and not r.signals and r.confidence >= 0.9
    assert "fees" in r.rules and "stays open" in r.rules["fees"]
    # 1 % of 1,200.00 is 12.00 but the absolute limit is 10: 11.00 short is a partial payment
    outside = match(D("1189.00"), [inv], {}, INVOICES[:2], False, tolerance=fees)
    assert outside.short_paid == {inv.invoice_number: D("11.00")} and outside.rules == {}


def test_tolerance_on_several_invoices_and_stated_lines(rules: ReconciliationRules) -> None:
    fees = rules.tolerance_for("C1", "EUR")
    a, b = INVOICES[0], INVOICES[1]
    r = match(D("1993.00"), [a, b], {}, [a, b], False, tolerance=fees)
    assert r.allocations == [Allocation(invoice=a.invoice_number, amount=D("1200.00")),
                             Allocation(invoice=b.invoice_number, amount=D("793.00"))]
    # stated lines in full, the bank kept 7.00 of the transfer: the last line takes the difference
    lines = match(D("1993.00"), [a, b], {a.invoice_number: D("1200.00"), b.invoice_number: D("800.00")},
                  [a, b], False, tolerance=fees)
    assert sum(x.amount for x in lines.allocations) == D("1993.00") and not lines.signals
    without = match(D("1993.00"), [a, b], {a.invoice_number: D("1200.00"), b.invoice_number: D("800.00")},
                    [a, b], False)
    assert "amount_mismatch" in without.signals and sum(x.amount for x in without.allocations) <= D("1993.00")


def test_overpayment_within_tolerance_stays_unapplied(rules: ReconciliationRules) -> None:
    r = match(D("1205.00"), [INVOICES[0]], {}, INVOICES[:2], False, tolerance=rules.tolerance_for("C1", "EUR"))
    assert r.allocations == [Allocation(invoice="INV-2026-004512", amount=D("1200.00"))]
    assert not r.signals and "unapplied" in r.rules["fees"]


def test_write_off_only_when_the_rule_says_so(rules: ReconciliationRules) -> None:
    usd = invoice("INV-2026-009001", "C9", "300.00", currency="USD")
    rounding = rules.tolerance_for("C9", "USD")
    assert rounding is not None and rounding.id == "rounding-writeoff"
    r = match(D("299.60"), [usd], {}, [usd], False, tolerance=rounding)
    assert r.allocations == [Allocation(invoice=usd.invoice_number, amount=D("299.60"))]
    assert r.write_offs == {usd.invoice_number: D("0.40")}
    assert rules.tolerance_for("C9", "GBP") is None  # neither rule covers sterling


# ---------------------------------------------------------------- expected decisions


def test_decision_payment_within_tolerance_runs_alone(proposer: Proposer) -> None:
    payload, signals, rule = _decide(proposer, "We paid EUR 1,195.00 against INV-2026-004512.", "ap@alpha.example")
    assert payload["allocations"] == [{"invoice": "INV-2026-004512", "amount": "1195.00"}]
    assert payload["rules"] == ["fees"] and "review_rules" not in payload
    assert payload["outcome"] is Outcome.AUTO and rule == "action.apply_payment.auto"
    assert any("(rule fees)" in e for e in payload["evidence"])  # type: ignore[union-attr]


def test_decision_payer_mapped_to_another_customer_waits_for_review(proposer: Proposer) -> None:
    payload, _, rule = _decide(proposer, "We paid EUR 950.00 for INV-2026-007001 on behalf of Beta.",
                               "treasury@gamma-shared.example")
    assert payload["customer_id"] == "C2"
    assert payload["allocations"] == [{"invoice": "INV-2026-007001", "amount": "950.00"}]
    assert payload["review_rules"] == ["gamma-pays-for-beta"]
    assert payload["outcome"] is Outcome.APPROVAL and rule == "reconciliation.gamma-pays-for-beta.review"


def test_decision_reference_rule_with_auto_runs_alone(proposer: Proposer) -> None:
    payload, _, rule = _decide(proposer, "Paid EUR 800.00 for our doc 4519.", "ap@alpha.example")
    assert payload["allocations"] == [{"invoice": "INV-2026-004519", "amount": "800.00"}]
    assert payload["rules"] == ["alpha-docno"] and rule == "action.apply_payment.auto"


def test_decision_the_same_rule_as_review_waits(tmp_path: Path) -> None:
    path = tmp_path / "review.yaml"
    path.write_text(RULES_YAML.replace("    action: auto\n", "    action: review\n", 1))
    strict = Proposer(ReplyRenderer(ROOT / "agents" / "templates", "Brightwater"), load_reconciliation(path))
    payload, _, rule = _decide(strict, "Paid EUR 800.00 for our doc 4519.", "ap@alpha.example")
    assert payload["outcome"] is Outcome.APPROVAL and rule == "reconciliation.alpha-docno.review"


def test_decision_currency_mismatch_is_refused(proposer: Proposer) -> None:
    ex = extract("We paid USD 1,200.00 for INV-2026-004512.", "ap@alpha.example", DAY, "en", CUSTOMERS, INVOICES,
                 [], INDEX, intent=Intent.REMITTANCE_ADVICE, reconciliation=proposer.reconciliation)
    facts = LedgerFacts(customer=CUSTOMERS[0], invoices=[INVOICES[0]], open_invoices=INVOICES[:2])
    cls = Classification(intent=Intent.REMITTANCE_ADVICE, confidence=0.97, engine="test", cues=["paid"])
    out = proposer.propose(cls, ex, facts, ReplyContext("<PERSON_1>", "en"), DAY)
    assert "currency_mismatch" in out.signals
    assert not any(p.kind is ActionKind.APPLY_PAYMENT for p in out.proposals)
    assert out.review_reason and "another currency" in out.review_reason


def test_of_two_payments_written_the_one_the_invoice_has_open_is_applied(proposer: Proposer) -> None:
    # INV-2026-007002 has 410.00 open: the 950.00 went earlier, today's transfer is the balance
    text = ("Following our first transfer of EUR 950.00 on 15 October, we have today transferred the "
            "balance of EUR 410.00 for invoice INV-2026-007002.")
    payload, signals, _ = _decide(proposer, text, "ap@beta.example")
    assert payload["allocations"] == [{"invoice": "INV-2026-007002", "amount": "410.00"}]
    assert "amount_mismatch" not in signals
    assert any("taken for an earlier payment" in e for e in payload["evidence"])  # type: ignore[attr-defined]
    # a partial payment stays what it is: 300.00 paid of 410.00 open is no "balance" to pick
    payload, signals, _ = _decide(proposer, "We paid EUR 300.00 against invoice INV-2026-007002 (EUR 410.00).",
                                  "ap@beta.example")
    assert payload["allocations"] == [{"invoice": "INV-2026-007002", "amount": "300.00"}]
