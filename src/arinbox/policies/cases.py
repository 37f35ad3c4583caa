"""Expected-decision cases: finance writes what the gate must decide, CI checks the policy does.

Each file under ``policies/cases/`` is a YAML list of cases. A case describes one email as the gate
sees it (intent and its confidence, the proposed actions, whether the ledger knows the customer,
the signals found, the email's date) and the verdict expected from ``decide_email``: whether a
person must act, the rule that decided the email, and each proposal's outcome and rule. A case may
change the policy it runs under through ``policy_overrides``, merged into the policy given to
``run_case`` (for example ``{kill_switch: true}`` or ``{actions: {open_dispute: {auto: false}}}``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator, model_validator

from arinbox.domain.errors import ConfigError
from arinbox.domain.models import (
    ActionKind,
    Classification,
    CreditRisk,
    CustomerFact,
    Intent,
    LedgerFacts,
    Outcome,
    Proposal,
    RiskTier,
)
from arinbox.policies.engine import EmailDecision, decide_email
from arinbox.policies.schema import Policy
from arinbox.yaml_files import load_yaml_model

# the stand-in for "the ledger knows this customer": the gate only asks whether there is one
CASE_CUSTOMER = CustomerFact(customer_id="CASE-CUSTOMER", name="Case customer", currency="USD", language="en",
                             payment_terms_days=30, credit_limit=Decimal("100000"))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseProposal(_Strict):
    kind: ActionKind
    amount: Decimal = Field(default=Decimal("0"), ge=0)
    confidence: float = Field(ge=0, le=1)
    payload: dict[str, Any] = Field(default_factory=dict)  # e.g. promised_date for record_promise
    summary: str = ""

    @model_validator(mode="after")
    def _promise_has_a_date(self) -> Self:
        if self.kind is ActionKind.RECORD_PROMISE and not isinstance(self.payload.get("promised_date"), dt.date):
            raise ValueError("a record_promise proposal needs payload.promised_date as a date (YYYY-MM-DD)")
        return self


class CaseCustomer(_Strict):
    """The ledger attributes of the sender's customer that customer rules look at."""

    strategic: bool = False
    credit_risk: CreditRisk = "normal"


class ExpectedOutcome(_Strict):
    outcome: Outcome
    rule_id: str


class Expectation(_Strict):
    needs_person: bool
    rule_id: str = ""  # the rule that decided the email; empty when every action runs alone
    outcomes: list[ExpectedOutcome] = Field(default_factory=list)  # one per proposal, in order
    tier: RiskTier | None = None  # the email's risk tier (who may approve), checked when given


class Case(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str = Field(min_length=1)
    intent: Intent
    intent_confidence: float = Field(ge=0, le=1)
    today: dt.date  # the email's date: promise dates are counted from it
    proposals: list[CaseProposal] = Field(default_factory=list)
    customer: bool | CaseCustomer = True  # does the ledger know the sender's customer (and its attributes)?
    signals: list[str] = Field(default_factory=list)
    review_reason: str | None = None  # set when the pipeline could propose nothing and asks a person
    policy_overrides: dict[str, Any] = Field(default_factory=dict)
    expect: Expectation

    @field_validator("policy_overrides")
    @classmethod
    def _known_policy_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        settable = set(Policy.model_fields) - {"content_hash"}
        unknown = sorted(set(value) - settable)
        if unknown:
            raise ValueError(f"not a policy setting: {', '.join(unknown)}")
        return value

    @model_validator(mode="after")
    def _one_outcome_per_proposal(self) -> Self:
        if len(self.expect.outcomes) != len(self.proposals):
            raise ValueError(f"expect.outcomes has {len(self.expect.outcomes)} entries for "
                             f"{len(self.proposals)} proposals")
        return self


class CaseFile(RootModel[list[Case]]):
    pass


@dataclass(frozen=True)
class LoadedCase:
    case: Case
    file: Path


def _line_of_id(path: Path, case_id: str) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip().removeprefix("- ").strip() in (f"id: {case_id}", f'id: "{case_id}"', f"id: '{case_id}'"):
            return number
    return None


def load_case_files(directory: Path) -> list[LoadedCase]:
    """Every case under ``directory`` with the file it came from; ids are unique across files."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"{directory}: no case files (*.yaml)")
    seen: dict[str, Path] = {}
    out: list[LoadedCase] = []
    for path in files:
        for case in load_yaml_model(path, CaseFile).root:
            if case.id in seen:
                raise ConfigError(f"{path}: line {_line_of_id(path, case.id)}: field id: case id {case.id!r} "
                                  f"is already used in {seen[case.id]}")
            seen[case.id] = path
            out.append(LoadedCase(case, path))
    return out


def load_cases(directory: Path) -> list[Case]:
    return [loaded.case for loaded in load_case_files(directory)]


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def policy_for(case: Case, policy: Policy) -> Policy:
    """The policy with the case's overrides merged in; its version id says it was changed."""
    if not case.policy_overrides:
        return policy
    data = _merge(policy.model_dump(mode="json", exclude={"content_hash"}), case.policy_overrides)
    try:
        changed = Policy.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"case {case.id}: policy_overrides: field {field}: {err['msg']}") from None
    overrides = json.dumps(case.policy_overrides, sort_keys=True, default=str)
    digest = hashlib.sha256(f"{policy.content_hash}\n{overrides}".encode()).hexdigest()
    return changed.model_copy(update={"content_hash": digest})


def case_inputs(case: Case) -> tuple[list[Proposal], Classification, LedgerFacts]:
    proposals = [Proposal(index=i, kind=p.kind, summary=p.summary or p.kind.value, confidence=p.confidence,
                          amount=p.amount, payload=p.payload) for i, p in enumerate(case.proposals)]
    classification = Classification(intent=case.intent, confidence=case.intent_confidence, engine="case")
    customer = None
    if isinstance(case.customer, CaseCustomer):
        customer = CASE_CUSTOMER.model_copy(update=case.customer.model_dump())
    elif case.customer:
        customer = CASE_CUSTOMER
    facts = LedgerFacts(customer=customer)
    return proposals, classification, facts


@dataclass(frozen=True)
class CaseResult:
    case: Case
    verdict: EmailDecision
    problems: list[str]  # empty when the gate decided as expected

    @property
    def passed(self) -> bool:
        return not self.problems


def run_case(case: Case, policy: Policy) -> CaseResult:
    proposals, classification, facts = case_inputs(case)
    verdict = decide_email(proposals, classification, facts, case.signals, case.review_reason,
                           policy_for(case, policy), case.today)
    want = case.expect
    problems: list[str] = []
    if verdict.needs_person != want.needs_person:
        problems.append(f"needs_person: expected {str(want.needs_person).lower()}, "
                        f"got {str(verdict.needs_person).lower()} (rule {verdict.rule_id or '(none)'})")
    if verdict.rule_id != want.rule_id:
        problems.append(f"rule_id: expected {want.rule_id or '(none)'}, got {verdict.rule_id or '(none)'}")
    if want.tier is not None and verdict.tier != want.tier:
        problems.append(f"tier: expected {want.tier}, got {verdict.tier}")
    for i, (got, expected) in enumerate(zip(verdict.decisions, want.outcomes, strict=True)):
        if (got.outcome, got.rule_id) != (expected.outcome, expected.rule_id):
            problems.append(f"proposal {i} ({proposals[i].kind.value}): expected {expected.outcome.value} by "
                            f"{expected.rule_id}, got {got.outcome.value} by {got.rule_id}")
    return CaseResult(case, verdict, problems)


def run_cases(cases: Sequence[Case], policy: Policy) -> list[CaseResult]:
    return [run_case(c, policy) for c in cases]


def rules_seen(results: Sequence[CaseResult]) -> set[str]:
    """Every rule id the cases made the gate cite, at email and at proposal level."""
    seen = {r.verdict.rule_id for r in results if r.verdict.rule_id}
    seen |= {d.rule_id for r in results for d in r.verdict.decisions}
    return seen


def policy_rules(policy: Policy) -> set[str]:
    """The rule ids a policy can cite, derived from its settings: what a complete case set exercises."""
    rules = {"kill_switch", "shadow_mode", "intent.min_confidence", "customer.unknown", "review.no_proposal"}
    rules |= {f"signal.{s}" for s in policy.needs_human_signals}
    rules |= {f"autonomy.{intent.value}.{level.value}" for intent, level in policy.autonomy.items()
              if level.value != "auto"}
    # intents the policy switches off propose nothing and are closed with no action
    rules |= {f"intent.{intent.value}.no_action" for intent, level in policy.autonomy.items()
              if level.value == "off"}
    for kind, rule in policy.actions.items():
        k = kind.value
        if not rule.auto:
            rules.add(f"action.{k}.manual")
            continue
        rules |= {f"action.{k}.auto", f"action.{k}.min_confidence"}
        if rule.min_intent_confidence > 0:
            rules.add(f"action.{k}.min_intent_confidence")
        if rule.max_amount is not None:
            rules.add(f"action.{k}.max_amount")
        if kind is ActionKind.RECORD_PROMISE and rule.max_days_ahead is not None:
            rules.add(f"action.{k}.max_days_ahead")
        # the high tier decides only where the action's own amount limit lets a high amount through
        bands = policy.risk_tiers.get(kind, [])
        last = bands[-1].up_to if bands else None
        reaches_high = bool(bands) and (last is not None or bands[-1].tier == "high")
        if reaches_high and (rule.max_amount is None or (last is not None and rule.max_amount > last)):
            rules.add(f"tier.{k}.high")
    cr = policy.customer_rules
    named = [("strategic", cr.strategic), ("new_sender", cr.new_sender),
             *((f"credit_risk_{risk}", r) for risk, r in cr.credit_risk.items())]
    for name, crule in named:
        if crule is None:
            continue
        if crule.max_amount is not None:
            rules.add(f"customer.{name}.max_amount")
        if crule.manual_actions:
            rules.add(f"customer.{name}.manual")
    return rules
