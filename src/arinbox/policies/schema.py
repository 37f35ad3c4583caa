"""The finance-owned policy file, validated at load. See policies/default.yaml for a commented example."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arinbox.domain.models import ActionKind, CreditRisk, DisputeReason, Intent, RiskTier
from arinbox.yaml_files import load_yaml_model


class Autonomy(StrEnum):
    OFF = "off"  # nothing is proposed for a person or run: the email is closed as needing no action
    DRAFT = "draft"  # proposals always wait for a person
    AUTO = "auto"  # thresholds decide


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionRule(_Strict):
    auto: bool = False
    max_amount: Decimal | None = Field(default=None, ge=0)
    min_confidence: float = Field(default=0.9, ge=0, le=1)
    max_days_ahead: int | None = Field(default=None, ge=0)  # record_promise: how far out a date may be
    # the classifier must be at least this sure of the intent before this action runs alone
    min_intent_confidence: float = Field(default=0.0, ge=0, le=1)


class TierBand(_Strict):
    """An action whose amount is at most ``up_to`` (or any amount, when it is omitted) has ``tier``."""

    up_to: Decimal | None = Field(default=None, ge=0)
    tier: RiskTier


Role = Literal["clerk", "approver", "auditor", "admin"]


class CustomerRule(_Strict):
    """Stricter limits for some customers: actions above ``max_amount`` or of a ``manual_actions`` kind
    wait for a person."""

    max_amount: Decimal | None = Field(default=None, ge=0)
    manual_actions: list[ActionKind] = Field(default_factory=list)


class CustomerRules(_Strict):
    strategic: CustomerRule | None = None  # accounts marked strategic in the ledger
    credit_risk: dict[CreditRisk, CustomerRule] = Field(default_factory=dict)
    new_sender: CustomerRule | None = None  # a known customer's domain, an address not on file


def _default_approvers() -> dict[RiskTier, list[Role]]:
    return {"low": ["clerk", "approver", "admin"], "medium": ["approver", "admin"], "high": ["approver", "admin"]}


class OwnerOverAmount(_Strict):
    amount: Decimal = Field(ge=0)
    owner: str = Field(min_length=1)


class DisputeRouting(_Strict):
    """Who owns a new dispute case: by customer first, then by amount, then by reason, else the default."""

    default_owner: str | None = None  # None: the deployment's ARINBOX_DISPUTE_OWNER
    by_customer: dict[str, str] = Field(default_factory=dict)  # customer id -> owner (key accounts)
    over_amount: OwnerOverAmount | None = None  # disputes above this amount go to this owner
    by_reason: dict[DisputeReason, str] = Field(default_factory=dict)

    def owner(self, customer_id: str, reason: str, amount: Decimal, fallback: str) -> str:
        if customer_id in self.by_customer:
            return self.by_customer[customer_id]
        if self.over_amount is not None and amount > self.over_amount.amount:
            return self.over_amount.owner
        for known, owner in self.by_reason.items():
            if known.value == reason:
                return owner
        return self.default_owner or fallback


def _default_raw_text_roles() -> list[Role]:
    return ["approver", "admin"]


def _default_four_eyes() -> list[RiskTier]:
    return ["high"]


class Policy(_Strict):
    name: str
    version: int = Field(ge=1)
    kill_switch: bool = False
    shadow_mode: bool = False
    min_intent_confidence: float = Field(default=0.6, ge=0, le=1)
    # an approval waiting longer than this is escalated (traced, flagged in the queue)
    approval_max_age_hours: float = Field(default=24, gt=0)
    escalate_to: str = "ar-supervisors"
    autonomy: dict[Intent, Autonomy]
    actions: dict[ActionKind, ActionRule]
    needs_human_signals: list[str] = Field(default_factory=list)
    # per action: amount bands to risk tiers, lowest first; an action above every band is high
    risk_tiers: dict[ActionKind, list[TierBand]] = Field(default_factory=dict)
    # which console roles may approve which tier
    approvers: dict[RiskTier, list[Role]] = Field(default_factory=_default_approvers)
    # tiers at which whoever edited a draft may not also approve it (four eyes)
    four_eyes_tiers: list[RiskTier] = Field(default_factory=_default_four_eyes)
    customer_rules: CustomerRules = Field(default_factory=CustomerRules)
    # roles that may read an email's raw (unmasked) text in the console; every such view is traced
    raw_text_roles: list[Role] = Field(default_factory=_default_raw_text_roles)
    dispute_routing: DisputeRouting = Field(default_factory=DisputeRouting)
    content_hash: str = ""

    @model_validator(mode="after")
    def _bands_ascend(self) -> Self:
        for kind, bands in self.risk_tiers.items():
            limits = [b.up_to for b in bands]
            if any(x is None for x in limits[:-1]):
                raise ValueError(f"risk_tiers.{kind.value}: only the last band may omit up_to")
            known = [x for x in limits if x is not None]
            if known != sorted(known):
                raise ValueError(f"risk_tiers.{kind.value}: bands must ascend by up_to")
        return self

    def tier_of(self, kind: ActionKind, amount: Decimal) -> RiskTier:
        for band in self.risk_tiers.get(kind, []):
            if band.up_to is None or amount <= band.up_to:
                return band.tier
        return "high" if self.risk_tiers.get(kind) else "low"

    def may_approve(self, role: str, tier: RiskTier) -> bool:
        return role in self.approvers.get(tier, [])

    @property
    def version_id(self) -> str:
        return f"{self.name}@{self.version}#{self.content_hash[:12]}"


def load_policy(path: Path) -> Policy:
    policy = load_yaml_model(path, Policy)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return policy.model_copy(update={"content_hash": digest})
