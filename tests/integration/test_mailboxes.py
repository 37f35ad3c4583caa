"""mailboxes.yaml wiring: poll a configured mailbox once, settle what processing finished, the CLI."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from arinbox.cli import main
from arinbox.connectors.folder import FolderMailbox
from arinbox.domain.errors import ConfigError
from arinbox.persistence import models as m
from arinbox.service import mailboxes
from arinbox.service.bootstrap import App
from arinbox.settings import Settings, get_settings
from tests.conftest import ROOT
from tests.contract.test_mail_source_contract import mail


def _set_status(app: App, statuses: list[str]) -> None:
    with app.sessions.begin() as s:
        items = s.scalars(select(m.WorkItem).order_by(m.WorkItem.id)).all()
        for item, status in zip(items, statuses, strict=True):
            item.status = status


@pytest.mark.imap
def test_poll_once_ingests_then_settles_finished_mail_once(dovecot: Any, tmp_path: Path, settings: Settings) -> None:
    user = dovecot.new_user()
    config = dovecot.mailbox_config(user, tmp_path, processed_folder="Done")
    for i in range(4):
        dovecot.deliver(user, "INBOX", mail(i))
    with App(settings) as app:
        first = mailboxes.poll_once(config, app.sessions)
        assert (first.ingest.new, first.settled) == (4, 0)
        _set_status(app, ["done", "waiting_approval", "failed", "pending"])
        second = mailboxes.poll_once(config, app.sessions)
        assert (second.ingest.new, second.settled) == (0, 3)
        assert mailboxes.poll_once(config, app.sessions).settled == 0
        with app.sessions() as s:
            outcomes = list(s.scalars(select(m.RawMessage.settled_outcome).order_by(m.RawMessage.id)))
    assert outcomes == ["processed", "needs_review", "failed", None]
    [(_, done)] = dovecot.folder_messages(user, "Done").values()
    assert {b"$arinbox-processed", b"\\Seen"} <= set(done)
    inbox = sorted(tuple(sorted(f for f in flags if f.startswith(b"$"))) for _, flags in
                   dovecot.folder_messages(user, "INBOX").values())
    assert inbox == [(), (b"$arinbox-failed",), (b"$arinbox-review",)]


@pytest.mark.imap
def test_cli_ingest_mailbox_polls_once(dovecot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    user = dovecot.new_user()
    for i in range(2):
        dovecot.deliver(user, "INBOX", mail(i))
    (tmp_path / "pw").write_text(dovecot.users[user])
    (tmp_path / "mailboxes.yaml").write_text(yaml.safe_dump({"mailboxes": [{
        "name": "ar", "kind": "imap", "address": "ar@example.com", "host": dovecot.host,
        "port": dovecot.imaps_port, "ca_file": str(dovecot.ca_file), "username": user,
        "password": {"file": str(tmp_path / "pw")}}]}))
    monkeypatch.setenv("ARINBOX_DATABASE_URL", f"sqlite:///{tmp_path / 'a.sqlite'}")
    monkeypatch.setenv("ARINBOX_MAILBOXES_FILE", str(tmp_path / "mailboxes.yaml"))
    monkeypatch.setattr(sys, "argv", ["arinbox", "ingest", "--mailbox", "ar"])

    def run() -> tuple[int, str, str]:
        get_settings.cache_clear()
        try:
            main()
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        finally:
            get_settings.cache_clear()
        got = capsys.readouterr()
        return code, got.out, got.err

    assert "ingested 2 new, 0 already stored" in run()[1]
    assert "ingested 0 new" in run()[1]
    (tmp_path / "pw").write_text("wrong")
    code, _, err = run()
    assert code == 2
    assert err.strip() == f"error: imap ar: login failed for {user}: [AUTHENTICATIONFAILED] Authentication failed."


def test_folder_path_is_read_beside_the_file_and_graph_needs_its_module(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(mailboxes_file=ROOT / "connectors" / "mailboxes.yaml")
    demo = mailboxes.load_mailbox(settings, "demo")
    source = mailboxes.build_source(demo, sessions=None)  # type: ignore[arg-type]
    assert isinstance(source, FolderMailbox) and source.path == ROOT / "connectors" / "samples" / "demo-mailbox"

    def missing(name: str) -> Any:
        raise ModuleNotFoundError(f"No module named {name!r}", name="msal")

    monkeypatch.setattr(importlib, "import_module", missing)
    graph = mailboxes.load_mailbox(settings, "remittance-m365")
    with pytest.raises(ConfigError, match="msgraph support is not installed"):
        mailboxes.build_source(graph, sessions=None)  # type: ignore[arg-type]
