"""One contract for every MailSource adapter, run against each real one.

The ``adapter`` fixture yields a Harness: the source, a way to deliver a raw message into the
mailbox behind it, and a view of the server-side state. Adapters with a server cursor (IMAP,
Graph) also promise that a poll after acknowledging hands over only new mail; a folder re-offers
everything and relies on ingest's de-duplication.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from arinbox.connectors.fake import InMemorySyncState
from arinbox.connectors.folder import FolderMailbox
from arinbox.domain.ports import MailSource, SyncState
from arinbox.persistence import models as m
from arinbox.persistence.sync_state import SqlSyncState
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.settings import Settings


@dataclass
class Harness:
    kind: str
    open: Callable[[SyncState], MailSource]  # a new adapter instance over the same mailbox
    deliver: Callable[[bytes], None]
    server_state: Callable[[], Any]  # what the server holds (folders, flags), comparable with ==
    held: Callable[[], list[bytes]]  # every message the mailbox holds, wherever it is
    incremental: bool  # a poll after acknowledge yields only new mail


def mail(n: int | str, body: str = "Please find the remittance attached.") -> bytes:
    return (f"From: Customer <ap@customer.example>\r\nTo: ar@example.com\r\nSubject: Remittance {n}\r\n"
            f"Message-ID: <{n}-{uuid.uuid4().hex[:8]}@customer.example>\r\n"
            f"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def _folder_harness(tmp_path: Path) -> Iterator[Harness]:
    root = tmp_path / "maildir"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    counter = iter(range(1_000_000))

    def deliver(raw: bytes) -> None:
        (root / "new" / f"{next(counter):06d}.eml").write_bytes(raw)

    def server_state() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(root.rglob("*.eml"))}

    yield Harness("folder", lambda state: FolderMailbox(root, name="contract-folder", address="ar@example.com"),
                  deliver, server_state, lambda: list(server_state().values()), incremental=False)


def _imap_harness(dovecot: Any, tmp_path: Path) -> Iterator[Harness]:
    from arinbox.connectors.imap import ImapMailbox

    user = dovecot.new_user()
    config = dovecot.mailbox_config(user, tmp_path, processed_folder="Done", review_folder="Review")
    opened: list[ImapMailbox] = []

    def open_(state: SyncState) -> MailSource:
        opened.append(ImapMailbox(config, state, batch_size=3))
        return opened[-1]

    def server_state() -> dict[str, list[tuple[bytes, tuple[bytes, ...]]]]:
        return {folder: sorted((raw, tuple(sorted(f for f in flags if f != b"\\Recent")))
                               for raw, flags in dovecot.folder_messages(user, folder).values())
                for folder in ("INBOX", "Done", "Review")}

    def held() -> list[bytes]:
        return [raw for folder in server_state().values() for raw, _ in folder]

    yield Harness("imap", open_, lambda raw: dovecot.deliver(user, "INBOX", raw), server_state, held,
                  incremental=True)
    for box in opened:
        box.close()


def _graph_harness(tmp_path: Path) -> Iterator[Harness]:
    from arinbox.connectors.config import GraphMailboxConfig
    from arinbox.connectors.msgraph import GraphMailbox
    from tests.support.graph_server import graph_server

    with graph_server(tmp_path / "tls") as (fake, ca):
        secret = tmp_path / "graph-secret"
        secret.write_text(fake.client_secret + "\n")
        config = GraphMailboxConfig.model_validate({
            "kind": "msgraph", "name": "contract-graph", "address": fake.user, "tenant_id": fake.tenant,
            "client_id": fake.client_id, "client_secret": {"file": str(secret)}, "user": fake.user,
            "authority_host": fake.base_url, "graph_url": f"{fake.base_url}/v1.0", "ca_file": str(ca),
            "processed_folder": "Done", "review_folder": "Review", "timeout_s": 5})
        for name in ("Done", "Review"):
            fake.add_folder(name)
        opened: list[GraphMailbox] = []

        def open_(state: SyncState) -> MailSource:
            opened.append(GraphMailbox(config, state))
            return opened[-1]

        def server_state() -> dict[str, list[tuple[bytes, tuple[str, ...]]]]:
            return {folder: sorted((msg.mime, tuple(sorted(msg.categories))) for msg in fake.in_folder(folder))
                    for folder in ("inbox", "Done", "Review")}

        def held() -> list[bytes]:
            return [raw for folder in server_state().values() for raw, _ in folder]

        yield Harness("msgraph", open_, lambda raw: fake.deliver(raw), server_state, held, incremental=True)
        for box in opened:
            box.close()


@pytest.fixture(params=["folder", pytest.param("imap", marks=pytest.mark.imap),
                        pytest.param("msgraph", marks=pytest.mark.msgraph)])
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "folder":
        yield from _folder_harness(tmp_path)
    elif request.param == "imap":
        yield from _imap_harness(request.getfixturevalue("dovecot"), tmp_path)
    elif request.param == "msgraph":
        yield from _graph_harness(tmp_path)


def _drain(source: MailSource, acknowledge: bool = True) -> dict[str, bytes]:
    got: dict[str, bytes] = {}
    for raw in source.fetch():
        assert raw.source_key not in got, f"{raw.source_key} handed over twice in one poll"
        got[raw.source_key] = raw.raw
        if acknowledge:
            source.acknowledge(raw.source_key)
    return got


def test_fetch_returns_delivered_messages_byte_exact(adapter: Harness) -> None:
    sent = [mail(i, body="Zahlung über 1.234,50 EUR für Rechnung INV-1001.") for i in range(5)]
    for raw in sent:
        adapter.deliver(raw)
    got = _drain(adapter.open(InMemorySyncState()))
    assert sorted(got.values()) == sorted(sent)


def test_after_acknowledge_a_new_poll_returns_only_new_mail(adapter: Harness) -> None:
    state = InMemorySyncState()
    first = [mail(i) for i in range(4)]
    for raw in first:
        adapter.deliver(raw)
    source = adapter.open(state)
    assert sorted(_drain(source).values()) == sorted(first)
    late = mail("late")
    adapter.deliver(late)
    # the same instance and a new one over the same durable state (a restarted service) agree
    for poll in (source, adapter.open(state)):
        got = _drain(poll, acknowledge=False)
        if adapter.incremental:
            assert list(got.values()) == [late]
        else:
            assert late in got.values() and len(got) == len(first) + 1


def test_unacknowledged_mail_is_offered_again(adapter: Harness) -> None:
    state = InMemorySyncState()
    msgs = [mail(i) for i in range(4)]
    for raw in msgs:
        adapter.deliver(raw)
    source = adapter.open(state)
    keys = list(_drain(source, acknowledge=False))
    source.acknowledge(keys[0])  # the second one was never stored: nothing after it may be skipped
    source.acknowledge(keys[2])
    again = _drain(adapter.open(state), acknowledge=False)
    assert set(again) >= {keys[1], keys[3]}


def test_ingest_twice_stores_once(adapter: Harness, settings: Settings) -> None:
    msgs = [mail(i) for i in range(3)]
    for raw in msgs:
        adapter.deliver(raw)
    with App(settings) as app:
        name = f"contract-{adapter.kind}"
        first = ingest(adapter.open(SqlSyncState(app.sessions, name)), app.sessions, kind=adapter.kind)
        adapter.deliver(msgs[0])  # the same message delivered again gets a new server key
        second = ingest(adapter.open(SqlSyncState(app.sessions, name)), app.sessions, kind=adapter.kind)
        with app.sessions() as s:
            stored = s.scalar(select(func.count()).select_from(m.RawMessage))
            raws = sorted(s.scalars(select(m.RawMessage.raw)))
    assert (first.new, second.new, stored) == (3, 0, 3)
    assert raws == sorted(msgs)


@pytest.mark.parametrize("outcome", ["processed", "needs_review", "failed"])
def test_settle_is_idempotent_and_loses_nothing(adapter: Harness, outcome: str) -> None:
    msgs = [mail(i) for i in range(2)]
    for raw in msgs:
        adapter.deliver(raw)
    source = adapter.open(InMemorySyncState())
    keys = list(_drain(source))
    source.settle(keys[0], outcome)
    once = adapter.server_state()
    source.settle(keys[0], outcome)  # again, on the same instance and on a fresh one
    adapter.open(InMemorySyncState()).settle(keys[0], outcome)
    assert adapter.server_state() == once
    assert sorted(adapter.held()) == sorted(msgs)  # moved or flagged, never dropped
