"""The behaviour every Ledger adapter owes the pipeline: the in-memory fake, the SQL ledger (SQLite
and PostgreSQL) and the REST ERP adapter against a local ERP run the same checks on the mini ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from arinbox.domain.errors import LedgerError
from arinbox.domain.models import Allocation
from arinbox.domain.ports import Ledger
from arinbox.ledger.csv_import import import_ledger
from arinbox.ledger.fake_ledger import InMemoryLedger
from arinbox.ledger.rest_erp import RestErpLedger, load_erp_config
from arinbox.ledger.sql_ledger import SqlLedger
from arinbox.persistence.db import make_engine, make_session_factory, upgrade
from tests.conftest import DATA, ROOT, _drop_pg_database, _new_pg_database
from tests.support.erp_server import erp_server

DAY = dt.date(2026, 11, 20)


@pytest.fixture(params=["fake", "sqlite", "postgresql", "rest"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    kind = request.param
    pg: str | None = None
    if kind == "postgresql":
        admin = request.getfixturevalue("pg_available")
        pg, url = _new_pg_database(admin)
    else:
        url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    import_ledger(DATA / "mini" / "ledger", sessions)
    sql = SqlLedger(sessions)
    try:
        if kind in ("sqlite", "postgresql"):
            yield sql
        elif kind == "fake":
            yield InMemoryLedger(sql.customers(), sql.invoices(), sql.orders())
        else:
            with erp_server() as (erp, base_url):
                erp.seed(sql.customers(), sql.invoices(), sql.orders())
                monkeypatch.setenv("ARINBOX_ERP_TOKEN", erp.token)
                config = load_erp_config(ROOT / "connectors" / "erp-rest.example.yaml")
                # pages of two records: every list is read over several pages
                config = config.model_copy(update={"base_url": base_url, "backoff_s": 0.0,
                                                   "paging": config.paging.model_copy(update={"size": 2})})
                rest = RestErpLedger(config)
                yield rest
                rest.close()
    finally:
        engine.dispose()
        if pg is not None:
            _drop_pg_database(request.getfixturevalue("pg_available"), pg)


def _inv(ledger: Ledger, number: str) -> tuple[Decimal, str]:
    found = {i.invoice_number: i for i in ledger.invoices()}[number]
    return found.open_amount, found.status


def test_reads(ledger: Ledger) -> None:
    assert [c.customer_id for c in ledger.customers()] == ["CUST-1", "CUST-2"]
    cust = ledger.customer("CUST-1")
    assert cust is not None and cust.contact_emails == ["ap@harborfl.example", "dana.reyes@harborfl.example"]
    assert (cust.currency, cust.payment_terms_days, cust.credit_limit) == ("USD", 30, Decimal("50000.00"))
    assert ledger.customer("NOPE") is None
    mine = ledger.invoices("CUST-1")
    assert [i.invoice_number for i in mine] == [
        "INV-2026-004512", "INV-2026-004513", "INV-2026-004514", "INV-2026-004515", "INV-2026-004520"]
    first = mine[0]
    assert (first.issue_date, first.due_date, first.amount, first.open_amount, first.status, first.po_number,
            first.order_number) == (dt.date(2026, 9, 1), dt.date(2026, 10, 1), Decimal("1250.00"),
                                    Decimal("1250.00"), "open", "PO-77812", "SO-26-10432")
    assert len(ledger.invoices()) == 6
    orders = ledger.orders("CUST-2")
    assert [(o.order_number, o.status, o.tracking_number) for o in orders] == [
        ("SO-26-10500", "shipped", "JD014600003828390921"), ("SO-26-10510", "in_production", None)]
    assert orders[1].promised_ship_date == dt.date(2026, 11, 30) and orders[1].ship_date is None


def test_payment_applies_once_and_is_read_back(ledger: Ledger) -> None:
    allocs = [Allocation(invoice="INV-2026-004512", amount=Decimal("1250.00")),
              Allocation(invoice="INV-2026-004513", amount=Decimal("500.00"))]
    w = ledger.apply_payment("k-pay", "CUST-1", Decimal("1750.00"), "USD", allocs, "ACH 123", DAY)
    assert w.applied and w.record_id
    assert _inv(ledger, "INV-2026-004512") == (Decimal("0.00"), "paid")
    assert _inv(ledger, "INV-2026-004513") == (Decimal("480.40"), "partially_paid")
    again = ledger.apply_payment("k-pay", "CUST-1", Decimal("1750.00"), "USD", allocs, "ACH 123", DAY)
    assert not again.applied
    assert _inv(ledger, "INV-2026-004513") == (Decimal("480.40"), "partially_paid")  # nothing twice
    effect = ledger.read_effect("k-pay")
    assert effect is not None
    assert [(a["invoice"], Decimal(str(a["amount"]))) for a in effect["applications"]] == [  # type: ignore[attr-defined]
        ("INV-2026-004512", Decimal("1250.00")), ("INV-2026-004513", Decimal("500.00"))]
    assert ledger.read_effect("never-written") is None


@pytest.mark.parametrize(("allocation", "customer", "currency", "message"), [
    (Allocation(invoice="INV-2026-004514", amount=Decimal("300.01")), "CUST-1", "USD", "exceeds open amount"),
    (Allocation(invoice="INV-2026-004600", amount=Decimal("10.00")), "CUST-1", "EUR", "another customer"),
    (Allocation(invoice="INV-2026-004514", amount=Decimal("10.00")), "CUST-1", "EUR", "is in USD"),
    (Allocation(invoice="INV-2099-000001", amount=Decimal("10.00")), "CUST-1", "USD", "does not exist"),
])
def test_a_refused_payment_changes_nothing(ledger: Ledger, allocation: Allocation, customer: str, currency: str,
                                           message: str) -> None:
    before = {i.invoice_number: (i.open_amount, i.status) for i in ledger.invoices()}
    with pytest.raises(LedgerError, match=message):
        ledger.apply_payment("k-bad", customer, Decimal("400.00"), currency, [allocation], "ref", DAY)
    assert {i.invoice_number: (i.open_amount, i.status) for i in ledger.invoices()} == before
    assert ledger.read_effect("k-bad") is None


def test_dispute_marks_the_invoice_once(ledger: Ledger) -> None:
    w = ledger.open_dispute("k-dis", "CUST-1", "INV-2026-004514", Decimal("50.00"), "pricing", "ar-disputes", "n")
    assert w.applied and _inv(ledger, "INV-2026-004514") == (Decimal("300.00"), "disputed")
    assert not ledger.open_dispute("k-dis", "CUST-1", "INV-2026-004514", Decimal("50.00"), "pricing",
                                   "ar-disputes", "n").applied
    effect = ledger.read_effect("k-dis")
    assert effect is not None and (effect["invoice"], Decimal(str(effect["amount"])), effect["reason"]) == (
        "INV-2026-004514", Decimal("50.00"), "pricing")
    with pytest.raises(LedgerError, match="another customer|not an invoice of CUST-1"):
        ledger.open_dispute("k-dis2", "CUST-1", "INV-2026-004600", Decimal("1"), "pricing", "ar-disputes", "n")


def test_promise_is_recorded_once(ledger: Ledger) -> None:
    w = ledger.record_promise("k-pro", "CUST-2", ["INV-2026-004600"], Decimal("4820.50"), "EUR",
                              dt.date(2026, 12, 4))
    assert w.applied
    assert not ledger.record_promise("k-pro", "CUST-2", ["INV-2026-004600"], Decimal("4820.50"), "EUR",
                                     dt.date(2026, 12, 4)).applied
    effect = ledger.read_effect("k-pro")
    assert effect is not None
    assert (effect["invoices"], Decimal(str(effect["amount"])), effect["date"]) == (
        ["INV-2026-004600"], Decimal("4820.50"), "2026-12-04")
    with pytest.raises(LedgerError, match="not an invoice of CUST-2"):
        ledger.record_promise("k-pro2", "CUST-2", ["INV-2026-004512"], Decimal("1"), "EUR", dt.date(2026, 12, 4))
