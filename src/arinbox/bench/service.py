"""`arinbox bench service`: the whole service, end to end, on this machine.

- emails/s from ingest to the last email's stop, and p50/p95 per graph node, on the embedded default
  (SQLite, one process) and on PostgreSQL with 1, 2 and 4 worker processes (full pipeline);
- memory over a long run (``--memory-emails``, 20,000 by default) in a lighter configuration: the
  regex masker in place of Presidio and spaCy, SQLite, one process; resident memory every 1,000 emails.

The corpus is the development set repeated, each copy with a Message-ID of its own. PostgreSQL runs
use a throw-away database created through ``--pg-admin``.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import itertools
import json
import multiprocessing
import resource
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import func, select, update

from arinbox.connectors.fake import InMemoryMailbox
from arinbox.ledger.csv_import import import_ledger
from arinbox.masking.fake import FakeMasker
from arinbox.persistence import models as m
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.service.workers import WorkerPool
from arinbox.settings import ServiceSettings, Settings

FINAL = ("done", "waiting_approval", "failed")


def corpus_copies(corpus: Path, n: int) -> Iterator[tuple[str, bytes]]:
    """``n`` emails: the corpus over and over, each copy with a Message-ID of its own."""
    originals = [(f.name, f.read_bytes()) for f in sorted((corpus / "emails").glob("*.eml"))]
    for i in range(n):
        name, raw = originals[i % len(originals)]
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        del msg["Message-ID"]
        msg["Message-ID"] = f"<copy{i // len(originals)}.{name}@bench.example>"
        yield f"{i:06d}-{name}", msg.as_bytes()


class StageTimes:
    """Observer of the processor: seconds per node and per email."""

    def __init__(self) -> None:
        self.nodes: dict[str, list[float]] = defaultdict(list)
        self.emails: list[float] = []

    def node_done(self, node: str, seconds: float) -> None:
        self.nodes[node].append(seconds)

    def email_done(self, status: str, seconds: float) -> None:
        self.emails.append(seconds)

    def merge(self, other: dict[str, Any]) -> None:
        for node, values in other["nodes"].items():
            self.nodes[node] += values
        self.emails += other["emails"]

    def dump(self) -> dict[str, Any]:
        return {"nodes": dict(self.nodes), "emails": self.emails}

    def summary(self) -> dict[str, dict[str, float]]:
        out = {node: _percentiles(v) for node, v in self.nodes.items()}
        out["email"] = _percentiles(self.emails)
        return out


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50_ms": round(values[0] * 1000, 2) if values else 0.0, "p95_ms": 0.0, "n": len(values)}
    q = statistics.quantiles(values, n=20)
    return {"p50_ms": round(statistics.median(values) * 1000, 2), "p95_ms": round(q[18] * 1000, 2), "n": len(values)}


def _settings(url: str, work: Path, key: str) -> Settings:
    work.mkdir(parents=True, exist_ok=True)
    return Settings(database_url=url, outbox_dir=work / "outbox", vault_key=SecretStr(key),
                    service=ServiceSettings(idle_seconds=0.2))


def _prepare(settings: Settings, corpus: Path, emails: int) -> float:
    """Import the ledger; ingest the copies; return the ingest time."""
    with App(settings) as app:
        import_ledger(corpus / "ledger", app.sessions)
        started = time.perf_counter()
        ingest(InMemoryMailbox(dict(corpus_copies(corpus, emails)), name="bench"), app.sessions, kind="folder")
        return time.perf_counter() - started


def _settled(app: App, emails: int) -> bool:
    with app.sessions() as s:
        return (s.scalar(select(func.count()).select_from(m.WorkItem).where(m.WorkItem.status.in_(FINAL))) or 0) \
            >= emails


def _worker_process(settings: Settings, out: str, stop: Any, ready: Any) -> None:
    """One worker process of a PostgreSQL run: run until told to stop, then write its stage times."""
    times = StageTimes()
    with App(settings) as app:
        app.processor.observers.append(times)
        app.deps  # noqa: B018  (load the models before the clock starts)
        ready.set()
        pool = WorkerPool(app.processor, threads=1, idle_s=0.2)
        pool.start()
        stop.wait()
        pool.stop()
    Path(out).write_text(json.dumps(times.dump()))


def run_sqlite(corpus: Path, emails: int, work: Path) -> dict[str, Any]:
    key = Fernet.generate_key().decode()
    settings = _settings(f"sqlite:///{work / 'bench.sqlite'}", work, key)
    ingest_s = _prepare(settings, corpus, emails)
    times = StageTimes()
    with App(settings) as app:
        app.processor.observers.append(times)
        app.deps  # noqa: B018
        started = time.perf_counter()
        statuses = app.processor.process_all()
        elapsed = time.perf_counter() - started
    return {"config": "embedded (SQLite, one process)", "workers": 1, "emails": emails,
            "statuses": dict(sorted(statuses.items())),  # a fast run of failures is no result
            "ingest_s": round(ingest_s, 2), "process_s": round(elapsed, 2),
            "emails_per_s": round(emails / (ingest_s + elapsed), 2), "stages": times.summary()}


def run_postgres(corpus: Path, emails: int, workers: int, admin: str, work: Path) -> dict[str, Any]:
    name = f"arinbox_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = f"{admin.rsplit('/', 1)[0]}/{name}"
    try:
        settings = _settings(url, work, Fernet.generate_key().decode())
        ingest_s = _prepare(settings, corpus, emails)
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        readies = [ctx.Event() for _ in range(workers)]
        outs = [work / f"stages-{workers}-{i}.json" for i in range(workers)]
        procs = [ctx.Process(target=_worker_process, args=(settings, str(o), stop, r))
                 for o, r in zip(outs, readies, strict=True)]
        # the queue is held until every worker has loaded its models: the clock measures running only
        with App(settings) as app:
            with app.sessions.begin() as s:
                s.execute(update(m.WorkItem).values(status="bench_hold"))
            for p in procs:
                p.start()
            for r, p in zip(readies, procs, strict=True):
                while not r.wait(1):
                    if not p.is_alive():
                        stop.set()
                        raise RuntimeError(f"bench worker {p.name} exited with {p.exitcode}")
            with app.sessions.begin() as s:
                s.execute(update(m.WorkItem).where(m.WorkItem.status == "bench_hold")
                          .values(status="pending"))
            started = time.perf_counter()
            while not _settled(app, emails):
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
        stop.set()
        for p in procs:
            p.join()
        times = StageTimes()
        for o in outs:
            times.merge(json.loads(o.read_text()))
        return {"config": f"PostgreSQL, {workers} worker process(es)", "workers": workers, "emails": emails,
                "ingest_s": round(ingest_s, 2), "process_s": round(elapsed, 2),
                "emails_per_s": round(emails / elapsed, 2), "stages": times.summary()}
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rss_mb() -> float:
    """Resident memory now, from /proc (Linux); the peak from getrusage elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_memory(corpus: Path, emails: int, work: Path, step: int = 1000) -> dict[str, Any]:
    """The light configuration, one process, SQLite: resident memory after every ``step`` emails."""
    settings = _settings(f"sqlite:///{work / 'memory.sqlite'}", work, Fernet.generate_key().decode())
    samples: list[tuple[int, float]] = []
    with App(settings) as app:
        import_ledger(corpus / "ledger", app.sessions)
        app.__dict__["deps"] = dataclasses.replace(app.deps, masker=FakeMasker())
        done = 0
        samples.append((0, round(rss_mb(), 1)))
        started = time.perf_counter()
        copies = corpus_copies(corpus, emails)
        while done < emails:
            batch = dict(itertools.islice(copies, step))
            ingest(InMemoryMailbox(batch, name="bench"), app.sessions, kind="folder")
            app.processor.process_all()
            done += len(batch)
            samples.append((done, round(rss_mb(), 1)))
        elapsed = time.perf_counter() - started
    half = samples[len(samples) // 2][1]
    return {"config": "light: regex masker instead of Presidio/spaCy, SQLite, one process", "emails": emails,
            "seconds": round(elapsed, 1), "rss_mb": samples,
            "growth_second_half_mb": round(samples[-1][1] - half, 1)}


def run(corpus: Path, emails: int, memory_emails: int, admin: str,
        workers: tuple[int, ...] = (1, 2, 4)) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="arinbox-bench-") as tmp:
        work = Path(tmp)
        results: dict[str, Any] = {"cores": multiprocessing.cpu_count(), "emails": emails, "runs": []}
        results["runs"].append(run_sqlite(corpus, emails, work / "sqlite"))
        for n in workers:
            results["runs"].append(run_postgres(corpus, emails, n, admin, work / f"pg{n}"))
        base = next((r for r in results["runs"] if r["workers"] == 1 and "PostgreSQL" in r["config"]), None)
        if base:
            results["ratios_vs_1_worker"] = {str(r["workers"]): round(r["emails_per_s"] / base["emails_per_s"], 2)
                                             for r in results["runs"] if "PostgreSQL" in r["config"]}
        if memory_emails:
            results["memory"] = run_memory(corpus, memory_emails, work / "memory")
        return results
