"""Many emails for scale and fault tests: copies of a labelled corpus with fresh Message-IDs, stored
the way ingest stores them (raw message, pending work item, an ``ingest`` trace record) but in one
transaction, because storing 10,000 emails one commit at a time would take most of the test's time
(ingest's own exactly-once is tested in test_ingest_sync)."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.service.ingest import ensure_mailbox
from tests.conftest import ROOT

CORPUS = ROOT / "agents" / "evals" / "dev"


def corpus_copies(n: int, corpus: Path = CORPUS) -> Iterator[tuple[str, bytes, str]]:
    """``n`` emails (source key, raw bytes, Message-ID): the corpus over and over, each copy with a
    Message-ID of its own."""
    files = sorted((corpus / "emails").glob("*.eml"))
    originals = [(f.name, f.read_bytes()) for f in files]
    for i in range(n):
        name, raw = originals[i % len(originals)]
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        mid = f"copy{i // len(originals)}.{name}@scale.example"
        del msg["Message-ID"]
        msg["Message-ID"] = f"<{mid}>"
        yield f"{i:06d}-{name}", msg.as_bytes(), mid


def store(sessions: sessionmaker[Session], emails: Iterator[tuple[str, bytes, str]], mailbox: str = "scale") -> int:
    mailbox_id = ensure_mailbox(sessions, mailbox, "folder", "ar@brightwater-supply.example")
    n = 0
    with sessions.begin() as s:
        for key, raw, mid in emails:
            digest = hashlib.sha256(raw).hexdigest()
            row = m.RawMessage(mailbox_id=mailbox_id, source_key=key, message_id=mid, sha256=digest, raw=raw,
                               size=len(raw))
            s.add(row)
            s.flush()
            item = m.WorkItem(raw_message_id=row.id, status="pending")
            s.add(item)
            s.flush()
            trace.append(s, key=f"{item.id}:ingest", node="ingest", work_item_id=item.id, body={
                "mailbox": mailbox, "source_key": key, "message_id": mid, "sha256": digest, "size": len(raw),
                "parsed": True, "error": None})
            n += 1
    return n


def worker_env(database_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    key = (workdir / "vault.key")
    if not key.exists():
        key.write_bytes(Fernet.generate_key())
    return {**os.environ, "ARINBOX_DATABASE_URL": database_url, "ARINBOX_OUTBOX_DIR": str(workdir / "outbox"),
            "ARINBOX_VAULT_KEY": key.read_text(), "ARINBOX_TEST_LOG_LEVEL": "INFO",
            "PYTHONPATH": str(ROOT), **extra}


def start_worker(env: dict[str, str], log: Path, threads: int = 1) -> subprocess.Popen[bytes]:
    """A light worker process (tests.support.light_app); its JSON log lines go to ``log``."""
    with log.open("ab") as err:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "tests.support.light_app", str(threads)], env=env,
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)


def finished_lines(logs: list[Path]) -> list[dict[str, Any]]:
    """The "email finished" events of worker logs."""
    out = []
    for path in logs:
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                event = json.loads(line)
                if event.get("message") == "email finished":
                    out.append(event)
    return out


def status_counts(sessions: sessionmaker[Session]) -> Counter[str]:
    with sessions() as s:
        return Counter(dict(s.execute(select(m.WorkItem.status, func.count()).group_by(m.WorkItem.status)).all()))
