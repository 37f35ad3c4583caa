"""A reply leaves through the outbox of the mailbox its email came in by, from that mailbox's address."""

from __future__ import annotations

from sqlalchemy import select

from arinbox.connectors.fake import InMemoryMailbox, InMemoryOutbox
from arinbox.ledger.csv_import import import_ledger
from arinbox.persistence import models as m
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.service.outboxes import RoutedOutbox
from arinbox.settings import Settings
from tests.integration.conftest import MINI


def test_replies_go_out_through_their_mailbox(settings: Settings) -> None:
    shared, other = InMemoryOutbox(), InMemoryOutbox()
    with App(settings) as app:
        app.__dict__["outbox"] = RoutedOutbox(app.sessions, other, {"ar-shared": shared}.get)
        import_ledger(MINI / "ledger", app.sessions)
        emails = {p.name: p.read_bytes() for p in (MINI / "emails").glob("*.eml") if p.name != "broken.eml"}
        ingest(InMemoryMailbox(emails, name="ar-shared", address="ar@shared.example"), app.sessions, kind="imap")
        app.processor.process_all()
        assert shared.sent and not other.sent
        assert {mail.sender for mail in shared.sent.values()} == {"ar@shared.example"}
        assert {mail.mailbox for mail in shared.sent.values()} == {"ar-shared"}
        with app.sessions() as s:  # verify asked the same outbox whether each reply left
            statuses = s.scalars(select(m.ActionRow.status).where(m.ActionRow.kind == "send_reply",
                                                                  m.ActionRow.status != "awaiting_approval")).all()
        assert statuses and set(statuses) == {"verified"}
