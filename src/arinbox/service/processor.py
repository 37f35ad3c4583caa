"""Run work items through the graph; resume after crashes; record each email's outcome.

A work item found in ``processing`` was interrupted by a crash: its thread resumes from the last
checkpoint, and idempotency keys make any repeated effect a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from sqlalchemy import select

from arinbox.agents.context import Deps
from arinbox.agents.nodes import masked_text
from arinbox.agents.state import EmailState
from arinbox.domain.errors import ArinboxError, NotFoundError, ServiceUnavailable
from arinbox.persistence import models as m

Graph = CompiledStateGraph[EmailState, Deps, EmailState, EmailState]
RUNNABLE = ("pending", "processing", "retry")
MAX_ATTEMPTS = 5  # an email whose outside system keeps failing goes to a person after this many runs


def thread_config(work_item_id: int) -> RunnableConfig:
    return {"configurable": {"thread_id": f"email-{work_item_id}"}}


class Processor:
    def __init__(self, deps: Deps, graph: Graph) -> None:
        self.deps = deps
        self.graph = graph

    def runnable_ids(self) -> list[int]:
        with self.deps.sessions() as s:
            q = select(m.WorkItem.id).where(m.WorkItem.status.in_(RUNNABLE)).order_by(m.WorkItem.id)
            return list(s.scalars(q))

    def process_all(self, on_done: Callable[[int, str], None] | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for wi in self.runnable_ids():
            status = self.run(wi)
            counts[status] = counts.get(status, 0) + 1
            if on_done:
                on_done(wi, status)
        return counts

    def run(self, work_item_id: int, resume: dict[str, Any] | None = None) -> str:
        config = thread_config(work_item_id)
        with self.deps.sessions.begin() as s:
            item = s.get(m.WorkItem, work_item_id)
            if item is None:
                raise NotFoundError(f"no work item {work_item_id}")
            item.status, item.attempts = "processing", item.attempts + 1
        started = time.perf_counter()
        try:
            snap = self.graph.get_state(config)
            if snap.interrupts:
                answer = resume if resume is not None else self._decided_answer(work_item_id)
                if answer is None:
                    return self._finish(work_item_id, "waiting_approval", None)
                self.graph.invoke(Command(resume=answer), config, context=self.deps, durability="sync")
            elif snap.next:
                self.graph.invoke(None, config, context=self.deps, durability="sync")
            elif not snap.values:
                self.graph.invoke({"work_item_id": work_item_id}, config, context=self.deps, durability="sync")
        except ServiceUnavailable as e:
            # the checkpoint stays before the failed node: the next run resumes there, and effects
            # already made are idempotent by key, so a retry never doubles one
            with self.deps.sessions() as s:
                attempts = s.get(m.WorkItem, work_item_id).attempts  # type: ignore[union-attr]
            status = "retry" if attempts < MAX_ATTEMPTS else "failed"
            return self._finish(work_item_id, status, None, error=f"{e} (attempt {attempts} of {MAX_ATTEMPTS})")
        except ArinboxError as e:
            return self._finish(work_item_id, "failed", None, error=str(e))
        except Exception as e:  # a bug must not stop the queue; the email stays stored and visible
            return self._finish(work_item_id, "failed", None, error=f"{type(e).__name__}: {e}")
        elapsed = (time.perf_counter() - started) * 1000
        final = self.graph.get_state(config)
        status = "waiting_approval" if final.interrupts else str(final.values.get("status") or "done")
        return self._finish(work_item_id, status, final.values, elapsed_ms=elapsed,
                            error=final.values.get("error") or None)

    def _decided_answer(self, work_item_id: int) -> dict[str, Any] | None:
        with self.deps.sessions() as s:
            ap = s.scalar(select(m.Approval).where(m.Approval.work_item_id == work_item_id))
            if ap is None or ap.status == "pending":
                return None
            role = s.scalar(select(m.User.role).where(m.User.username == ap.approver))
            return {"decision": "approve" if ap.status == "approved" else "reject", "approver": ap.approver,
                    "role": role, "tier": ap.tier, "reason": ap.reason, "edits": (ap.edits or {}),
                    "edited_by": ap.edited_by}

    def _finish(self, work_item_id: int, status: str, values: dict[str, Any] | None, *,
                elapsed_ms: float | None = None, error: str | None = None) -> str:
        with self.deps.sessions.begin() as s:
            item = s.get(m.WorkItem, work_item_id)
            assert item is not None
            item.status = status
            item.last_error = error
            if elapsed_ms is not None and item.duration_ms is None:
                item.duration_ms = elapsed_ms
            if values:
                actions = list(s.scalars(select(m.ActionRow).where(m.ActionRow.work_item_id == work_item_id)
                                         .order_by(m.ActionRow.proposal_index)))
                has_approval = s.scalar(select(m.Approval.id).where(m.Approval.work_item_id == work_item_id))
                item.outcome = summarise(values, actions, human_step=has_approval is not None or status == "failed")
        return status


def summarise(values: dict[str, Any], actions: list[m.ActionRow], human_step: bool) -> dict[str, Any]:
    """One email's result in the terms of the evaluation format (also shown by the demo)."""
    cls = values.get("classification") or {}
    ex = values.get("extraction") or {}
    amount = ex.get("amount") or {}
    proposed: list[dict[str, str]] = []
    auto_alloc: list[dict[str, str]] = []
    auto_actions: list[dict[str, Any]] = []
    for a in actions:
        allocs = a.payload.get("allocations", []) if a.kind == "apply_payment" else []
        proposed += allocs
        if a.outcome == "auto" and a.status in ("executed", "verified"):
            auto_alloc += allocs
            if a.kind == "apply_payment":
                for al in allocs:
                    auto_actions.append({"kind": a.kind, "invoice": al["invoice"], "amount": al["amount"]})
            else:
                auto_actions.append({"kind": a.kind, "invoice": a.payload.get("invoice"),
                                     "amount": str(a.amount) if a.amount else None,
                                     "promised_date": a.payload.get("promised_date")})
    return {
        "intent": cls.get("intent"), "confidence": cls.get("confidence"),
        "secondary_intents": cls.get("secondary", []), "language": cls.get("language"),
        "customer_id": ex.get("customer_id"), "invoices": ex.get("invoices", []), "orders": ex.get("orders", []),
        "amount": str(Decimal(str(amount["amount"]))) if amount else None,
        "currency": amount.get("currency") if amount else None,
        "promised_date": ex.get("promised_date"), "dispute_reason": ex.get("dispute_reason"),
        "proposed_allocations": proposed, "auto_allocations": auto_alloc, "auto_actions": auto_actions,
        "human_step": human_step, "signals": values.get("signals", []),
        "masked_text": masked_text(values, with_attachments=True, whole=True)  # type: ignore[arg-type]
        if values.get("masked") else "",
    }
