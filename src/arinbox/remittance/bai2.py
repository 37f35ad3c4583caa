"""BAI2 cash-management files: lockbox and account detail records as payment lines.

Records end with ``/`` (several may share a physical line) or at the line end; ``88`` records
continue the one before, and a line that does not start with a record code continues the
previous line. Detail records (``16``) become payment lines: the amount (in cents, credits
positive, debits negative by type code), the value date and the customer reference. The text
field may hold names (``DBNM: SAMPLE INC``), so it goes to the readable rendering only. The
``bai2`` package on PyPI rejects files banks really send (unknown type codes, records sharing a
line), hence this reader.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from arinbox.domain.errors import RemittanceFormatError
from arinbox.domain.models import LineKind, RemittanceDoc, RemittanceLine
from arinbox.remittance.numbers import yymmdd

_RECORD_START = re.compile(r"^(0[1-3]|16|49|88|98|99)[,:]")
_BOUNDARY = re.compile(r"/\s+(?=(?:0[1-3]|16|49|88|98|99),)")
_CODES = {"01", "02", "03", "16", "49", "88", "98", "99"}
CENTS = Decimal("0.01")
LOCKBOX_CODES = {"115", "116", "118"}  # lockbox deposit, item in lockbox deposit, lockbox adjustment


def looks_like_bai2(data: bytes) -> bool:
    head = data.lstrip()[:3]
    return head == b"01," or head == b"00,"  # 00: a damaged header, reported as such


@dataclass
class _Record:
    code: str
    line: int
    text: str
    continued: list[str] = field(default_factory=list)


def _records(text: str) -> list[_Record]:
    records: list[_Record] = []
    for number, physical in enumerate(text.splitlines(), start=1):
        if not physical.strip():
            continue
        for chunk in _BOUNDARY.split(physical.strip()):
            match = _RECORD_START.match(chunk)
            if match and match.group(1) == "88" and records:
                records[-1].continued.append(chunk[3:].rstrip().removesuffix("/"))
            elif match:
                records.append(_Record(match.group(1), number, chunk[3:].rstrip().removesuffix("/")))
            elif records:
                records[-1].text += " " + chunk.rstrip().removesuffix("/")  # a record broken over lines
            else:
                code = chunk.split(",", 1)[0][:8]
                raise RemittanceFormatError(
                    f"BAI2 line {number}: record code {code!r} is not a BAI2 record (01 file header expected)")
    return records


def parse_bai2(data: bytes) -> tuple[RemittanceDoc, str]:
    text = data.decode("latin-1")
    records = _records(text)
    if not records or records[0].code != "01":
        first = records[0] if records else None
        raise RemittanceFormatError(
            f"BAI2 line {first.line if first else 1}: file header (01) expected"
            + (f", found record {first.code}" if first else ""))
    lines: list[RemittanceLine] = []
    rendered: list[str] = []
    notes: list[str] = []
    currency: str | None = None
    group_date: dt.date | None = None
    for record in records:
        fields = record.text.split(",")
        if record.code == "02":
            group_date = yymmdd(_field(fields, 3)) or group_date
            currency = _field(fields, 5) or currency
        elif record.code == "03":
            currency = _field(fields, 1) or currency
        elif record.code == "16":
            line = _detail(record, fields, currency, group_date, notes)
            if line is not None:
                lines.append(line[0])
                if line[1]:
                    rendered.append(line[1])
    if records[-1].code != "99":
        notes.append("file trailer (99) missing: the file may be truncated")
    total = sum((line.amount for line in lines if line.amount is not None), Decimal("0"))
    return RemittanceDoc(format="bai2", total=total, currency=currency, date=group_date, lines=lines,
                         notes=list(dict.fromkeys(notes))), "\n".join(rendered)


def _detail(record: _Record, fields: list[str], currency: str | None, day: dt.date | None,
            notes: list[str]) -> tuple[RemittanceLine, str] | None:
    type_code = _field(fields, 0)
    raw_amount = _field(fields, 1)
    if not type_code.isdigit() or not raw_amount.lstrip("+-").isdigit():
        notes.append(f"line {record.line}: detail record without type code or amount skipped")
        return None
    funds = _field(fields, 2)
    skip = {"S": 3, "V": 2}.get(funds, 0)
    if funds == "D":
        count = _field(fields, 3)
        skip = 1 + 2 * int(count) if count.isdigit() else 1
    value_date = yymmdd(_field(fields, 3)) if funds == "V" else None
    rest = fields[3 + skip:]
    bank_ref, customer_ref = _field(rest, 0), _field(rest, 1)
    free = ",".join(rest[2:]).strip()
    code = int(type_code)
    amount = Decimal(raw_amount) * CENTS
    if 400 <= code < 700 or 900 <= code < 1000 and code % 2:
        amount = -amount  # BAI2 debit type codes
    kind_note = "lockbox deposit" if type_code in LOCKBOX_CODES else None
    text_parts = [free, *record.continued]
    rendered = " ".join(" ".join(p.split()) for p in text_parts if p.strip())
    line = RemittanceLine(kind=LineKind.PAYMENT, reference=customer_ref or bank_ref or None, amount=amount,
                          currency=currency, date=value_date or day, reason_code=type_code, reason=kind_note)
    return line, rendered


def _field(fields: list[str], i: int) -> str:
    return fields[i].strip() if i < len(fields) else ""

