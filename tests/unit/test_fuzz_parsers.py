"""Property-based fuzzing of what reads outside input: MIME, every remittance reader, the extractors.

Each parser either returns its result or raises the error it documents (MailParseError,
RemittanceFormatError and its UnreadableDocument), never anything else, and never hangs. Inputs
are random bytes and mutations of real files (this repository's mail and the shared fixtures).

Hypothesis runs derandomized and without an example database, so CI sees the same examples on
every run; example counts and deadlines keep the whole file well under a minute.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arinbox.agents.amounts import find_amount_hits, parse_number
from arinbox.agents.dates import find_promised_date
from arinbox.agents.references import ReferenceIndex
from arinbox.domain.errors import MailParseError, RemittanceFormatError
from arinbox.domain.models import CustomerFact, InvoiceFact, OrderFact, ParsedEmail, RemittanceDoc
from arinbox.mail import parse_email
from arinbox.mail.hidden import split_hidden
from arinbox.mail.normalize import normalize_text
from arinbox.remittance import DEFAULT_LIMITS, Limits, parse_text_table, read_document
from arinbox.remittance.archive import unpack_zip
from arinbox.remittance.bai2 import parse_bai2
from arinbox.remittance.csv_table import parse_csv
from arinbox.remittance.html_table import parse_html_table
from arinbox.remittance.iso20022 import parse_iso20022
from arinbox.remittance.nacha import parse_nacha
from arinbox.remittance.pdf import parse_pdf
from arinbox.remittance.tnef import unpack_tnef
from arinbox.remittance.x12 import parse_x12
from arinbox.remittance.xlsx import parse_xlsx
from tests.conftest import DATA, SHARED_FIXTURES

pytestmark = pytest.mark.timeout(120)  # a hang fails the file instead of stalling the suite

FUZZ = settings(derandomize=True, database=None, max_examples=100, deadline=timedelta(seconds=5),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=60)

MAILS = sorted([*DATA.glob("mail/*.eml"), *DATA.glob("mini/emails/*.eml"), *DATA.glob("injection/emails/*.eml"),
                *SHARED_FIXTURES.glob("mime/**/*.eml")])
FORMATS = SHARED_FIXTURES / "remittance-formats"


def _files(*patterns: str) -> list[bytes]:
    found = sorted({p for pattern in patterns for p in FORMATS.glob(pattern)})
    assert found, patterns
    return [p.read_bytes() for p in found]


# ---------------------------------------------------------------- mutations of real input

@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A real file with a few byte-level edits: flips, insertions, deletions, cuts, repeated chunks."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut", "repeat", "splice"]))
        if op == "flip":
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 200))]
        elif op == "cut":
            del data[at:]
        elif op == "repeat":
            chunk = data[at:at + draw(st.integers(1, 300))]
            data[at:at] = chunk * draw(st.integers(2, 20))
        else:
            data[at:at] = draw(st.sampled_from([b"\r\n\r\n", b"--", b"=?utf-8?b?", b"Content-Type: multipart/mixed;"
                                                b" boundary=x\r\n", b"\x00", b"<", b"&#", b"\xef\xbb\xbf", b"\xff\xfe",
                                                b"=\r\n", b"base64", b"~", b"*", b"\n88,", b"\n16,"]))
    return bytes(data)


def _mail_seeds() -> list[bytes]:
    return [p.read_bytes() for p in MAILS]


def _check_mail(raw: bytes) -> None:
    try:
        parsed = parse_email(raw)
    except MailParseError as e:
        assert str(e) and "\n" not in str(e)  # one line, fit for the work item's reason
        return
    assert isinstance(parsed, ParsedEmail) and parsed.message_id


# ---------------------------------------------------------------- MIME

@FUZZ
@given(st.binary(max_size=4096))
def test_parse_email_on_random_bytes(raw: bytes) -> None:
    _check_mail(raw)


@FUZZ
@given(st.text(max_size=2000).map(lambda t: ("From: a@b.example\nSubject: s\n" + t).encode("utf-8", "surrogatepass")))
def test_parse_email_on_random_text_after_headers(raw: bytes) -> None:
    _check_mail(raw)


@settings(FUZZ, max_examples=300)
@given(mutated(_mail_seeds()))
def test_parse_email_on_mutated_real_messages(raw: bytes) -> None:
    assert len(MAILS) >= 30
    _check_mail(raw)


@FUZZ
@given(st.text(max_size=1500))
def test_hidden_html_split_never_fails(markup: str) -> None:
    visible, hidden = split_hidden("<html><body>" + markup + "</body></html>")
    assert isinstance(visible, str) and all(isinstance(t, str) and t for t in hidden)


@FUZZ
@given(st.text(max_size=800))
def test_normalizing_twice_changes_nothing_more(text: str) -> None:
    once, _ = normalize_text(text)
    twice, notes = normalize_text(once)
    assert twice == once and not notes


# ---------------------------------------------------------------- remittance readers

Reader = Callable[[bytes], Any]
READERS: dict[str, tuple[Reader, list[str]]] = {
    "bai2": (parse_bai2, ["bai2-moov/*.txt"]),
    "iso20022": (parse_iso20022, ["iso20022-moov/*.xml", "camt054-genkgo/*.xml"]),
    "x12": (parse_x12, ["x12-820/Example*.txt"]),
    "nacha": (parse_nacha, ["nacha-moov/*.ach"]),
    "tnef": (unpack_tnef, []),
    "zip": (lambda data: unpack_zip(data, DEFAULT_LIMITS), []),
    "pdf": (lambda data: parse_pdf(data, Limits(max_pdf_pages=3)), []),
    "xlsx": (lambda data: parse_xlsx(data, Limits(max_xlsx_rows=200)), []),
    "csv": (lambda data: parse_csv(data.decode("utf-8", "replace")), []),
    "html-table": (lambda data: parse_html_table(data.decode("utf-8", "replace")), []),
    "text-table": (lambda data: parse_text_table(data.decode("utf-8", "replace")), []),
}


def _zip_seed() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("remittance.csv", "Invoice;Amount\nINV-2026-004512;1250.00\nINV-2026-004513;980.40\n")
    return buffer.getvalue()


def _seeds(name: str) -> list[bytes]:
    patterns = READERS[name][1]
    if patterns:
        return _files(*patterns)
    if name == "tnef":
        return [p.read_bytes() for p in sorted((SHARED_FIXTURES / "mime" / "tnef-mimekit").glob("*.tnef"))]
    if name == "zip":
        return [_zip_seed()]
    if name in ("pdf", "xlsx"):
        return [_pdf_seed() if name == "pdf" else _xlsx_seed()]
    extract = DATA / "extract"
    return [(extract / "remittance.csv").read_bytes(), (extract / "remittance_table.txt").read_bytes(),
            b"<table><tr><th>Invoice</th><th>Paid</th></tr><tr><td>INV-2026-004512</td><td>1,250.00</td></tr></table>"]


def _pdf_seed() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for line in ("Remittance advice", "Invoice          Amount", "INV-2026-004512  1,250.00"):
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _xlsx_seed() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (("Invoice", "Amount paid"), ("INV-2026-004512", 1250.0), ("INV-2026-004513", 980.4)):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _check_reader(read: Reader, data: bytes) -> None:
    try:
        result = read(data)
    except RemittanceFormatError as e:  # UnreadableDocument is one of these
        assert str(e)
        return
    docs = [r for r in (result if isinstance(result, tuple) else (result,)) if isinstance(r, RemittanceDoc)]
    for doc in docs:
        for line in doc.lines:
            assert line.amount is None or isinstance(line.amount, Decimal)


@pytest.mark.parametrize("name", sorted(READERS))
def test_each_remittance_reader_on_random_and_mutated_input(name: str) -> None:
    read, seeds = READERS[name][0], _seeds(name)

    @FEW
    @given(st.one_of(st.binary(max_size=2048), mutated(seeds)))
    def run(data: bytes) -> None:
        _check_reader(read, data)

    run()


@FEW
@given(st.one_of(st.binary(max_size=2048), mutated(_files("bai2-moov/*.txt", "x12-820/Example*.txt",
                                                          "camt054-genkgo/*.xml", "nacha-moov/*.ach"))),
       st.sampled_from(["", "remit.csv", "advice.pdf", "book.xlsx", "winmail.dat", "files.zip", "a.txt", "a.html"]),
       st.sampled_from(["application/octet-stream", "text/csv", "text/plain", "text/html", "application/pdf"]))
def test_read_document_never_raises(data: bytes, filename: str, content_type: str) -> None:
    reading = read_document(data, filename, content_type)
    assert reading.note is None or "\n" not in reading.note


# ---------------------------------------------------------------- extractors

def _rows(name: str) -> list[dict[str, Any]]:
    with (DATA / "injection" / "ledger" / name).open(encoding="utf-8") as f:
        return [{k: (v or None) for k, v in row.items()} for row in csv.DictReader(f)]


def _mini_index() -> tuple[ReferenceIndex, list[InvoiceFact], list[OrderFact]]:
    customers = [CustomerFact.model_validate({**r, "email_domains": r["email_domains"].split(";"),
                                              "contact_emails": r["contact_emails"].split(";")})
                 for r in _rows("customers.csv")]
    invoices = [InvoiceFact.model_validate(r) for r in _rows("invoices.csv")]
    orders = [OrderFact.model_validate(r) for r in _rows("orders.csv")]
    return ReferenceIndex.build(customers, invoices, orders), invoices, orders


AR_WORDS = st.sampled_from(["INV-2026-004512", "4512", "$1,250.00", "1.250,00 €", "EUR", "12/11/2026",
                            "by Friday", "bis 30.11.", "Rechnung", "facture", "factura", "PO-77812", "#", "-", "/",
                            "\u200b", "\u00a0", "\uff14", "\u0430", "paid", "pay", "on", "the", "\n"])
AR_TEXT = st.lists(st.one_of(AR_WORDS, st.text(max_size=12)), max_size=60).map(" ".join)
LANGS = st.sampled_from([None, "en", "de", "fr", "es", "xx"])


@FUZZ
@given(AR_TEXT, LANGS)
def test_amounts_are_found_inside_the_text(text: str, language: str | None) -> None:
    for hit in find_amount_hits(text, language):
        assert 0 <= hit.start < hit.end <= len(text)
        assert isinstance(hit.money.amount, Decimal)


@FUZZ
@given(st.text(max_size=40))
def test_parse_number_returns_a_decimal_or_none(text: str) -> None:
    value = parse_number(text)
    assert value is None or isinstance(value, Decimal)


@FUZZ
@given(AR_TEXT, LANGS, st.dates(dt.date(2000, 1, 1), dt.date(2090, 12, 31)))
def test_promised_dates_are_dates(text: str, language: str | None, day: dt.date) -> None:
    found = find_promised_date(text, language, day)
    assert found is None or isinstance(found, dt.date)


@FUZZ
@given(AR_TEXT, st.sampled_from([None, "CUST-1", "CUST-2", "CUST-9"]))
def test_references_resolve_only_to_ledger_documents(text: str, customer_id: str | None) -> None:
    index, invoices, orders = _mini_index()
    known_invoices = {i.invoice_number for i in invoices}
    known_orders = {o.order_number for o in orders}
    found = index.match(text, customer_id)
    assert set(found.invoices) <= known_invoices and set(found.orders) <= known_orders
    for hit in found.hits:
        assert 0 <= hit.start < hit.end <= len(text)


def test_the_seed_corpus_is_there() -> None:
    assert all(_seeds(name) for name in READERS)
    assert all(isinstance(p, Path) for p in MAILS)
