"""The mini corpus run through the real pipeline, shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from arinbox.connectors.folder import FolderMailbox
from arinbox.ledger.csv_import import import_ledger
from arinbox.persistence import models as m
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.settings import Settings
from tests.conftest import DATA

MINI = DATA / "mini"


def items_by_file(app: App) -> dict[str, m.WorkItem]:
    """Work items keyed by the file name of their message."""
    with app.sessions() as s:
        rows = s.execute(select(m.WorkItem, m.RawMessage.source_key).join(
            m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id)).all()
        return {Path(key).name: item for item, key in rows}


@pytest.fixture
def processed(settings: Settings) -> Iterator[App]:
    """tests/data/mini imported, ingested (7 messages and 1 broken one) and processed."""
    with App(settings) as app:
        import_ledger(MINI / "ledger", app.sessions)
        report = ingest(FolderMailbox(MINI / "emails"), app.sessions, kind="folder")
        assert (report.new, report.failed) == (7, 1)
        app.processor.process_all()
        yield app
