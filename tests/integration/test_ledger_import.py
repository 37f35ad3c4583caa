from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arinbox.domain.errors import ImportRowError
from arinbox.ledger.csv_import import import_ledger
from arinbox.ledger.sql_ledger import SqlLedger
from arinbox.persistence import models as m
from arinbox.persistence.db import make_engine, make_session_factory, upgrade
from tests.conftest import DATA


@pytest.fixture
def sessions(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _copy_ledger(tmp_path: Path) -> Path:
    target = tmp_path / "ledger"
    shutil.copytree(DATA / "mini" / "ledger", target)
    return target


def test_import_reads_every_file(sessions) -> None:  # type: ignore[no-untyped-def]
    result = import_ledger(DATA / "mini" / "ledger", sessions)
    assert (result.customers, result.invoices, result.orders) == (2, 6, 3)
    ledger = SqlLedger(sessions)
    inv = {i.invoice_number: i for i in ledger.invoices("CUST-1")}
    assert inv["INV-2026-004513"].open_amount == Decimal("980.40")
    assert ledger.customer("CUST-1").contact_emails == ["ap@harborfl.example", "dana.reyes@harborfl.example"]  # type: ignore[union-attr]
    assert [o.tracking_number for o in ledger.orders("CUST-2")][0] == "JD014600003828390921"


def test_reimport_updates_instead_of_duplicating(sessions) -> None:  # type: ignore[no-untyped-def]
    import_ledger(DATA / "mini" / "ledger", sessions)
    import_ledger(DATA / "mini" / "ledger", sessions)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.Invoice)) == 6


@pytest.mark.parametrize(("file", "row_text", "row", "column"), [
    ("invoices.csv", "INV-X,CUST-1,2026-09-01,2026-10-01,USD,12.5x,1.00,open,,", 8, "amount"),
    ("invoices.csv", "INV-X,CUST-1,2026-13-01,2026-10-01,USD,1.00,1.00,open,,", 8, "issue_date"),
    ("invoices.csv", "INV-X,NOPE,2026-09-01,2026-10-01,USD,1.00,1.00,open,,", 8, "customer_id"),
    ("invoices.csv", "INV-X,CUST-1,2026-09-01,2026-10-01,USD,1.00,2.00,open,,", 8, "open_amount"),
    ("invoices.csv", "INV-X,CUST-1,2026-09-01,2026-10-01,USD,1.00,1.00,lost,,", 8, "status"),
    ("orders.csv", "SO-X,CUST-1,,teleported,,,,,", 5, "status"),
    ("customers.csv", "CUST-3,Acme,acme.example,,usd,en,30,100.00", 4, "currency"),
])
def test_bad_row_names_file_row_column_and_writes_nothing(
    sessions, tmp_path: Path, file: str, row_text: str, row: int, column: str  # type: ignore[no-untyped-def]
) -> None:
    ledger_dir = _copy_ledger(tmp_path)
    with (ledger_dir / file).open("a") as f:
        f.write(row_text + "\n")
    with pytest.raises(ImportRowError) as exc:
        import_ledger(ledger_dir, sessions)
    assert (exc.value.file, exc.value.row, exc.value.column) == (file, row, column)
    assert f"{file}: row {row}, column '{column}'" in str(exc.value)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.Customer)) == 0
        assert s.scalar(select(func.count()).select_from(m.Invoice)) == 0


def test_missing_column_is_reported(sessions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ledger_dir = _copy_ledger(tmp_path)
    text = (ledger_dir / "orders.csv").read_text().replace("carrier,", "")
    (ledger_dir / "orders.csv").write_text(text)
    with pytest.raises(ImportRowError, match=r"orders.csv: row 1, column 'carrier'"):
        import_ledger(ledger_dir, sessions)


def test_optional_account_attributes(sessions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ledger_dir = _copy_ledger(tmp_path)
    lines = (ledger_dir / "customers.csv").read_text().splitlines()
    lines[0] += ",strategic,credit_risk"
    lines[1] += ",yes,high"
    lines[2] += ",,"
    (ledger_dir / "customers.csv").write_text("\n".join(lines) + "\n")
    import_ledger(ledger_dir, sessions)
    ledger = SqlLedger(sessions)
    first, second = ledger.customer("CUST-1"), ledger.customer("CUST-2")
    assert first is not None and (first.strategic, first.credit_risk) == (True, "high")
    assert second is not None and (second.strategic, second.credit_risk) == (False, "normal")
    lines[2] = lines[2][:-2] + ",no,risky"
    (ledger_dir / "customers.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportRowError, match=r"customers.csv: row 3, column 'credit_risk'"):
        import_ledger(ledger_dir, sessions)
