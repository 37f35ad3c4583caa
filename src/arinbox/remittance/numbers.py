"""Cell values to amounts: spreadsheet numbers, ``1.234,56``, ``(120.00)``, ``120.00-``, ``$1,234.56``."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from arinbox.agents.amounts import parse_number

_CURRENCY_CODE = re.compile(
    r"\b(USD|EUR|GBP|CHF|CAD|AUD|NZD|MXN|JPY|CNY|SEK|NOK|DKK|PLN|CZK|HUF|RON|TRY|INR|BRL|ZAR|SGD|HKD)\b"
)
_SYMBOLS = {"€": "EUR", "£": "GBP", "$": "USD", "¥": "JPY"}
_NUMBER = re.compile(r"\d[\d.,'’\u00a0\u202f ]*")
CENT = Decimal("0.01")


def to_amount(value: object) -> Decimal | None:
    """A money amount from a cell or field; ``None`` when the value holds no number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # spreadsheet floats: round to cents so 0.1 + 0.2 style noise does not reach the ledger
        return Decimal(repr(value)).quantize(CENT) if value == value else None
    text = str(value).strip()
    if not text or not re.search(r"\d", text):
        return None
    if re.search(r"[^\W\d_]", _CURRENCY_CODE.sub("", text.upper()).replace("CR", "").replace("DR", "")):
        return None  # "EFT-004127", "INV 12": words around digits make a reference, not an amount
    negative = text.startswith("(") and text.endswith(")") or text.endswith("-") or bool(re.match(r"^\W*-", text))
    found = _NUMBER.search(text)
    if found is None:
        return None
    number = parse_number(found.group(0).strip())
    if number is None:
        return None
    return -number if negative else number


def currency_of(value: object) -> str | None:
    """An ISO code or symbol written in a cell (``EUR``, ``€``), else ``None``."""
    if not isinstance(value, str):
        return None
    code = _CURRENCY_CODE.search(value.upper())
    if code:
        return code.group(1)
    for symbol, iso in _SYMBOLS.items():
        if symbol in value:
            return iso
    return None


def to_decimal(text: str) -> Decimal | None:
    """A plain machine number (``1234.56``, ``-13676.81``) as written in bank and EDI files."""
    try:
        return Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None


def yymmdd(raw: str) -> dt.date | None:
    """A bank-file date written ``YYMMDD`` (BAI2, NACHA, X12 ISA), read in this century."""
    raw = raw.strip()
    if len(raw) != 6 or not raw.isdigit():
        return None
    try:
        return dt.date(2000 + int(raw[:2]), int(raw[2:4]), int(raw[4:]))
    except ValueError:
        return None
