"""The REST ERP adapter's failure paths against the local ERP: retries and their limit, Retry-After,
a write retried under its key applied once, clear errors for a wrong token, a refused write, a write
that cannot be read back, and a config file with a wrong field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from arinbox.domain.errors import ConfigError, LedgerError, ServiceUnavailable
from arinbox.domain.models import Allocation, CustomerFact, InvoiceFact
from arinbox.ledger.rest_erp import RestErpLedger, load_erp_config
from tests.conftest import ROOT
from tests.support.erp_server import FakeErp, erp_server

EXAMPLE = ROOT / "connectors" / "erp-rest.example.yaml"
CUSTOMER = CustomerFact(customer_id="C1", name="Acme", currency="EUR", language="de", payment_terms_days=30,
                        credit_limit=Decimal("1000"))
INVOICE = InvoiceFact(invoice_number="RE-1", customer_id="C1", issue_date=dt.date(2026, 10, 1),
                      due_date=dt.date(2026, 10, 31), currency="EUR", amount=Decimal("100.00"),
                      open_amount=Decimal("100.00"), status="open")
PAY = [Allocation(invoice="RE-1", amount=Decimal("40.00"))]


@pytest.fixture
def erp(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeErp, RestErpLedger, list[float]]]:
    waits: list[float] = []
    with erp_server() as (fake, url):
        fake.seed([CUSTOMER], [INVOICE], [])
        monkeypatch.setenv("ARINBOX_ERP_TOKEN", fake.token)
        config = load_erp_config(EXAMPLE).model_copy(update={"base_url": url, "retries": 3, "backoff_s": 0.25})
        ledger = RestErpLedger(config, sleep=waits.append)
        yield fake, ledger, waits
        ledger.close()


def _pay(ledger: RestErpLedger, key: str = "k1") -> object:
    return ledger.apply_payment(key, "C1", Decimal("40.00"), "EUR", PAY, "ref", dt.date(2026, 11, 20))


def test_server_errors_are_retried_with_backoff_and_retry_after(erp: tuple[FakeErp, RestErpLedger, list[float]]
                                                                ) -> None:
    fake, ledger, waits = erp
    fake.fail_next(2, status=503)
    fake.fail_next(1, status=429, retry_after="3")
    assert [c.customer_id for c in ledger.customers()] == ["C1"]
    assert waits == [0.25, 0.5, 3.0]


def test_a_write_retried_after_a_failure_is_applied_once(erp: tuple[FakeErp, RestErpLedger, list[float]]) -> None:
    fake, ledger, _ = erp
    fake.fail_next(2, status=502, method="POST")  # the POST fails twice, then goes through under the same key
    w = _pay(ledger)
    assert w.applied  # type: ignore[attr-defined]
    assert fake.posts("/ar/payments") == ["k1", "k1", "k1"] and len(fake.writes["payments"]) == 1
    assert fake.invoices["RE-1"]["totals"]["remaining"] == "60.00"
    again = _pay(ledger)  # a later run with the same key: found by key, nothing posted
    assert not again.applied and fake.posts("/ar/payments") == ["k1", "k1", "k1"]  # type: ignore[attr-defined]
    assert fake.invoices["RE-1"]["totals"]["remaining"] == "60.00"


def test_an_erp_that_keeps_failing_is_service_unavailable(erp: tuple[FakeErp, RestErpLedger, list[float]]) -> None:
    fake, ledger, waits = erp
    fake.fail_next(10, status=500)
    with pytest.raises(ServiceUnavailable, match=r"ERP invoices: HTTP 500 .* after 4 attempts"):
        ledger.invoices("C1")
    assert len(waits) == 3


def test_an_unreachable_erp_is_service_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARINBOX_ERP_TOKEN", "x")
    config = load_erp_config(EXAMPLE).model_copy(update={"base_url": "http://127.0.0.1:9/api", "retries": 1})
    with pytest.raises(ServiceUnavailable, match="ConnectionError"):
        RestErpLedger(config, sleep=lambda s: None).customers()


def test_a_wrong_token_is_a_config_error_naming_the_variable(erp: tuple[FakeErp, RestErpLedger, list[float]],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fake, ledger, _ = erp
    monkeypatch.setenv("ARINBOX_ERP_TOKEN", "wrong")
    stale = RestErpLedger(ledger.config)
    with pytest.raises(ConfigError, match=r"HTTP 401 .*ARINBOX_ERP_TOKEN"):
        stale.customers()
    monkeypatch.delenv("ARINBOX_ERP_TOKEN")
    with pytest.raises(ConfigError, match="environment variable ARINBOX_ERP_TOKEN is not set"):
        RestErpLedger(ledger.config).customers()


def test_a_write_the_erp_refuses_is_a_ledger_error(erp: tuple[FakeErp, RestErpLedger, list[float]]) -> None:
    fake, ledger, _ = erp
    fake.invoices["RE-1"]["totals"]["remaining"] = "100.00"
    # the ERP's own rule (here: the invoice was paid there meanwhile) refuses what our check let through
    original = ledger._invoice
    ledger._invoice = lambda n: original(n).model_copy(update={"open_amount": Decimal("100.00")})  # type: ignore
    fake.invoices["RE-1"]["totals"]["remaining"] = "10.00"
    with pytest.raises(LedgerError, match=r"ERP payment k1: HTTP 422 .*exceeds the remaining 10.00"):
        _pay(ledger)
    assert fake.writes["payments"] == {}


def test_a_write_that_cannot_be_read_back_is_not_done(erp: tuple[FakeErp, RestErpLedger, list[float]]) -> None:
    fake, ledger, _ = erp
    fake.forget_next_write = True
    with pytest.raises(LedgerError, match="reading it back by its key found nothing"):
        _pay(ledger)


def test_a_wrong_field_in_the_config_names_file_line_and_field(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("    due_date: dueDate\n", "    due_on: dueDate\n")
    bad = tmp_path / "erp.yaml"
    bad.write_text(text)
    line = text.splitlines().index("  invoice:") + 1
    with pytest.raises(ConfigError, match=rf"erp.yaml: line {line + 1}: field fields.invoice: .*'due_on'"):
        load_erp_config(bad)


def test_records_that_do_not_fit_the_mapping_are_named(erp: tuple[FakeErp, RestErpLedger, list[float]]) -> None:
    fake, ledger, _ = erp
    fake.invoices["RE-1"]["dueDate"] = "31.10.2026"
    with pytest.raises(ConfigError, match=r"ERP invoice RE-1: field 'dueDate' \(due_date\)"):
        ledger.invoices("C1")
