"""Reconciliation rules of kind ``reference``: a customer's own reference style, read before the
general resolver (rules first).

A rule's match counts only when the invoice number it produces exists in the ledger and belongs
to the customer (or, while the customer is unknown, to anyone: the owner then decides the
customer). The matched text is blanked before the general resolver reads the email, so the same
words are never read twice as two different documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from arinbox.agents.references import Resolution
from arinbox.policies.reconciliation import ReconciliationRules


@dataclass(frozen=True)
class RuleRef:
    rule_id: str
    written: str
    start: int
    end: int
    invoice: str


def _number(rules: ReconciliationRules, text: str, customer_id: str | None,
            invoice_owner: Mapping[str, str]) -> list[RuleRef]:
    found: list[RuleRef] = []
    taken: list[tuple[int, int]] = []
    for rule in rules.of_kind("reference", customer_id):
        assert rule.reference is not None
        for m in rule.reference.regex.finditer(text):
            number = rule.reference.number(m)
            owner = invoice_owner.get(number) if number else None
            if number is None or owner is None or customer_id not in (None, owner):
                continue
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue  # an earlier rule read these words
            taken.append((m.start(), m.end()))
            found.append(RuleRef(rule.id, m.group(0), m.start(), m.end(), number))
    return sorted(found, key=lambda r: r.start)


def rule_references(rules: ReconciliationRules, text: str, customer_id: str | None,
                    invoice_owner: Mapping[str, str]) -> list[RuleRef]:
    """Every reference a rule reads in ``text``, in the order written."""
    return _number(rules, text, customer_id, invoice_owner) if rules.rules else []


def blank(text: str, refs: list[RuleRef]) -> str:
    """``text`` with the rules' matches replaced by spaces (offsets kept for amount pairing)."""
    chars = list(text)
    for ref in refs:
        chars[ref.start:ref.end] = " " * (ref.end - ref.start)
    return "".join(chars)


def add_to(resolution: Resolution, refs: list[RuleRef], used: dict[str, str]) -> None:
    """Record the rules' invoices in a resolution, first in writing order, with their evidence."""
    for ref in refs:
        if ref.invoice not in resolution.invoices:
            resolution.invoices.append(ref.invoice)
        resolution.invoice_spans.setdefault(ref.invoice, []).append((ref.start, ref.end))
        line = f"{ref.written!r} -> invoice {ref.invoice} (rule {ref.rule_id})"
        resolution.evidence.append(line)
        used.setdefault(ref.rule_id, line)
    order = {inv: min(s for s, _ in spans) for inv, spans in resolution.invoice_spans.items()}
    resolution.invoices.sort(key=lambda n: order.get(n, 0))


def line_resolver(rules: ReconciliationRules, customer_id: str | None, invoice_owner: Mapping[str, str],
                  used: dict[str, str]) -> Callable[[str], str | None] | None:
    """For remittance lines: the invoice a rule reads in one line's reference, if any."""
    if not rules.of_kind("reference", customer_id):
        return None

    def resolve(reference: str) -> str | None:
        refs = _number(rules, reference, customer_id, invoice_owner)
        if len(refs) != 1:
            return None
        used.setdefault(refs[0].rule_id, f"{reference!r} -> invoice {refs[0].invoice} (rule {refs[0].rule_id})")
        return refs[0].invoice

    return resolve
