"""Export the decision trace for auditors, as JSON Lines or CSV, in chain order.

Each row carries what an auditor needs to recompute the chain outside arinbox: the key, node,
work item id, ``created_at`` with microseconds, the body and both hashes (see ``trace.record_hash``).
The CSV keeps the body as the exact canonical JSON string that was hashed; the JSON Lines file holds
it parsed, and ``trace.canonical`` of it gives the hashed string back.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from typing import Literal, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from arinbox.domain.errors import ArinboxError
from arinbox.persistence import models as m

ExportFormat = Literal["jsonl", "csv"]
COLUMNS = ("id", "created_at", "work_item_id", "message_id", "node", "key", "prev_hash", "hash", "body")
BATCH = 500  # rows fetched per round trip; keeps memory flat on a year of trace


def start_of_day(day: dt.date) -> dt.datetime:
    """The first instant of a UTC calendar day."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def stamp(value: dt.datetime) -> str:
    """The timestamp exactly as it enters the record's hash."""
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def export_trace(session: Session, since: dt.date | None, fmt: ExportFormat, out: TextIO) -> int:
    """Write every trace record created on or after ``since`` (a UTC date; None: all) to ``out``.

    Rows are streamed in batches, never loaded all at once. For CSV, open a file with ``newline=""``
    (the csv module writes its own line endings). Returns the number of records written.
    """
    if fmt not in ("jsonl", "csv"):
        raise ArinboxError(f"unknown export format {fmt!r}; use jsonl or csv")
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(COLUMNS)
    q = (
        select(m.TraceRecord.id, m.TraceRecord.created_at, m.TraceRecord.work_item_id, m.RawMessage.message_id,
               m.TraceRecord.node, m.TraceRecord.key, m.TraceRecord.prev_hash, m.TraceRecord.hash,
               m.TraceRecord.body)
        .outerjoin(m.WorkItem, m.WorkItem.id == m.TraceRecord.work_item_id)
        .outerjoin(m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id)
        .order_by(m.TraceRecord.id)  # the chain's order: each record hashes the one with the next lower id
    )
    if since is not None:
        q = q.where(m.TraceRecord.created_at >= start_of_day(since))
    count = 0
    for rec_id, created_at, work_item_id, message_id, node, key, prev_hash, hash_, body in session.execute(
            q.execution_options(yield_per=BATCH)):
        fields = (rec_id, stamp(created_at), work_item_id, message_id, node, key, prev_hash, hash_)
        if writer is not None:
            writer.writerow((*fields, body))
        else:
            row = dict(zip(COLUMNS, (*fields, json.loads(body)), strict=True))
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
