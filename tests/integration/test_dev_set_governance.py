"""The development corpus under the default policy, and a backtest over its stored decisions.

This is the issue's bar for governance: no email that needs a person runs alone, no wrong automatic
action, and most mail resolved without a human step; a candidate policy replayed over the same
decisions reports what would change.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from arinbox.evaluation.runner import run_eval
from arinbox.policies.backtest import backtest
from arinbox.policies.schema import load_policy
from arinbox.service.bootstrap import App
from arinbox.settings import Settings
from tests.conftest import ROOT

DEV = ROOT / "agents" / "evals" / "dev"
POLICY = ROOT / "policies" / "default.yaml"
# the measured rate when this bar was set; a change that lowers it must say why
MIN_AUTO_RESOLUTION = 0.80


@pytest.mark.slow
def test_dev_set_under_the_default_policy_and_its_backtest(tmp_path: Path) -> None:
    base = Settings(vault_key=SecretStr(Fernet.generate_key().decode()))
    report = run_eval(DEV, base, keep_dir=tmp_path / "eval")
    auto = report.automation
    assert auto.wrong_automatic_actions == 0, auto.wrong
    assert auto.needs_human_missed == 0, auto.missed_files
    assert auto.auto_resolution_rate >= MIN_AUTO_RESOLUTION

    settings = base.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'eval' / 'eval.sqlite'}",
                                       "outbox_dir": tmp_path / "eval" / "outbox"})
    with App(settings) as app, app.sessions() as s:
        same = backtest(s, load_policy(POLICY))
        assert same.replayed >= 150 and not same.changes and not same.rule_changes
        stopped = tmp_path / "stopped.yaml"
        stopped.write_text(POLICY.read_text().replace("kill_switch: false", "kill_switch: true"))
        off = backtest(s, load_policy(stopped))
    assert off.resolved_after < off.resolved_before
    # every email that had an action run alone now waits for a person; nothing is released
    assert all(c.direction == "now needs a person" for c in off.changes)
    assert off.kinds and all(k.held_after == k.proposals for k in off.kinds)
