"""Kill `arinbox process` with SIGKILL mid-run, run it again: every email handled exactly once.

The ledger, the actions and the outbox after several killed runs must equal those of one clean
run, and no idempotency key may have acted twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from arinbox.persistence import models as m
from arinbox.persistence.db import make_engine, make_session_factory
from tests.conftest import ROOT

CORPUS = ROOT / "agents" / "evals" / "dev"
EMAILS = 36  # enough work for kills to land mid-run; small enough for the suite's budget


def _arinbox(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "arinbox", *args], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _setup(database_url: str, workdir: Path) -> dict[str, str]:
    workdir.mkdir(parents=True, exist_ok=True)
    mailbox = workdir / "mailbox"
    mailbox.mkdir()
    for eml in sorted((CORPUS / "emails").glob("*.eml"))[:EMAILS]:
        (mailbox / eml.name).write_bytes(eml.read_bytes())
    env = {**os.environ, "ARINBOX_DATABASE_URL": database_url, "ARINBOX_OUTBOX_DIR": str(workdir / "outbox"),
           "ARINBOX_VAULT_KEY": Fernet.generate_key().decode()}
    for args in (("ledger", "import", str(CORPUS / "ledger")), ("ingest", "--folder", str(mailbox))):
        p = _arinbox(env, workdir, *args)
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    return env


def _state(database_url: str, outbox: Path) -> dict[str, Any]:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as s:
            return {
                "items": sorted((i.id, i.status) for i in s.scalars(select(m.WorkItem))),
                "invoices": sorted((i.invoice_number, str(i.open_amount), i.status)
                                   for i in s.scalars(select(m.Invoice))),
                "applications": sorted(Counter((a.invoice_number, str(a.amount))
                                               for a in s.scalars(select(m.PaymentApplication))).items()),
                "payments": len(s.scalars(select(m.Payment)).all()),
                "disputes": sorted((d.idempotency_key, d.invoice_number) for d in s.scalars(select(m.Dispute))),
                "promises": sorted((p.idempotency_key, str(p.promised_date))
                                   for p in s.scalars(select(m.PromiseToPay))),
                "actions": sorted((a.idempotency_key, a.status) for a in s.scalars(select(m.ActionRow))),
                "outbox": sorted(p.name for p in outbox.glob("*.eml")) if outbox.exists() else [],
            }
    finally:
        engine.dispose()


def _done_count(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as s:
            return sum(1 for i in s.scalars(select(m.WorkItem)) if i.status not in ("pending", "processing"))
    finally:
        engine.dispose()


@pytest.mark.slow
def test_killed_processing_resumes_exactly_once(database_url: str, tmp_path: Path,
                                                request: pytest.FixtureRequest) -> None:
    # the reference: one uninterrupted run on a database of its own
    if database_url.startswith("sqlite"):
        clean_url = f"sqlite:///{tmp_path / 'clean.sqlite'}"
    else:
        from tests.conftest import _drop_pg_database, _new_pg_database

        admin = request.getfixturevalue("pg_available")
        name, clean_url = _new_pg_database(admin)
        request.addfinalizer(lambda: _drop_pg_database(admin, name))
    clean_env = _setup(clean_url, tmp_path / "clean")
    p = _arinbox(clean_env, tmp_path / "clean", "process")
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    expected = _state(clean_url, tmp_path / "clean" / "outbox")

    env = _setup(database_url, tmp_path / "crash")
    rng = random.Random(20261122)
    kills = 0
    for _ in range(3):
        before = _done_count(database_url)
        p = _arinbox(env, tmp_path / "crash", "process")
        deadline = time.monotonic() + 300
        while _done_count(database_url) <= before and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.4))  # land somewhere inside a later email's graph run
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.communicate(timeout=60)
    assert kills >= 2, "the runs finished before they could be killed: the test proves nothing"
    assert 0 < _done_count(database_url) < EMAILS
    p = _arinbox(env, tmp_path / "crash", "process")
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err

    got = _state(database_url, tmp_path / "crash" / "outbox")
    assert all(status not in ("pending", "processing") for _, status in got["items"])
    for key in ("items", "invoices", "applications", "payments", "disputes", "promises", "actions", "outbox"):
        assert got[key] == expected[key], key
