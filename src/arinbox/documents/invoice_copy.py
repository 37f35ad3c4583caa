"""A copy of one invoice as PDF, from the ledger's invoice and customer facts."""

from __future__ import annotations

import datetime as dt

from arinbox.documents.formats import Label, day, language_of, money
from arinbox.documents.pdf import Page
from arinbox.domain.models import CustomerFact, InvoiceFact


def invoice_copy_pdf(invoice: InvoiceFact, customer: CustomerFact, company_name: str, language: str,
                     label: Label, created: dt.datetime) -> bytes:
    lang = language_of(language)

    def doc(code: str) -> str:
        return label(lang, "document", code)

    page = Page(f"{doc('invoice_copy')} {invoice.invoice_number}", company_name, created)
    page.fields([(doc("customer"), customer.name), (doc("customer_id"), customer.customer_id)])
    page.ln(3)
    rows = [
        (doc("invoice_number"), invoice.invoice_number),
        (doc("issue_date"), day(invoice.issue_date, lang)),
        (doc("due_date"), day(invoice.due_date, lang)),
    ]
    rows += [(doc("po_number"), invoice.po_number)] if invoice.po_number else []
    rows += [(doc("order_number"), invoice.order_number)] if invoice.order_number else []
    rows += [
        (doc("currency"), invoice.currency),
        (doc("amount"), money(invoice.amount, invoice.currency, lang)),
        (doc("open_amount"), money(invoice.open_amount, invoice.currency, lang)),
        (doc("status"), label(lang, "invoice_status", invoice.status)),
    ]
    page.fields(rows)
    page.ln(6)
    page.set_font("Helvetica", "I", 8)
    page.line_text(f"{doc('copy_note')} {day(created.date(), lang)}")
    return bytes(page.output())
