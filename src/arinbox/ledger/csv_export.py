"""`arinbox ledger export DIR`: the ledger as customers.csv, invoices.csv and orders.csv in the import
format, so that importing an export changes nothing. Reads through the Ledger port: the embedded
ledger or a REST ERP can both be written out for a CSV sync.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel

from arinbox.domain.errors import ConfigError
from arinbox.domain.ports import Ledger
from arinbox.ledger.csv_import import CustomerRow, InvoiceRow, OrderRow


@dataclass(frozen=True)
class ExportResult:
    customers: int
    invoices: int
    orders: int


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def _write(path: Path, columns: Iterable[str], rows: Iterable[BaseModel]) -> int:
    cols = list(columns)
    tmp = path.with_suffix(".csv.tmp")
    n = 0
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for row in rows:
            data = row.model_dump()
            w.writerow([_cell(data.get(c)) for c in cols])
            n += 1
    os.replace(tmp, path)  # a reader never sees half a file
    return n


def export_ledger(ledger: Ledger, directory: Path) -> ExportResult:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is not a folder")
    directory.mkdir(parents=True, exist_ok=True)
    return ExportResult(
        _write(directory / "customers.csv", CustomerRow.model_fields, ledger.customers()),
        _write(directory / "invoices.csv", InvoiceRow.model_fields, ledger.invoices()),
        _write(directory / "orders.csv", OrderRow.model_fields, ledger.orders()),
    )
