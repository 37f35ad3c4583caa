"""Graph checkpointers: SQLite beside the embedded database, PostgreSQL in the same database."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from arinbox.persistence.db import normalise_url

SETUP_LOCK = 4242004  # held while the checkpoint tables are created or migrated


def checkpoint_target(database_url: str, checkpoint_url: str) -> str:
    """SQLite: a second file beside the database, so the checkpointer's own connection never
    waits on the application's write lock. PostgreSQL: the same database."""
    if checkpoint_url:
        return checkpoint_url
    url = normalise_url(database_url)
    if url.get_backend_name() == "sqlite":
        db = Path(url.database or "arinbox.sqlite")
        return f"sqlite:///{db.with_name(db.stem + '.checkpoints' + (db.suffix or '.sqlite'))}"
    return database_url


def open_checkpointer(target: str) -> tuple[BaseCheckpointSaver[Any], Any]:
    """Return the saver and the connection to close when done."""
    url = normalise_url(target)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database or ":memory:", check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        # Checkpoints may lag the database after a power cut (never after a process crash, which WAL
        # survives): the email then resumes from an earlier node, and nodes are idempotent. So no
        # fsync per checkpoint; the database itself keeps full durability.
        conn.execute("PRAGMA synchronous=NORMAL")
        sqlite_saver = SqliteSaver(conn)
        sqlite_saver.setup()
        return sqlite_saver, conn
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    # a pool that checks each connection before lending it: a dropped connection (server restart,
    # a killed backend) is replaced instead of failing every later checkpoint
    pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
        conninfo, min_size=1, max_size=4, open=True, check=ConnectionPool.check_connection,
        # synchronous_commit off for checkpoints only, for the reason given for SQLite above: a
        # server crash may lose the newest ones, and the email then resumes from an earlier node
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row,
                "options": "-c synchronous_commit=off"})
    pg_saver = PostgresSaver(pool)
    with psycopg.connect(conninfo, autocommit=True) as lock:
        # workers starting together would each create the checkpoint tables: one at a time. Try, not
        # wait: setup's CREATE INDEX CONCURRENTLY waits for every running statement, a blocked
        # pg_advisory_lock included, which would deadlock unseen.
        while not lock.execute("SELECT pg_try_advisory_lock(%s)", (SETUP_LOCK,)).fetchone()[0]:  # type: ignore[index]
            time.sleep(0.2)
        pg_saver.setup()
    return pg_saver, pool
