"""`arinbox bench matching` on a small synthetic ledger: the numbers it reports are real measurements."""

from __future__ import annotations

import json
from decimal import Decimal

from typer.testing import CliRunner

from arinbox.bench import matching
from arinbox.cli import app


def test_small_ledger_is_matched_with_high_precision_and_recall() -> None:
    r = matching.run(invoices=4000, customers=200, remittances=150, seed=3)
    assert (r.invoices, r.customers, r.remittances) == (4000, 200, 150)
    assert set(r.kinds) == {"amount", "exact", "mangled", "partial", "discount"}
    assert r.lines > 150 and r.max_open_per_customer >= 50  # long advices need big accounts
    assert 0 < r.p50_ms <= r.p95_ms <= r.max_ms and r.cpu_p95_ms > 0
    assert r.precision >= 0.99 and r.recall >= 0.9


def test_the_generator_tells_the_truth() -> None:
    customers, invoices = matching.build_ledger(2000, 100, seed=5)
    by_number = {i.invoice_number: i for i in invoices}
    assert len(by_number) == 2000 and {i.customer_id for i in invoices} == {c.customer_id for c in customers}
    for rem in matching.generate(invoices, 100, seed=5):
        assert rem.truth and sum((a.amount for a in rem.truth), Decimal("0")) == rem.payment
        for a in rem.truth:
            inv = by_number[a.invoice]
            assert inv.customer_id == rem.customer_id and 0 < a.amount <= inv.open_amount
        if rem.doc is not None:
            assert len(rem.doc.lines) == len(rem.truth) <= 50 and rem.doc.total == rem.payment


def test_command_prints_one_json_object() -> None:
    result = CliRunner().invoke(app, ["bench", "matching", "--invoices", "1500", "--customers", "60",
                                      "--remittances", "40", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["invoices"] == 1500 and report["remittances"] == 40
    assert {"p50_ms", "p95_ms", "max_ms", "precision", "recall"} <= set(report)
    bad = CliRunner().invoke(app, ["bench", "matching", "--invoices", "10", "--customers", "20"])
    assert bad.exit_code != 0 and "--customers may not exceed --invoices" in bad.output
