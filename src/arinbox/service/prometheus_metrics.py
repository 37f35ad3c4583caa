"""Prometheus metrics: what this process did (emails, graph nodes, polls, scheduled jobs) and, read
from the database at each scrape, the state of the whole queue (the same for every process).

Each ``App`` has its own registry, so tests and several apps in one process never collide.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arinbox.persistence import models as m
from arinbox.persistence.models import utcnow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NODE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
EMAIL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class QueueCollector(Collector):
    """Work items by status, the age of the oldest waiting email, pending approvals, lapsed leases."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.sessions() as s:
            by_status = dict(s.execute(select(m.WorkItem.status, func.count()).group_by(m.WorkItem.status)).all())
            oldest = s.scalar(select(func.min(m.WorkItem.created_at))
                              .where(m.WorkItem.status.in_(("pending", "retry"))))
            approvals = s.scalar(select(func.count()).select_from(m.Approval).where(m.Approval.status == "pending"))
            now = utcnow()
            lapsed = s.scalar(select(func.count()).select_from(m.WorkItem).where(
                m.WorkItem.status == "processing", m.WorkItem.lease_until < now))
        items = GaugeMetricFamily("arinbox_work_items", "Work items by status", labels=["status"])
        for status in ("pending", "processing", "retry", "waiting_approval", "done", "failed"):
            items.add_metric([status], float(by_status.pop(status, 0)))
        for status, n in sorted(by_status.items()):
            items.add_metric([status], float(n))
        yield items
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily("arinbox_oldest_waiting_email_seconds",
                                "Age of the oldest pending or retry email", value=max(0.0, age))
        yield GaugeMetricFamily("arinbox_pending_approvals", "Approvals waiting for a person", value=approvals or 0)
        yield GaugeMetricFamily("arinbox_lapsed_leases", "Emails held by a worker whose lease has run out",
                                value=lapsed or 0)


class Metrics:
    """Observer of the processor, the scheduler and the mailbox polls; ``render()`` for /metrics."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.registry = r = CollectorRegistry()
        self.emails = Counter("arinbox_emails_processed", "Emails run to a stop by this process", ["status"],
                              registry=r)
        self.email_seconds = Histogram("arinbox_email_seconds", "Time to run one email to its next stop",
                                       buckets=EMAIL_BUCKETS, registry=r)
        self.node_seconds = Histogram("arinbox_node_seconds", "Time of one graph node, checkpoint included",
                                      ["node"], buckets=NODE_BUCKETS, registry=r)
        self.ingested = Counter("arinbox_emails_ingested", "New emails stored by mailbox polls", ["mailbox"],
                                registry=r)
        self.jobs = Counter("arinbox_scheduler_jobs", "Scheduled job runs by outcome", ["job", "outcome"],
                            registry=r)
        self.leader = Gauge("arinbox_scheduler_leader", "1 when this process runs the scheduled jobs", registry=r)
        r.register(QueueCollector(sessions))

    def node_done(self, node: str, seconds: float) -> None:
        self.node_seconds.labels(node).observe(seconds)

    def email_done(self, status: str, seconds: float) -> None:
        self.emails.labels(status).inc()
        self.email_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
