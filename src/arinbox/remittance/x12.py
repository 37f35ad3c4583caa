"""ANSI X12 820 payment orders / remittance advices.

Separators come from the ISA envelope: the element separator is the character after ``ISA``, the
segment terminator the one after the component separator (ISA16); a newline there means segments
end at line ends. Read: BPR (total), CUR (currency), TRN (trace number), DTM (dates), RMR (one
line per referenced document: reference, paid, gross, discount), ADX (adjustments with reason
codes; after an RMR it adjusts that document, before any RMR of its ENT it stands alone), REF
(reason text of an adjustment). Names (N1, NM1) and addresses are skipped. ``parse_segments``
also reads 820 fragments carried in NACHA CTX addenda.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from arinbox.domain.errors import RemittanceFormatError
from arinbox.domain.models import LineKind, RemittanceDoc, RemittanceLine
from arinbox.remittance.numbers import to_decimal, yymmdd

_CREDIT_QUALIFIERS = {"CM", "CR"}  # RMR01 credit memo
_LINE_DATES = {"003", "004", "092", "143", "055", "814"}  # invoice, purchase order, ... dates
_DOC_DATES = {"097", "007", "020", "009", "234"}  # transaction creation / effective / check dates
_ADJUSTMENT_REASONS = {
    "01": "pricing error", "03": "extension error", "04": "item not accepted - damaged",
    "05": "item not accepted - quality", "06": "quantity contested", "07": "incorrect product",
    "11": "returns - damage", "12": "returns - quality", "19": "unauthorized deduction",
    "53": "remittance for previous underpayment", "59": "item not received", "72": "authorized return",
    "AW": "allowance", "CM": "credit memo", "DB": "debit memo", "ZZ": "mutually defined",
}


def looks_like_x12(data: bytes) -> bool:
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"ISA") and len(head) > 106


def split_interchange(text: str) -> tuple[list[list[str]], str]:
    """Segments (lists of elements) of an interchange and its element separator."""
    text = text.lstrip("\ufeff \t\r\n")
    if not text.startswith("ISA") or len(text) < 106:
        raise RemittanceFormatError("X12: no ISA envelope at the start")
    element = text[3]
    parts = text.split(element, 16)
    if len(parts) < 17 or not parts[16]:
        raise RemittanceFormatError("X12: ISA segment has fewer than 16 elements")
    terminator = parts[16][1:2]
    if not terminator or terminator in "\r\n":
        terminator = "\n"
    return split_segments(text, element, terminator), element


def split_segments(text: str, element: str = "*", terminator: str = "~") -> list[list[str]]:
    segments = []
    for raw in text.split(terminator):
        raw = raw.strip()
        if raw:
            segments.append([e.strip() for e in raw.split(element)])
    return segments


def parse_x12(data: bytes) -> tuple[RemittanceDoc, str]:
    text = data.removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    segments, _ = split_interchange(text)
    kinds = [seg[1] for seg in segments if seg[0] == "ST" and len(seg) > 1]
    if not kinds:
        raise RemittanceFormatError("X12: no transaction set (ST segment) in the interchange")
    if "820" not in kinds:
        raise RemittanceFormatError(f"X12 transaction set {kinds[0]} is not a remittance advice (820)")
    doc = parse_segments(segments, "x12-820")
    return doc, render_notes(segments)


def render_notes(segments: Sequence[Sequence[str]]) -> str:
    """The free text of NTE segments (a deduction's description), for the readable rendering."""
    return "\n".join(seg[2] for seg in segments if seg[0] == "NTE" and len(seg) > 2 and seg[2])


def parse_segments(segments: Sequence[Sequence[str]], fmt: str) -> RemittanceDoc:
    lines: list[RemittanceLine] = []
    notes: list[str] = []
    totals: list[Decimal] = []
    currency: str | None = None
    payer_ref: str | None = None
    date: dt.date | None = None
    current: RemittanceLine | None = None  # the RMR line that ADX, DTM and REF segments refer to
    last_adx: RemittanceLine | None = None

    def flush() -> None:
        nonlocal current
        if current is not None:
            lines.append(current)
            current = None

    def amount(seg: Sequence[str], i: int, what: str) -> Decimal | None:
        raw = el(seg, i)
        if not raw:
            return None
        value = to_decimal(raw)
        if value is None:
            notes.append(f"{seg[0]}{i:02d} {what}: {raw!r} is not an amount")
        return value

    for seg in segments:
        tag = seg[0]
        if tag == "BPR":
            if (total := amount(seg, 2, "payment total")) is not None:
                totals.append(total)
            date = date or _date(el(seg, 16))
        elif tag == "CUR":
            currency = el(seg, 2) or currency
        elif tag == "TRN":
            payer_ref = payer_ref or el(seg, 2)
        elif tag == "ENT":
            flush()
            last_adx = None
        elif tag == "RMR":
            flush()
            last_adx = None
            qualifier = el(seg, 1)
            current = RemittanceLine(
                reference=el(seg, 2) or None,
                kind=LineKind.CREDIT_MEMO if qualifier in _CREDIT_QUALIFIERS else LineKind.INVOICE,
                amount=amount(seg, 4, "amount paid"), gross=amount(seg, 5, "invoice amount"),
                discount=amount(seg, 6, "discount") or None, currency=currency,
            )
        elif tag == "ADX":
            value = amount(seg, 1, "adjustment")
            code = el(seg, 2) or None
            reason = _ADJUSTMENT_REASONS.get(code or "")
            if current is not None:
                current = current.model_copy(update={
                    "adjustment": (current.adjustment or Decimal("0")) + (value or Decimal("0")),
                    "reason_code": code, "reason": reason})
            else:
                qualifier, ref = el(seg, 3), el(seg, 4)
                last_adx = RemittanceLine(
                    reference=ref or None,
                    kind=LineKind.CREDIT_MEMO if qualifier in _CREDIT_QUALIFIERS else LineKind.ADJUSTMENT,
                    amount=value, adjustment=value, reason_code=code, reason=reason, currency=currency)
                lines.append(last_adx)
        elif tag == "REF" and last_adx is not None and current is None and el(seg, 1) not in ("CM", "DB"):
            # REF*UQ*302 -MEALS/INGREDIENTS: the text the payer gives for a stand-alone adjustment
            text = el(seg, 3) or el(seg, 2)
            if text:
                lines[-1] = last_adx = last_adx.model_copy(update={"reason": text})
        elif tag == "DTM":
            day = _date(el(seg, 2)) or _date(el(seg, 6)[:8] if el(seg, 6) else "")
            qualifier = el(seg, 1)
            if current is not None and qualifier in _LINE_DATES | {"582"}:
                current = current.model_copy(update={"date": day})
            elif last_adx is not None and current is None:
                lines[-1] = last_adx = last_adx.model_copy(update={"date": day})
            elif qualifier in _DOC_DATES:
                date = date or day
        elif tag in ("SE", "ST"):
            flush()
            last_adx = None
    flush()
    if currency:
        lines = [line if line.currency else line.model_copy(update={"currency": currency}) for line in lines]
    return RemittanceDoc(format=fmt, payer_reference=payer_ref, total=sum(totals, Decimal("0")) if totals else None,
                         currency=currency, date=date, lines=lines, notes=list(dict.fromkeys(notes)))


def el(seg: Sequence[str], i: int) -> str:
    return seg[i] if i < len(seg) else ""


def _date(raw: str) -> dt.date | None:
    raw = raw.strip()
    try:
        if len(raw) == 8 and raw.isdigit():
            return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        if len(raw) == 6:
            return yymmdd(raw)
    except ValueError:
        return None
    return None
