"""Faults while `arinbox worker` processes run: kill -9 at every graph node, the PostgreSQL connection
dropped under them, an SMTP server that refuses replies. After each: every email handled once, no
ledger effect and no reply twice, the trace chain intact — the same end state as one clean run.

Workers run the light composition (tests.support.light_app: regex masker) so that the restarts fit
the suite's time; the graph, checkpoints, claims and the database are the real ones.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select

from arinbox.ledger.csv_import import import_ledger
from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.settings import ServiceSettings, Settings
from tests.conftest import _drop_pg_database, _new_pg_database
from tests.support import scale
from tests.support.light_app import LightApp
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.faults
EMAILS = 24
REFUSED = 4  # SMTP refusals; the 24 emails send 6 replies without approval
NODES = ["parse", "mask", "classify", "extract", "lookup", "propose", "gate", "approval", "execute", "verify"]
# "after": the node's work is done and its checkpoint not yet written, so it runs again on restart.
# The approval node stops the graph (interrupt) and never returns, so it is killed on entry.
# "saved": the node's writes are stored, the step's checkpoint is not: the restart must finish that step.
KILL_POINTS = ([("parse", "before")] + [(n, "before" if n == "approval" else "after") for n in NODES]
               + [(n, "saved") for n in ("parse", "propose", "approval", "verify")])


def _settings(url: str, work: Path, **service: Any) -> Settings:
    return Settings(database_url=url, outbox_dir=work / "outbox",
                    vault_key=SecretStr((work / "vault.key").read_text()),
                    service=ServiceSettings(**service))


def _seed(url: str, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "vault.key").exists():
        (work / "vault.key").write_bytes(Fernet.generate_key())
    with LightApp(_settings(url, work)) as app:
        import_ledger(scale.CORPUS / "ledger", app.sessions)
        scale.store(app.sessions, scale.corpus_copies(EMAILS))


def state(url: str, work: Path) -> dict[str, Any]:
    with LightApp(_settings(url, work)) as app, app.sessions() as s:
        keys = dict(s.execute(select(m.WorkItem.id, m.RawMessage.source_key)
                              .join(m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id)).all())
        assert trace.verify(s).ok, trace.verify(s)
        outbox = work / "outbox"
        return {
            "items": sorted((keys[i.id], i.status) for i in s.scalars(select(m.WorkItem))),
            "invoices": sorted((i.invoice_number, str(i.open_amount), i.status) for i in s.scalars(select(m.Invoice))),
            "applications": sorted(Counter((a.invoice_number, str(a.amount))
                                           for a in s.scalars(select(m.PaymentApplication))).items()),
            "payments": sorted(p.idempotency_key for p in s.scalars(select(m.Payment))),
            "disputes": sorted(d.idempotency_key for d in s.scalars(select(m.Dispute))),
            "promises": sorted(p.idempotency_key for p in s.scalars(select(m.PromiseToPay))),
            "actions": sorted((a.idempotency_key, a.status) for a in s.scalars(select(m.ActionRow))),
            "outbox": sorted(p.name for p in outbox.glob("*.eml")) if outbox.exists() else [],
            "trace_per_item": sorted(Counter(
                (keys[r.work_item_id], r.node) for r in s.scalars(select(m.TraceRecord)) if r.work_item_id).items()),
        }


@pytest.fixture
def reference(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> dict[str, Any]:
    """One clean, uninterrupted run on a database of its own."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'clean.sqlite'}"
    else:
        admin = request.getfixturevalue("pg_available")
        name, url = _new_pg_database(admin)
        request.addfinalizer(lambda: _drop_pg_database(admin, name))
    work = tmp_path / "clean"
    _seed(url, work)
    with LightApp(_settings(url, work)) as app:
        counts = app.processor.process_all()
    assert counts.get("done") and counts.get("waiting_approval"), counts
    return state(url, work)


def _wait(predicate: Callable[[], bool], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _settled(url: str, work: Path) -> Callable[[], bool]:
    def check() -> bool:
        with LightApp(_settings(url, work)) as app:
            counts = scale.status_counts(app.sessions)
        return sum(counts.values()) == EMAILS and not counts.keys() & {"pending", "processing", "retry"}
    return check


def _stop(p: subprocess.Popen[bytes]) -> None:
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 0  # a graceful stop


def _logs(work: Path) -> list[Path]:
    return sorted(work.glob("worker-*.log"))


def _finished_once(work: Path, url: str) -> None:
    """Every email's run to its final stop was recorded by exactly one worker, once."""
    events = [e for e in scale.finished_lines(_logs(work)) if e["status"] != "retry"]
    with LightApp(_settings(url, work)) as app, app.sessions() as s:
        ids = set(s.scalars(select(m.WorkItem.id)))
    assert Counter(e["work_item"] for e in events) == Counter(ids)


def test_kill_a_worker_at_every_graph_node(database_url: str, tmp_path: Path, reference: dict[str, Any]) -> None:
    work = tmp_path / "killed"
    _seed(database_url, work)
    done = work / "kills-done"
    plan = ",".join(f"{n}:{w}" for n, w in KILL_POINTS)
    env = scale.worker_env(database_url, work, ARINBOX_TEST_KILL_PLAN=plan, ARINBOX_TEST_KILL_DONE=str(done))
    for run in range(len(KILL_POINTS)):
        p = scale.start_worker(env, work / f"worker-{run:02d}.log")
        assert p.wait(240) == -signal.SIGKILL, f"run {run} was not killed"
    assert done.read_text().split() == [f"{n}:{w}" for n, w in KILL_POINTS]  # each point fired, in order
    p = scale.start_worker(env, work / "worker-99.log")  # the plan is spent: this one finishes the queue
    try:
        _wait(_settled(database_url, work))
    finally:
        _stop(p)
    assert state(database_url, work) == reference
    _finished_once(work, database_url)


@pytest.mark.usefixtures("pg_available")
def test_dropped_database_connections(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    admin = request.getfixturevalue("pg_available")
    name, url = _new_pg_database(admin)
    request.addfinalizer(lambda: _drop_pg_database(admin, name))
    # the clean reference for this database's emails
    ref_name, ref_url = _new_pg_database(admin)
    request.addfinalizer(lambda: _drop_pg_database(admin, ref_name))
    _seed(ref_url, tmp_path / "clean")
    with LightApp(_settings(ref_url, tmp_path / "clean")) as app:
        app.processor.process_all()
    expected = state(ref_url, tmp_path / "clean")

    work = tmp_path / "dropped"
    _seed(url, work)
    p = scale.start_worker(scale.worker_env(url, work), work / "worker-00.log")
    drops = 0
    try:
        def processed() -> int:
            with psycopg.connect(url) as c:
                return c.execute("SELECT count(*) FROM work_items WHERE status NOT IN "
                                 "('pending', 'processing')").fetchone()[0]  # type: ignore[index]

        _wait(lambda: processed() > 0)
        while processed() < EMAILS and drops < 4:
            with psycopg.connect(admin, autocommit=True) as c:  # every connection of the worker, mid-run
                killed = c.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchone()
            drops += 1 if killed and killed[0] else 0
            time.sleep(1.0)
        _wait(_settled(url, work))
    finally:
        _stop(p)
    assert drops >= 2, "the worker finished before its connections could be dropped: the test proves nothing"
    # no log line is required: a connection dropped while idle is replaced by the pool's check without
    # the worker noticing; one dropped mid-statement gives the email back ("database connection lost")
    assert state(url, work) == expected
    _finished_once(work, url)


def test_smtp_refusals_are_retried_and_no_reply_leaves_twice(database_url: str, tmp_path: Path,
                                                            reference: dict[str, Any]) -> None:
    work = tmp_path / "smtp"
    _seed(database_url, work)
    with SmtpSink() as sink:
        sink.refuse_next(REFUSED)  # 451 at DATA: the reply stays queued and the email waits in 'retry'
        env = scale.worker_env(database_url, work, ARINBOX_TEST_SMTP_PORT=str(sink.port),
                               ARINBOX_SERVICE__RETRY_BACKOFF_SECONDS="0.5", ARINBOX_SERVICE__IDLE_SECONDS="0.3")
        p = scale.start_worker(env, work / "worker-00.log")
        try:
            _wait(_settled(database_url, work))
        finally:
            _stop(p)
        got = state(database_url, work)
        replies = [a for a, status in got["actions"] if status == "verified" and a in _reply_keys(database_url, work)]
        message_ids = [r.message["Message-ID"] for r in sink.received]
    assert sink.handler.refuse == 0, "the refusals were not all used"
    assert len(message_ids) == len(set(message_ids)) == len(replies) >= REFUSED  # each reply once, none lost
    with LightApp(_settings(database_url, work)) as app, app.sessions() as s:
        rows = s.scalars(select(m.OutgoingMessage)).all()
        assert {r.status for r in rows} == {"sent"} and sum(r.attempts for r in rows) == len(rows) + REFUSED
    for key in ("items", "invoices", "applications", "payments", "disputes", "promises", "actions"):
        assert got[key] == reference[key], key
    _finished_once(work, database_url)


def _reply_keys(url: str, work: Path) -> set[str]:
    with LightApp(_settings(url, work)) as app, app.sessions() as s:
        return set(s.scalars(select(m.ActionRow.idempotency_key).where(m.ActionRow.kind == "send_reply")))
