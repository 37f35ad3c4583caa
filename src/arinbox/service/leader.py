"""One scheduler for all processes: the leader holds a PostgreSQL advisory lock.

The lock belongs to a connection of its own, held as long as the process lives; when the process or
its connection dies, PostgreSQL releases it and a standby takes over at its next try. The leader
checks its connection at the same pace, so for at most one interval two processes may both believe
they lead — every scheduled job is idempotent by key, so that costs nothing but a repeated query.
SQLite has a single process writing: it is always the leader.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import psycopg

from arinbox.persistence.db import normalise_url

log = logging.getLogger("arinbox.leader")
LOCK_KEY = 4242002  # the trace chain uses 4242001


class Leadership:
    name = "leader election"

    def __init__(self, database_url: str, *, retry_s: float = 10.0, lock_key: int = LOCK_KEY) -> None:
        url = normalise_url(database_url)
        self._postgres = url.get_backend_name() == "postgresql"
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.retry_s, self.lock_key = retry_s, lock_key
        self._leader = threading.Event()
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread: threading.Thread | None = None
        if not self._postgres:
            self._leader.set()

    def is_leader(self) -> bool:
        return self._leader.is_set()

    def start(self) -> None:
        if self._postgres:
            self._stop.clear()
            self._attempt()  # decide at once, so a single process leads from its first second
            self._thread = threading.Thread(target=self._loop, name="leader-election", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._drop()

    def health(self) -> dict[str, Any]:
        return {"ok": True, "leader": self.is_leader()}

    def _loop(self) -> None:
        while not self._stop.wait(self.retry_s):
            self._attempt()

    def _attempt(self) -> None:
        try:
            if self._conn is None:
                self._conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
            if self.is_leader():
                self._conn.execute("SELECT 1")
                return
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key,)).fetchone()
            if row and row[0]:
                self._leader.set()
                log.info("this process now runs the scheduled jobs")
        except psycopg.Error as e:
            if self.is_leader():
                log.warning("lost the scheduler lock with the database connection: %s", type(e).__name__)
            self._drop()

    def _drop(self) -> None:
        if self._postgres:
            self._leader.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()  # closing the session releases the advisory lock
