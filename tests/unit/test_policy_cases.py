"""Finance's expected-decision cases (policies/cases/*.yaml) against the default policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from arinbox.domain.errors import ConfigError
from arinbox.policies.cases import (
    LoadedCase,
    load_case_files,
    load_cases,
    policy_for,
    policy_rules,
    rules_seen,
    run_case,
    run_cases,
)
from arinbox.policies.schema import load_policy
from tests.conftest import ROOT

CASES = ROOT / "policies" / "cases"
POLICY = ROOT / "policies" / "default.yaml"
LOADED = load_case_files(CASES)

GOOD_CASE = """\
- id: clean-remittance
  description: a clean remittance runs alone
  intent: remittance_advice
  intent_confidence: 0.97
  today: 2026-11-02
  proposals:
    - kind: apply_payment
      amount: "1250.00"
      confidence: 0.97
  expect:
    needs_person: false
    outcomes:
      - {outcome: auto, rule_id: action.apply_payment.auto}
"""


@pytest.mark.parametrize("loaded", LOADED, ids=[c.case.id for c in LOADED])
def test_case(loaded: LoadedCase) -> None:
    result = run_case(loaded.case, load_policy(POLICY))
    assert result.passed, f"{loaded.file.name}: {loaded.case.id}: " + "; ".join(result.problems)


def test_the_cases_exercise_every_rule_of_the_default_policy() -> None:
    policy = load_policy(POLICY)
    results = run_cases(load_cases(CASES), policy)
    assert 25 <= len(results) <= 80
    assert not policy_rules(policy) - rules_seen(results), "rules no case exercises"
    # bundling: an action that could run alone waits with one that needs a person
    assert any(rule.startswith("with.") for rule in rules_seen(results))


def test_a_policy_change_shows_up_as_a_failing_case(tmp_path: Path) -> None:
    looser = tmp_path / "looser.yaml"
    looser.write_text(POLICY.read_text().replace("max_amount: 25000", "max_amount: 30000")
                      .replace("{up_to: 25000, tier: medium}", "{up_to: 30000, tier: medium}"))
    by_id = {c.id: c for c in load_cases(CASES)}
    result = run_case(by_id["cash-over-max-amount"], load_policy(looser))
    assert not result.passed
    assert result.problems[0].startswith("needs_person: expected true, got false")


def test_only_listed_signals_stop() -> None:
    policy = load_policy(POLICY)
    clean = {c.id: c for c in load_cases(CASES)}["dispute-within-limits"]
    assert "not_a_listed_signal" not in policy.needs_human_signals
    assert run_case(clean.model_copy(update={"signals": ["not_a_listed_signal"]}), policy).passed


def test_overrides_change_the_policy_version(tmp_path: Path) -> None:
    policy = load_policy(POLICY)
    case = {c.id: c for c in load_cases(CASES)}["kill-switch-holds-everything"]
    changed = policy_for(case, policy)
    assert changed.kill_switch and not policy.kill_switch
    assert changed.version_id != policy.version_id and changed.version_id.startswith("default@1#")


def _case_file(tmp_path: Path, text: str, name: str = "cases.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_broken_case_names_file_line_and_field(tmp_path: Path) -> None:
    second = GOOD_CASE.replace("clean-remittance", "second").replace("intent_confidence: 0.97",
                                                                     "intent_confidence: very")
    path = _case_file(tmp_path, GOOD_CASE + second)
    line = (GOOD_CASE + second).splitlines().index("  intent_confidence: very") + 1
    with pytest.raises(ConfigError) as exc:
        load_cases(tmp_path)
    assert f"{path}: line {line}: field 1.intent_confidence" in str(exc.value)


@pytest.mark.parametrize(("change", "message"), [
    (("  today: 2026-11-02\n", ""), r"line 1: field 0.today: Field required"),
    (("kind: apply_payment", "kind: pay_everything"), r"line 7: field 0.proposals.0.kind"),
    (("    outcomes:\n      - {outcome: auto, rule_id: action.apply_payment.auto}\n", ""),
     r"line 1: field 0: Value error, expect.outcomes has 0 entries for 1 proposals"),
    (("  today:", "  policy_overrides: {kill_swich: true}\n  today:"),
     r"line 5: field 0.policy_overrides: Value error, not a policy setting: kill_swich"),
    (("needs_person: false", "needs_person: false\n    surprise: 1"), r"line 12: field 0.expect.surprise"),
])
def test_case_file_errors(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in GOOD_CASE
    _case_file(tmp_path, GOOD_CASE.replace(old, new))
    with pytest.raises(ConfigError, match=message):
        load_cases(tmp_path)


def test_a_promise_needs_its_date(tmp_path: Path) -> None:
    text = GOOD_CASE.replace("kind: apply_payment", "kind: record_promise")
    _case_file(tmp_path, text)
    with pytest.raises(ConfigError, match=r"line 7: field 0.proposals.0: Value error, a record_promise proposal"):
        load_cases(tmp_path)


def test_ids_are_unique_across_files_and_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    _case_file(tmp_path, GOOD_CASE, "a.yaml")
    second = _case_file(tmp_path, GOOD_CASE, "b.yaml")
    with pytest.raises(ConfigError, match=rf"{second}: line 1: field id: case id 'clean-remittance' is already used"):
        load_cases(tmp_path)
    with pytest.raises(ConfigError, match="no case files"):
        load_cases(tmp_path / "nothing")


def test_an_override_the_policy_refuses_names_the_case() -> None:
    case = {c.id: c for c in load_cases(CASES)}["manual-action"]
    broken = case.model_copy(update={"policy_overrides": {"actions": {"open_dispute": {"auto": "sometimes"}}}})
    with pytest.raises(ConfigError, match=r"case manual-action: policy_overrides: field actions.open_dispute.auto"):
        run_case(broken, load_policy(POLICY))
