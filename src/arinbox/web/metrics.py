"""Series behind the KPI charts: auto-resolution per day, time to resolution, queue age, cash applied,
exceptions by reason. Same definitions as ``service.kpi`` (arrival is when the raw message was stored)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arinbox.persistence import models as m
from arinbox.persistence.models import utcnow
from arinbox.service.audit_export import start_of_day

BATCH = 500
# upper bounds in minutes; the last bucket takes the rest
RESPONSE_BUCKETS = ((1, "< 1 min"), (5, "1-5 min"), (15, "5-15 min"), (60, "15-60 min"), (240, "1-4 h"),
                    (1440, "4-24 h"), (None, "> 1 day"))
AGE_BUCKETS = ((1, "< 1 h"), (4, "1-4 h"), (24, "4-24 h"), (72, "1-3 days"), (None, "> 3 days"))


@dataclass(frozen=True)
class DayRate:
    day: dt.date
    processed: int
    auto_resolved: int

    @property
    def rate(self) -> float:
        return self.auto_resolved / self.processed if self.processed else 0.0


@dataclass(frozen=True)
class Series:
    auto_resolution: list[DayRate]
    response_minutes: list[tuple[str, int]]
    queue_age_hours: list[tuple[str, int]]
    cash_applied: dict[str, list[tuple[dt.date, Decimal]]]  # per currency, per day
    exceptions: list[tuple[str, int]]  # reason, count; most frequent first


def _bucket(value: float, buckets: tuple[tuple[int | None, str], ...], counts: Counter[str]) -> None:
    for bound, label in buckets:
        if bound is None or value < bound:
            counts[label] += 1
            return


def compute_series(s: Session, since: dt.date | None, now: dt.datetime | None = None) -> Series:
    now = now or utcnow()
    scope = [] if since is None else [m.WorkItem.created_at >= start_of_day(since)]
    days: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    response: Counter[str] = Counter()
    items = (select(m.WorkItem.status, m.WorkItem.created_at, m.WorkItem.updated_at, m.RawMessage.received_at,
                    m.Approval.status, m.Approval.decided_at)
             .join(m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id)
             .outerjoin(m.Approval, m.Approval.work_item_id == m.WorkItem.id)
             .where(*scope).execution_options(yield_per=BATCH))
    for status, created, updated, received, ap_status, decided in s.execute(items):
        if status in ("pending", "processing"):
            continue
        day = days[created.date()]
        day[0] += 1
        if ap_status is None and status == "done":
            day[1] += 1
            _bucket((updated - received).total_seconds() / 60, RESPONSE_BUCKETS, response)
        elif ap_status in ("approved", "rejected") and decided is not None:
            _bucket((decided - received).total_seconds() / 60, RESPONSE_BUCKETS, response)

    ages: Counter[str] = Counter()
    for requested in s.scalars(select(m.Approval.requested_at).where(m.Approval.status == "pending")
                               .execution_options(yield_per=BATCH)):
        _bucket((now - requested).total_seconds() / 3600, AGE_BUCKETS, ages)

    cash: dict[str, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    paid = (select(m.Payment.created_at, m.Payment.currency, m.PaymentApplication.amount)
            .join(m.PaymentApplication, m.PaymentApplication.payment_id == m.Payment.id)
            .execution_options(yield_per=BATCH))
    if since is not None:
        paid = paid.where(m.Payment.created_at >= start_of_day(since))
    for created, currency, amount in s.execute(paid):
        cash[currency][created.date()] += amount

    reason = m.Approval.request["rule_id"].as_string()
    held = (select(reason, func.count()).join(m.WorkItem, m.WorkItem.id == m.Approval.work_item_id)
            .where(*scope).group_by(reason))
    exceptions: Counter[str] = Counter({str(r or "(no rule)"): n for r, n in s.execute(held)})
    failed = s.scalar(select(func.count()).select_from(m.WorkItem).where(*scope, m.WorkItem.status == "failed"))
    if failed:
        exceptions["processing failed"] += failed

    return Series(
        auto_resolution=[DayRate(d, p, a) for d, (p, a) in sorted(days.items())],
        response_minutes=[(label, response[label]) for _, label in RESPONSE_BUCKETS],
        queue_age_hours=[(label, ages[label]) for _, label in AGE_BUCKETS],
        cash_applied={cur: sorted(per_day.items()) for cur, per_day in sorted(cash.items())},
        exceptions=exceptions.most_common(),
    )
