"""A running process picks up a ledger import made after it started (a new customer, new invoice numbers)."""

from __future__ import annotations

from arinbox.connectors.folder import FolderMailbox
from arinbox.ledger.csv_import import import_ledger, ledger_revision
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.settings import Settings
from tests.integration.conftest import MINI, items_by_file


def test_references_follow_an_import_made_after_start(settings: Settings) -> None:
    with App(settings) as app:
        assert app.deps.refs.invoices == []  # loaded from the empty ledger
        assert ledger_revision(app.sessions) == 0
        import_ledger(MINI / "ledger", app.sessions)
        assert ledger_revision(app.sessions) == 1
        assert "INV-2026-004512" in {i.invoice_number for i in app.deps.refs.invoices}
        ingest(FolderMailbox(MINI / "emails"), app.sessions, kind="folder")
        app.processor.process_all()
        assert items_by_file(app)["remit-exact.eml"].status == "done"
        same = app.deps.refs
        assert app.deps.refs is same  # no reload while the revision stands
