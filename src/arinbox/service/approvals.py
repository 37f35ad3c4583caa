"""Approve, edit or reject what the policy held for a person; the graph resumes from its checkpoint."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from arinbox.agents.reply_check import check_reply
from arinbox.domain.errors import ArinboxError, NotFoundError, PermissionDenied
from arinbox.domain.models import LedgerFacts, RiskTier
from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.persistence.models import utcnow
from arinbox.service.processor import Processor, thread_config


@dataclass(frozen=True)
class PendingApproval:
    id: int
    work_item_id: int
    message_id: str
    intent: str | None
    rule_id: str
    reason: str
    actions: list[str]
    requested_at: str
    escalated: bool
    tier: str = "low"
    edited_by: str | None = None


def list_pending(processor: Processor) -> list[PendingApproval]:
    out = []
    with processor.deps.sessions() as s:
        rows = s.execute(
            select(m.Approval, m.WorkItem, m.RawMessage)
            .join(m.WorkItem, m.WorkItem.id == m.Approval.work_item_id)
            .join(m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id)
            .where(m.Approval.status == "pending").order_by(m.Approval.id))
        for ap, wi, raw in rows:
            actions = [f"[{a.proposal_index}] {a.kind}: {a.summary}" for a in s.scalars(
                select(m.ActionRow).where(m.ActionRow.work_item_id == wi.id).order_by(m.ActionRow.proposal_index))]
            out.append(PendingApproval(ap.id, wi.id, raw.message_id, wi.intent, ap.request.get("rule_id", ""),
                                       ap.request.get("reason", ""), actions, ap.requested_at.isoformat(),
                                       ap.escalated_at is not None, ap.tier, ap.edited_by))
    return out


def escalate_overdue(processor: Processor, now: dt.datetime | None = None) -> list[int]:
    """Flag and trace approvals waiting past the policy's limit; returns their ids (each once)."""
    policy = processor.deps.policy
    now = now or utcnow()
    limit = now - dt.timedelta(hours=policy.approval_max_age_hours)
    escalated = []
    with processor.deps.sessions.begin() as s:
        for ap in s.scalars(select(m.Approval).where(m.Approval.status == "pending",
                                                     m.Approval.escalated_at.is_(None),
                                                     m.Approval.requested_at < limit)):
            ap.escalated_at = now
            trace.append(s, key=f"{ap.work_item_id}:escalate", node="escalate", work_item_id=ap.work_item_id,
                         body={"approval": ap.id, "requested_at": ap.requested_at, "escalate_to": policy.escalate_to,
                               "max_age_hours": policy.approval_max_age_hours, "policy": policy.version_id})
            escalated.append(ap.id)
    return escalated


def _verify_edit(processor: Processor, work_item_id: int, body: str) -> None:
    """An edited draft is checked like a generated one: figures and references from the ledger only."""
    values = processor.graph.get_state(thread_config(work_item_id)).values
    facts = LedgerFacts.model_validate(values["facts"])
    language = (values.get("classification") or {}).get("language")
    problems = check_reply(body, facts, values.get("proposals", []), processor.deps.refs.index, language)
    if problems:
        raise ArinboxError("the edited reply was not approved: " + "; ".join(problems))


EDITOR_ROLES = frozenset({"clerk", "approver", "admin"})  # auditors read, they never change a draft


def _pending(s: Session, approval_id: int) -> m.Approval:
    ap = s.get(m.Approval, approval_id, with_for_update=True)
    if ap is None:
        raise NotFoundError(f"no approval {approval_id}")
    if ap.status != "pending":
        raise ArinboxError(f"approval {approval_id} was already {ap.status} by {ap.approver}")
    return ap


def _reply_edit(s: Session, ap: m.Approval, body: str) -> dict[str, str]:
    replies = s.scalars(select(m.ActionRow).where(m.ActionRow.work_item_id == ap.work_item_id,
                                                  m.ActionRow.kind == "send_reply")).all()
    if not replies:
        raise ArinboxError(f"approval {ap.id} has no reply draft to edit")
    return {str(replies[0].proposal_index): body}


def save_edit(processor: Processor, approval_id: int, *, editor: str, role: str, reply_body: str) -> None:
    """Replace the reply draft without deciding; the edit is verified now and the editor recorded, so
    that at a four-eyes tier someone else approves it."""
    if role not in EDITOR_ROLES:
        raise PermissionDenied(f"{editor} ({role}) may not edit drafts")
    with processor.deps.sessions.begin() as s:
        ap = _pending(s, approval_id)
        _verify_edit(processor, ap.work_item_id, reply_body)
        ap.edits, ap.edited_by = _reply_edit(s, ap, reply_body), editor
        trace.append(s, key=f"{ap.work_item_id}:edit:{hashlib.sha256(reply_body.encode()).hexdigest()[:16]}",
                     node="approval_edit", work_item_id=ap.work_item_id,
                     body={"approval": ap.id, "editor": editor, "role": role, "edited": sorted(ap.edits)})


def decide(processor: Processor, approval_id: int, *, approve: bool, approver: str, role: str,
           reason: str | None = None, reply_body: str | None = None) -> str:
    """Record the decision first, then resume; a crash in between is resumed by `arinbox process`.

    The policy says which roles may decide which risk tier, and at which tiers the person who edited
    the draft may not approve it."""
    policy = processor.deps.policy
    sessions = processor.deps.sessions
    with sessions.begin() as s:
        ap = _pending(s, approval_id)
        tier = cast(RiskTier, ap.tier)
        if not policy.may_approve(role, tier):
            allowed = ", ".join(policy.approvers.get(tier, [])) or "nobody"
            raise PermissionDenied(f"{approver} ({role}) may not decide a {tier}-tier approval "
                                   f"(policy {policy.version_id} allows: {allowed})")
        four_eyes = approve and tier in policy.four_eyes_tiers
        if four_eyes and reply_body is not None:
            raise PermissionDenied(f"approval {approval_id} is {tier}-tier: whoever edits the draft may not approve "
                                   "it; save the edit and let another approver approve")
        if four_eyes and ap.edited_by == approver:
            raise PermissionDenied(f"{approver} edited the draft of {tier}-tier approval {approval_id} and may not "
                                   "approve it; another approver must")
        edits: dict[str, Any] = dict(ap.edits or {})
        if reply_body is not None and approve:
            _verify_edit(processor, ap.work_item_id, reply_body)
        if reply_body is not None:
            edits = _reply_edit(s, ap, reply_body)
            ap.edited_by = approver
        ap.status = "approved" if approve else "rejected"
        ap.approver, ap.reason, ap.decided_at, ap.edits = approver, reason, utcnow(), edits
        work_item_id, edited_by = ap.work_item_id, ap.edited_by
    answer = {"decision": "approve" if approve else "reject", "approver": approver, "role": role, "tier": tier,
              "reason": reason, "edits": edits if approve else {}, "edited_by": edited_by}
    return processor.run(work_item_id, resume=answer)
