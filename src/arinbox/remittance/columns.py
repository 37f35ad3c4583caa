"""Table rows to remittance lines: which column is which, in English, German, French and Spanish.

A header row names at least a reference column (invoice, Rechnung, facture, factura, ...) and an
amount column (paid, Betrag, montant, importe, ...). Data rows below it become lines; a row whose
reference cell says "total" gives the document total. Headers are matched after folding (lower
case, no accents), most specific role first: "Invoice amount" is the gross amount, not a reference.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from arinbox.agents.lexicon import fold
from arinbox.domain.models import LineKind, RemittanceDoc, RemittanceLine
from arinbox.remittance.numbers import currency_of, to_amount

Role = Literal["date", "gross", "discount", "deduction", "paid", "reason", "currency", "kind", "reference", "amount"]

# (role, patterns on the folded header cell), most specific first.
_ROLES: tuple[tuple[Role, re.Pattern[str]], ...] = (
    ("date", re.compile(r"\b(?:date|datum|fecha|dated?)\b|datum$")),
    ("gross", re.compile(
        r"\b(?:gross|original|invoice (?:amount|total|value)|inv amount|amount due|due|open|rechnungsbetrag|"
        r"brutto\w*|bruttobetrag|offen\w*|montant (?:de la )?facture|montant ttc|montant brut|montant du|"
        r"importe (?:de la )?factura|importe bruto|importe original|pendiente)\b|rechnungsbetrag")),
    ("discount", re.compile(r"\b(?:discount|disc|cash discount|skonto\w*|rabatt|escompte|remise|descuento|dto|"
                            r"pronto pago)\b|skonto")),
    ("deduction", re.compile(r"\b(?:deduction|deductions|deducted|adjustment|adj|short(?:age)?|chargeback|"
                             r"abzug|abzuge|kurzung|minderung|deduction|retenue|ajustement|deduccion|ajuste)\b"
                             r"|abzug|kurzung")),
    ("paid", re.compile(r"\b(?:paid|payment|net|net amount|amount paid|zahlbetrag|bezahlt|gezahlt|zahlung|"
                        r"paye|regle|montant paye|montant regle|versement|pagado|pago|importe pagado|"
                        r"monto pagado|abonado)\b|zahlbetrag|zahlung")),
    ("reason", re.compile(r"\b(?:reason|reason code|comment|comments|remark|remarks|note|notes|memo|grund|"
                          r"bemerkung|kommentar|motif|commentaire|observation|motivo|observaciones|comentario)\b")),
    ("currency", re.compile(r"^(?:currency|ccy|cur|curr|wahrung|devise|moneda|divisa)$")),
    ("kind", re.compile(r"^(?:type|doc type|document type|art|belegart|typ|tipo|tipo documento)$")),
    ("reference", re.compile(
        r"\b(?:invoice|invoices|inv|invoice no|invoice number|bill|document|doc|reference|ref|rechnung\w*|re nr|"
        r"rg nr|beleg\w*|facture|factures|fact|n facture|numero de facture|factura|facturas|numero de factura|"
        r"documento|referencia|belegnummer|credit memo)\b|rechnung|beleg|facture|factura")),
    ("amount", re.compile(r"\b(?:amount|amt|betrag|montant|importe|monto|sum|summe|value|wert|valeur|valor)\b"
                          r"|betrag")),
)
_TOTAL = re.compile(r"^\W*(?:total|totals|grand total|sum|summe|gesamt\w*|insgesamt|total general|montant total|"
                    r"importe total|suma)\b")
_CREDIT_KIND = re.compile(r"\b(?:credit|cm|cr|gutschrift|avoir|abono|nota de credito|credit note|credit memo)\b")
_ADJUSTMENT_KIND = re.compile(r"\b(?:adjustment|deduction|chargeback|debit memo|abzug|ajustement|ajuste)\b")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})|(\d{1,2})[./](\d{1,2})[./](\d{4})")


@dataclass
class Header:
    roles: dict[int, Role] = field(default_factory=dict)  # column index -> role

    def column(self, role: Role) -> int | None:
        return next((i for i, r in self.roles.items() if r == role), None)


def header_of(cells: Sequence[object]) -> Header | None:
    """The roles of a header row, or ``None`` when it names no reference and no amount column."""
    header = Header()
    taken: set[Role] = set()
    for i, cell in enumerate(cells):
        if not isinstance(cell, str) or not cell.strip() or re.search(r"\d", cell):
            continue
        name = " ".join(re.sub(r"[^\w ]+", " ", fold(cell)).split())
        for role, pattern in _ROLES:
            if role not in taken and pattern.search(name):
                header.roles[i] = role
                taken.add(role)
                break
    has_amount = taken & {"paid", "amount", "gross"}
    return header if "reference" in taken and has_amount else None


@dataclass
class TableReader:
    """Collects lines from the rows under one header."""

    header: Header
    lines: list[RemittanceLine] = field(default_factory=list)
    total: Decimal | None = None
    currency: str | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, cells: Sequence[object]) -> bool:
        """Read one data row; ``False`` when the row is no longer part of the table."""
        def cell(role: Role) -> object:
            i = self.header.column(role)
            return cells[i] if i is not None and i < len(cells) else None

        paid_col: Role = "paid" if self.header.column("paid") is not None else "amount"
        reference = _text(cell("reference"))
        paid = to_amount(cell(paid_col))
        gross = to_amount(cell("gross"))
        discount = to_amount(cell("discount"))
        deduction = to_amount(cell("deduction"))
        if reference and _TOTAL.match(fold(reference)):
            # a total row is often shorter than the header: its last amount is the one paid
            amounts = [a for a in (to_amount(c) for c in cells[1:]) if a is not None]
            self.total = paid if paid is not None else (amounts[-1] if amounts else gross)
            return True
        if paid is None and gross is None and deduction is None:
            return not any(_text(c) for c in cells)  # a blank row ends nothing; prose ends the table
        if reference and not re.search(r"\d", reference):
            return True  # a sub-heading or a "carried forward" row, not a document
        currency = currency_of(cell("currency")) or currency_of(cell(paid_col)) or currency_of(cell("gross"))
        if currency:
            self.currency = self.currency or currency
        if paid is None and gross is not None:
            paid = gross - abs(discount or Decimal("0")) - abs(deduction or Decimal("0"))
        kind_text = fold(_text(cell("kind")) or "")
        kind = LineKind.INVOICE
        if _CREDIT_KIND.search(kind_text) or (paid is not None and paid < 0 and reference):
            kind = LineKind.CREDIT_MEMO
        elif _ADJUSTMENT_KIND.search(kind_text) or (not reference and deduction is not None):
            kind = LineKind.ADJUSTMENT
        reason = _text(cell("reason"))
        self.lines.append(RemittanceLine(
            reference=reference, kind=kind, amount=paid, gross=gross,
            discount=abs(discount) if discount else None,
            adjustment=-abs(deduction) if deduction else None,
            reason_code=_reason_code(reason) if deduction else None,
            reason=reason if deduction or kind is LineKind.ADJUSTMENT else None,
            currency=currency, date=_date(cell("date")),
        ))
        return True

    def doc(self, fmt: str) -> RemittanceDoc:
        return RemittanceDoc(format=fmt, total=self.total, currency=self.currency, lines=self.lines,
                             notes=self.notes)


def rows_to_doc(rows: Sequence[Sequence[object]], fmt: str, max_lines: int) -> RemittanceDoc | None:
    """Every table found in ``rows`` (a header row, then data rows) as one document."""
    reader: TableReader | None = None
    readers: list[TableReader] = []
    for cells in rows:
        header = header_of(cells)
        if header is not None:
            reader = TableReader(header)
            readers.append(reader)
            continue
        if reader is not None and not reader.add(cells):
            reader = None
    if not readers:
        return None
    lines = [line for r in readers for line in r.lines]
    notes = [n for r in readers for n in r.notes]
    if len(lines) > max_lines:
        notes.append(f"{len(lines) - max_lines} lines beyond the limit of {max_lines} not read")
        lines = lines[:max_lines]
    totals = [r.total for r in readers if r.total is not None]
    currencies = {r.currency for r in readers if r.currency}
    return RemittanceDoc(format=fmt, total=totals[-1] if totals else None,
                         currency=currencies.pop() if len(currencies) == 1 else None, lines=lines, notes=notes)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet number used as a document number
    text = " ".join(str(value).split())
    return text or None


def _reason_code(reason: str | None) -> str | None:
    if not reason:
        return None
    code = re.match(r"^\s*([A-Z0-9]{1,4})\b\s*[-:–]", reason)
    return code.group(1) if code else None


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    m = _DATE.search(value)
    if not m:
        return None
    try:
        if m.group(1):
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return dt.date(int(m.group(6)), int(m.group(5)), int(m.group(4)))  # 31.12.2025, 31/12/2025
    except ValueError:
        return None
