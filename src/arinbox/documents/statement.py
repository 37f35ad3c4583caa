"""A customer's statement of account: the open items with totals and overdue, as PDF and as CSV.

Open and overdue mean what the lookup node means by them: an open amount on an invoice that is not
paid or credited, overdue when its due date lies before the statement's date.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from arinbox.documents.formats import Label, day, language_of, money
from arinbox.documents.pdf import Page
from arinbox.domain.models import CustomerFact, InvoiceFact

ZERO = Decimal("0")


@dataclass(frozen=True)
class OpenItem:
    invoice: InvoiceFact
    days_overdue: int  # 0 when not yet due


@dataclass(frozen=True)
class Statement:
    customer: CustomerFact
    as_of: dt.date
    items: list[OpenItem]
    total: dict[str, Decimal]  # currency -> open total
    overdue: dict[str, Decimal]  # currency -> overdue part of it


def build_statement(customer: CustomerFact, invoices: Sequence[InvoiceFact], as_of: dt.date) -> Statement:
    items = [OpenItem(i, max((as_of - i.due_date).days, 0))
             for i in sorted(invoices, key=lambda i: (i.due_date, i.invoice_number))
             if i.customer_id == customer.customer_id and i.open_amount > 0 and i.status not in ("paid", "credited")]
    total: dict[str, Decimal] = {}
    overdue: dict[str, Decimal] = {}
    for it in items:
        cur = it.invoice.currency
        total[cur] = total.get(cur, ZERO) + it.invoice.open_amount
        overdue[cur] = overdue.get(cur, ZERO) + (it.invoice.open_amount if it.days_overdue else ZERO)
    return Statement(customer, as_of, items, total, overdue)


def statement_pdf(st: Statement, company_name: str, language: str, label: Label, created: dt.datetime) -> bytes:
    lang = language_of(language)

    def doc(code: str) -> str:
        return label(lang, "document", code)

    page = Page(doc("statement"), company_name, created)
    page.fields([(doc("customer"), st.customer.name), (doc("customer_id"), st.customer.customer_id),
                 (doc("as_of"), day(st.as_of, lang))])
    page.ln(4)
    if not st.items:
        page.line_text(doc("no_open_items"))
        return bytes(page.output())
    header = [doc("invoice"), doc("issue_date"), doc("due_date"), doc("amount"), doc("open_amount"),
              doc("days_overdue")]
    rows = [[it.invoice.invoice_number, day(it.invoice.issue_date, lang, "medium"),
             day(it.invoice.due_date, lang, "medium"), money(it.invoice.amount, it.invoice.currency, lang),
             money(it.invoice.open_amount, it.invoice.currency, lang), str(it.days_overdue)] for it in st.items]
    page.grid(header, rows, widths=(38, 27, 27, 30, 30, 22), right=frozenset({3, 4, 5}))
    page.ln(4)
    page.fields([row for cur in sorted(st.total) for row in (
        (doc("total_open"), money(st.total[cur], cur, lang)),
        (doc("overdue"), money(st.overdue[cur], cur, lang)))])
    return bytes(page.output())


def statement_csv(st: Statement, language: str, label: Label) -> bytes:
    """One row per open item, then a total and an overdue row per currency. Machine-readable values
    (ISO dates, a dot before the cents) under the customer's language's column names; UTF-8 with a
    byte-order mark so spreadsheet programs read the accents."""
    lang = language_of(language)

    def doc(code: str) -> str:
        return label(lang, "document", code)

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([doc("invoice_number"), doc("issue_date"), doc("due_date"), doc("currency"), doc("amount"),
                doc("open_amount"), doc("days_overdue"), doc("status"), doc("po_number")])
    for it in st.items:
        i = it.invoice
        w.writerow([i.invoice_number, i.issue_date.isoformat(), i.due_date.isoformat(), i.currency,
                    f"{i.amount:.2f}", f"{i.open_amount:.2f}", it.days_overdue,
                    label(lang, "invoice_status", i.status), i.po_number or ""])
    for cur in sorted(st.total):
        w.writerow([doc("total_open"), "", "", cur, "", f"{st.total[cur]:.2f}", "", "", ""])
        w.writerow([doc("overdue"), "", "", cur, "", f"{st.overdue[cur]:.2f}", "", "", ""])
    return out.getvalue().encode("utf-8-sig")
