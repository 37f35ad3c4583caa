"""Ingest acknowledges a message only after storing it; adapter cursors survive in the database;
the migrations build exactly the tables the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from arinbox.connectors.fake import InMemoryMailbox
from arinbox.persistence import models as m
from arinbox.persistence.sync_state import SqlSyncState
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.settings import Settings

MAIL = b"From: a@example.com\r\nTo: ar@example.com\r\nSubject: hi\r\nMessage-ID: <%s@x>\r\n\r\nbody\r\n"


def test_acknowledged_after_store_and_again_for_duplicates(settings: Settings) -> None:
    with App(settings) as app:
        box = InMemoryMailbox({"1": MAIL % b"a", "2": MAIL % b"b"})
        report = ingest(box, app.sessions, kind="memory")
        assert (report.new, box.acknowledged) == (2, ["1", "2"])
        with app.sessions() as s:
            assert s.query(m.RawMessage).count() == 2
        # a source that re-offers a stored message (its cursor was lost) gets it acknowledged again
        again = ingest(box, app.sessions, kind="memory")
        assert (again.new, again.duplicates, box.acknowledged[2:]) == (0, 2, ["1", "2"])


def test_sync_state_is_per_mailbox_and_durable(settings: Settings) -> None:
    with App(settings) as app:
        a, b = SqlSyncState(app.sessions, "box-a"), SqlSyncState(app.sessions, "box-b")
        assert a.get("INBOX/uidvalidity") is None
        a.set("INBOX/uidvalidity", "42")
        a.set("INBOX/uidvalidity", "43")
        b.set("INBOX/uidvalidity", "7")
    with App(settings) as app:
        assert SqlSyncState(app.sessions, "box-a").get("INBOX/uidvalidity") == "43"
        assert SqlSyncState(app.sessions, "box-b").get("INBOX/uidvalidity") == "7"


def test_migrations_match_the_models(settings: Settings) -> None:
    with App(settings) as app, app.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
    # SQLite cannot tell some type details apart; anything structural must be absent on both
    structural = [d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column",
                                               "add_index", "remove_index")]
    assert structural == []
