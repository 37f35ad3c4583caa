"""The Microsoft Graph mailbox and outbox against a local HTTPS identity platform and Graph endpoint.

msal, requests and TLS verification run unchanged; only the server is local (tests/support).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from arinbox.connectors.config import GraphMailboxConfig
from arinbox.connectors.fake import InMemorySyncState
from arinbox.connectors.msgraph import KEY_PROPERTY, GraphMailbox, GraphOutbox
from arinbox.connectors.msgraph_client import GraphClient, GraphError
from arinbox.domain.errors import ConfigError
from arinbox.domain.ports import OutgoingAttachment, OutgoingMail, SyncState
from arinbox.persistence import models as m
from arinbox.persistence.sync_state import SqlSyncState
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.settings import Settings
from tests.support.graph_server import FakeGraph, graph_server

pytestmark = pytest.mark.msgraph


def mail(n: int, extra: bytes = b"") -> bytes:
    return (b"From: Payables <ap@customer.example>\r\nTo: ar@contoso.example\r\n"
            b"Subject: Remittance %d\r\nMessage-ID: <m%d@customer.example>\r\n\r\n"
            b"We paid invoice INV-10%d.\r\n" % (n, n, n)) + extra


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[tuple[FakeGraph, Path]]:
    with graph_server(tmp_path / "tls") as served:
        yield served


def make_config(graph: tuple[FakeGraph, Path], tmp_path: Path, secret: str | None = None,
                **over: Any) -> GraphMailboxConfig:
    fake, ca = graph
    secret_file = tmp_path / "graph-secret"
    secret_file.write_text((secret or fake.client_secret) + "\n")
    return GraphMailboxConfig.model_validate({
        "kind": "msgraph", "name": "ar-m365", "address": fake.user, "tenant_id": fake.tenant,
        "client_id": fake.client_id, "client_secret": {"file": str(secret_file)}, "user": fake.user,
        "authority_host": fake.base_url, "graph_url": f"{fake.base_url}/v1.0", "ca_file": str(ca),
        "timeout_s": 5, **over})


def drain(box: GraphMailbox, ack: bool = True) -> dict[str, bytes]:
    got = {}
    for raw in box.fetch():
        got[raw.source_key] = raw.raw
        if ack:
            box.acknowledge(raw.source_key)
    return got


@pytest.fixture
def box(graph: tuple[FakeGraph, Path], tmp_path: Path) -> Iterator[GraphMailbox]:
    b = GraphMailbox(make_config(graph, tmp_path), InMemorySyncState())
    yield b
    b.close()


# -- reading ----------------------------------------------------------------------------------


def test_delta_hands_over_only_new_mail_after_acknowledge(graph: tuple[FakeGraph, Path], box: GraphMailbox) -> None:
    fake, _ = graph
    ids = [fake.deliver(mail(i)) for i in range(3)]
    first = drain(box)
    assert first == {f"graph/inbox/{i}": mail(n) for n, i in enumerate(ids)}
    assert drain(box) == {}
    new = fake.deliver(mail(7))
    assert drain(box) == {f"graph/inbox/{new}": mail(7)}
    assert fake.token_requests == 1  # one token, cached across every call


def test_mime_is_handed_over_byte_exact(graph: tuple[FakeGraph, Path], box: GraphMailbox) -> None:
    fake, _ = graph
    raw = (b"From: =?iso-8859-1?q?J=F6rg?= <j@k.example>\r\nSubject: Zahlung \r\nMessage-ID: <x@k.example>\r\n"
           b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           b"Gr\xfc\xdfe, Betrag 1.234,56 \xe2\x82\xac  \r\n\r\n\r\nkein Zeilenende")
    fake.deliver(raw)
    assert list(drain(box).values()) == [raw]


def test_pages_follow_next_links_and_a_crash_rereads_at_most_one_page(
        graph: tuple[FakeGraph, Path], tmp_path: Path) -> None:
    fake, _ = graph
    ids = [fake.deliver(mail(i)) for i in range(5)]
    state = InMemorySyncState()
    box = GraphMailbox(make_config(graph, tmp_path), state, page_size=2)
    stream = box.fetch()
    for _ in range(3):  # pages [0 1] [2 3] [4]: stored 0, 1, 2, then the process dies
        box.acknowledge(next(stream).source_key)
    stream.close()
    box.close()
    assert fake.calls("GET", "$skiptoken=") == 1
    again = GraphMailbox(make_config(graph, tmp_path), state, page_size=2)
    assert list(drain(again)) == [f"graph/inbox/{i}" for i in ids[2:]]  # page [2 3] again, then [4]
    assert drain(again) == {}
    again.close()


def test_unacknowledged_mail_is_offered_again(graph: tuple[FakeGraph, Path], box: GraphMailbox) -> None:
    fake, _ = graph
    fake.deliver(mail(1))
    assert len(drain(box, ack=False)) == 1
    assert len(drain(box)) == 1  # not stored last time: handed over again
    assert drain(box) == {}


def test_an_expired_delta_link_starts_a_full_round(graph: tuple[FakeGraph, Path], box: GraphMailbox) -> None:
    fake, _ = graph
    for i in range(2):
        fake.deliver(mail(i))
    drain(box)
    fake.expire_delta_links()
    assert len(drain(box)) == 2  # ingest recognises them by source key
    fake.deliver(mail(9))
    assert len(drain(box)) == 1


def test_several_folders_by_display_name(graph: tuple[FakeGraph, Path], tmp_path: Path) -> None:
    fake, _ = graph
    fake.add_folder("Remittances", parent="inbox")
    a = fake.deliver(mail(1))
    b = fake.deliver(mail(2), folder="inbox/Remittances")
    box = GraphMailbox(make_config(graph, tmp_path, folders=["inbox", "Inbox/Remittances"]), InMemorySyncState())
    assert set(drain(box)) == {f"graph/inbox/{a}", f"graph/Inbox/Remittances/{b}"}
    box.close()
    missing = GraphMailbox(make_config(graph, tmp_path, folders=["Nowhere"]), InMemorySyncState())
    with pytest.raises(ConfigError, match="folder 'Nowhere' does not exist"):
        drain(missing)
    missing.close()


# -- settle -----------------------------------------------------------------------------------


def test_settle_moves_once_and_ignores_gone_messages(graph: tuple[FakeGraph, Path], tmp_path: Path) -> None:
    fake, _ = graph
    fake.add_folder("Processed")
    fake.add_folder("Review", parent="inbox")
    box = GraphMailbox(make_config(graph, tmp_path, processed_folder="Processed", review_folder="Inbox/Review"),
                       InMemorySyncState())
    ids = [fake.deliver(mail(i)) for i in range(3)]
    keys = list(drain(box))
    box.settle(keys[0], "processed")
    box.settle(keys[0], "processed")
    box.settle(keys[1], "needs_review")
    fake.delete(ids[2])
    box.settle(keys[2], "failed")  # gone: nothing to do, no error
    assert [fake.folder_name(i) for i in ids[:2]] == ["Processed", "Review"]
    assert fake.calls("POST", "/move") == 2
    assert drain(box) == {}  # moved away: the delta's removals are not mail
    box.close()


def test_settle_categorises_when_no_folder_is_configured(graph: tuple[FakeGraph, Path], box: GraphMailbox) -> None:
    fake, _ = graph
    a, b = fake.deliver(mail(1)), fake.deliver(mail(2))
    ka, kb = drain(box)
    box.settle(ka, "processed")
    box.settle(ka, "processed")
    box.settle(kb, "needs_review")
    assert fake.messages[a].categories == ["arinbox"]
    assert fake.messages[b].categories == ["arinbox", "arinbox: needs review"]
    assert fake.calls("PATCH") == 2
    box.settle(kb, "processed")  # approved later: the review label goes
    assert fake.messages[b].categories == ["arinbox"]
    assert drain(box) == {}  # a changed category is not new mail


# -- errors and throttling --------------------------------------------------------------------


def test_throttling_waits_for_retry_after(graph: tuple[FakeGraph, Path], box: GraphMailbox) -> None:
    fake, _ = graph
    fake.deliver(mail(1))
    fake.throttle(times=1, retry_after=1, status=429)
    fake.throttle(times=1, retry_after=1, status=503)
    start = time.monotonic()
    assert len(drain(box)) == 1
    assert time.monotonic() - start >= 2.0
    assert len(fake.requests) == 5  # the folder lookup thrice, then the delta and the MIME


def test_throttling_retries_are_bounded(graph: tuple[FakeGraph, Path], tmp_path: Path) -> None:
    fake, _ = graph
    fake.throttle(times=20, retry_after=0)
    client = GraphClient(make_config(graph, tmp_path), max_retries=3)
    box = GraphMailbox(client.config, InMemorySyncState(), client=client)
    with pytest.raises(GraphError, match="429"):
        drain(box)
    assert len(fake.requests) == 4
    client.close()


def test_wrong_client_secret_is_one_config_error_and_one_attempt(
        graph: tuple[FakeGraph, Path], tmp_path: Path) -> None:
    fake, _ = graph
    box = GraphMailbox(make_config(graph, tmp_path, secret="wrong"), InMemorySyncState())
    with pytest.raises(ConfigError) as err:
        drain(box)
    text = str(err.value)
    assert "\n" not in text and "\r" not in text
    assert "mailbox ar-m365" in text and "invalid_client" in text and "AADSTS7000215" in text
    assert "Trace ID" not in text
    assert (fake.token_requests, fake.requests) == (1, [])
    box.close()


@pytest.mark.parametrize(("over", "says"), [
    ({"tenant_id": "fabrikam"}, "tenant_id fabrikam is unknown"),
    ({"client_id": "someone-else"}, "AADSTS700016"),
    ({"user": "nobody@contoso.example"}, "ErrorInvalidUser"),
])
def test_wrong_tenant_client_or_user_is_a_config_error(
        graph: tuple[FakeGraph, Path], tmp_path: Path, over: dict[str, str], says: str) -> None:
    box = GraphMailbox(make_config(graph, tmp_path, **over), InMemorySyncState())
    with pytest.raises(ConfigError, match=says) as err:
        drain(box)
    assert "\n" not in str(err.value) and str(err.value).startswith("mailbox ar-m365: ")
    box.close()


def test_a_rejected_token_is_refreshed_once(graph: tuple[FakeGraph, Path], box: GraphMailbox) -> None:
    fake, _ = graph
    fake.deliver(mail(1))
    drain(box)
    fake.revoke_tokens()
    fake.deliver(mail(2))
    assert len(drain(box)) == 1
    assert fake.token_requests == 2


def test_an_untrusted_server_certificate_is_refused(graph: tuple[FakeGraph, Path], tmp_path: Path) -> None:
    config = make_config(graph, tmp_path).model_copy(update={"ca_file": None})
    box = GraphMailbox(config, InMemorySyncState())
    with pytest.raises(GraphError, match="CERTIFICATE_VERIFY_FAILED"):
        drain(box)
    box.close()


# -- with the database: ingest and replies ----------------------------------------------------


def test_ingest_stores_graph_mail_once_and_the_cursor_survives(
        graph: tuple[FakeGraph, Path], tmp_path: Path, settings: Settings) -> None:
    fake, _ = graph
    for i in range(3):
        fake.deliver(mail(i))
    config = make_config(graph, tmp_path)
    with App(settings) as app:
        state: SyncState = SqlSyncState(app.sessions, config.name)
        box = GraphMailbox(config, state, page_size=2)
        report = ingest(box, app.sessions, kind="msgraph")
        assert (report.new, report.duplicates, report.failed) == (3, 0, 0)
        box.close()
    fake.deliver(mail(3))
    with App(settings) as app:
        box = GraphMailbox(config, SqlSyncState(app.sessions, config.name))
        report = ingest(box, app.sessions, kind="msgraph")
        assert (report.new, report.duplicates) == (1, 0)
        with app.sessions() as s:
            stored = s.scalars(select(m.RawMessage.raw).order_by(m.RawMessage.id)).all()
        assert stored == [mail(i) for i in range(4)]
        box.close()


def reply(key: str = "wi-1:action-0", in_reply_to: str | None = "m1@customer.example") -> OutgoingMail:
    return OutgoingMail(idempotency_key=key, to="Payables <ap@customer.example>", sender="ar@contoso.example",
                        subject="Re: Remittance 1", body="Thank you, payment applied to INV-101.",
                        in_reply_to=in_reply_to, references=("m0@customer.example",))


def test_send_mode_replies_once_in_the_thread(graph: tuple[FakeGraph, Path], tmp_path: Path,
                                              settings: Settings) -> None:
    fake, _ = graph
    original = fake.deliver(mail(1))
    with App(settings) as app:
        outbox = GraphOutbox(make_config(graph, tmp_path, reply_mode="send"), app.sessions)
        sent_id = outbox.send(reply())
        assert outbox.was_sent("wi-1:action-0")
        assert outbox.send(reply()) == sent_id
        outbox.close()
    [out] = fake.sent
    assert fake.folder_name(out.id) == "Sent Items" and fake.in_folder("drafts") == []
    assert (out.to, out.body_text, out.subject) == (["ap@customer.example"], reply().body, "Re: Remittance 1")
    assert out.in_reply_to == fake.messages[original].internet_message_id == "<m1@customer.example>"
    assert out.extended == {KEY_PROPERTY: "wi-1:action-0"}
    assert out.internet_message_id == f"<{sent_id}>"
    assert fake.calls("POST", "/createReply") == 1


def test_draft_mode_leaves_one_draft(graph: tuple[FakeGraph, Path], tmp_path: Path, settings: Settings) -> None:
    fake, _ = graph
    fake.deliver(mail(1))
    with App(settings) as app:
        outbox = GraphOutbox(make_config(graph, tmp_path, reply_mode="draft"), app.sessions)
        outbox.send(reply())
        outbox.send(reply())
        assert outbox.was_sent("wi-1:action-0")
        with app.sessions() as s:
            row = s.get(m.OutgoingMessage, "wi-1:action-0")
            assert row is not None and (row.status, row.attempts, row.mailbox_name) == ("drafted", 1, "ar-m365")
        outbox.close()
    [draft] = fake.in_folder("drafts")
    assert draft.is_draft and fake.sent == []
    assert draft.in_reply_to == "<m1@customer.example>"


def test_without_the_original_the_reply_is_threaded_by_its_headers(
        graph: tuple[FakeGraph, Path], tmp_path: Path, settings: Settings) -> None:
    fake, _ = graph
    with App(settings) as app:
        outbox = GraphOutbox(make_config(graph, tmp_path, reply_mode="send"), app.sessions)
        sent_id = outbox.send(reply(in_reply_to="gone@customer.example"))
        outbox.close()
    [out] = fake.sent
    assert out.header("In-Reply-To") == "<gone@customer.example>"
    assert out.header("References") == "<m0@customer.example> <gone@customer.example>"
    assert out.header("Message-ID") == f"<{sent_id}>"
    assert fake.calls("POST", "/createReply") == 0


class Crash(BaseException):
    """The process dies: nothing after this point runs, no error handler sees it."""


@pytest.mark.parametrize(("crash_after", "original"), [
    ("/createReply", "m1@customer.example"), ("/send", "m1@customer.example"),
    ("/messages", "elsewhere@customer.example"),  # a MIME draft, found again by its Message-ID
])
def test_no_second_reply_after_a_crash(graph: tuple[FakeGraph, Path], tmp_path: Path, settings: Settings,
                                       crash_after: str, original: str) -> None:
    fake, _ = graph
    fake.deliver(mail(1))
    config = make_config(graph, tmp_path, reply_mode="send")

    def die(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        if resp.request.method == "POST" and (resp.url or "").endswith(crash_after):
            raise Crash

    with App(settings) as app:
        client = GraphClient(config)
        client.http.hooks["response"].append(die)
        with pytest.raises(Crash):
            GraphOutbox(config, app.sessions, client=client).send(reply(in_reply_to=original))
        client.close()
        with app.sessions() as s:
            row = s.get(m.OutgoingMessage, "wi-1:action-0")
            assert row is not None and row.status == "sending"  # recorded before the call
    with App(settings) as app:  # the restarted process
        outbox = GraphOutbox(config, app.sessions)
        assert not outbox.was_sent("wi-1:action-0")
        sent_id = outbox.send(reply(in_reply_to=original))
        assert outbox.was_sent("wi-1:action-0")
        outbox.close()
    assert len(fake.sent) == 1 and fake.in_folder("drafts") == []
    assert fake.sent[0].internet_message_id == f"<{sent_id}>"
    assert fake.drafts_created == 1
    assert fake.calls("POST", "/send") == 1


PDF = OutgoingAttachment("INV-101.pdf", "application/pdf", b"%PDF-1.4 invoice copy")
CSV = OutgoingAttachment("statement.csv", "text/csv", b"invoice,open\r\nINV-101,10.00\r\n")


@pytest.mark.parametrize("original", ["m1@customer.example", "elsewhere@customer.example"])
def test_attachments_go_on_the_draft_once(graph: tuple[FakeGraph, Path], tmp_path: Path, settings: Settings,
                                          original: str) -> None:
    fake, _ = graph
    fake.deliver(mail(1))
    config = make_config(graph, tmp_path, reply_mode="send")
    with_files = dataclasses.replace(reply(in_reply_to=original), attachments=(PDF, CSV))

    def die(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        if resp.request.method == "POST" and (resp.url or "").endswith("/attachments"):
            raise Crash  # the first file is on the draft, the process dies before the second

    with App(settings) as app:
        client = GraphClient(config)
        if original == "m1@customer.example":
            client.http.hooks["response"].append(die)
            with pytest.raises(Crash):
                GraphOutbox(config, app.sessions, client=client).send(with_files)
        client.close()
        outbox = GraphOutbox(config, app.sessions)
        outbox.send(with_files)
        outbox.send(with_files)
        outbox.close()
    [out] = fake.sent
    assert fake.attachment_bytes(out) == {"INV-101.pdf": PDF.data, "statement.csv": CSV.data}
    assert fake.drafts_created == 1 and fake.calls("POST", "/send") == 1
    # createReply drafts get them by POST; a MIME draft carries them in its MIME already
    assert fake.calls("POST", "/attachments") == (2 if original == "m1@customer.example" else 0)
