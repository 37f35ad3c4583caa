"""The finance-owned policy file, validated at load. See policies/default.yaml for a commented example."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from arinbox.domain.models import ActionKind, Intent
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
    content_hash: str = ""

    @property
    def version_id(self) -> str:
        return f"{self.name}@{self.version}#{self.content_hash[:12]}"


def load_policy(path: Path) -> Policy:
    policy = load_yaml_model(path, Policy)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return policy.model_copy(update={"content_hash": digest})
