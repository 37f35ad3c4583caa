"""Invoice copies and statements attached to replies through the real graph, on SQLite and PostgreSQL:
the execute node renders them from the ledger at send time and the outbox carries them in the MIME."""

from __future__ import annotations

import email
import io
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from pypdf import PdfReader

from arinbox.connectors.folder import FolderMailbox
from arinbox.ledger.csv_import import import_ledger
from arinbox.service.approvals import decide, list_pending
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.settings import Settings
from tests.conftest import DATA

EMAILS = {
    "copy.eml": """From: Buchhaltung <buchhaltung@meyer-hydraulik.example>
To: ar@brightwater-supply.example
Subject: Rechnungskopie INV-2026-004600
Date: Fri, 20 Nov 2026 09:30:00 +0100
Message-ID: <copy@meyer-hydraulik.example>
Content-Type: text/plain; charset=utf-8

Guten Tag, bitte senden Sie uns eine Kopie der Rechnung INV-2026-004600, sie liegt uns nicht vor. Danke
""",
    "statement.eml": """From: Dana Reyes <dana.reyes@harborfl.example>
To: ar@brightwater-supply.example
Subject: statement of account
Date: Fri, 20 Nov 2026 10:00:00 -0500
Message-ID: <statement@harborfl.example>
Content-Type: text/plain; charset=utf-8

Hi, could you send us a statement of our account with all open items? Our auditors need it. Thanks, Dana
""",
}


def _sent(outbox: Path) -> dict[str, EmailMessage]:
    out = {}
    for p in outbox.glob("*.eml"):
        msg = email.message_from_bytes(p.read_bytes(), policy=default)
        assert isinstance(msg, EmailMessage)
        out[str(msg["In-Reply-To"]).strip("<>")] = msg
    return out


def test_replies_carry_documents_rendered_from_the_ledger(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    for name, text in EMAILS.items():
        (folder / name).write_text(text)
    with App(settings) as app:
        import_ledger(DATA / "mini" / "ledger", app.sessions)
        ingest(FolderMailbox(folder), app.sessions, kind="folder")
        app.processor.process_all()
        for pending in list_pending(app.processor):  # whatever the policy held, a person approves
            decide(app.processor, pending.id, approve=True, approver="carol", role="admin")
        sent = _sent(settings.outbox_dir)
    copy, statement = sent["copy@meyer-hydraulik.example"], sent["statement@harborfl.example"]

    assert "INV-2026-004600" in copy.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [pdf] = list(copy.iter_attachments())
    assert (pdf.get_filename(), pdf.get_content_type()) == ("rechnung-INV-2026-004600.pdf", "application/pdf")
    text = PdfReader(io.BytesIO(pdf.get_payload(decode=True))).pages[0].extract_text().replace("\xa0", " ")
    for value in ("Rechnungskopie INV-2026-004600", "Meyer Hydraulik GmbH", "4.820,50 €", "15. Oktober 2026",
                  "4500123456"):
        assert value in text

    files = {a.get_filename(): a.get_payload(decode=True) for a in statement.iter_attachments()}
    assert sorted(files) == ["statement-CUST-1-2026-11-20.csv", "statement-CUST-1-2026-11-20.pdf"]
    rows = files["statement-CUST-1-2026-11-20.csv"].decode("utf-8-sig").splitlines()
    # CUST-1's open items in the mini ledger: 1250.00 + 980.40 + 300.00 + 300.00, all due in October
    assert rows[-2:] == ["Total open,,,USD,,2830.40,,,", "of which overdue,,,USD,,2830.40,,,"]
    assert "$2,830.40" in statement.get_body(("plain",)).get_content()  # type: ignore[union-attr]
