"""The policy gate: a pure function of proposal, ledger facts and policy.

It returns the outcome and the id of the rule that decided it. Nothing the email says reaches
this code except through the deterministic extraction signals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from arinbox.domain.models import (
    TIER_ORDER,
    ActionKind,
    Classification,
    Decision,
    LedgerFacts,
    Outcome,
    Proposal,
    RiskTier,
)
from arinbox.policies.schema import Autonomy, CustomerRule, Policy


def decide(
    proposal: Proposal,
    classification: Classification,
    facts: LedgerFacts,
    signals: Sequence[str],
    policy: Policy,
    today: dt.date,
) -> Decision:
    tier = policy.tier_of(proposal.kind, proposal.amount)

    def out(outcome: Outcome, rule: str, reason: str) -> Decision:
        return Decision(proposal_index=proposal.index, outcome=outcome, rule_id=rule, reason=reason,
                        policy_version=policy.version_id, tier=tier)

    if policy.kill_switch:
        return out(Outcome.APPROVAL, "kill_switch", "automation is switched off")
    # finance's reconciliation rules (policies/reconciliation.yaml): a review rule always asks a
    # person, and so does a write-off, which the ledger adapters do not post
    review = proposal.payload.get("review_rules") or []
    if review:
        return out(Outcome.APPROVAL, f"reconciliation.{review[0]}.review",
                   f"reconciliation rule {review[0]} matched: its action is review")
    if proposal.payload.get("write_offs"):
        return out(Outcome.APPROVAL, "reconciliation.write_off", "a write-off is booked by a person")
    stopping = [s for s in signals if s in policy.needs_human_signals]
    if stopping:
        return out(Outcome.APPROVAL, f"signal.{stopping[0]}", f"needs-human signal: {', '.join(stopping)}")
    autonomy = policy.autonomy.get(classification.intent, Autonomy.DRAFT)
    if autonomy is Autonomy.OFF:
        return out(Outcome.SKIP, f"autonomy.{classification.intent.value}.off", "no action for this intent")
    if autonomy is Autonomy.DRAFT:
        return out(Outcome.APPROVAL, f"autonomy.{classification.intent.value}.draft", "intent is draft-only")
    if classification.confidence < policy.min_intent_confidence:
        return out(Outcome.APPROVAL, "intent.min_confidence",
                   f"intent confidence {classification.confidence:.2f} < {policy.min_intent_confidence}")
    rule = policy.actions.get(proposal.kind)
    kind = proposal.kind.value
    if rule is None or not rule.auto:
        return out(Outcome.APPROVAL, f"action.{kind}.manual", f"{kind} always needs approval")
    if classification.confidence < rule.min_intent_confidence:
        return out(Outcome.APPROVAL, f"action.{kind}.min_intent_confidence",
                   f"intent confidence {classification.confidence:.2f} < {rule.min_intent_confidence}")
    if rule.max_amount is not None and proposal.amount > rule.max_amount:
        return out(Outcome.APPROVAL, f"action.{kind}.max_amount", f"amount {proposal.amount} > {rule.max_amount}")
    if proposal.confidence < rule.min_confidence:
        return out(Outcome.APPROVAL, f"action.{kind}.min_confidence",
                   f"confidence {proposal.confidence:.2f} < {rule.min_confidence}")
    if proposal.kind is ActionKind.RECORD_PROMISE and rule.max_days_ahead is not None:
        date = dt.date.fromisoformat(str(proposal.payload.get("promised_date")))
        if (date - today).days > rule.max_days_ahead:
            return out(Outcome.APPROVAL, f"action.{kind}.max_days_ahead", f"promised date {date} is too far out")
    if facts.customer is None:
        return out(Outcome.APPROVAL, "customer.unknown", "no ledger customer resolved")
    for name, crule in _customer_rules(policy, facts, signals):
        if proposal.kind in crule.manual_actions:
            return out(Outcome.APPROVAL, f"customer.{name}.manual", f"{kind} for a {name} customer needs approval")
        if crule.max_amount is not None and proposal.amount > crule.max_amount:
            return out(Outcome.APPROVAL, f"customer.{name}.max_amount",
                       f"amount {proposal.amount} > {crule.max_amount} for a {name} customer")
    if tier == "high":
        return out(Outcome.APPROVAL, f"tier.{kind}.high", "high-risk actions always need a named approver")
    if policy.shadow_mode:
        return out(Outcome.SKIP, "shadow_mode", "shadow mode: would have run automatically")
    return out(Outcome.AUTO, f"action.{kind}.auto", "within policy thresholds")


def _customer_rules(policy: Policy, facts: LedgerFacts, signals: Sequence[str]) -> list[tuple[str, CustomerRule]]:
    """The customer rules that apply to this email, by name (cited in the rule id)."""
    rules, customer = policy.customer_rules, facts.customer
    found: list[tuple[str, CustomerRule]] = []
    if customer is None:
        return found
    if customer.strategic and rules.strategic is not None:
        found.append(("strategic", rules.strategic))
    if customer.credit_risk in rules.credit_risk:
        found.append((f"credit_risk_{customer.credit_risk}", rules.credit_risk[customer.credit_risk]))
    if "new_sender" in signals and rules.new_sender is not None:
        found.append(("new_sender", rules.new_sender))
    return found


SURE_AUTO_REPLY = 0.9  # model confidence at which an auto-reply is taken as one whatever it quotes


def _sure_auto_reply(classification: Classification) -> bool:
    """Proven by its headers (RFC 3834, a bounce), or the model is sure."""
    return classification.intent.value == "auto_reply" and (
        classification.rule is not None or classification.confidence >= SURE_AUTO_REPLY)


@dataclass(frozen=True)
class EmailDecision:
    """The gate's verdict on one email: each proposal's decision and whether a person must act."""

    decisions: list[Decision]
    rule_id: str  # the rule that decided the email as a whole ("" when every action runs alone)
    reason: str
    needs_person: bool

    @property
    def tier(self) -> RiskTier:
        """The highest risk tier among the email's actions: it decides who may approve the email."""
        return max((d.tier for d in self.decisions), key=TIER_ORDER.__getitem__, default="low")


def decide_email(
    proposals: Sequence[Proposal],
    classification: Classification,
    facts: LedgerFacts,
    signals: Sequence[str],
    review_reason: str | None,
    policy: Policy,
    today: dt.date,
) -> EmailDecision:
    decisions = [decide(p, classification, facts, signals, policy, today) for p in proposals]
    stopping = [s for s in signals if s in policy.needs_human_signals]
    rule, reason = "", ""
    if review_reason:
        rule, reason = "review.no_proposal", review_reason
    elif not proposals and stopping and not _sure_auto_reply(classification):
        # an auto-reply may quote anything; one the model only doubtfully took for an auto-reply may be
        # an instruction dressed as one, so a person sees its signal
        rule, reason = f"signal.{stopping[0]}", "needs-human signal on an email with no action"
    elif any(d.outcome is Outcome.APPROVAL for d in decisions):
        # one person sees the email's whole set of actions rather than half of it running alone
        first = next(d for d in decisions if d.outcome is Outcome.APPROVAL)
        rule, reason = first.rule_id, first.reason
        decisions = [d if d.outcome is not Outcome.AUTO else d.model_copy(update={
            "outcome": Outcome.APPROVAL, "rule_id": f"with.{first.rule_id}",
            "reason": "held with the email's other actions"}) for d in decisions]
    elif not proposals:
        return EmailDecision(decisions, f"intent.{classification.intent.value}.no_action",
                             "nothing to do for this intent", needs_person=False)
    return EmailDecision(decisions, rule, reason, needs_person=bool(rule))
