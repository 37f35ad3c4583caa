"""Invoice copies and statements: what the PDF's text layer and the CSV say is what the ledger holds,
in each of the four languages, and the same email renders the same bytes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from arinbox.agents.replies import ReplyRenderer
from arinbox.documents.attach import DocumentRenderer, invoice_copies, statement_files
from arinbox.documents.formats import day, money
from arinbox.documents.invoice_copy import invoice_copy_pdf
from arinbox.documents.statement import build_statement, statement_csv, statement_pdf
from arinbox.domain.errors import LedgerError
from arinbox.domain.models import CustomerFact, InvoiceFact
from arinbox.ledger.fake_ledger import InMemoryLedger
from tests.conftest import ROOT

LANGS = ["en", "de", "fr", "es"]
RENDERER = ReplyRenderer(ROOT / "agents" / "templates", "Brightwater Industrial Supply Ltd.")
COMPANY = RENDERER.company_name
CREATED = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
AS_OF = CREATED.date()
CUSTOMER = CustomerFact(customer_id="C-204", name="Société Générale d'Hydraulique SA", currency="EUR", language="fr",
                        payment_terms_days=30, credit_limit=Decimal("90000"))


def _inv(number: str, issued: dt.date, amount: str, open_amount: str, status: str, customer: str = "C-204",
         po: str | None = None) -> InvoiceFact:
    return InvoiceFact(invoice_number=number, customer_id=customer, issue_date=issued,
                       due_date=issued + dt.timedelta(days=30), currency="EUR", amount=Decimal(amount),
                       open_amount=Decimal(open_amount), status=status, po_number=po)


OVERDUE = _inv("INV-2026-004600", dt.date(2026, 9, 15), "14820.50", "4820.50", "partially_paid", po="4500123456")
CURRENT = _inv("INV-2026-004711", dt.date(2026, 11, 2), "1234567.89", "1234567.89", "open")
DISPUTED = _inv("INV-2026-004650", dt.date(2026, 10, 1), "310.00", "310.00", "disputed")
PAID = _inv("INV-2026-004520", dt.date(2026, 8, 1), "700.00", "0.00", "paid")
OTHERS = _inv("INV-2026-009999", dt.date(2026, 9, 1), "55.00", "55.00", "open", customer="C-999")
INVOICES = [OVERDUE, CURRENT, DISPUTED, PAID, OTHERS]


def text_of(pdf: bytes) -> str:
    """The text layer, with every kind of space as one space (babel's French groups use U+202F)."""
    raw = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    return _spaces(raw)


def _spaces(s: str) -> str:
    return re.sub(r"[\s\u00a0\u202f]+", " ", s)


@pytest.mark.parametrize("lang", LANGS)
def test_invoice_copy_holds_the_ledgers_number_amounts_and_dates(lang: str) -> None:
    pdf = invoice_copy_pdf(OVERDUE, CUSTOMER, COMPANY, lang, RENDERER.label, CREATED)
    text = text_of(pdf)
    for value in (OVERDUE.invoice_number, "4500123456", CUSTOMER.name, CUSTOMER.customer_id, COMPANY,
                  money(OVERDUE.amount, "EUR", lang), money(OVERDUE.open_amount, "EUR", lang),
                  day(OVERDUE.issue_date, lang), day(OVERDUE.due_date, lang),
                  RENDERER.label(lang, "invoice_status", "partially_paid"),
                  RENDERER.label(lang, "document", "invoice_copy")):
        assert _spaces(value) in text, value
    assert pdf == invoice_copy_pdf(OVERDUE, CUSTOMER, COMPANY, lang, RENDERER.label, CREATED)  # same bytes
    meta = PdfReader(io.BytesIO(pdf)).metadata
    assert meta is not None and meta.creation_date == CREATED  # the email's date, not the clock
    # a fact changed in the ledger changes the document
    paid_more = OVERDUE.model_copy(update={"open_amount": Decimal("1000.25")})
    changed = text_of(invoice_copy_pdf(paid_more, CUSTOMER, COMPANY, lang, RENDERER.label, CREATED))
    assert _spaces(money("1000.25", "EUR", lang)) in changed
    assert " " + _spaces(money("4820.50", "EUR", lang)) not in changed


@pytest.mark.parametrize("lang", LANGS)
def test_statement_pdf_lists_open_items_with_totals_and_overdue(lang: str) -> None:
    st = build_statement(CUSTOMER, INVOICES, AS_OF)
    assert [i.invoice.invoice_number for i in st.items] == ["INV-2026-004600", "INV-2026-004650", "INV-2026-004711"]
    assert st.total == {"EUR": Decimal("1239698.39")} and st.overdue == {"EUR": Decimal("5130.50")}
    text = text_of(statement_pdf(st, COMPANY, lang, RENDERER.label, CREATED))
    for inv in (OVERDUE, CURRENT, DISPUTED):
        for value in (inv.invoice_number, money(inv.amount, "EUR", lang), money(inv.open_amount, "EUR", lang),
                      day(inv.due_date, lang, "medium"), day(inv.issue_date, lang, "medium")):
            assert _spaces(value) in text, value
    assert _spaces(money("1239698.39", "EUR", lang)) in text
    assert _spaces(money("5130.50", "EUR", lang)) in text
    assert _spaces(day(AS_OF, lang)) in text
    for absent in (PAID.invoice_number, OTHERS.invoice_number):
        assert absent not in text
    assert " 36 " in text and " 20 " in text  # days overdue on 2026-11-20: due 2026-10-15 and 2026-10-31


@pytest.mark.parametrize("lang", LANGS)
def test_statement_csv_totals_equal_the_ledger(lang: str) -> None:
    ledger = InMemoryLedger([CUSTOMER], INVOICES)
    st = build_statement(CUSTOMER, ledger.invoices(CUSTOMER.customer_id), AS_OF)
    raw = statement_csv(st, lang, RENDERER.label)
    assert raw.startswith(b"\xef\xbb\xbf")  # spreadsheet programs read the accents of the header
    header, *rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert header[0] == RENDERER.label(lang, "document", "invoice_number")
    items, totals = rows[:-2], rows[-2:]
    open_in_ledger = [i for i in ledger.invoices(CUSTOMER.customer_id) if i.open_amount > 0 and i.status != "paid"]
    assert {r[0]: Decimal(r[5]) for r in items} == {i.invoice_number: i.open_amount for i in open_in_ledger}
    assert sum(Decimal(r[5]) for r in items) == Decimal(totals[0][5]) == sum(i.open_amount for i in open_in_ledger)
    overdue = sum(i.open_amount for i in open_in_ledger if i.due_date < AS_OF)
    assert Decimal(totals[1][5]) == overdue == Decimal("5130.50")
    assert {r[0]: (r[1], r[2], r[6]) for r in items}["INV-2026-004600"] == ("2026-09-15", "2026-10-15", "36")
    assert [t[0] for t in totals] == [RENDERER.label(lang, "document", c) for c in ("total_open", "overdue")]


def test_renderer_attaches_what_the_proposal_names_from_the_ledger() -> None:
    ledger = InMemoryLedger([CUSTOMER], INVOICES)
    docs = DocumentRenderer(ledger, COMPANY, RENDERER.label)
    payload = {"customer_id": "C-204", "language": "de", "as_of": "2026-11-20",
               "documents": invoice_copies(["INV-2026-004600"]) + statement_files()}
    files = docs.render(payload, CREATED)
    assert [(f.filename, f.content_type) for f in files] == [
        ("rechnung-INV-2026-004600.pdf", "application/pdf"),
        ("kontoauszug-C-204-2026-11-20.pdf", "application/pdf"),
        ("kontoauszug-C-204-2026-11-20.csv", "text/csv")]
    assert files == docs.render(payload, CREATED)
    assert docs.render({"body": "no documents"}, CREATED) == ()
    with pytest.raises(LedgerError, match="INV-2026-009999 is not an invoice of C-204"):
        docs.render(payload | {"documents": invoice_copies(["INV-2026-009999"])}, CREATED)
