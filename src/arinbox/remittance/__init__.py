"""Remittance documents to structured lines: CSV, XLSX, PDF, text and HTML tables, ISO 20022
camt.05x / remt.001, X12 820, BAI2 and NACHA, plus the containers they arrive in (TNEF, zip).

``read_document`` picks a reader by content and returns the lines, a readable text rendering and,
when the document could not be read, a one-line note. Lines carry business identifiers and
amounts only: no payer names, account numbers or IBANs.
"""

from arinbox.domain.models import LineKind, RemittanceDoc, RemittanceLine
from arinbox.remittance.limits import DEFAULT_LIMITS, Limits
from arinbox.remittance.registry import Reading, detect_format, read_document
from arinbox.remittance.render import render_doc
from arinbox.remittance.text_table import parse_text_table

__all__ = [
    "DEFAULT_LIMITS",
    "LineKind",
    "Limits",
    "Reading",
    "RemittanceDoc",
    "RemittanceLine",
    "detect_format",
    "parse_text_table",
    "read_document",
    "render_doc",
]
