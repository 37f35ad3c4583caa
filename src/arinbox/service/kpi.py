"""Operating KPIs of the inbox: how much runs without a person, how fast, how often people step in.

Every figure is over the work items created on or after a UTC date (all when none is given), so the
counts reconcile with each other. Rates are shares in [0, 1]; a rate whose denominator is zero is 0.0,
except approval compliance, which is 1.0 when no action needed an approval (nothing to breach).
Arrival is when the raw message was stored (``raw_messages.received_at``).
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from arinbox.persistence import models as m
from arinbox.persistence.models import utcnow
from arinbox.service.audit_export import start_of_day

UNPROCESSED = ("pending", "processing")
NEEDS_PERSON = ("failed", "waiting_approval")
DECIDED = ("approved", "rejected")
BATCH = 500


@dataclass(frozen=True)
class Kpis:
    since: dt.date | None
    work_items: int  # created in the window, whatever their state
    processed: int  # neither pending nor processing
    auto_resolved: int  # done with no approval row
    auto_resolution_rate: float
    needed_person: int  # failed, waiting for approval, or sent to approval
    exception_rate: float
    resolved_timed: int  # resolutions behind the two time figures below
    median_minutes_to_resolution: float | None  # None when nothing was resolved
    p95_minutes_to_resolution: float | None
    decided_approvals: int
    overridden_approvals: int  # rejected, or approved with edits
    manual_override_rate: float
    executed_with_approval: int  # executed actions the policy held for a person
    executed_with_prior_approval: int  # ... of which approved before they ran
    approval_compliance: float
    rollbacks: int
    pending_approvals: int
    oldest_pending_approval_hours: float | None  # None when nothing waits


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def percentile(values: list[float], pct: int) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _minutes(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds() / 60


def compute_kpis(session: Session, since: dt.date | None, *, now: dt.datetime | None = None) -> Kpis:
    """Compute the KPIs over work items created on/after ``since``; ``now`` dates pending approvals."""
    now = now or utcnow()
    scope: list[ColumnElement[bool]] = [] if since is None else [m.WorkItem.created_at >= start_of_day(since)]

    work_items = processed = auto = needed = decided = overridden = pending = 0
    minutes: list[float] = []
    oldest_request: dt.datetime | None = None
    items = (
        select(m.WorkItem.status, m.WorkItem.updated_at, m.RawMessage.received_at, m.Approval.status,
               m.Approval.requested_at, m.Approval.decided_at, m.Approval.edits)
        .join(m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id)
        .outerjoin(m.Approval, m.Approval.work_item_id == m.WorkItem.id)  # at most one per work item
        .where(*scope)
        .execution_options(yield_per=BATCH)
    )
    for status, updated_at, received_at, ap_status, requested_at, decided_at, edits in session.execute(items):
        work_items += 1
        if ap_status == "pending":
            pending += 1
            oldest_request = requested_at if oldest_request is None else min(oldest_request, requested_at)
        if ap_status in DECIDED:
            decided += 1
            overridden += int(ap_status == "rejected" or bool(edits))
            if decided_at is not None:
                minutes.append(_minutes(received_at, decided_at))
        if status in UNPROCESSED:
            continue
        processed += 1
        if ap_status is None and status == "done":
            auto += 1
            minutes.append(_minutes(received_at, updated_at))
        elif ap_status is not None or status in NEEDS_PERSON:
            needed += 1

    held = (
        select(func.count())
        .select_from(m.ActionRow)
        .join(m.WorkItem, m.WorkItem.id == m.ActionRow.work_item_id)
        .where(*scope, m.ActionRow.outcome == "approval", m.ActionRow.executed_at.is_not(None))
    )
    executed_held = session.scalar(held) or 0
    executed_approved = session.scalar(
        held.join(m.Approval, m.Approval.work_item_id == m.WorkItem.id)
        .where(m.Approval.status == "approved", m.Approval.decided_at < m.ActionRow.executed_at)
    ) or 0
    rollbacks = session.scalar(
        select(func.count()).select_from(m.ActionRow)
        .join(m.WorkItem, m.WorkItem.id == m.ActionRow.work_item_id)
        .where(*scope, m.ActionRow.status == "rolled_back")
    ) or 0

    return Kpis(
        since=since, work_items=work_items, processed=processed,
        auto_resolved=auto, auto_resolution_rate=ratio(auto, processed),
        needed_person=needed, exception_rate=ratio(needed, processed),
        resolved_timed=len(minutes),
        median_minutes_to_resolution=statistics.median(minutes) if minutes else None,
        p95_minutes_to_resolution=percentile(minutes, 95),
        decided_approvals=decided, overridden_approvals=overridden,
        manual_override_rate=ratio(overridden, decided),
        executed_with_approval=executed_held, executed_with_prior_approval=executed_approved,
        approval_compliance=executed_approved / executed_held if executed_held else 1.0,
        rollbacks=rollbacks, pending_approvals=pending,
        oldest_pending_approval_hours=(now - oldest_request).total_seconds() / 3600 if oldest_request else None,
    )


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def _num(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:,.1f} {unit}"


def render_kpis(k: Kpis) -> str:
    """Aligned plain text, one KPI a line, counts beside the rates they come from."""
    rows = [
        ("window", f"work items created since {k.since.isoformat()} (UTC)" if k.since else "all work items"),
        ("work items", f"{k.work_items:,}"),
        ("emails processed", f"{k.processed:,}"),
        ("auto-resolution rate", f"{_pct(k.auto_resolution_rate)}  ({k.auto_resolved:,} of {k.processed:,})"),
        ("exception rate", f"{_pct(k.exception_rate)}  ({k.needed_person:,} of {k.processed:,} needed a person)"),
        ("median time to resolution", _num(k.median_minutes_to_resolution, "min")),
        ("p95 time to resolution", f"{_num(k.p95_minutes_to_resolution, 'min')}  ({k.resolved_timed:,} resolved)"),
        ("manual override rate",
         f"{_pct(k.manual_override_rate)}  ({k.overridden_approvals:,} of {k.decided_approvals:,} decisions)"),
        ("approval compliance", f"{_pct(k.approval_compliance)}  "
                                f"({k.executed_with_prior_approval:,} of {k.executed_with_approval:,} held actions)"),
        ("rollbacks", f"{k.rollbacks:,}"),
        ("pending approvals", f"{k.pending_approvals:,}"),
        ("oldest pending approval", _num(k.oldest_pending_approval_hours, "h")),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)
