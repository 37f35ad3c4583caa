"""Approve, edit or reject what the policy held for a person; the graph resumes from its checkpoint."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from arinbox.agents.reply_check import check_reply
from arinbox.domain.errors import ArinboxError, NotFoundError
from arinbox.domain.models import LedgerFacts
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
                                       ap.escalated_at is not None))
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


def decide(processor: Processor, approval_id: int, *, approve: bool, approver: str, reason: str | None = None,
           reply_body: str | None = None) -> str:
    """Record the decision first, then resume; a crash in between is resumed by `arinbox process`."""
    sessions = processor.deps.sessions
    with sessions.begin() as s:
        ap = s.get(m.Approval, approval_id)
        if ap is None:
            raise NotFoundError(f"no approval {approval_id}")
        if ap.status != "pending":
            raise ArinboxError(f"approval {approval_id} was already {ap.status} by {ap.approver}")
        edits: dict[str, Any] = {}
        if reply_body is not None and approve:
            _verify_edit(processor, ap.work_item_id, reply_body)
        if reply_body is not None:
            replies = s.scalars(select(m.ActionRow).where(m.ActionRow.work_item_id == ap.work_item_id,
                                                          m.ActionRow.kind == "send_reply")).all()
            if not replies:
                raise ArinboxError(f"approval {approval_id} has no reply draft to edit")
            edits = {str(replies[0].proposal_index): reply_body}
        ap.status = "approved" if approve else "rejected"
        ap.approver, ap.reason, ap.decided_at, ap.edits = approver, reason, utcnow(), edits
        work_item_id = ap.work_item_id
    answer = {"decision": "approve" if approve else "reject", "approver": approver, "reason": reason,
              "edits": edits}
    return processor.run(work_item_id, resume=answer)
