"""Which documents a reply carries (its proposal's ``documents``), rendered from the ledger at send time.

A proposal names documents, never their content: a model or an edited draft cannot change what the
attached invoice copy or statement says, and an approval that waited a week sends what the ledger
holds then. ``as_of`` (the email's date) fixes the statement's overdue days and the creation dates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from arinbox.documents.formats import Label, language_of
from arinbox.documents.invoice_copy import invoice_copy_pdf
from arinbox.documents.statement import build_statement, statement_csv, statement_pdf
from arinbox.domain.errors import LedgerError
from arinbox.domain.ports import Ledger, OutgoingAttachment

PDF, CSV = "application/pdf", "text/csv"


def invoice_copies(numbers: Sequence[str]) -> list[dict[str, str]]:
    return [{"kind": "invoice_copy", "invoice": n} for n in numbers]


def statement_files() -> list[dict[str, str]]:
    return [{"kind": "statement", "format": "pdf"}, {"kind": "statement", "format": "csv"}]


def _file_name(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts))


class DocumentRenderer:
    def __init__(self, ledger: Ledger, company_name: str, label: Label) -> None:
        self._ledger, self._company, self._label = ledger, company_name, label

    def render(self, payload: dict[str, Any], created: dt.datetime) -> tuple[OutgoingAttachment, ...]:
        """The attachments a reply proposal names; none when it names none."""
        specs: list[dict[str, str]] = payload.get("documents") or []
        if not specs:
            return ()
        customer_id = str(payload["customer_id"])
        customer = self._ledger.customer(customer_id)
        if customer is None:
            raise LedgerError(f"customer {customer_id} is no longer in the ledger; no documents to attach")
        lang = language_of(str(payload.get("language", customer.language)))
        as_of = dt.date.fromisoformat(str(payload.get("as_of") or created.date().isoformat()))
        invoices = {i.invoice_number: i for i in self._ledger.invoices(customer_id)}
        files: list[OutgoingAttachment] = []
        for spec in specs:
            if spec["kind"] == "invoice_copy":
                inv = invoices.get(spec["invoice"])
                if inv is None:
                    raise LedgerError(f"invoice {spec['invoice']} is not an invoice of {customer_id}")
                name = _file_name(self._label(lang, "document", "file_invoice"), inv.invoice_number) + ".pdf"
                files.append(OutgoingAttachment(name, PDF, invoice_copy_pdf(
                    inv, customer, self._company, lang, self._label, created)))
            elif spec["kind"] == "statement":
                st = build_statement(customer, list(invoices.values()), as_of)
                stem = _file_name(self._label(lang, "document", "file_statement"), customer_id, as_of.isoformat())
                if spec.get("format") == "csv":
                    files.append(OutgoingAttachment(stem + ".csv", CSV, statement_csv(st, lang, self._label)))
                else:
                    files.append(OutgoingAttachment(stem + ".pdf", PDF, statement_pdf(
                        st, self._company, lang, self._label, created)))
            else:
                raise LedgerError(f"unknown document kind {spec['kind']!r} in a reply proposal")
        return tuple(files)
