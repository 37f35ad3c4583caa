"""Scale-out on PostgreSQL: worker processes claiming with FOR UPDATE SKIP LOCKED.

1. Four light worker processes (tests.support.light_app: the regex masker in place of Presidio and
   spaCy, the embedded classifier fitted once) run 10,000 emails — copies of the development corpus
   with Message-IDs of their own — through the real graph, real checkpoints, real claims and a real
   PostgreSQL. Every email is handled exactly once: one claim each, one finished run each, by one of
   the four workers, every ledger effect and reply once, the trace chain intact.
2. Two `arinbox worker` processes with the full pipeline (Presidio, spaCy) on the demo mailbox.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import func, select

from arinbox.connectors.folder import FolderMailbox
from arinbox.ledger.csv_import import import_ledger
from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.settings import Settings
from tests.conftest import ROOT, _drop_pg_database, _new_pg_database
from tests.support import scale

pytestmark = pytest.mark.postgres
# 1,000 in the default run keeps the suite short on 2 cores; `make test-scale` runs the 10,000 of the
# acceptance bar through the same code (it took about 18 minutes here)
SCALE_EMAILS = int(os.environ.get("ARINBOX_SCALE_EMAILS", "1000"))
WORKERS = 4


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    admin = request.getfixturevalue("pg_available")
    name, url = _new_pg_database(admin)
    request.addfinalizer(lambda: _drop_pg_database(admin, name))
    return url


def _wait_until_settled(app: App, total: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        counts = scale.status_counts(app.sessions)
        if sum(counts.values()) == total and not counts.keys() & {"pending", "processing", "retry"}:
            return
        assert time.monotonic() < deadline, f"not settled after {timeout_s}s: {dict(counts)}"
        time.sleep(2)


def _effects_once(app: App, outbox: Path) -> None:
    """Each executed action left exactly one ledger record or one reply."""
    with app.sessions() as s:
        done = Counter(s.scalars(select(m.ActionRow.kind).where(m.ActionRow.status == "verified")))
        assert s.scalar(select(func.count()).select_from(m.Payment)) == done["apply_payment"]
        assert s.scalar(select(func.count()).select_from(m.Dispute)) == done["open_dispute"]
        assert s.scalar(select(func.count()).select_from(m.PromiseToPay)) == done["record_promise"]
        assert len(list(outbox.glob("*.eml"))) == done["send_reply"]
        assert trace.verify(s).ok


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_four_workers_handle_every_email_exactly_once(pg_url: str, tmp_path: Path) -> None:
    (tmp_path / "vault.key").write_bytes(Fernet.generate_key())
    settings = Settings(database_url=pg_url, outbox_dir=tmp_path / "outbox",
                        vault_key=SecretStr((tmp_path / "vault.key").read_text()))
    with App(settings) as app:
        import_ledger(scale.CORPUS / "ledger", app.sessions)
        assert scale.store(app.sessions, scale.corpus_copies(SCALE_EMAILS)) == SCALE_EMAILS
        env = scale.worker_env(pg_url, tmp_path)
        logs = [tmp_path / f"worker-{i}.log" for i in range(WORKERS)]
        started = time.monotonic()
        workers = [scale.start_worker(env, log) for log in logs]
        try:
            _wait_until_settled(app, SCALE_EMAILS, timeout_s=3300)
            elapsed = time.monotonic() - started
        finally:
            for p in workers:
                p.send_signal(signal.SIGTERM)
            codes = [p.wait(120) for p in workers]
        assert codes == [0] * WORKERS  # each stopped gracefully
        with app.sessions() as s:
            items = s.execute(select(m.WorkItem.id, m.WorkItem.status, m.WorkItem.attempts)).all()
        assert {status for _, status, _ in items} <= {"done", "waiting_approval"}
        assert {attempts for _, _, attempts in items} == {1}  # claimed once each, never twice
        events = scale.finished_lines(logs)
        assert Counter(e["work_item"] for e in events) == Counter(i for i, _, _ in items)  # one run each
        share = Counter(e["worker"] for e in events)
        assert len(share) == WORKERS, share  # every worker took part
        if SCALE_EMAILS >= 5000:  # on a long run the claims spread evenly; a short one is dominated by start-up
            assert min(share.values()) > SCALE_EMAILS / WORKERS / 2, share
        _effects_once(app, tmp_path / "outbox")
    print(f"\n{SCALE_EMAILS} emails, {WORKERS} workers: {elapsed:.0f}s, {SCALE_EMAILS / elapsed:.1f} emails/s, "
          f"per worker {dict(share)}")


@pytest.mark.slow
def test_two_full_pipeline_workers_on_the_demo_mailbox(pg_url: str, tmp_path: Path) -> None:
    """`arinbox worker` itself, twice, with Presidio and spaCy: the real command and composition."""
    samples = ROOT / "connectors" / "samples"
    key = Fernet.generate_key().decode()
    settings = Settings(database_url=pg_url, outbox_dir=tmp_path / "outbox", vault_key=SecretStr(key))
    with App(settings) as app:
        import_ledger(samples / "demo-ledger", app.sessions)
        report = ingest(FolderMailbox(samples / "demo-mailbox"), app.sessions, kind="folder")
        assert report.new > 40
        env = {**os.environ, "ARINBOX_DATABASE_URL": pg_url, "ARINBOX_OUTBOX_DIR": str(tmp_path / "outbox"),
               "ARINBOX_VAULT_KEY": key, "ARINBOX_SERVICE__IDLE_SECONDS": "0.5"}
        logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
        workers = []
        for log in logs:
            with log.open("ab") as err:
                workers.append(subprocess.Popen([sys.executable, "-m", "arinbox", "worker"], env=env, cwd=tmp_path,
                                                stdout=subprocess.DEVNULL, stderr=err))
        try:
            _wait_until_settled(app, report.new + report.failed, timeout_s=500)
        finally:
            for p in workers:
                p.send_signal(signal.SIGTERM)
            codes = [p.wait(120) for p in workers]
        assert codes == [0, 0]
        with app.sessions() as s:
            items = s.execute(select(m.WorkItem.id, m.WorkItem.status, m.WorkItem.attempts)).all()
        ran = [(i, attempts) for i, status, attempts in items if attempts]
        assert {a for _, a in ran} == {1} and len(ran) == report.new
        events = scale.finished_lines(logs)
        assert Counter(e["work_item"] for e in events) == Counter(i for i, _ in ran)
        assert len({e["worker"] for e in events}) == 2  # both took a share
        _effects_once(app, tmp_path / "outbox")
