from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from arinbox.domain.errors import ConfigError
from arinbox.domain.models import (
    ActionKind,
    Classification,
    CustomerFact,
    Intent,
    LedgerFacts,
    Outcome,
    Proposal,
)
from arinbox.policies.engine import decide
from arinbox.policies.schema import load_policy
from tests.conftest import ROOT

POLICY = ROOT / "policies" / "default.yaml"
TODAY = dt.date(2026, 11, 2)
CUSTOMER = CustomerFact(customer_id="C1", name="Acme", currency="USD", language="en", payment_terms_days=30,
                        credit_limit=Decimal("1000"))
FACTS = LedgerFacts(customer=CUSTOMER)


def _cls(intent: Intent = Intent.REMITTANCE_ADVICE, confidence: float = 0.95) -> Classification:
    return Classification(intent=intent, confidence=confidence, engine="test")


def _prop(kind: ActionKind = ActionKind.APPLY_PAYMENT, amount: str = "100", confidence: float = 0.97,
          **payload: str) -> Proposal:
    return Proposal(index=0, kind=kind, summary="s", confidence=confidence, amount=Decimal(amount), payload=payload)


def test_default_policy_loads_with_a_content_hash() -> None:
    policy = load_policy(POLICY)
    assert policy.version_id.startswith("default@1#") and len(policy.content_hash) == 64


@pytest.mark.parametrize(("proposal", "cls", "signals", "outcome", "rule"), [
    (_prop(), _cls(), [], Outcome.AUTO, "action.apply_payment.auto"),
    (_prop(amount="25000.01"), _cls(), [], Outcome.APPROVAL, "action.apply_payment.max_amount"),
    (_prop(confidence=0.5), _cls(), [], Outcome.APPROVAL, "action.apply_payment.min_confidence"),
    (_prop(), _cls(confidence=0.3), [], Outcome.APPROVAL, "intent.min_confidence"),
    (_prop(), _cls(), ["bank_details_change"], Outcome.APPROVAL, "signal.bank_details_change"),
    (_prop(), _cls(Intent.OTHER), [], Outcome.SKIP, "autonomy.other.off"),
    (_prop(ActionKind.RECORD_PROMISE, promised_date="2027-03-01"), _cls(Intent.PROMISE_TO_PAY), [],
     Outcome.APPROVAL, "action.record_promise.max_days_ahead"),
    (_prop(ActionKind.RECORD_PROMISE, promised_date="2026-11-20"), _cls(Intent.PROMISE_TO_PAY), [],
     Outcome.AUTO, "action.record_promise.auto"),
])
def test_decisions_cite_the_rule(proposal: Proposal, cls: Classification, signals: list[str], outcome: Outcome,
                                 rule: str) -> None:
    d = decide(proposal, cls, FACTS, signals, load_policy(POLICY), TODAY)
    assert (d.outcome, d.rule_id) == (outcome, rule)
    assert d.policy_version == load_policy(POLICY).version_id


def test_kill_switch_and_shadow_mode(tmp_path: Path) -> None:
    text = POLICY.read_text()
    killed = tmp_path / "killed.yaml"
    killed.write_text(text.replace("kill_switch: false", "kill_switch: true"))
    assert decide(_prop(), _cls(), FACTS, [], load_policy(killed), TODAY).rule_id == "kill_switch"
    shadow = tmp_path / "shadow.yaml"
    shadow.write_text(text.replace("shadow_mode: false", "shadow_mode: true"))
    d = decide(_prop(), _cls(), FACTS, [], load_policy(shadow), TODAY)
    assert (d.outcome, d.rule_id) == (Outcome.SKIP, "shadow_mode")


def test_unknown_customer_never_runs_alone() -> None:
    d = decide(_prop(), _cls(), LedgerFacts(), [], load_policy(POLICY), TODAY)
    assert d.outcome is Outcome.APPROVAL


def test_bad_policy_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    lines = POLICY.read_text().splitlines()
    idx = next(i for i, line in enumerate(lines) if "min_confidence: 0.9" in line)
    lines[idx] = "    min_confidence: lots"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as exc:
        load_policy(bad)
    assert f"{bad}: line {idx + 1}: field actions.apply_payment.min_confidence" in str(exc.value)


def test_unknown_key_and_bad_yaml_are_reported(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text(POLICY.read_text().replace("shadow_mode:", "shadow_mod:"))
    with pytest.raises(ConfigError, match=r"typo.yaml: line \d+: field shadow_mod"):
        load_policy(typo)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: line \d+: not valid YAML"):
        load_policy(broken)


def test_an_email_with_a_held_action_always_needs_a_person() -> None:
    from arinbox.policies.engine import decide_email

    policy = load_policy(POLICY)
    unsure = decide_email([_prop()], _cls(confidence=0.3), FACTS, [], None, policy, TODAY)
    assert unsure.needs_person and unsure.rule_id == "intent.min_confidence"
    nothing = decide_email([], _cls(Intent.AUTO_REPLY), FACTS, [], None, policy, TODAY)
    assert not nothing.needs_person and nothing.rule_id == "intent.auto_reply.no_action"
    clean = decide_email([_prop()], _cls(), FACTS, [], None, policy, TODAY)
    assert not clean.needs_person and clean.rule_id == ""


def test_dispute_owner_by_customer_then_amount_then_reason() -> None:
    routing = load_policy(POLICY).dispute_routing
    assert routing.owner("C1", "damaged", Decimal("120.00"), "fallback") == "logistics-claims"
    assert routing.owner("C1", "pricing", Decimal("120.00"), "fallback") == "sales-operations"
    assert routing.owner("C1", "other", Decimal("120.00"), "fallback") == "ar-disputes"
    assert routing.owner("C1", "damaged", Decimal("10000.01"), "fallback") == "ar-supervisors"
    keyed = routing.model_copy(update={"by_customer": {"C1": "key-account-c1"}, "default_owner": None})
    assert keyed.owner("C1", "damaged", Decimal("99999"), "fallback") == "key-account-c1"
    assert keyed.owner("C2", "other", Decimal("1"), "fallback") == "fallback"
