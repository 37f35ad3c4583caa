"""Workers: loops that claim emails and run them through the graph until told to stop.

A ``WorkerPool`` runs its loops as threads of one process (``arinbox serve`` keeps one beside the web
console; ``arinbox worker`` runs one alone). The graph is CPU-bound, so more cores mean more
processes — ``arinbox worker --concurrency N`` starts N of them, on one machine or many; threads
help only where the work waits on the network (SMTP, IMAP, an LLM).

Stopping (SIGTERM): no new email is claimed, emails in flight finish within the grace period, and
an email claimed but not started is given back at once. One still running when the grace period
ends keeps its lease until it runs out (or, on this machine, until the next worker starts), then
resumes from its checkpoint elsewhere.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from arinbox.service.claims import DatabaseUnavailable
from arinbox.service.processor import CONNECTION_ERRORS, Processor

log = logging.getLogger("arinbox.workers")
DEAD_SWEEP_S = 30.0  # how often an idle worker looks for emails of dead processes on this machine
MAX_BACKOFF_S = 30.0


class WorkerPool:
    name = "workers"

    def __init__(self, processor: Processor, *, threads: int = 1, idle_s: float = 2.0, grace_s: float = 30.0,
                 batch: int = 1) -> None:
        self.processor = processor
        self.threads, self.idle_s, self.grace_s, self.batch = threads, idle_s, grace_s, batch
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._running: list[threading.Thread] = []
        self._orphans: set[int] = set()  # claimed, then the database went away: give back when it returns
        self._lock = threading.Lock()
        self.processed = 0
        self.database_ok = True

    # --- Service ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        for i in range(self.threads):
            t = threading.Thread(target=self._loop, name=f"worker-{i + 1}", daemon=True)
            t.start()
            self._running.append(t)
        log.info("workers started", extra={"worker": self.processor.leases.owner, "threads": self.threads})

    def stop(self) -> None:
        """Finish what is in flight within the grace period; claim nothing new."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + self.grace_s
        for t in self._running:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        still = [t.name for t in self._running if t.is_alive()]
        if still:
            log.warning("emails still running after the grace period; their leases run out and another worker "
                        "resumes them", extra={"worker": self.processor.leases.owner, "threads": still})
        self._running = []
        log.info("workers stopped", extra={"worker": self.processor.leases.owner, "processed": self.processed})

    def wake(self) -> None:
        """New work may be there (a poll ingested mail): look now instead of after the idle wait."""
        self._wake.set()

    def health(self) -> dict[str, Any]:
        alive = sum(t.is_alive() for t in self._running)
        ok = alive == self.threads and self.database_ok
        return {"ok": ok, "threads": self.threads, "alive": alive, "processed": self.processed,
                "database": "ok" if self.database_ok else "unreachable"}

    # --- the loop ----------------------------------------------------------------------------------

    def _loop(self) -> None:
        leases = self.processor.leases
        backoff = 0.5
        last_sweep = 0.0
        while not self._stop.is_set():
            try:
                self._give_back_orphans()
                if time.monotonic() - last_sweep > DEAD_SWEEP_S:
                    leases.release_dead_local()
                    last_sweep = time.monotonic()
                ids = leases.claim(self.batch)
                self.database_ok, backoff = True, 0.5
            except CONNECTION_ERRORS as e:
                backoff = self._database_down(e, backoff)
                continue
            if not ids:
                self._wake.wait(self.idle_s)
                self._wake.clear()
                continue
            for i, wi in enumerate(ids):
                if self._stop.is_set():  # claimed but not started: give back at once
                    self._release(ids[i:])
                    break
                try:
                    self.processor.run(wi, claimed=True)
                    with self._lock:
                        self.processed += 1
                except (DatabaseUnavailable, *CONNECTION_ERRORS) as e:
                    with self._lock:
                        self._orphans.update(ids[i:])
                    backoff = self._database_down(e, backoff)
                    break
                except Exception:  # a bug in one email must not stop the worker
                    log.exception("work item failed outside the graph", extra={"work_item": wi})

    def _database_down(self, error: BaseException, backoff: float) -> float:
        self.database_ok = False
        log.warning("database unreachable, waiting %.1fs: %s", backoff, type(error).__name__,
                    extra={"worker": self.processor.leases.owner})
        self._stop.wait(backoff)
        return min(MAX_BACKOFF_S, backoff * 2)

    def _give_back_orphans(self) -> None:
        with self._lock:
            orphans = sorted(self._orphans)
        if orphans:
            self.processor.leases.release(orphans)
            with self._lock:
                self._orphans.difference_update(orphans)

    def _release(self, ids: list[int]) -> None:
        try:
            self.processor.leases.release(ids)
        except CONNECTION_ERRORS:
            log.warning("could not give back claimed emails; their leases run out", extra={"work_items": ids})


def run_until_signalled(pool: WorkerPool, extra: list[Any] | None = None) -> None:
    """Run the pool (and other services) in this process until SIGTERM or SIGINT."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal received, stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    services = [pool, *(extra or [])]
    try:
        for service in services:
            service.start()
        while not stop.wait(1.0):
            pass
    finally:
        for service in reversed(services):
            service.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)


def supervise(n: int, target: Callable[[], None], *, restart_delay_s: float = 1.0) -> None:
    """Run ``target`` in ``n`` child processes; restart one that dies; pass SIGTERM/SIGINT on and wait."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited threads or connections
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)
    children = [ctx.Process(target=target, name=f"arinbox-worker-{i + 1}") for i in range(n)]
    for c in children:
        c.start()
    while not stop.wait(0.5):
        for i, c in enumerate(children):
            if not c.is_alive() and not stop.is_set():
                log.warning("worker process exited, restarting", extra={"pid": c.pid, "exitcode": c.exitcode})
                time.sleep(restart_delay_s)
                children[i] = ctx.Process(target=target, name=c.name)
                children[i].start()
    for c in children:
        if c.is_alive() and c.pid is not None:
            c.terminate()  # SIGTERM: each child finishes its emails within its grace period
    for c in children:
        c.join()
