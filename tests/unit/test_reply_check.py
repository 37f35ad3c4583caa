from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from arinbox.agents.references import ReferenceIndex
from arinbox.agents.replies import ReplyRenderer
from arinbox.agents.reply_check import check_reply
from arinbox.domain.models import CustomerFact, InvoiceFact, LedgerFacts
from tests.conftest import ROOT


def _customer(cid: str) -> CustomerFact:
    return CustomerFact(customer_id=cid, name=f"Company {cid}", currency="EUR", language="de",
                        payment_terms_days=30, credit_limit=Decimal("1000"))


def _invoice(number: str, cid: str, amount: str) -> InvoiceFact:
    return InvoiceFact(invoice_number=number, customer_id=cid, issue_date=dt.date(2026, 9, 1),
                       due_date=dt.date(2026, 10, 1), currency="EUR", amount=Decimal(amount),
                       open_amount=Decimal(amount), status="open")


MINE, OTHER = _invoice("RE-2026-0451", "C1", "4820.50"), _invoice("RE-2026-0999", "C2", "120.00")
FACTS = LedgerFacts(customer=_customer("C1"), invoices=[MINE], open_invoices=[MINE],
                    balance=Decimal("4820.50"), overdue=Decimal("4820.50"))
INDEX = ReferenceIndex.build([_customer("C1"), _customer("C2")], [MINE, OTHER], [])
RENDERER = ReplyRenderer(ROOT / "agents" / "templates", "Seller Ltd")


@pytest.mark.parametrize("language", ["en", "de", "fr", "es"])
def test_generated_replies_pass_in_every_language(language: str) -> None:
    body = RENDERER.render("invoice_copy", language, greeting_name="<PERSON_1>",
                           invoices=[MINE.model_dump(mode="json")])
    assert "RE-2026-0451" in body
    assert check_reply(body, FACTS, [], INDEX, language) == []


def test_an_invented_amount_is_caught() -> None:
    body = "Dear customer, invoice RE-2026-0451 is open for 4.280,50 EUR."
    assert check_reply(body, FACTS, [], INDEX, "de") == ["the amount 4.280,50 EUR is not a ledger figure of this email"]


def test_another_customers_invoice_is_caught() -> None:
    body = "Dear customer, invoice RE-2026-0999 is open."
    assert check_reply(body, FACTS, [], INDEX, "en") == ["RE-2026-0999 is not a document of this customer"]


def test_rendered_replies_have_tight_lists_and_single_blank_lines() -> None:
    other = _invoice("RE-2026-0452", "C1", "10.00").model_dump(mode="json")
    body = RENDERER.render("account_statement", "en", greeting_name="", currency="EUR", balance="4830.50",
                           overdue="0", open_invoices=[MINE.model_dump(mode="json"), other], recent_payments=[])
    assert "\n\n\n" not in body
    assert "open €4,820.50\n- RE-2026-0452" in body
