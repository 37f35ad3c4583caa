"""An outside system that fails for now (SMTP, Graph, IMAP) puts the email in `retry`: the next run
resumes it from its checkpoint, effects already made are not repeated, and the reply leaves once."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from arinbox.connectors.fake import InMemoryOutbox
from arinbox.connectors.folder import FolderMailbox
from arinbox.domain.errors import ServiceUnavailable
from arinbox.domain.ports import OutgoingMail
from arinbox.ledger.csv_import import import_ledger
from arinbox.persistence import models as m
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.service.processor import MAX_ATTEMPTS
from arinbox.settings import Settings
from tests.integration.conftest import MINI, items_by_file


class FlakyOutbox(InMemoryOutbox):
    """Refuses every send while ``down`` is set, like an SMTP server that is unreachable."""

    def __init__(self) -> None:
        super().__init__()
        self.down, self.attempts = True, 0

    def send(self, mail: OutgoingMail) -> str:
        self.attempts += 1
        if self.down:
            raise ServiceUnavailable("smtp.example: connection refused")
        return super().send(mail)


def test_a_refused_reply_is_retried_and_sent_once(settings: Settings) -> None:
    with App(settings) as app:
        import_ledger(MINI / "ledger", app.sessions)
        outbox = FlakyOutbox()
        app.__dict__["deps"] = dataclasses.replace(app.deps, outbox=outbox)
        ingest(FolderMailbox(MINI / "emails"), app.sessions, kind="folder")
        app.processor.process_all()
        waiting = {name for name, item in items_by_file(app).items() if item.status == "retry"}
        assert waiting, "no email had a reply to send"
        with app.sessions() as s:
            applied_before = s.scalars(select(m.PaymentApplication.invoice_number)).all()
        app.processor.process_all()  # still down: attempts count up, nothing is lost
        assert {n for n, i in items_by_file(app).items() if i.status == "retry"} == waiting
        outbox.down = False
        app.processor.process_all()
        items = items_by_file(app)
        assert all(items[n].status == "done" for n in waiting), {n: items[n].last_error for n in waiting}
        assert len(outbox.sent) == len(waiting)  # one reply per email, none twice
        with app.sessions() as s:
            assert sorted(s.scalars(select(m.PaymentApplication.invoice_number)).all()) == sorted(applied_before)


def test_an_outside_failure_that_persists_goes_to_a_person(settings: Settings) -> None:
    with App(settings) as app:
        import_ledger(MINI / "ledger", app.sessions)
        app.__dict__["deps"] = dataclasses.replace(app.deps, outbox=FlakyOutbox())
        ingest(FolderMailbox(MINI / "emails"), app.sessions, kind="folder")
        for _ in range(MAX_ATTEMPTS):
            app.processor.process_all()
        failed = [i for i in items_by_file(app).values() if i.status == "failed" and i.last_error
                  and "connection refused" in i.last_error]
        assert failed and all(f"attempt {MAX_ATTEMPTS} of {MAX_ATTEMPTS}" in (i.last_error or "") for i in failed)
        assert not [i for i in items_by_file(app).values() if i.status == "retry"]
