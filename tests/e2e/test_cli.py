"""The command line as other tools call it: names, help text in the README, one-line errors, eval JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arinbox.cli import app
from tests.conftest import DATA, ROOT

README = (ROOT / "README.md").read_text()
EVAL_KEYS = {
    "emails": None,
    "intent": {"accuracy", "macro_f1", "per_intent"},
    "fields": {"customer_id", "invoices", "amount", "promised_date", "dispute_reason"},
    "allocations": {"precision", "recall", "remittances_fully_applied"},
    "masking": {"pii_leak_rate", "keep_rate"},
    "automation": {"auto_resolution_rate", "wrong_automatic_actions", "needs_human_missed"},
    "timing": {"emails_per_second", "p50_ms", "p95_ms"},
}


def _commands(group: object, prefix: str = "") -> list[str]:
    import typer.main

    cmd = typer.main.get_command(group)  # type: ignore[arg-type]
    out = []
    for name, sub in getattr(cmd, "commands", {}).items():
        if getattr(sub, "commands", None):
            out += [f"{prefix}{name} {n}" for n in sub.commands]
        else:
            out.append(f"{prefix}{name}")
    return out


def test_every_command_is_documented_in_the_readme() -> None:
    documented = set(re.findall(r"\| `arinbox ([a-z][a-z -]*?)(?: [A-Z\[-]|`)", README))
    assert set(_commands(app)) == documented


@pytest.mark.parametrize("name", ["demo", "ingest", "process", "approvals", "trace", "ledger", "mask", "eval"])
def test_contract_commands_exist_with_help(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "arinbox", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_bad_ledger_row_is_one_line_error(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    for f in (DATA / "mini" / "ledger").iterdir():
        (ledger / f.name).write_text(f.read_text())
    with (ledger / "invoices.csv").open("a") as f:
        f.write("INV-X,CUST-1,2026-09-01,2026-10-01,USD,abc,1.00,open,,\n")
    r = _run("ledger", "import", str(ledger), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == "error: invoices.csv: row 8, column 'amount': Input should be a valid decimal"


def test_bad_policy_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text((ROOT / "policies" / "default.yaml").read_text().replace("version: 1", "version: zero"))
    r = _run("policy", "check", str(bad), cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert f"{bad}: line 4: field version" in r.stderr


@pytest.mark.slow
def test_eval_json_has_every_key_with_real_values(tmp_path: Path) -> None:
    r = _run("eval", str(DATA / "mini"), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    for key, sub in EVAL_KEYS.items():
        assert key in report
        if sub:
            assert sub <= set(report[key]), key
    assert report["emails"] == 8
    assert report["automation"]["wrong_automatic_actions"] == 0
    assert report["allocations"]["remittances_fully_applied"] == 1.0  # the one clean remittance ran alone
    assert 0 < report["intent"]["accuracy"] <= 1 and report["timing"]["p50_ms"] > 0
    assert report["masking"]["pii_leak_rate"] == 0.0 and report["masking"]["keep_rate"] == 1.0


def test_mask_prints_masked_text_keeping_business_numbers(tmp_path: Path) -> None:
    r = _run("mask", str(DATA / "mini" / "emails" / "remit-exact.eml"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Dana Reyes" not in r.stdout and "201-3344" not in r.stdout
    assert "<PERSON_1>" in r.stdout and "INV-2026-004512" in r.stdout and "$1,250.00" in r.stdout
