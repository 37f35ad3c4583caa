"""The IMAP adapter against a real Dovecot: faults (restart mid-fetch, UIDVALIDITY change, wrong
credentials, a message expunged between SEARCH and FETCH), flags and moves, IDLE, TLS."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from arinbox.connectors.config import ImapMailboxConfig
from arinbox.connectors.fake import InMemorySyncState
from arinbox.connectors.imap import ImapConnection, ImapMailbox, parse_source_key
from arinbox.domain.errors import ConfigError
from arinbox.domain.ports import RawMail
from arinbox.persistence.sync_state import SqlSyncState
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.settings import Settings
from tests.contract.test_mail_source_contract import mail

pytestmark = pytest.mark.imap


def _mailbox(dovecot: Any, tmp_path: Path, state: Any = None, batch_size: int = 5, **overrides: Any
             ) -> tuple[str, ImapMailbox]:
    user = dovecot.new_user()
    config = dovecot.mailbox_config(user, tmp_path, **overrides)
    conn = ImapConnection(config, backoff_s=0.05, max_backoff_s=0.5, attempts=40)
    return user, ImapMailbox(config, state or InMemorySyncState(), batch_size=batch_size, connection=conn)


def test_server_restart_mid_fetch_loses_and_duplicates_nothing(dovecot: Any, tmp_path: Path) -> None:
    user, box = _mailbox(dovecot, tmp_path, batch_size=4)
    sent = [mail(i) for i in range(11)]
    for raw in sent:
        dovecot.deliver(user, "INBOX", raw)
    got: list[RawMail] = []
    with box:
        for raw in box.fetch():
            got.append(raw)
            box.acknowledge(raw.source_key)
            if len(got) == 5:  # in the middle of the second batch of four
                dovecot.restart()
        assert sorted(r.raw for r in got) == sorted(sent)
        assert len({r.source_key for r in got}) == len(sent)
        assert box.conn.logins == 2  # reconnected once
        assert list(box.fetch()) == []
    assert box.state.get("INBOX/last_uid") == str(max(parse_source_key(r.source_key)[2] for r in got))


def test_uidvalidity_change_rereads_the_folder_without_loss_or_duplicates(
        dovecot: Any, tmp_path: Path, settings: Settings) -> None:
    with App(settings) as app:
        user, _ = _mailbox(dovecot, tmp_path)
        config = dovecot.mailbox_config(user, tmp_path, folders=["Remittances"])
        state = SqlSyncState(app.sessions, config.name)
        old = [mail(i) for i in range(3)]
        for raw in old:
            dovecot.deliver(user, "Remittances", raw)
        with ImapMailbox(config, state) as box:
            assert ingest(box, app.sessions, kind="imap").new == 3
        before = state.get("Remittances/uidvalidity")
        # the folder is deleted and re-created: same mail, new UIDs from 1, and one new message
        with dovecot.client(user) as c:
            c.delete_folder("Remittances")
        new = mail("new")
        for raw in [*old, new]:
            dovecot.deliver(user, "Remittances", raw)
        with ImapMailbox(config, state) as box:
            report = ingest(box, app.sessions, kind="imap")
        assert (report.new, report.duplicates) == (1, 3)
        assert state.get("Remittances/uidvalidity") != before
        assert state.get("Remittances/last_uid") == "4"
        with ImapMailbox(config, state) as box:
            assert list(box.fetch()) == []


def test_wrong_credentials_give_one_clear_error_after_one_attempt(dovecot: Any, tmp_path: Path) -> None:
    user = dovecot.new_user()
    config = dovecot.mailbox_config(user, tmp_path)
    (tmp_path / f"{user}.password").write_text("wrong")
    box = ImapMailbox(config, InMemorySyncState())
    with pytest.raises(ConfigError) as e:
        list(box.fetch())
    assert str(e.value) == f"imap {config.name}: login failed for {user}: [AUTHENTICATIONFAILED] Authentication failed."
    assert "\n" not in str(e.value) and box.conn.logins == 1


def test_a_message_expunged_between_search_and_fetch_is_skipped(dovecot: Any, tmp_path: Path) -> None:
    user, box = _mailbox(dovecot, tmp_path)
    sent = [mail(i) for i in range(4)]
    for raw in sent:
        dovecot.deliver(user, "INBOX", raw)
    search = box._search

    def search_then_expunge(client: IMAPClient, **kw: Any) -> list[int]:
        uids = search(client, **kw)
        with dovecot.client(user) as other:  # another client deletes the second message meanwhile
            other.select_folder("INBOX")
            other.delete_messages([uids[1]])
            other.expunge()
        return uids

    box._search = search_then_expunge  # type: ignore[method-assign]
    with box:
        got = [r for r in box.fetch() if box.acknowledge(r.source_key) is None]
    assert [r.raw for r in got] == [sent[0], sent[2], sent[3]]
    assert box.state.get("INBOX/last_uid") == "4"  # the gap does not hold the cursor back


def test_settle_flags_and_moves(dovecot: Any, tmp_path: Path) -> None:
    user, box = _mailbox(dovecot, tmp_path, processed_folder="arinbox/Done")
    for i in range(3):
        dovecot.deliver(user, "INBOX", mail(i))
    with box:
        keys = [r.source_key for r in box.fetch()]
        box.settle(keys[0], "processed")
        box.settle(keys[1], "needs_review")  # no review folder: flagged where it is
    inbox = {flags for _, flags in dovecot.folder_messages(user, "INBOX").values()}
    assert len(dovecot.folder_messages(user, "INBOX")) == 2
    assert any(b"$arinbox-review" in f and b"\\Seen" not in f for f in inbox)
    [(_, done_flags)] = dovecot.folder_messages(user, "arinbox/Done").values()
    assert {b"$arinbox-processed", b"\\Seen"} <= set(done_flags)


def test_settle_without_move_capability_copies_and_expunges(dovecot: Any, tmp_path: Path) -> None:
    user, box = _mailbox(dovecot, tmp_path, review_folder="Review")
    dovecot.deliver(user, "INBOX", mail(1))
    with box:
        [key] = [r.source_key for r in box.fetch()]
        client = box.conn.client()
        client._cached_capabilities = tuple(c for c in client.capabilities() if c != b"MOVE")
        box.settle(key, "failed")
        box.settle(key, "failed")
    assert dovecot.folder_messages(user, "INBOX") == {}
    [(_, flags)] = dovecot.folder_messages(user, "Review").values()
    assert b"$arinbox-failed" in flags


def test_wait_for_mail_wakes_on_new_mail_with_idle(dovecot: Any, tmp_path: Path) -> None:
    user, box = _mailbox(dovecot, tmp_path)
    timer = threading.Timer(0.5, dovecot.deliver, (user, "INBOX", mail("idle")))
    with box:
        timer.start()
        started = time.monotonic()
        assert box.wait_for_mail(timeout=20) is True
        assert time.monotonic() - started < 10
        assert len(list(box.fetch())) == 1
    timer.join()


def test_wait_for_mail_sleeps_the_poll_interval_without_idle(dovecot: Any, tmp_path: Path) -> None:
    slept: list[float] = []
    user = dovecot.new_user()
    config = dovecot.mailbox_config(user, tmp_path, idle=False, poll_interval_s=7)
    with ImapMailbox(config, InMemorySyncState(), sleep=slept.append) as box:
        assert box.wait_for_mail(timeout=30) is False
    assert slept == [7]


def test_starttls_and_certificate_checks(dovecot: Any, tmp_path: Path) -> None:
    user = dovecot.new_user()
    dovecot.deliver(user, "INBOX", mail(1))
    plain = dovecot.mailbox_config(user, tmp_path, port=dovecot.imap_port, security="starttls")
    with ImapMailbox(plain, InMemorySyncState()) as box:
        assert len(list(box.fetch())) == 1
    untrusted = dovecot.mailbox_config(user, tmp_path, ca_file=None)
    with pytest.raises(ConfigError, match=r"TLS certificate of 127\.0\.0\.1 not trusted"):
        list(ImapMailbox(untrusted, InMemorySyncState()).fetch())


def test_xoauth2_logs_in_with_the_access_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, ...]] = []

    class Client:  # records what the adapter asks of imapclient; Dovecot here has no OAuth2 issuer
        def __init__(self, host: str, **kw: Any) -> None:
            calls.append(("connect", host, str(kw["port"]), str(kw["ssl"])))

        def oauth2_login(self, user: str, token: str) -> None:
            calls.append(("oauth2_login", user, token))

        def login(self, user: str, password: str) -> None:
            calls.append(("login", user, password))

    (tmp_path / "token").write_text("eyJ.access.token\n")
    config = ImapMailboxConfig.model_validate({
        "kind": "imap", "name": "o365", "address": "ar@example.com", "host": "outlook.office365.com",
        "username": "ar@example.com", "auth": "xoauth2", "oauth2_token": {"file": tmp_path / "token"}})
    monkeypatch.setattr("arinbox.connectors.imap.IMAPClient", Client)
    ImapConnection(config).client()
    assert calls == [("connect", "outlook.office365.com", "993", "True"),
                     ("oauth2_login", "ar@example.com", "eyJ.access.token")]
