"""NACHA ACH files: CCD+ and CTX entries with their addenda (705 records).

Fixed 94-character records. Each entry detail (6) is a payment line (credits positive, debits
negative by transaction code) with its identification number as reference. Its addenda carry the
remittance: an X12 820 fragment (``RMR*IV*...\\``), read with the X12 reader into invoice lines, or
free text, kept for the readable rendering. Receiver names are not read.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from arinbox.domain.errors import RemittanceFormatError
from arinbox.domain.models import LineKind, RemittanceDoc, RemittanceLine
from arinbox.remittance.numbers import yymmdd
from arinbox.remittance.x12 import parse_segments, split_segments

RECORD = 94
CENTS = Decimal("0.01")
_DEBIT_CODES = {"27", "28", "29", "37", "38", "39", "47", "48", "49", "55"}


def looks_like_nacha(data: bytes) -> bool:
    head = data.lstrip(b"\xef\xbb\xbf")[:RECORD + 2]
    return head.startswith(b"101") and len(head.split(b"\n", 1)[0].rstrip(b"\r")) in (RECORD, RECORD - 1)


def parse_nacha(data: bytes) -> tuple[RemittanceDoc, str]:
    text = data.removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    lines: list[RemittanceLine] = []
    rendered: list[str] = []
    notes: list[str] = []
    sec: str | None = None
    day: dt.date | None = None
    entry: RemittanceLine | None = None
    addenda: list[str] = []

    def close_entry() -> None:
        nonlocal entry, addenda
        if entry is None:
            return
        info = "".join(addenda) if sec == "CTX" else "".join(a.rstrip() for a in addenda)
        structured = _x12_lines(info, entry) if "RMR" in info else []
        lines.extend(structured or [entry])
        if info.strip() and not structured:
            rendered.append(" ".join(info.split()))
        entry, addenda = None, []

    for number, raw in enumerate(text.splitlines(), start=1):
        record = raw.rstrip("\r\n")
        if not record.strip():
            continue
        if len(record) > RECORD:
            raise RemittanceFormatError(f"NACHA line {number}: {len(record)} characters, records have {RECORD}")
        record = record.ljust(RECORD)
        kind = record[0]
        if kind == "1":
            continue
        if kind == "5":
            close_entry()
            sec = record[50:53]
            day = yymmdd(record[69:75])
        elif kind == "6":
            close_entry()
            code, amount = record[1:3], record[29:39]
            if not amount.isdigit():
                raise RemittanceFormatError(f"NACHA line {number}: amount {amount!r} is not a number")
            value = Decimal(amount) * CENTS
            entry = RemittanceLine(kind=LineKind.PAYMENT, reference=record[39:54].strip() or None,
                                   amount=-value if code in _DEBIT_CODES else value, currency="USD", date=day)
        elif kind == "7":
            if record[1:3] == "05" and entry is not None:
                addenda.append(record[3:83])
        elif kind in "89":
            close_entry()
        else:
            raise RemittanceFormatError(f"NACHA line {number}: record type {kind!r} is not 1, 5, 6, 7, 8 or 9")
    close_entry()
    if sec is None:
        raise RemittanceFormatError("NACHA: no batch header (5 record)")
    payments = [line.amount for line in lines if line.kind is LineKind.PAYMENT and line.amount is not None]
    total = sum(payments, Decimal("0")) if payments else None
    return RemittanceDoc(format=f"nacha-{sec.strip().lower()}", total=total, currency="USD", date=day,
                         lines=lines, notes=notes), "\n".join(rendered)


def _x12_lines(info: str, entry: RemittanceLine) -> list[RemittanceLine]:
    """Invoice lines from an 820 fragment in the addenda (``\\`` or ``~`` ends a segment)."""
    terminator = "\\" if "\\" in info else "~"
    doc = parse_segments(split_segments(info, "*", terminator), "nacha")
    return [line.model_copy(update={"currency": line.currency or entry.currency, "date": line.date or entry.date})
            for line in doc.lines]

