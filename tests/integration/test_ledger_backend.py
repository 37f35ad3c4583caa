"""The composition root picks the ledger by settings: the embedded SQL ledger, or a REST ERP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from arinbox.domain.errors import ConfigError
from arinbox.domain.models import CustomerFact, InvoiceFact
from arinbox.ledger.rest_erp import RestErpLedger
from arinbox.ledger.sql_ledger import SqlLedger
from arinbox.service.bootstrap import App
from arinbox.settings import Settings
from tests.conftest import ROOT
from tests.support.erp_server import erp_server

EXAMPLE = ROOT / "connectors" / "erp-rest.example.yaml"


def test_the_sql_ledger_is_the_default(settings: Settings) -> None:
    with App(settings) as app:
        assert isinstance(app.ledger, SqlLedger)


def test_a_rest_erp_by_settings(settings: Settings, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    customer = CustomerFact(customer_id="C9", name="Rest Co", currency="EUR", language="de", payment_terms_days=30,
                            credit_limit=Decimal("1000"))
    invoice = InvoiceFact(invoice_number="RE-9", customer_id="C9", issue_date=dt.date(2026, 10, 1),
                          due_date=dt.date(2026, 10, 31), currency="EUR", amount=Decimal("10.00"),
                          open_amount=Decimal("10.00"), status="open")
    with erp_server() as (fake, url):
        fake.seed([customer], [invoice], [])
        monkeypatch.setenv("ARINBOX_ERP_TOKEN", fake.token)
        config = tmp_path / "erp.yaml"
        config.write_text(EXAMPLE.read_text().replace(
            next(line for line in EXAMPLE.read_text().splitlines() if line.startswith("base_url:")),
            f"base_url: {url}"))
        rest = settings.model_copy(update={"ledger_backend": "rest", "erp_config_file": config})
        with App(rest) as app:
            assert isinstance(app.ledger, RestErpLedger)
            assert [i.invoice_number for i in app.deps.refs.invoices] == ["RE-9"]
    with pytest.raises(ConfigError, match="ARINBOX_ERP_CONFIG_FILE"), \
            App(settings.model_copy(update={"ledger_backend": "rest"})) as app:
        app.ledger  # noqa: B018
