"""`arinbox ledger export`: the import format, so importing an export is a no-op, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from arinbox.cli import app as cli
from arinbox.domain.ports import Ledger
from arinbox.ledger.csv_export import export_ledger
from arinbox.ledger.csv_import import import_ledger
from arinbox.service.bootstrap import App
from arinbox.settings import Settings, get_settings
from tests.conftest import DATA


def _everything(ledger: Ledger) -> tuple[object, ...]:
    return (ledger.customers(), ledger.invoices(), ledger.orders())


def test_importing_an_export_changes_nothing(settings: Settings, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "source"
    shutil.copytree(DATA / "mini" / "ledger", source)
    lines = (source / "customers.csv").read_text().splitlines()  # with the optional account columns
    lines = [lines[0] + ",strategic,credit_risk", lines[1] + ",true,high", lines[2] + ",,"]
    (source / "customers.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "export"
    with App(settings) as app:
        import_ledger(source, app.sessions)
        before = _everything(app.ledger)
    for name, value in settings.model_dump().items():  # the command builds its own App from the environment
        if name in ("database_url", "vault_key_file"):
            monkeypatch.setenv(f"ARINBOX_{name.upper()}", str(value))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["ledger", "export", str(out)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "exported 2 customers, 6 invoices, 3 orders" in result.output
    with App(settings) as app:
        import_ledger(out, app.sessions)
        assert _everything(app.ledger) == before
        first = (out / "invoices.csv").read_bytes()
        export_ledger(app.ledger, tmp_path / "again")
    assert (tmp_path / "again" / "invoices.csv").read_bytes() == first  # the same ledger, the same bytes
    rows = list(csv.DictReader((out / "invoices.csv").read_text().splitlines()))
    assert sum(Decimal(r["open_amount"]) for r in rows if r["customer_id"] == "CUST-1") == Decimal("2830.40")
    customers = list(csv.DictReader((out / "customers.csv").read_text().splitlines()))
    assert (customers[0]["contact_emails"], customers[0]["strategic"], customers[0]["credit_risk"]) == (
        "ap@harborfl.example;dana.reyes@harborfl.example", "true", "high")
