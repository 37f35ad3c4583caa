"""Claims, leases, the in-process worker pool, the scheduler's jobs, leader election, /healthz and
/metrics — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from arinbox.connectors.folder import FolderOutbox
from arinbox.ledger.csv_import import import_ledger
from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.persistence.models import utcnow
from arinbox.service.claims import Leases
from arinbox.service.leader import Leadership
from arinbox.service.promises import follow_up_promises
from arinbox.service.scheduler import Scheduler
from arinbox.service.workers import WorkerPool
from arinbox.settings import ServiceSettings, Settings
from arinbox.web.server import build
from tests.support import scale
from tests.support.light_app import LightApp

EMAILS = 12


@pytest.fixture
def app(settings: Settings) -> Iterator[LightApp]:
    settings = settings.model_copy(update={"service": ServiceSettings(lease_seconds=30, idle_seconds=0.2,
                                                                      retry_backoff_seconds=60)})
    with LightApp(settings) as a:
        import_ledger(scale.CORPUS / "ledger", a.sessions)
        scale.store(a.sessions, scale.corpus_copies(EMAILS))
        yield a


def _leases(a: LightApp, owner: str, seconds: float = 30) -> Leases:
    return Leases(a.sessions, owner, dt.timedelta(seconds=seconds))


def _items(a: LightApp) -> dict[int, m.WorkItem]:
    with a.sessions() as s:
        return {i.id: i for i in s.scalars(select(m.WorkItem))}


def test_claims_never_overlap_and_leases_expire(app: LightApp) -> None:
    one, two = _leases(app, "host-a:1:x"), _leases(app, "host-b:1:y")
    got: list[list[int]] = [[], [], []]

    def claim(k: int, leases: Leases) -> None:
        got[k] = leases.claim(4)

    threads = [threading.Thread(target=claim, args=(k, lz)) for k, lz in enumerate((one, two, one))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for batch in got for i in batch]
    assert len(claimed) == len(set(claimed)) == 12  # every item once, none twice
    got = [got[0] + got[2], got[1]]
    assert two.claim(4) == []  # all held
    assert not one.take_if_free(claimed[0])
    # host-b dies: its leases run out, then its items are claimable again (attempts count the claims)
    with app.sessions.begin() as s:
        s.execute(update(m.WorkItem).where(m.WorkItem.claimed_by == "host-b:1:y")
                  .values(lease_until=utcnow() - dt.timedelta(seconds=1)))
    taken_back = _leases(app, "host-c:1:z").claim(20)
    assert sorted(taken_back) == sorted(got[1])
    assert all(_items(app)[i].attempts == 2 for i in taken_back)
    # renewing extends only the renewer's own leases; giving back does not count the attempt
    assert one.renew() == 8
    one.release(got[0])
    assert all(_items(app)[i].attempts == 0 and _items(app)[i].claimed_by is None for i in got[0])


def test_a_dead_process_on_this_host_is_noticed_without_waiting(app: LightApp) -> None:
    import socket
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = _leases(app, f"{socket.gethostname()}:{gone.stdout.strip()}:abc", seconds=3600)
    held = dead.claim(3)
    others = _leases(app, "elsewhere:1:q").claim(20)
    assert len(others) == EMAILS - 3 and not set(held) & set(others)  # a live lease is respected
    assert app.processor.leases.release_dead_local() == 1  # its process is gone: no need to wait an hour
    assert sorted(app.processor.leases.claim(20)) == sorted(held)


def test_a_retry_waits_for_its_back_off_but_arinbox_process_runs_it_now(app: LightApp) -> None:
    wi = min(_items(app))
    with app.sessions.begin() as s:
        s.execute(update(m.WorkItem).values(status="done"))
        s.execute(update(m.WorkItem).where(m.WorkItem.id == wi)
                  .values(status="retry", lease_until=utcnow() + dt.timedelta(minutes=5)))
    assert app.processor.leases.claim(5) == []  # a worker waits for the back-off
    assert app.processor.try_run(wi) in ("done", "waiting_approval")  # a person running it does not


def test_the_pool_runs_everything_once_and_stops_gracefully(app: LightApp) -> None:
    pool = WorkerPool(app.processor, threads=2, idle_s=0.2, grace_s=30)
    pool.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and scale.status_counts(app.sessions).keys() & {"pending", "processing"}:
        time.sleep(0.2)
    assert pool.health()["ok"]
    pool.stop()
    items = _items(app)
    assert {i.status for i in items.values()} <= {"done", "waiting_approval"}
    assert all(i.attempts == 1 and i.claimed_by is None and i.lease_until is None for i in items.values())
    assert pool.processed == EMAILS
    with app.sessions() as s:
        assert trace.verify(s).ok


def test_serve_polls_runs_and_reports_health_and_metrics(app: LightApp, tmp_path: Path) -> None:
    """The scheduler polls a folder mailbox and wakes the pool; /healthz and /metrics report on both."""
    folder = tmp_path / "mailbox"
    folder.mkdir()
    for key, raw, _ in scale.corpus_copies(EMAILS + 3):
        if key >= f"{EMAILS:06d}":  # three emails the fixture did not store
            (folder / f"{key}.eml").write_bytes(raw.replace(b"@scale.example", b"@polled.example"))
    (tmp_path / "mailboxes.yaml").write_text(
        f"mailboxes:\n  - name: polled\n    kind: folder\n    address: ar@example.com\n    path: {folder}\n")
    app.settings.mailboxes_file = tmp_path / "mailboxes.yaml"
    pool = WorkerPool(app.processor, threads=1, idle_s=5)
    scheduler = Scheduler(app, Leadership(app.settings.database_url, retry_s=0.5), on_ingested=pool.wake)
    web = build(app, [pool, scheduler], warm_up=False)
    with TestClient(web) as client:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            counts = scale.status_counts(app.sessions)
            if sum(counts.values()) == EMAILS + 3 and not counts.keys() & {"pending", "processing"}:
                break
            time.sleep(0.2)
        health = client.get("/healthz")
        assert health.status_code == 200, health.text
        body = health.json()
        assert body["database"]["ok"] and body["workers"]["ok"] and body["scheduler"]["leader"]
        assert {"escalate", "promises", "poll:polled"} <= set(body["scheduler"]["jobs"])
        text = client.get("/metrics").text
        assert 'arinbox_work_items{status="pending"} 0.0' in text
        assert f'arinbox_node_seconds_count{{node="classify"}} {EMAILS + 3}.0' in text
        assert 'arinbox_emails_ingested_total{mailbox="polled"} 3.0' in text
        assert 'arinbox_scheduler_jobs_total{job="escalate",outcome="ok"} 1.0' in text
    assert not scheduler.health()["ok"]  # stopped with the server


def test_healthz_fails_when_the_database_is_unreachable(tmp_path: Path) -> None:
    from sqlalchemy.orm import sessionmaker

    from arinbox.persistence.db import make_engine
    from arinbox.service.health import health_report

    sessions = sessionmaker(make_engine("postgresql://nobody@127.0.0.1:1/none"))
    report = health_report(sessions)
    assert report["status"] == "failing" and report["database"] == {"ok": False, "error": "OperationalError"}


def _promise(app: LightApp, *, paid: bool) -> int:
    with app.sessions.begin() as s:
        # money is stored as text: compare in Python
        open_invoices = [i for i in s.scalars(select(m.Invoice).order_by(m.Invoice.invoice_number))
                         if i.open_amount > 0]
        inv = open_invoices[1 if paid else 0]
        if paid:
            inv.open_amount, inv.status = Decimal("0"), "paid"
        p = m.PromiseToPay(idempotency_key=f"test-promise-{inv.invoice_number}", customer_id=inv.customer_id,
                           invoice_numbers=[inv.invoice_number], amount=inv.amount, currency=inv.currency,
                           promised_date=dt.date(2026, 1, 10))
        s.add(p)
        s.flush()
        return p.id


def test_a_broken_promise_is_traced_and_sent_to_collections_once(app: LightApp) -> None:
    broken = _promise(app, paid=False)
    kept = _promise(app, paid=True)
    outbox = app.settings.outbox_dir
    for _ in range(2):
        follow_up_promises(app.sessions, FolderOutbox(outbox), today=dt.date(2026, 2, 1),
                           to="collections@example.com", sender="ar@example.com")
    with app.sessions() as s:
        assert s.get(m.PromiseToPay, broken).status == "broken"  # type: ignore[union-attr]
        assert s.get(m.PromiseToPay, kept).status == "kept"  # type: ignore[union-attr]
        nodes = s.scalars(select(m.TraceRecord.key).where(m.TraceRecord.node == "promise_follow_up")).all()
        assert sorted(nodes) == sorted([f"promise:{broken}:broken", f"promise:{kept}:kept"])
        assert trace.verify(s).ok
    notices = [p for p in outbox.glob("*.eml") if b"Broken promise to pay" in p.read_bytes()]
    assert len(notices) == 1 and b"collections@example.com" in notices[0].read_bytes()


def test_scheduler_jobs_run_only_on_the_leader_and_the_digest_is_sent_once(app: LightApp) -> None:
    clock = lambda: dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)  # noqa: E731
    leader = Scheduler(app, Leadership(app.settings.database_url, retry_s=0.5), clock=clock)
    leader.leadership.start()
    try:
        leader.digest()
        leader.digest()
        assert leader.last["digest"][0] == "ok"
        digests = list(app.settings.outbox_dir.glob("digest*.eml"))
        assert len(digests) == 1
        text = digests[0].read_text()
        assert "emails by status" in text and re.search(r"pending +12\n", text), text
        if app.settings.database_url.startswith("postgresql"):
            standby = Scheduler(app, Leadership(app.settings.database_url, retry_s=0.2), clock=clock)
            standby.leadership.start()
            assert not standby.leadership.is_leader()
            standby.escalate()
            assert "escalate" not in standby.last  # a standby runs nothing
            leader.leadership.stop()  # the leader goes away: the standby takes over at its next try
            deadline = time.monotonic() + 10
            while not standby.leadership.is_leader() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert standby.leadership.is_leader()
            standby.leadership.stop()
    finally:
        leader.leadership.stop()
