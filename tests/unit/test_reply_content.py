"""Every reply template in every language, rendered by the proposer from ledger facts: each amount,
date and reference in the text is one of the facts (reply_check, and no digit left unexplained), and
a fact changed in the ledger changes the text."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest

from arinbox.agents.amounts import find_amount_hits
from arinbox.agents.dates import find_date_candidates
from arinbox.agents.propose import Proposer, ReplyContext
from arinbox.agents.references import ReferenceIndex
from arinbox.agents.replies import ReplyRenderer
from arinbox.agents.reply_check import check_reply
from arinbox.documents.formats import day, money
from arinbox.domain.models import (
    Classification,
    CustomerFact,
    DisputeReason,
    Extraction,
    Intent,
    InvoiceFact,
    LedgerFacts,
    OrderFact,
    Proposal,
)
from tests.conftest import ROOT

LANGS = ["en", "de", "fr", "es"]
TODAY = dt.date(2026, 11, 20)
PROPOSER = Proposer(ReplyRenderer(ROOT / "agents" / "templates", "Brightwater Industrial Supply Ltd."))
CUSTOMER = CustomerFact(customer_id="C-204", name="Meyer Hydraulik GmbH", currency="EUR", language="de",
                        payment_terms_days=30, credit_limit=Decimal("90000"))
OTHER = CustomerFact(customer_id="C-999", name="Other Co", currency="EUR", language="en", payment_terms_days=30,
                     credit_limit=Decimal("1"))


def _inv(number: str, issued: dt.date, amount: str, open_amount: str, status: str, po: str | None = None,
         customer: str = "C-204") -> InvoiceFact:
    return InvoiceFact(invoice_number=number, customer_id=customer, issue_date=issued,
                       due_date=issued + dt.timedelta(days=30), currency="EUR", amount=Decimal(amount),
                       open_amount=Decimal(open_amount), status=status, po_number=po)


PART = _inv("INV-2026-004600", dt.date(2026, 9, 15), "9820.50", "4820.50", "partially_paid", po="4500123456")
OPEN = _inv("INV-2026-004711", dt.date(2026, 11, 2), "1234.56", "1234.56", "open")
PAID = _inv("INV-2026-004520", dt.date(2026, 8, 1), "700.00", "0.00", "paid")
NOT_MINE = _inv("INV-2026-009999", dt.date(2026, 9, 1), "55.00", "55.00", "open", customer="C-999")
SHIPPED = OrderFact(order_number="SO-26-10500", customer_id="C-204", po_number="4500123456", status="shipped",
                    order_date=dt.date(2026, 9, 1), promised_ship_date=dt.date(2026, 9, 10),
                    ship_date=dt.date(2026, 9, 9), carrier="DHL", tracking_number="JD014600003828390921")
PLANNED = OrderFact(order_number="SO-26-10510", customer_id="C-204", po_number="4500123999", status="in_production",
                    order_date=dt.date(2026, 10, 20), promised_ship_date=dt.date(2026, 11, 30))


def _facts(invoices: list[InvoiceFact], orders: list[OrderFact] = (), open_invoices: list[InvoiceFact] | None = None
           ) -> LedgerFacts:  # type: ignore[assignment]
    opened = [i for i in (open_invoices or [PART, OPEN]) if i.open_amount > 0]
    return LedgerFacts(customer=CUSTOMER, invoices=invoices, open_invoices=opened, orders=list(orders),
                       balance=sum((i.open_amount for i in opened), Decimal("0")),
                       overdue=sum((i.open_amount for i in opened if i.due_date < TODAY), Decimal("0")))


# template -> (intent, cues, extraction fields, facts)
CASES: dict[str, tuple[Intent, list[str], dict[str, Any], LedgerFacts]] = {
    "invoice_copy": (Intent.INVOICE_REQUEST, [], {"invoices": [PART.invoice_number, OPEN.invoice_number]},
                     _facts([PART, OPEN])),
    "account_statement": (Intent.ACCOUNT_INQUIRY, [], {}, _facts([PAID])),
    "payment_received": (Intent.ACCOUNT_INQUIRY, ["question_paid"],
                         {"invoices": [PAID.invoice_number, PART.invoice_number, OPEN.invoice_number]},
                         _facts([PAID, PART, OPEN])),
    "order_status": (Intent.ORDER_INQUIRY, [], {"orders": [SHIPPED.order_number, PLANNED.order_number]},
                     _facts([], [SHIPPED, PLANNED])),
    # no amount in these emails: the promise and the dispute are for the invoice's open amount in the ledger
    "promise_ack": (Intent.PROMISE_TO_PAY, ["promise"],
                    {"invoices": [PART.invoice_number], "promised_date": dt.date(2026, 12, 4)}, _facts([PART])),
    "dispute_ack": (Intent.DISPUTE, [], {"invoices": [OPEN.invoice_number], "dispute_reason": DisputeReason.DAMAGED},
                    _facts([OPEN])),
}
INDEX = ReferenceIndex.build([CUSTOMER, OTHER], [PART, OPEN, PAID, NOT_MINE], [SHIPPED, PLANNED])


def propose(template: str, lang: str, facts: LedgerFacts | None = None) -> tuple[str, list[Proposal], LedgerFacts]:
    intent, cues, fields, default = CASES[template]
    facts = facts or default
    cls = Classification(intent=intent, confidence=0.95, language=lang, engine="test", cues=cues)
    ex = Extraction(customer_id="C-204", customer_how="contact", **fields)
    out = PROPOSER.propose(cls, ex, facts, ReplyContext("<PERSON_1>", lang), TODAY)
    [reply] = [p for p in out.proposals if p.kind.value == "send_reply"]
    assert reply.payload["template"] == template and reply.payload["language"] == lang
    return reply.payload["body"], out.proposals, facts


def identifiers(facts: LedgerFacts) -> list[str]:
    ids = [PROPOSER.renderer.company_name]
    for i in [*facts.invoices, *facts.open_invoices]:
        ids += [i.invoice_number, f"D-{i.invoice_number}", i.po_number or ""]
    for o in facts.orders:
        ids += [o.order_number, o.po_number or "", o.tracking_number or ""]
    return sorted({i for i in ids if i}, key=len, reverse=True)


def unexplained_digits(body: str, facts: LedgerFacts, lang: str) -> str:
    """What is left with a digit once the ledger's amounts, dates and identifiers are taken out."""
    spans = [(h.start, h.end) for h in find_amount_hits(body, lang)]
    spans += [(c.start, c.end) for c in find_date_candidates(body, lang, TODAY) if c.kind != "relative"]
    chars = list(body)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    rest = "".join(chars).replace("<PERSON_1>", " ")
    for ident in identifiers(facts):
        rest = rest.replace(ident, " ")
    return " ".join(w for w in rest.split() if re.search(r"\d", w))


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("template", list(CASES))
def test_every_number_date_and_reference_is_the_ledgers(template: str, lang: str) -> None:
    body, proposals, facts = propose(template, lang)
    dumped = [p.model_dump(mode="json") for p in proposals]
    assert check_reply(body, facts, dumped, INDEX, lang) == []
    assert unexplained_digits(body, facts, lang) == ""
    assert "<PERSON_1>" in body and PROPOSER.renderer.company_name in body


# template -> (what changes in the ledger, a value the new text must hold)
CHANGES: dict[str, tuple[LedgerFacts, str]] = {
    "invoice_copy": (_facts([PART.model_copy(update={"open_amount": Decimal("1000.25")}), OPEN]), "money:1000.25"),
    "account_statement": (_facts([PAID], open_invoices=[PART, OPEN.model_copy(update={
        "due_date": dt.date(2026, 12, 24)})]), "date:2026-12-24"),
    "payment_received": (_facts([PAID, paid := PART.model_copy(update={"open_amount": Decimal("0.00"),
                                                                       "status": "paid"}), OPEN],
                                open_invoices=[paid, OPEN]), "paid:INV-2026-004600"),
    "order_status": (_facts([], [SHIPPED.model_copy(update={"tracking_number": "JD014600003828390999"}), PLANNED]),
                     "text:JD014600003828390999"),
    "promise_ack": (_facts([PART.model_copy(update={"open_amount": Decimal("1000.25")})]), "money:1000.25"),
    "dispute_ack": (_facts([OPEN.model_copy(update={"open_amount": Decimal("1000.25")})]), "money:1000.25"),
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("template", list(CASES))
def test_a_fact_changed_in_the_ledger_changes_the_text(template: str, lang: str) -> None:
    before, _, _ = propose(template, lang)
    new_facts, expected = CHANGES[template]
    after, proposals, _ = propose(template, lang, new_facts)
    assert after != before
    kind, _, value = expected.partition(":")
    if kind == "money":
        assert money(value, "EUR", lang) in after
    elif kind == "date":
        assert day(value, lang) in after
        # the old text, checked against the changed ledger, no longer passes: its date is gone
        dumped = [p.model_dump(mode="json") for p in proposals]
        assert any("is not a ledger date" in p for p in check_reply(before, new_facts, dumped, INDEX, lang))
    elif kind == "paid":  # paid in full now: its line no longer shows an open amount, the balance is less
        def line(text: str) -> str:
            return next(x for x in text.splitlines() if x.startswith(f"- {value}"))
        assert money("4820.50", "EUR", lang) in line(before) and money("4820.50", "EUR", lang) not in line(after)
        assert money("6055.06", "EUR", lang) in before and money("1234.56", "EUR", lang) in after.split("\n\n")[-2]
    else:
        assert value in after
