"""The decision trace: append-only, each record hashing the one before it.

``append`` is idempotent by key, so a node that re-runs after a crash or a resume adds nothing.
``verify`` recomputes the chain and names the first record that was edited, deleted or moved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, text
from sqlalchemy.orm import Session

from arinbox.persistence.models import TraceRecord, utcnow

GENESIS = "0" * 64


def canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_hash(prev_hash: str, key: str, node: str, work_item_id: int | None, created_at: dt.datetime,
                body: str) -> str:
    stamp = created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    material = "\x1f".join([prev_hash, key, node, str(work_item_id), stamp, body])
    return hashlib.sha256(material.encode()).hexdigest()


_T = cast(Table, TraceRecord.__table__)
# the key's record if any, and the last hash, in one round trip
_KEY_AND_LAST = select(
    select(_T.c.id).where(_T.c.key == bindparam("key")).scalar_subquery(),
    select(_T.c.hash).order_by(_T.c.id.desc()).limit(1).scalar_subquery(),
)
_TAKE_SQLITE_WRITE_LOCK = text("UPDATE trace_records SET id = id WHERE 0 = 1")
_PG_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(4242001)")


def append(session: Session, *, key: str, node: str, work_item_id: int | None, body: dict[str, Any]) -> bool:
    """Append one record in the caller's transaction; False if the key is already traced."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # one chain for many workers: serialise appends for the rest of this transaction
        session.execute(_PG_CHAIN_LOCK)
    elif dialect == "sqlite":
        # take SQLite's write lock before reading the last hash (a write that changes nothing): a
        # plain SELECT runs outside the write transaction, and two threads would chain to one record
        session.execute(_TAKE_SQLITE_WRITE_LOCK)
    existing, last = session.execute(_KEY_AND_LAST, {"key": key}).one()
    if existing is not None:
        return False
    prev = last or GENESIS
    created = utcnow()
    payload = canonical(body)
    session.execute(insert(_T).values(
        key=key, work_item_id=work_item_id, node=node, body=payload, created_at=created, prev_hash=prev,
        hash=record_hash(prev, key, node, work_item_id, created, payload)))
    return True


@dataclass(frozen=True)
class ChainReport:
    records: int
    ok: bool
    first_bad_id: int | None = None
    problem: str = ""


def verify(session: Session) -> ChainReport:
    prev = GENESIS
    count = 0
    for rec in session.scalars(select(TraceRecord).order_by(TraceRecord.id)):
        count += 1
        if rec.prev_hash != prev:
            return ChainReport(count, False, rec.id, "previous-hash link broken (a record was deleted or moved)")
        if record_hash(prev, rec.key, rec.node, rec.work_item_id, rec.created_at, rec.body) != rec.hash:
            return ChainReport(count, False, rec.id, "content does not match its hash (the record was edited)")
        prev = rec.hash
    return ChainReport(count, True)


def records_for(session: Session, work_item_id: int) -> Iterator[TraceRecord]:
    yield from session.scalars(
        select(TraceRecord).where(TraceRecord.work_item_id == work_item_id).order_by(TraceRecord.id)
    )
