"""Who may decide what: risk tiers from the policy, approver roles per tier, four eyes on edited drafts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from arinbox.connectors.folder import FolderMailbox
from arinbox.domain.errors import PermissionDenied
from arinbox.ledger.csv_import import import_ledger
from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.service.approvals import PendingApproval, decide, list_pending, save_edit
from arinbox.service.bootstrap import App
from arinbox.service.users import add_user, authenticate, get_user
from arinbox.settings import Settings
from tests.conftest import ROOT
from tests.integration.conftest import MINI, items_by_file


@pytest.fixture
def tiered(settings: Settings, tmp_path: Path) -> Iterator[App]:
    """The mini corpus under a policy whose bands make its 980.40 payment medium and its 4,820.50 promise high."""
    policy = tmp_path / "tiered.yaml"
    text = (ROOT / "policies" / "default.yaml").read_text()
    text = text.replace("- {up_to: 5000, tier: low}\n    - {up_to: 25000, tier: medium}",
                        "- {up_to: 500, tier: low}\n    - {up_to: 25000, tier: medium}")
    text = text.replace("- {up_to: 10000, tier: low}\n    - {up_to: 50000, tier: medium}",
                        "- {up_to: 1000, tier: low}\n    - {up_to: 2000, tier: medium}")
    policy.write_text(text)
    with App(settings, policy_file=policy) as app:
        import_ledger(MINI / "ledger", app.sessions)
        from arinbox.service.ingest import ingest

        ingest(FolderMailbox(MINI / "emails"), app.sessions, kind="folder")
        app.processor.process_all()
        for name, role in (("cleo", "clerk"), ("bob", "approver"), ("carol", "approver"), ("audrey", "auditor")):
            add_user(app.sessions, name, role, password=f"{name}-secret")
        yield app


def _pending(app: App) -> dict[str, PendingApproval]:
    items = items_by_file(app)
    by_item = {p.work_item_id: p for p in list_pending(app.processor)}
    return {name: by_item[item.id] for name, item in items.items() if item.id in by_item}


def test_each_approval_carries_the_highest_tier_of_its_actions(tiered: App) -> None:
    pending = _pending(tiered)
    assert pending["bank-change.eml"].tier == "medium"
    assert pending["promise.eml"].tier == "high"


def test_roles_the_policy_does_not_list_may_not_decide(tiered: App) -> None:
    bank = _pending(tiered)["bank-change.eml"]
    with pytest.raises(PermissionDenied, match=r"cleo \(clerk\) may not decide a medium-tier approval"):
        decide(tiered.processor, bank.id, approve=True, approver="cleo", role="clerk")
    with pytest.raises(PermissionDenied, match="audrey"):
        decide(tiered.processor, bank.id, approve=False, approver="audrey", role="auditor", reason="no")
    assert _pending(tiered)["bank-change.eml"].id == bank.id  # still pending, nothing ran
    assert decide(tiered.processor, bank.id, approve=True, approver="bob", role="approver") == "done"


def _draft(app: App, work_item_id: int) -> str:
    with app.sessions() as s:
        row = s.scalar(select(m.ActionRow).where(m.ActionRow.work_item_id == work_item_id,
                                                 m.ActionRow.kind == "send_reply"))
        assert row is not None
        return str(row.payload["body"])


def test_the_editor_of_a_high_tier_draft_may_not_approve_it(tiered: App) -> None:
    promise = _pending(tiered)["promise.eml"]
    edited = "Thank you for letting us know.\n\n" + _draft(tiered, promise.work_item_id)
    with pytest.raises(PermissionDenied, match="whoever edits the draft may not approve it"):
        decide(tiered.processor, promise.id, approve=True, approver="bob", role="approver", reply_body=edited)
    save_edit(tiered.processor, promise.id, editor="bob", role="approver", reply_body=edited)
    with pytest.raises(PermissionDenied, match="bob edited the draft"):
        decide(tiered.processor, promise.id, approve=True, approver="bob", role="approver")
    with pytest.raises(PermissionDenied, match="may not edit"):
        save_edit(tiered.processor, promise.id, editor="audrey", role="auditor", reply_body=edited)
    assert decide(tiered.processor, promise.id, approve=True, approver="carol", role="approver") == "done"
    sent = list(tiered.settings.outbox_dir.glob("*.eml"))
    assert any("Thank you for letting us know." in p.read_text() for p in sent)
    with tiered.sessions() as s:
        nodes = {r.node: r.body for r in trace.records_for(s, promise.work_item_id)}
        assert '"editor":"bob"' in nodes["approval_edit"]
        assert '"approver":"carol"' in nodes["approval"] and '"edited_by":"bob"' in nodes["approval"]
        assert trace.verify(s).ok


def test_an_edit_that_changes_a_figure_is_refused(tiered: App) -> None:
    promise = _pending(tiered)["promise.eml"]
    draft = _draft(tiered, promise.work_item_id)
    assert "4,820.50" in draft or "4.820,50" in draft
    wrong = draft.replace("4,820.50", "4,000.00").replace("4.820,50", "4.000,00")
    with pytest.raises(Exception, match="not approved"):
        save_edit(tiered.processor, promise.id, editor="bob", role="approver", reply_body=wrong)


def test_users_have_roles_and_hashed_passwords(tiered: App) -> None:
    assert get_user(tiered.sessions, "carol").role == "approver"
    assert authenticate(tiered.sessions, "carol", "carol-secret") is not None
    assert authenticate(tiered.sessions, "carol", "wrong") is None
    assert authenticate(tiered.sessions, "nobody", "carol-secret") is None
    with tiered.sessions() as s:
        stored = s.scalar(select(m.User.password_hash).where(m.User.username == "carol"))
        assert stored is not None and "carol-secret" not in stored and stored.startswith("scrypt$")
