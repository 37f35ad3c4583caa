"""Remittance formats: every shared fixture file, and the CSV/XLSX/PDF/table documents customers send.

``test_every_shared_fixture_is_expected`` lists the shared fixture folders: a new file there
without an entry in ``EXPECTED`` (or, for mail, in the MIME tests) fails the suite.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fpdf import FPDF

from arinbox.domain.errors import RemittanceFormatError
from arinbox.domain.models import LineKind, RemittanceDoc
from arinbox.mail import parse_email
from arinbox.remittance import Limits, parse_text_table, read_document
from arinbox.remittance.bai2 import parse_bai2
from arinbox.remittance.iso20022 import parse_iso20022
from arinbox.remittance.tnef import unpack_tnef
from tests.conftest import SHARED_FIXTURES
from tests.unit.test_mail_parse import BROKEN

D = Decimal
FORMATS = SHARED_FIXTURES / "remittance-formats"
MIME = SHARED_FIXTURES / "mime"
PROVENANCE = {"LICENSE", "SOURCE.txt", "License-CDDL.html", "README.md"}


@dataclass(frozen=True)
class Expect:
    fmt: str | None = None  # None: the reader must refuse with ``error``
    lines: int | None = None
    total: str | None = None
    currency: str | None = None
    references: tuple[str, ...] = ()  # the first line references, in order
    error: str = ""
    unclaimed: bool = False  # no reader takes it: no lines and no note
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


EXPECTED: dict[str, Expect] = {
    # BAI2: account detail and lockbox (115) records; 88 continuations; one file that must fail
    "bai2-moov/sample1.txt": Expect("bai2", 17, "0.00", "CAD"),
    "bai2-moov/sample2.txt": Expect("bai2", 4, "309500.00", None, extra={"lockbox": ["4500.00", "5000.00"]}),
    "bai2-moov/sample3.txt": Expect("bai2", 26, "-197.05", "USD"),
    "bai2-moov/sample4-continuations-newline-delimited.txt": Expect("bai2", 17, "-307483.24", "USD"),
    "bai2-moov/sample5-issue113.txt": Expect("bai2", 20, "37667896.02", "USD"),
    "bai2-moov/sample-parseError.txt": Expect(error="BAI2 line 1: record code '00' is not a BAI2 record"),
    # camt.054 with the other parser's golden JSON beside each file (compared in its own test)
    "camt054-genkgo/camt054.v2.xml": Expect("camt.054", 4, "-200000", "SEK"),
    "camt054-genkgo/camt054.v2.with-account-name.xml": Expect("camt.054", 1, "-200000", "SEK"),
    "camt054-genkgo/camt054.v4.xml": Expect("camt.054", 4, "-200000", "SEK"),
    "camt054-genkgo/camt054.v8.xml": Expect("camt.054", 4, "-200000", "SEK"),
    "camt054-genkgo/camt054.v8-with-UETR.xml": Expect("camt.054", 1, "-200000", "SEK"),
    "camt054-genkgo/camt054.v8-with-financial-institution.xml": Expect("camt.054", 1, "-200000", "SEK"),
    # moov iso20022: PostFinance and Finnish bank samples, statements, a remt.001 stub, a camt.055
    "iso20022-moov/200519_camt.052_P_CH2909000000250094239_1110092686_0_2019042416072347.xml":
        Expect("camt.052", 2, "-1016.00", "CHF", notes=("intraday account report",)),
    "iso20022-moov/200519_camt.054-Credit_P_CH2909000000250094239_1110092691_0_2019042421291293.xml":
        Expect("camt.054", 1, "1500.00", "CHF"),
    "iso20022-moov/200519_camt.054-Debit_P_CH2909000000250094239_1110092692_0_2019042401501580.xml":
        Expect("camt.054", 1, "-913.00", "CHF"),
    "iso20022-moov/200519_camt.054_P_CH2909000000250094239_1111091335_0_2020061900081727.xml":
        Expect("camt.054", 2, "1692.22", "CHF", ("539115429773825311971477453", "662437765447746478179744715")),
    "iso20022-moov/200924_camt.054_P_CH2909000000250094239_1111091335_0_2020061900081727.xml":
        Expect("camt.054", 2, "1692.22", "CHF", ("539115429773825311971477453", "662437765447746478179744715")),
    "iso20022-moov/200519_camt054-ESR-ASR_P_CH2909000000250094239_1110092704_0_2019042500372179.xml":
        Expect("camt.054", 6, "1390.00", "CHF", ("120000000000234478943216899",)),
    "iso20022-moov/200519_camt054-chdd_p_ch2909000000250094239_1110097484_0_20190520700381159.xml":
        Expect("camt.054", 2, "4.50", "CHF", extra={"text": "Rechnung 1001"}),
    "iso20022-moov/200519_camt054-epo_p_ch5109000000250092291_1110097605_0_2019052003522556.xml":
        Expect("camt.054", 3, "-750.00", "CHF"),
    "iso20022-moov/200519_camt054-epo_p_ch5109000000250092291_1110097605_0_2019052103322231.xml":
        Expect("camt.054", 3, "-750.00", "CHF"),
    "iso20022-moov/200519_camt054-returns_p_ch2909000000250094239_1109800798_0_2019052023472022.xml":
        Expect("camt.054", 1, "400.00", "CHF"),
    "iso20022-moov/camt054-returns_p_ch5109000000250092291_1110097606_0_2020112500512470.xml":
        Expect("camt.054", 1, "500.00", "CHF"),
    "iso20022-moov/200924_camt.054_P_CH2909000000250094239_1110092703_0_2019042423412214.xml":
        Expect("camt.054", 6, "1500.00", "CHF"),
    "iso20022-moov/FI_camt_052_sample.xml.xml": Expect("camt.052", 2, "2220.00", "EUR"),
    "iso20022-moov/FI_camt_053_sample.xml.xml": Expect("camt.053", 13, "13644.83", "EUR",
                                                       notes=("bank statement",)),
    "iso20022-moov/FI_camt_054_sample.xml.xml": Expect("camt.054", 15, "369.95", "EUR", ("3900", "12344", "43216"),
                                                       extra={"credit_memo": ("12344", "-600.00")}),
    "iso20022-moov/camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml":
        Expect("camt.053", 5, "4656.02", "CHF"),
    "iso20022-moov/valid_remt_v04.xml": Expect("remt.001", 0, None, notes=("no structured remittance",)),
    "iso20022-moov/valid_remt_v04.json": Expect(unclaimed=True),  # the other parser's output: no format
    "iso20022-moov/valid_camt_v09.xml": Expect(error="camt.055 is not a remittance format"),
    "iso20022-moov/valid_camt_v09.json": Expect(unclaimed=True),
    # NACHA: CTX with free-text addenda, CCD+
    "nacha-moov/ctx-debit.ach": Expect("nacha-ctx", 1, "-1000000.00", "USD", ("45689033",),
                                       extra={"text": "Debit First Account Debit Second Account"}),
    "nacha-moov/ccd-debit.ach": Expect("nacha-ccd", 2, "-5001.25", "USD", ("location #1", "Fee #1")),
    # X12 820: RMR lines, ADX adjustments, BPR totals (template files carry words where amounts go)
    "x12-820/Example1_MortgageBankers.txt": Expect("x12-820", 2, "337.67", None, ("8889444", "66666789")),
    "x12-820/Example2_ScanaEnergy.txt": Expect("x12-820", 1, "10000", None, ("5189800007544",)),
    "x12-820/Example3_HomeDepot.txt": Expect(
        "x12-820", 4, None, "USD", ("RTV NUMBER", "INVOICE NUMBER"),
        notes=("BPR02 payment total: 'TOTAL DOLLAR AMT OF CHECK' is not an amount",)),
    "x12-820/Example4_Safeway.txt": Expect("x12-820", 10, "416093.15", None,
                                           ("WSO_144324_05", "WSO_144343_05", "6092392")),
    "x12-820/Example5_Wikipedia.txt": Expect("x12-820", 3, "77.77", None,
                                             ("1111111111111111", "2222222222222222", "4444444444444444")),
    "x12-820/Example6.txt": Expect("x12-820", 2, "66.55", None, ("3151551151025500", "3151535551301500")),
    "x12-820/Example7_FromScott.txt": Expect("x12-820", 29, "99999.99", None, ("999999999",)),
}
# The golden JSON files are read by the camt.054 comparison below.
GOLDEN = {f"camt054-genkgo/{p.name}" for p in (FORMATS / "camt054-genkgo").glob("*.json")}
TNEF_FILES = {
    "garbage-at-end.tnef": ([], None),
    "one-file.tnef": (["AUTHORS"], None),
    "two-files.tnef": (["AUTHORS", "README"], None),
    "rtf.tnef": ([], "Greg Allen"),
    "winmail.tnef": (["Untitled Attachment", "Untitled Attachment"], "1111111111"),
}


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name not in PROVENANCE)


def test_every_shared_fixture_is_expected() -> None:
    formats = _listing(FORMATS)
    assert formats, "shared fixtures missing"
    assert sorted(set(formats) - GOLDEN) == sorted(EXPECTED)
    mime = set(_listing(MIME))
    covered = {str(p.relative_to(MIME)) for p in BROKEN} | {f"tnef-mimekit/{n}" for n in TNEF_FILES}
    assert mime == covered


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_remittance_fixture(name: str) -> None:
    expect = EXPECTED[name]
    path = FORMATS / name
    reading = read_document(path.read_bytes(), path.name, "application/octet-stream")
    if expect.unclaimed:
        assert reading.doc is None and reading.note is None
        return
    if expect.fmt is None:
        assert reading.doc is None
        assert reading.note is not None and expect.error in reading.note
        assert "\n" not in reading.note
        return
    doc = reading.doc
    assert doc is not None, reading.note
    assert doc.format == expect.fmt
    assert len(doc.lines) == expect.lines
    assert doc.total == (D(expect.total) if expect.total is not None else None)
    assert doc.currency == expect.currency
    refs = [line.reference for line in doc.lines if line.reference]
    assert refs[: len(expect.references)] == list(expect.references)
    for note in expect.notes:
        assert any(note in n for n in doc.notes), doc.notes
    assert reading.text and reading.text.startswith(f"Remittance ({expect.fmt})")
    if "text" in expect.extra:
        assert expect.extra["text"] in reading.text
    if "lockbox" in expect.extra:
        lockbox = [str(line.amount) for line in doc.lines if line.reason_code == "115"]
        assert lockbox == expect.extra["lockbox"]
    if "credit_memo" in expect.extra:
        ref, amount = expect.extra["credit_memo"]
        (memo,) = [line for line in doc.lines if line.reference == ref]
        assert (memo.kind, memo.amount) == (LineKind.CREDIT_MEMO, D(amount))
    # nothing personal in the lines: no debtor names, IBANs or account numbers from the files
    dumped = json.dumps([line.model_dump(mode="json") for line in doc.lines])
    for secret in ("MUELLER", "PAYERS NAME", "CH2909000000250094239", "FI7433010001222090", "Receiver Company",
                   "SAMPLE INC", "Smith", "Hollywood", "29501800020582"):
        assert secret not in dumped


def _unwrap(first: Any, rest: list[Any]) -> list[Any]:
    return [first if item == "__RECURSIVITY__" else item for item in rest]


@pytest.mark.parametrize("xml", sorted((FORMATS / "camt054-genkgo").glob("*.xml")), ids=lambda p: p.name)
def test_camt054_matches_the_golden_json(xml: Path) -> None:
    golden = json.loads(xml.with_suffix(".json").read_text())
    doc, free_text = parse_iso20022(xml.read_bytes())
    entries = golden["getEntries"]
    signed = sum(D(e["getAmount"]["getAmount"]) / 100 for e in entries)
    assert doc.total == signed
    assert doc.currency == entries[0]["getAmount"]["getCurrency"]["getCode"]
    booked = entries[0]["getBookingDate"]
    assert (doc.date.isoformat() if doc.date else None) == (booked["0"][:10] if booked else None)
    refs: list[str] = []
    messages: list[str] = []
    tx_amounts: list[tuple[int, Decimal | None]] = []
    for entry in entries:
        for tx in _unwrap(entry["getTransactionDetail"], entry["getTransactionDetails"]):
            info = tx["getRemittanceInformation"]
            if info is None:
                continue
            blocks = _unwrap(info["getStructuredBlock"], info["getStructuredBlocks"])
            for block in blocks:
                reference = block["getCreditorReferenceInformation"] if block else None
                if reference == "__RECURSIVITY__":  # the serializer's pointer back to the same object
                    reference = info["getCreditorReferenceInformation"]
                if reference:
                    refs.append(reference["getRef"])
            messages += [u["getMessage"] for u in _unwrap(info["getUnstructuredBlock"], info["getUnstructuredBlocks"])
                         if u]
            amount = tx["getAmount"]
            tx_amounts.append((len(blocks), abs(D(amount["getAmount"]) / 100) if amount else None))
    structured = [line for line in doc.lines if line.kind is not LineKind.PAYMENT]
    assert [line.reference for line in structured] == refs
    for message in messages:
        assert message in free_text
    # a transaction with one structured block: the block's line carries the transaction amount
    single = [line for (count, _), line in zip(tx_amounts, structured, strict=False) if count == 1]
    assert [line.amount for line in single] == [amount for count, amount in tx_amounts if count == 1][: len(single)]


def test_bai2_parse_error_is_one_clear_error() -> None:
    with pytest.raises(RemittanceFormatError, match=r"^BAI2 line 1: record code '00' is not a BAI2 record"):
        parse_bai2((FORMATS / "bai2-moov" / "sample-parseError.txt").read_bytes())


def test_bai2_continuations_join_the_detail_they_continue() -> None:
    doc, text = parse_bai2((FORMATS / "bai2-moov" / "sample4-continuations-newline-delimited.txt").read_bytes())
    assert "REMI: ACH- Test - Addenda Record" in text
    assert doc.lines[1].reference == "GSQ4FBGFDGWGKY" and doc.lines[1].amount == D("1435.00")


def test_x12_adjustments_stand_alone_or_adjust_their_document() -> None:
    safeway = read_document((FORMATS / "x12-820" / "Example4_Safeway.txt").read_bytes()).doc
    assert safeway is not None
    memo = safeway.lines[3]
    assert (memo.reference, memo.kind, memo.amount, memo.reason) == (
        "P7159010-17", LineKind.CREDIT_MEMO, D("-892.8"), "302 -MEALS/INGREDIENTS")
    invoice = safeway.lines[2]
    assert (invoice.amount, invoice.gross, invoice.discount) == (D("20430.34"), D("20851.11"), D("420.77"))
    scott = read_document((FORMATS / "x12-820" / "Example7_FromScott.txt").read_bytes()).doc
    assert scott is not None
    first = scott.lines[0]
    assert (first.adjustment, first.reason_code, first.reason) == (
        D("16971.04"), "53", "remittance for previous underpayment")


@pytest.mark.parametrize("name", sorted(TNEF_FILES))
def test_tnef_is_unpacked(name: str) -> None:
    files, body_text = TNEF_FILES[name]
    content = unpack_tnef((MIME / "tnef-mimekit" / name).read_bytes())
    assert [n for n, _ in content.files] == files
    if body_text:
        assert content.body is not None and body_text in content.body
    # wrapped in a message with no body of its own, the TNEF body becomes the body
    message = EmailMessage()
    message["From"] = "ap@buyer-example.com"
    message["Subject"] = "winmail"
    message.add_attachment((MIME / "tnef-mimekit" / name).read_bytes(), maintype="application",
                           subtype="ms-tnef", filename="winmail.dat")
    parsed = parse_email(message.as_bytes())
    assert [a.filename for a in parsed.attachments] == ["winmail.dat", *files]
    if body_text:
        assert body_text in parsed.body


def test_damaged_tnef_is_a_note_not_a_crash() -> None:
    message = EmailMessage()
    message["From"] = "ap@buyer-example.com"
    message.set_content("see attached")
    message.add_attachment(b"\x78\x9f\x3e\x22" + b"\x01" * 40, maintype="application", subtype="ms-tnef",
                           filename="winmail.dat")
    (attachment,) = parse_email(message.as_bytes()).attachments
    assert attachment.note is not None and attachment.note.startswith("TNEF")


# ------------------------------------------------------------------ documents customers send


def test_german_csv_with_local_numbers_and_skonto() -> None:
    text = ("Rechnungsnr.;Rechnungsdatum;Rechnungsbetrag;Skonto;Zahlbetrag\n"
            "RE-2026-1001;01.10.2026;1.234,56;24,69;1.209,87\n"
            "RE-2026-1002;03.10.2026;980,00;;980,00\n"
            "Summe;;;;2.189,87\n")
    doc = read_document(text.encode("cp1252"), "zahlungsavis.csv", "text/csv").doc
    assert doc is not None and doc.format == "csv"
    first, second = doc.lines
    assert (first.reference, first.gross, first.discount, first.amount) == (
        "RE-2026-1001", D("1234.56"), D("24.69"), D("1209.87"))
    assert first.date is not None and first.date.isoformat() == "2026-10-01"
    assert second.amount == D("980.00") and doc.total == D("2189.87")


@pytest.mark.parametrize("header, row", [
    ("Facture,Montant réglé,Escompte", "F-300,\"1 470,00\",30,00"),
    ("Factura;Importe pagado;Descuento", "F-300;1.470,00;30,00"),
    ("Invoice #\tAmount Paid\tDiscount", "F-300\t1,470.00\t30.00"),
])
def test_csv_headers_in_each_language(header: str, row: str) -> None:
    doc = read_document(f"{header}\n{row}\n".encode(), "remit.csv", "application/octet-stream").doc
    assert doc is not None
    (line,) = doc.lines
    assert (line.reference, line.amount) == ("F-300", D("1470.00"))


def test_csv_deduction_with_reason_and_credit_memo() -> None:
    text = ("Invoice,Type,Gross,Deduction,Paid,Reason\n"
            "INV-9001,Invoice,\"1,000.00\",50.00,950.00,D12 - damaged pallet\n"
            "CM-77,Credit memo,,,-120.00,\n")
    doc = read_document(text.encode(), "remittance.csv", "text/csv").doc
    assert doc is not None
    invoice, memo = doc.lines
    assert (invoice.adjustment, invoice.reason_code, invoice.reason) == (D("-50.00"), "D12", "D12 - damaged pallet")
    assert (memo.kind, memo.amount) == (LineKind.CREDIT_MEMO, D("-120.00"))


def test_csv_without_a_remittance_header_has_no_lines() -> None:
    reading = read_document(b"name,city\nAnna,Bern\n", "contacts.csv", "text/csv")
    assert reading.doc is None and reading.note is None and reading.text


def _xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_with_title_rows_and_total() -> None:
    data = _xlsx([["Payment advice"], [], ["Invoice No", "Invoice Amount", "Discount", "Amount Paid"],
                  ["INV-5001", 1000, 20, 980], ["INV-5002", 250.5, None, 250.5], ["Total", None, None, 1230.5]])
    reading = read_document(data, "advice.xlsx", "application/octet-stream")
    doc = reading.doc
    assert doc is not None and doc.format == "xlsx"
    assert [(line.reference, line.amount, line.discount) for line in doc.lines] == [
        ("INV-5001", D(980), D(20)), ("INV-5002", D("250.50"), None)]
    assert doc.total == D("1230.50")
    assert reading.text is not None and "INV-5001" in reading.text


def test_xlsx_row_limit_is_noted() -> None:
    rows: list[list[object]] = [["Invoice", "Amount"], *[[f"INV-{i}", i] for i in range(1, 30)]]
    doc = read_document(_xlsx(rows), "big.xlsx", limits=Limits(max_xlsx_rows=10)).doc
    assert doc is not None and len(doc.lines) == 9
    assert any("rows beyond 10" in note for note in doc.notes)


def test_encrypted_workbook_is_a_note() -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512  # encrypted OOXML is an OLE2 container
    reading = read_document(data, "remittance.xlsx", "application/vnd.ms-excel")
    assert reading.doc is None and reading.note is not None and "encrypted" in reading.note


def _pdf(rows: list[tuple[str, ...]], pages: int = 1, password: str | None = None) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=10)
    if password:
        pdf.set_encryption(owner_password="owner", user_password=password)
    for _ in range(pages):
        pdf.add_page()
        pdf.cell(0, 8, "Remittance advice - payment sent 12 November 2026", new_x="LMARGIN", new_y="NEXT")
        for row in rows:
            for cell in row:
                pdf.cell(45, 7, cell)
            pdf.ln(7)
    return bytes(pdf.output())


PDF_ROWS = [("Invoice Number", "Invoice Date", "Gross Amount", "Amount Paid"),
            ("INV-7001", "2026-10-01", "1,500.00", "1,470.00"),
            ("INV-7002", "2026-10-05", "320.00", "320.00"),
            ("Total", "", "", "1,790.00")]


def test_pdf_text_layer_table() -> None:
    reading = read_document(_pdf(PDF_ROWS), "advice.pdf", "application/pdf")
    doc = reading.doc
    assert doc is not None and doc.format == "pdf", reading.text
    assert [(line.reference, line.gross, line.amount) for line in doc.lines] == [
        ("INV-7001", D("1500.00"), D("1470.00")), ("INV-7002", D("320.00"), D("320.00"))]
    assert doc.total == D("1790.00")


def test_pdf_page_limit_and_password_are_notes() -> None:
    limited = read_document(_pdf(PDF_ROWS, pages=3), "advice.pdf", limits=Limits(max_pdf_pages=1))
    assert limited.note is not None and "pages beyond 1 of 3" in limited.note
    assert limited.doc is not None and len(limited.doc.lines) == 2
    locked = read_document(_pdf(PDF_ROWS, password="secret"), "advice.pdf")
    assert locked.doc is None and locked.note == "PDF is password-protected: not read"


def test_size_limit_is_a_note() -> None:
    data = b"Invoice,Amount\nINV-1,10.00\n"
    reading = read_document(data, "a.csv", "text/csv", limits=Limits(max_attachment_bytes=8))
    assert reading.doc is None and reading.note is not None and "over the 8-byte limit" in reading.note


@pytest.mark.parametrize("text", [
    "| Invoice | Amount paid |\n|---|---|\n| INV-4512 | $1,200.00 |\n| INV-4519 | $300.00 |",
    "Invoice No      Date          Amount Paid\nINV-4512        2026-11-02    1,200.00\n"
    "INV-4519        2026-11-03      300.00\n\nThanks, accounts payable",
    "Invoice\tAmount\nINV-4512\t1200.00\nINV-4519\t300.00",
])
def test_body_tables(text: str) -> None:
    doc = parse_text_table(text)
    assert doc is not None
    assert [(line.reference, line.amount) for line in doc.lines] == [("INV-4512", D("1200.00")),
                                                                      ("INV-4519", D("300.00"))]


def test_fixed_width_row_is_cut_at_the_header_columns() -> None:
    text = ("Document        Reason                Deduction   Paid\n"
            "INV-4512        short shipped 2 pcs       40.00   1,160.00\n")
    doc = parse_text_table(text)
    assert doc is not None
    (line,) = doc.lines
    assert (line.reference, line.adjustment, line.amount, line.reason) == (
        "INV-4512", D("-40.00"), D("1160.00"), "short shipped 2 pcs")


def test_html_table_attachment() -> None:
    html = ("<html><body><p>Payment details</p><table><tr><th>Invoice</th><th>Amount</th></tr>"
            "<tr><td>INV-4512</td><td>1.200,00 EUR</td></tr></table></body></html>")
    doc = read_document(html.encode(), "advice.html", "text/html").doc
    assert doc is not None and doc.format == "html-table"
    (line,) = doc.lines
    assert (line.reference, line.amount, line.currency) == ("INV-4512", D("1200.00"), "EUR")


def test_nacha_ccd_plus_addenda_with_820_fragment() -> None:
    def rec(text: str) -> str:
        return text.ljust(94)
    lines = [
        rec("101 231380104 0313000121811260000A094101Federal Reserve Bank   My Bank Name"),
        rec("5220Buyer Example Inc                   031300012 CCDPAYMENT         181127   1031300010000001"),
        rec("622231380104744-5678-99      0000150000CUST-88        Seller Example        1031300010000001"),
        rec("705RMR*IV*INV-4512*PI*1200.00\\RMR*IV*INV-4519*PI*300.00\\" + " " * 26 + "00010000001"),
        rec("82200000020023138010000000000000000150000031300012                          031300010000001"),
        rec("9000001000001000000020023138010000000000000000150000"),
    ]
    doc = read_document("\n".join(lines).encode(), "ach.txt").doc
    assert doc is not None and doc.format == "nacha-ccd"
    assert [(line.reference, line.amount) for line in doc.lines] == [("INV-4512", D("1200.00")),
                                                                      ("INV-4519", D("300.00"))]
    assert doc.total is None  # the entry's lines replace its payment line


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def _mail_with(attachment: bytes, filename: str, maintype: str, subtype: str) -> RemittanceDoc | None:
    message = EmailMessage()
    message["From"] = "ap@buyer-example.com"
    message.set_content("Payment details attached.")
    message.add_attachment(attachment, maintype=maintype, subtype=subtype, filename=filename)
    parsed = parse_email(message.as_bytes())
    return next((a.remittance for a in parsed.attachments if a.remittance), None)


def test_zip_attachment_is_expanded_and_a_bomb_is_not() -> None:
    csv_data = b"Invoice;Amount\nINV-4512;1.200,00\n"
    doc = _mail_with(_zip({"advices/remit.csv": csv_data}), "remit.zip", "application", "zip")
    assert doc is not None and doc.lines[0].amount == D("1200.00")
    bomb = _zip({"a.csv": b"0" * 2_000_000})
    message = EmailMessage()
    message["From"] = "ap@buyer-example.com"
    message.set_content("see zip")
    message.add_attachment(bomb, maintype="application", subtype="zip", filename="bomb.zip")
    (attachment,) = parse_email(message.as_bytes()).attachments
    assert attachment.note is not None and "zip bomb" in attachment.note


def test_csv_sent_as_octet_stream_and_xlsx_and_pdf_reach_the_email() -> None:
    assert _mail_with(b"Invoice,Amount\nINV-1,10.00\n", "remit.csv", "application", "octet-stream") is not None
    xlsx = _xlsx([["Invoice", "Amount"], ["INV-1", 10]])
    assert _mail_with(xlsx, "remit.xlsx", "application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert _mail_with(_pdf(PDF_ROWS), "remit.pdf", "application", "pdf") is not None
