"""Audit export and KPIs over the real pipeline on the mini corpus, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import statistics
from dataclasses import replace
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import func, select, update

from arinbox.domain.errors import ArinboxError
from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.service.approvals import decide, list_pending
from arinbox.service.audit_export import COLUMNS, export_trace
from arinbox.service.bootstrap import App
from arinbox.service.kpi import Kpis, compute_kpis, render_kpis
from tests.conftest import DATA
from tests.integration.conftest import items_by_file

MINI = DATA / "mini"


def decide_two(app: App) -> None:
    """Reject the ambiguous remittance, approve the bank-detail change (no edits)."""
    items = items_by_file(app)
    pending = {p.work_item_id: p for p in list_pending(app.processor)}
    ambiguous, bank = pending[items["remit-ambiguous.eml"].id], pending[items["bank-change.eml"].id]
    assert decide(app.processor, ambiguous.id, approve=False, approver="alice", role="approver",
                  reason="cannot tell") == "rejected"
    assert decide(app.processor, bank.id, approve=True, approver="bob", role="approver") == "done"


def export(app: App, since: dt.date | None, fmt: Any) -> tuple[int, str]:
    buf = io.StringIO(newline="")
    with app.sessions() as s:
        n = export_trace(s, since, fmt, buf)
    return n, buf.getvalue()


def stored_chain(app: App) -> list[m.TraceRecord]:
    with app.sessions() as s:
        return list(s.scalars(select(m.TraceRecord).order_by(m.TraceRecord.id)))


def tomorrow() -> dt.date:
    return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)


# --- audit export ------------------------------------------------------------------------------


def test_export_writes_the_whole_chain_in_order_and_verifiable(processed: App) -> None:
    decide_two(processed)
    with processed.sessions.begin() as s:  # a record of no email: its work item and Message-ID are null
        trace.append(s, key="test:no-email", node="system", work_item_id=None, body={"note": "é ✓", "n": 1.5})
    chain = stored_chain(processed)
    items = items_by_file(processed)
    with processed.sessions() as s:
        message_ids = dict(s.execute(select(m.WorkItem.id, m.RawMessage.message_id).join(
            m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id)).all())
        assert trace.verify(s).ok

    n, text = export(processed, None, "jsonl")
    rows = [json.loads(line) for line in text.splitlines()]
    assert n == len(rows) == len(chain) > 2 * len(items)
    assert [r["id"] for r in rows] == [r.id for r in chain]
    assert rows[0]["prev_hash"] == trace.GENESIS
    for before, row in pairwise(rows):
        assert row["prev_hash"] == before["hash"]
    for row in rows:
        assert list(row) == list(COLUMNS)
        assert row["message_id"] == message_ids.get(row["work_item_id"])
        # an auditor recomputes every hash from the export alone
        assert trace.record_hash(row["prev_hash"], row["key"], row["node"], row["work_item_id"],
                                 dt.datetime.fromisoformat(row["created_at"]), trace.canonical(row["body"])) \
            == row["hash"]
    exact = [r for r in rows if r["work_item_id"] == items["remit-exact.eml"].id]
    assert [r["node"] for r in exact] == ["ingest", "parse", "mask", "classify", "extract", "lookup", "propose",
                                          "gate", "execute", "verify"]
    approval = next(r for r in rows if r["work_item_id"] == items["bank-change.eml"].id and r["node"] == "approval")
    assert approval["body"]["approver"] == "bob" and approval["body"]["decision"] == "approve"
    system = rows[-1]
    assert system["key"] == "test:no-email" and system["work_item_id"] is None and system["message_id"] is None
    assert system["body"] == {"note": "é ✓", "n": 1.5}

    n_csv, text_csv = export(processed, None, "csv")
    table = list(csv.reader(io.StringIO(text_csv, newline="")))
    assert table[0] == list(COLUMNS)
    body = table[1:]
    assert n_csv == len(body) == len(chain)
    for rec, (rid, created, wi, mid, node, key, prev, hash_, canon) in zip(chain, body, strict=True):
        assert (int(rid), node, key, prev, hash_, canon) == (rec.id, rec.node, rec.key, rec.prev_hash, rec.hash,
                                                             rec.body)
        assert wi == ("" if rec.work_item_id is None else str(rec.work_item_id))
        assert mid == (message_ids[rec.work_item_id] if rec.work_item_id is not None else "")
        assert trace.record_hash(prev, key, node, int(wi) if wi else None, dt.datetime.fromisoformat(created),
                                 canon) == hash_

    assert export(processed, tomorrow(), "jsonl") == (0, "")
    n_none, text_none = export(processed, tomorrow(), "csv")
    assert n_none == 0 and text_none.splitlines() == [",".join(COLUMNS)]
    with pytest.raises(ArinboxError, match="unknown export format"):
        export(processed, None, "xml")


def test_export_since_starts_at_the_utc_day(processed: App) -> None:
    chain = stored_chain(processed)
    older = chain[: len(chain) // 3]
    with processed.sessions.begin() as s:  # back-date the first third of the chain by two days
        for rec in older:
            s.execute(update(m.TraceRecord).where(m.TraceRecord.id == rec.id)
                      .values(created_at=rec.created_at - dt.timedelta(days=2)))
    day = min(r.created_at for r in chain[len(older):]).date()
    n, text = export(processed, day, "jsonl")
    rows = [json.loads(line) for line in text.splitlines()]
    assert n == len(rows) == len(chain) - len(older)
    assert rows[0]["id"] == chain[len(older)].id and rows[0]["prev_hash"] == older[-1].hash
    assert export(processed, day - dt.timedelta(days=2), "jsonl")[0] == len(chain)
    assert export(processed, None, "csv")[0] == len(chain)


# --- KPIs --------------------------------------------------------------------------------------


def approvals_by_work_item(app: App) -> dict[int, m.Approval]:
    with app.sessions() as s:
        return {a.work_item_id: a for a in s.scalars(select(m.Approval))}


def test_kpis_on_the_mini_corpus(processed: App) -> None:
    items = items_by_file(processed)
    first_request = min(a.requested_at for a in approvals_by_work_item(processed).values())
    with processed.sessions() as s:
        before = compute_kpis(s, None, now=first_request + dt.timedelta(hours=3))
    # the held emails wait (at least the ambiguous and the bank-change ones); nothing decided yet
    assert before.pending_approvals == len(list_pending(processed.processor)) >= 2
    assert before.oldest_pending_approval_hours == pytest.approx(3.0)
    assert (before.decided_approvals, before.manual_override_rate) == (0, 0.0)

    decide_two(processed)
    items = items_by_file(processed)
    approvals = approvals_by_work_item(processed)
    with processed.sessions() as s:
        now = dt.datetime.now(dt.UTC)
        k = compute_kpis(s, None, now=now)
        day = min(i.created_at for i in items.values()).date()
        assert compute_kpis(s, day, now=now) == replace(k, since=day)
        received = dict(s.execute(select(m.WorkItem.id, m.RawMessage.received_at).join(
            m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id)).all())
        held_actions = s.scalars(select(m.ActionRow).where(m.ActionRow.outcome == "approval",
                                                          m.ActionRow.executed_at.is_not(None))).all()

    # every email of the corpus went through; the broken one failed, two were held for a person
    assert (k.work_items, k.processed) == (8, 8)
    auto = {f for f, i in items.items() if i.status == "done" and i.id not in approvals}
    assert {"remit-exact.eml", "ooo.eml"} <= auto
    assert not {"remit-ambiguous.eml", "bank-change.eml", "broken.eml"} & auto
    assert k.auto_resolved == len(auto)
    assert k.auto_resolution_rate == pytest.approx(len(auto) / 8)
    assert k.needed_person == 8 - len(auto) and k.exception_rate == pytest.approx((8 - len(auto)) / 8)
    # one rejected, one approved as proposed
    assert (k.decided_approvals, k.overridden_approvals, k.manual_override_rate) == (2, 1, 0.5)
    # the bank-detail change ran only after bob approved it
    assert k.executed_with_approval == len(held_actions) >= 1
    assert {a.work_item_id for a in held_actions} == {items["bank-change.eml"].id}
    assert k.approval_compliance == 1.0
    assert k.rollbacks == 0
    still_pending = len(list_pending(processed.processor))
    assert k.pending_approvals == still_pending == before.pending_approvals - 2
    assert (k.oldest_pending_approval_hours is None) == (still_pending == 0)

    minutes = [(i.updated_at - received[i.id]).total_seconds() / 60 for f, i in items.items() if f in auto]
    minutes += [(a.decided_at - received[a.work_item_id]).total_seconds() / 60 for a in approvals.values()
                if a.decided_at is not None]
    assert k.resolved_timed == len(minutes) == len(auto) + 2
    assert k.median_minutes_to_resolution == pytest.approx(statistics.median(minutes))
    assert k.p95_minutes_to_resolution is not None
    assert sorted(minutes)[-2] <= k.p95_minutes_to_resolution <= max(minutes)
    assert 0 <= k.median_minutes_to_resolution <= k.p95_minutes_to_resolution

    with processed.sessions() as s:
        empty = compute_kpis(s, tomorrow())
    assert (empty.work_items, empty.processed, empty.auto_resolution_rate, empty.exception_rate) == (0, 0, 0.0, 0.0)
    assert (empty.manual_override_rate, empty.approval_compliance, empty.median_minutes_to_resolution) \
        == (0.0, 1.0, None)


def test_compliance_catches_an_action_run_before_its_approval(processed: App) -> None:
    decide_two(processed)
    bank = items_by_file(processed)["bank-change.eml"].id
    with processed.sessions.begin() as s:
        ran = s.scalar(select(func.max(m.ActionRow.executed_at)).where(m.ActionRow.work_item_id == bank))
        assert ran is not None
        s.execute(update(m.Approval).where(m.Approval.work_item_id == bank)
                  .values(decided_at=ran + dt.timedelta(minutes=5)))
    with processed.sessions() as s:
        k = compute_kpis(s, None)
    assert k.executed_with_approval >= 1
    assert (k.executed_with_prior_approval, k.approval_compliance) == (0, 0.0)


def test_render_is_aligned_and_names_every_kpi() -> None:
    k = Kpis(since=dt.date(2026, 1, 1), work_items=10, processed=8, auto_resolved=5, auto_resolution_rate=0.625,
             needed_person=3, exception_rate=0.375, resolved_timed=7, median_minutes_to_resolution=1.24,
             p95_minutes_to_resolution=90.0, decided_approvals=2, overridden_approvals=1,
             manual_override_rate=0.5, executed_with_approval=1, executed_with_prior_approval=1,
             approval_compliance=1.0, rollbacks=0, pending_approvals=1, oldest_pending_approval_hours=26.5)
    text = render_kpis(k)
    lines = text.splitlines()
    labels = ["window", "work items", "emails processed", "auto-resolution rate", "exception rate",
              "median time to resolution", "p95 time to resolution", "manual override rate",
              "approval compliance", "rollbacks", "pending approvals", "oldest pending approval"]
    column = max(map(len, labels)) + 2
    assert [line[:column].rstrip() for line in lines] == labels
    assert all(line[column] != " " for line in lines)
    assert "since 2026-01-01" in lines[0]
    assert "62.5 %  (5 of 8)" in text and "50.0 %" in text and "100.0 %" in text
    assert lines[-1].endswith("26.5 h") and "1.2 min" in lines[5]
    none = render_kpis(replace(k, since=None, median_minutes_to_resolution=None, oldest_pending_approval_hours=None))
    assert "all work items" in none and none.count("n/a") == 2
