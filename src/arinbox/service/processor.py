"""Run work items through the graph; resume after crashes; record each email's outcome.

A work item found in ``processing`` was interrupted by a crash: its thread resumes from the last
checkpoint, and idempotency keys make any repeated effect a no-op. Items are claimed with a lease
(``service.claims``), so several processes share the queue and none runs an email another holds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Protocol

import psycopg
import psycopg_pool
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from arinbox.agents.context import Deps
from arinbox.agents.nodes import masked_text
from arinbox.agents.state import EmailState
from arinbox.domain.errors import ArinboxError, NotFoundError, ServiceUnavailable
from arinbox.persistence import models as m
from arinbox.service.claims import DatabaseUnavailable, Leases, owner_id
from arinbox.settings import ServiceSettings

log = logging.getLogger("arinbox.processor")
Graph = CompiledStateGraph[EmailState, Deps, EmailState, EmailState]
RUNNABLE = ("pending", "processing", "retry")
MAX_ATTEMPTS = 5  # an email whose outside system keeps failing goes to a person after this many runs


def thread_config(work_item_id: int) -> RunnableConfig:
    return {"configurable": {"thread_id": f"email-{work_item_id}"}}


# the database connection failed: nothing about the email is wrong, so it is given back, not failed
CONNECTION_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, psycopg.OperationalError,
                     psycopg.InterfaceError, psycopg_pool.PoolTimeout)


class Observer(Protocol):
    """Told how long each graph node and each email took (metrics, benchmarks)."""

    def node_done(self, node: str, seconds: float) -> None: ...

    def email_done(self, status: str, seconds: float) -> None: ...


class Processor:
    def __init__(self, deps: Deps, graph: Graph, service: ServiceSettings | None = None) -> None:
        self.deps = deps
        self.graph = graph
        self.service = service or ServiceSettings()
        self.leases = Leases(deps.sessions, owner_id(), dt.timedelta(seconds=self.service.lease_seconds))
        self.observers: list[Observer] = []
        self._in_flight = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._keeper: threading.Thread | None = None

    def close(self) -> None:
        self._closed.set()
        if self._keeper is not None:
            self._keeper.join(timeout=5)

    @contextmanager
    def _leased(self) -> Iterator[None]:
        """While an email runs, a thread renews this process's leases every third of the lease."""
        with self._lock:
            self._in_flight += 1
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keep_leases, name="lease-keeper", daemon=True)
                self._keeper.start()
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def _keep_leases(self) -> None:
        while not self._closed.wait(self.service.lease_seconds / 3):
            if self._in_flight:
                try:
                    self.leases.renew()
                except CONNECTION_ERRORS as e:  # the holder notices at its next write; leases may lapse
                    log.warning("could not renew leases: %s", e, extra={"worker": self.leases.owner})

    def runnable_ids(self) -> list[int]:
        with self.deps.sessions() as s:
            q = select(m.WorkItem.id).where(m.WorkItem.status.in_(RUNNABLE)).order_by(m.WorkItem.id)
            return list(s.scalars(q))

    def process_all(self, on_done: Callable[[int, str], None] | None = None) -> dict[str, int]:
        """Each runnable email once (retries at once, whatever their back-off); one that another
        process holds is left to it."""
        self.leases.release_dead_local()
        counts: dict[str, int] = {}
        for wi in self.runnable_ids():
            status = self.try_run(wi)
            if status is None:
                continue
            counts[status] = counts.get(status, 0) + 1
            if on_done:
                on_done(wi, status)
        return counts

    def try_run(self, work_item_id: int) -> str | None:
        """Run the item if no other process holds it; None when one does."""
        if not self.leases.take_if_free(work_item_id):
            return None
        return self.run(work_item_id, claimed=True)

    def run(self, work_item_id: int, resume: dict[str, Any] | None = None, *, claimed: bool = False) -> str:
        """Run one email to its next stop. ``claimed``: this process already holds its lease."""
        with self.deps.sessions() as s:
            if s.get(m.WorkItem, work_item_id) is None:
                raise NotFoundError(f"no work item {work_item_id}")
        if not claimed:
            self.leases.take(work_item_id)
        with self._leased():
            return self._run_held(work_item_id, resume)

    def _run_held(self, work_item_id: int, resume: dict[str, Any] | None) -> str:
        config = thread_config(work_item_id)
        started = time.perf_counter()
        try:
            snap = self.graph.get_state(config)
            if snap.interrupts:
                answer = resume if resume is not None else self._decided_answer(work_item_id)
                if answer is None:
                    return self._finish(work_item_id, "waiting_approval", None)
                self._drive(Command(resume=answer), config, work_item_id)
            elif snap.next or snap.tasks:
                # a step whose nodes all saved their writes before a crash, but whose checkpoint was
                # not yet written, lists no next node: the step is still open and must be finished
                self._drive(None, config, work_item_id)
            elif not snap.values:
                self._drive({"work_item_id": work_item_id}, config, work_item_id)
        except CONNECTION_ERRORS as e:
            self._give_back(work_item_id, e)
            raise DatabaseUnavailable(f"database connection lost while running work item {work_item_id}: "
                                      f"{type(e).__name__}") from e
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
        status = self._finish(work_item_id, status, final.values, elapsed_ms=elapsed,
                              error=final.values.get("error") or None)
        for o in self.observers:
            o.email_done(status, elapsed / 1000)
        return status

    def _drive(self, graph_input: Any, config: RunnableConfig, work_item_id: int) -> None:
        """Run the graph node by node (what ``invoke`` does), timing each node as it completes."""
        last = time.perf_counter()
        for chunk in self.graph.stream(graph_input, config, context=self.deps, durability="sync",
                                       stream_mode="updates"):
            now = time.perf_counter()
            for node in chunk:
                if node.startswith("__"):
                    continue
                log.debug("node done", extra={"work_item": work_item_id, "node": node})
                for o in self.observers:
                    o.node_done(node, now - last)
            last = now

    def _give_back(self, work_item_id: int, error: BaseException) -> None:
        log.warning("database connection lost; the email is given back: %s", type(error).__name__,
                    extra={"work_item": work_item_id, "status": "processing"})
        with contextlib.suppress(*CONNECTION_ERRORS):  # still down: the worker gives it back later
            self.leases.release([work_item_id])

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
            item.claimed_by, item.lease_until = None, None
            if status == "retry":  # not before its back-off has passed (workers; `arinbox process` runs it now)
                wait = min(self.service.retry_backoff_max_seconds,
                           self.service.retry_backoff_seconds * 2 ** max(0, item.attempts - 1))
                item.lease_until = self.leases.now(s) + dt.timedelta(seconds=wait)
            if elapsed_ms is not None and item.duration_ms is None:
                item.duration_ms = elapsed_ms
            if values:
                actions = list(s.scalars(select(m.ActionRow).where(m.ActionRow.work_item_id == work_item_id)
                                         .order_by(m.ActionRow.proposal_index)))
                has_approval = s.scalar(select(m.Approval.id).where(m.Approval.work_item_id == work_item_id))
                item.outcome = summarise(values, actions, human_step=has_approval is not None or status == "failed")
        log.info("email finished", extra={"work_item": work_item_id, "status": status, "worker": self.leases.owner,
                                          **({"error": error} if error else {})})
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
