"""The whole graph on a small corpus, on SQLite and PostgreSQL: ingest once, act or hold, trace,
approve and reject, resume in a new process."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from arinbox.connectors.folder import FolderMailbox
from arinbox.ledger.csv_import import import_ledger
from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.service.approvals import decide, list_pending
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.service.users import add_user
from arinbox.settings import Settings
from tests.conftest import DATA
from tests.integration.conftest import items_by_file

MINI = DATA / "mini"


def test_each_email_is_acted_on_or_held(processed: App) -> None:
    items = items_by_file(processed)
    assert items["remit-exact.eml"].status == "done"
    assert items["remit-exact.eml"].outcome["auto_allocations"] == [  # type: ignore[index]
        {"invoice": "INV-2026-004512", "amount": "1250.00"}]
    inv = {i.invoice_number: i for i in processed.ledger.invoices("CUST-1")}
    assert inv["INV-2026-004512"].open_amount == Decimal("0.00") and inv["INV-2026-004512"].status == "paid"
    # two open invoices of 300.00: a person decides
    assert items["remit-ambiguous.eml"].status == "waiting_approval"
    # a bank-detail change always stops, even with a clean match beside it
    assert items["bank-change.eml"].status == "waiting_approval"
    assert inv["INV-2026-004513"].open_amount == Decimal("980.40")
    # an out-of-office is closed with no action and never answered
    assert items["ooo.eml"].status == "done" and items["ooo.eml"].intent == "auto_reply"
    assert not [p for p in (processed.settings.outbox_dir).glob("*.eml") if "ooo" in p.read_text()]
    # the broken message is stored and marked failed with the reason, never dropped
    broken = items["broken.eml"]
    assert broken.status == "failed" and broken.last_error
    with processed.sessions() as s:
        raw = s.get(m.RawMessage, broken.raw_message_id)
        assert raw is not None and raw.parse_status == "failed" and raw.raw.startswith(b"this is not an email")
        # a dispute opened alone goes to the owner the policy's dispute_routing names for its reason
        routing = processed.policy.dispute_routing
        disputes = list(s.scalars(select(m.Dispute)))
        assert disputes
        for d in disputes:
            assert d.owner == routing.owner(d.customer_id, d.reason, d.amount, processed.settings.dispute_owner)


def test_reingest_and_reprocess_change_nothing(processed: App) -> None:
    again = ingest(FolderMailbox(MINI / "emails"), processed.sessions, kind="folder")
    assert (again.new, again.duplicates) == (0, 8)
    with processed.sessions() as s:
        before = s.scalar(select(func.count()).select_from(m.PaymentApplication))
    assert processed.processor.process_all() == {}
    done = items_by_file(processed)["remit-exact.eml"].id
    assert processed.processor.run(done) == "done"
    with processed.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.PaymentApplication)) == before


def test_every_decision_is_traced_and_the_chain_holds(processed: App) -> None:
    items = items_by_file(processed)
    with processed.sessions() as s:
        nodes = [r.node for r in trace.records_for(s, items["remit-exact.eml"].id)]
        assert nodes == ["ingest", "parse", "mask", "classify", "extract", "lookup", "propose", "gate", "execute",
                         "verify"]
        gate = next(r for r in trace.records_for(s, items["remit-ambiguous.eml"].id) if r.node == "gate")
        assert processed.policy.version_id in gate.body and "ambiguous_match" in gate.body
        masked = next(r for r in trace.records_for(s, items["remit-exact.eml"].id) if r.node == "mask")
        assert "Dana Reyes" not in masked.body and "201-3344" not in masked.body
        assert "INV-2026-004512" in masked.body
        for item in items.values():
            assert list(trace.records_for(s, item.id)), f"work item {item.id} has no trace"
        assert trace.verify(s).ok


def test_reject_and_approve_resume_the_graph(processed: App) -> None:
    items = items_by_file(processed)
    pending = {p.work_item_id: p for p in list_pending(processed.processor)}
    ambiguous, bank = pending[items["remit-ambiguous.eml"].id], pending[items["bank-change.eml"].id]
    assert decide(processed.processor, ambiguous.id, approve=False, approver="alice", role="approver",
                  reason="no way to tell") == "rejected"
    assert decide(processed.processor, bank.id, approve=True, approver="bob", role="approver") == "done"
    inv = {i.invoice_number: i for i in processed.ledger.invoices("CUST-1")}
    assert inv["INV-2026-004513"].open_amount == Decimal("0.00")
    with pytest.raises(Exception, match="already approved"):
        decide(processed.processor, bank.id, approve=True, approver="bob", role="approver")
    with processed.sessions() as s:
        approval = next(r for r in trace.records_for(s, items["bank-change.eml"].id) if r.node == "approval")
        assert '"approver":"bob"' in approval.body
        assert trace.verify(s).ok


def test_pending_approval_survives_a_restart(processed: App, tmp_path: Path) -> None:
    """Approve from a new process: the graph resumes from its checkpoint there."""
    items = items_by_file(processed)
    bank_id = items["bank-change.eml"].id
    approval_id = {p.work_item_id: p.id for p in list_pending(processed.processor)}[bank_id]
    settings = processed.settings
    add_user(processed.sessions, "carol", "approver")
    processed.close()
    env = {**os.environ, "ARINBOX_DATABASE_URL": settings.database_url,
           "ARINBOX_OUTBOX_DIR": str(settings.outbox_dir),
           "ARINBOX_VAULT_KEY": settings.vault_key.get_secret_value()}  # type: ignore[union-attr]
    run = subprocess.run([sys.executable, "-m", "arinbox", "approvals", "approve", str(approval_id),
                          "--approver", "carol"], env=env, capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"approval {approval_id} approved by carol (approver); email done" in run.stdout
    with App(settings) as app:
        assert items_by_file(app)["bank-change.eml"].status == "done"
        inv = {i.invoice_number: i for i in app.ledger.invoices("CUST-1")}
        assert inv["INV-2026-004513"].open_amount == Decimal("0.00")


class SpyClassifier:
    """Records everything the classifier port receives."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.seen = inner, inner.name, []

    def classify(self, email: Any, masked_text: str) -> Any:
        self.seen.append(email.model_dump_json() + "\n" + masked_text)
        return self.inner.classify(email, masked_text)


def test_no_raw_personal_value_reaches_the_classifier(settings: Settings) -> None:
    import dataclasses
    import json

    from arinbox.agents.graph import build_graph
    from arinbox.service.checkpoints import checkpoint_target, open_checkpointer
    from arinbox.service.processor import Processor

    with App(settings) as app:
        import_ledger(MINI / "ledger", app.sessions)
        ingest(FolderMailbox(MINI / "emails"), app.sessions, kind="folder")
        spy = SpyClassifier(app.deps.classifier)
        saver, conn = open_checkpointer(checkpoint_target(settings.database_url, settings.checkpoint_url))
        try:
            Processor(dataclasses.replace(app.deps, classifier=spy), build_graph(saver)).process_all()
        finally:
            conn.close()
    pii = [v for line in (MINI / "labels.jsonl").read_text().splitlines() for v in json.loads(line).get("pii", [])]
    assert len(spy.seen) == 7 and pii
    for value in pii:
        assert not any(value in text for text in spy.seen), value


def test_overdue_approvals_are_escalated_once(processed: App) -> None:
    import datetime as dt

    from arinbox.service.approvals import escalate_overdue

    pending = list_pending(processed.processor)
    assert pending and not any(p.escalated for p in pending)
    assert escalate_overdue(processed.processor) == []  # just requested: within the limit
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=processed.policy.approval_max_age_hours + 1)
    assert sorted(escalate_overdue(processed.processor, later)) == sorted(p.id for p in pending)
    assert escalate_overdue(processed.processor, later) == []
    assert all(p.escalated for p in list_pending(processed.processor))
    with processed.sessions() as s:
        assert trace.verify(s).ok
