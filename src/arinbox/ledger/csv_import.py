"""`arinbox ledger import DIR`: customers.csv, invoices.csv, orders.csv (format of EVAL_FORMAT.md).

Every row is validated before anything is written, and the write is one transaction: a bad row
is reported with its file, row and column and nothing is half-imported.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arinbox.domain.errors import ImportRowError
from arinbox.persistence import models as m


def _blank_to_none(v: Any) -> Any:
    return None if isinstance(v, str) and v.strip() == "" else v


def _split_list(v: Any) -> Any:
    if isinstance(v, str):
        return [p.strip() for p in v.split(";") if p.strip()]
    return v


def _blank_to_false(v: object) -> object:
    return False if v is None or (isinstance(v, str) and not v.strip()) else v


def _blank_to_normal(v: object) -> object:
    return "normal" if v is None or (isinstance(v, str) and not v.strip()) else v


Opt = Annotated[str | None, BeforeValidator(_blank_to_none)]
OptDate = Annotated[dt.date | None, BeforeValidator(_blank_to_none)]
StrList = Annotated[list[str], BeforeValidator(_split_list)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(ge=0, decimal_places=2, allow_inf_nan=False)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    # columns a file may leave out (newer additions to the format); every other column must be there
    optional_columns: ClassVar[frozenset[str]] = frozenset()


class CustomerRow(_Row):
    customer_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email_domains: StrList = Field(default_factory=list)
    contact_emails: StrList = Field(default_factory=list)
    currency: Currency
    language: str = Field(pattern=r"^[a-z]{2}$")
    payment_terms_days: int = Field(ge=0)
    credit_limit: Amount
    # optional columns: finance's account attributes that the policy can act on
    optional_columns: ClassVar[frozenset[str]] = frozenset({"strategic", "credit_risk"})
    strategic: Annotated[bool, BeforeValidator(_blank_to_false)] = False
    credit_risk: Annotated[Literal["low", "normal", "high"], BeforeValidator(_blank_to_normal)] = "normal"


class InvoiceRow(_Row):
    invoice_number: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    issue_date: dt.date
    due_date: dt.date
    currency: Currency
    amount: Amount
    open_amount: Amount
    status: Literal["open", "paid", "partially_paid", "disputed", "credited"]
    po_number: Opt = None
    order_number: Opt = None


class OrderRow(_Row):
    order_number: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    po_number: Opt = None
    status: Literal["received", "in_production", "shipped", "delivered", "backordered", "cancelled"]
    order_date: OptDate = None
    promised_ship_date: OptDate = None
    ship_date: OptDate = None
    carrier: Opt = None
    tracking_number: Opt = None


R = TypeVar("R", bound=_Row)


def read_rows(path: Path, model: type[R]) -> list[R]:
    """Validate every row of one CSV file; the first bad one raises ImportRowError."""
    if not path.exists():
        raise ImportRowError(path.name, 0, "-", "file is missing")
    rows: list[R] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        wanted = [c for c in model.model_fields if c in header or c not in model.optional_columns]
        missing = [c for c in wanted if c not in header]
        if missing:
            raise ImportRowError(path.name, 1, missing[0], "column is missing from the header")
        for rowno, raw in enumerate(reader, start=2):  # row 1 is the header
            if None in raw:
                raise ImportRowError(path.name, rowno, "-", "more values than header columns")
            try:
                rows.append(model.model_validate({k: raw.get(k) for k in wanted}))
            except ValidationError as e:
                err = e.errors()[0]
                column = str(err["loc"][0]) if err["loc"] else "-"
                raise ImportRowError(path.name, rowno, column, err["msg"]) from None
    return rows


@dataclass(frozen=True)
class ImportResult:
    customers: int
    invoices: int
    orders: int


def _check_references(
    customers: list[CustomerRow], invoices: list[InvoiceRow], orders: list[OrderRow]
) -> None:
    ids = {c.customer_id for c in customers}
    owners: list[tuple[str, list[str]]] = [("invoices.csv", [i.customer_id for i in invoices]),
                                           ("orders.csv", [o.customer_id for o in orders])]
    for file, customer_ids in owners:
        for rowno, customer_id in enumerate(customer_ids, start=2):
            if customer_id not in ids:
                raise ImportRowError(file, rowno, "customer_id", f"unknown customer {customer_id!r}")
    seen: set[str] = set()
    for rowno, inv in enumerate(invoices, start=2):
        if inv.invoice_number in seen:
            raise ImportRowError("invoices.csv", rowno, "invoice_number", "duplicate invoice number")
        seen.add(inv.invoice_number)
        if inv.open_amount > inv.amount:
            raise ImportRowError("invoices.csv", rowno, "open_amount", "greater than amount")
        if inv.due_date < inv.issue_date:
            raise ImportRowError("invoices.csv", rowno, "due_date", "before issue_date")


def bump_revision(s: Session) -> None:
    """Tell running processes that the ledger's customers, numbering or names may have changed."""
    row = s.get(m.LedgerRevision, 1, with_for_update=True)
    if row is None:
        s.add(m.LedgerRevision(id=1, revision=1))
    else:
        row.revision += 1


def ledger_revision(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:  # read for every email: a plain select, no identity map
        return s.scalar(select(m.LedgerRevision.revision).where(m.LedgerRevision.id == 1)) or 0


def import_ledger(directory: Path, sessions: sessionmaker[Session]) -> ImportResult:
    customers = read_rows(directory / "customers.csv", CustomerRow)
    invoices = read_rows(directory / "invoices.csv", InvoiceRow)
    orders = read_rows(directory / "orders.csv", OrderRow)
    _check_references(customers, invoices, orders)
    with sessions.begin() as s:
        for c in customers:
            data = c.model_dump()
            data["email_domains"] = ";".join(d.lower() for d in c.email_domains)
            data["contact_emails"] = ";".join(e.lower() for e in c.contact_emails)
            s.merge(m.Customer(**data))
        s.flush()
        for i in invoices:
            s.merge(m.Invoice(**i.model_dump()))
        for o in orders:
            s.merge(m.Order(**o.model_dump()))
        bump_revision(s)
    return ImportResult(len(customers), len(invoices), len(orders))
