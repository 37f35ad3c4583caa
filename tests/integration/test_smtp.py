"""SMTP replies against a real SMTP server on loopback (aiosmtpd): threading headers, exactly one
send across a crash and a retry, a refusal retried later, the Sent copy in a real Dovecot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from arinbox.connectors.config import ImapMailboxConfig
from arinbox.connectors.imap import ImapConnection, ImapSentFolder
from arinbox.connectors.smtp import UNSENT, ReplySendError, ReplyUncertainError, SmtpOutbox
from arinbox.domain.ports import OutgoingAttachment, OutgoingMail
from arinbox.persistence import models as m
from arinbox.service.bootstrap import App
from arinbox.settings import Settings
from tests.support.certs import make_certificates
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.smtp

REPLY = OutgoingMail(idempotency_key="42:action:1", to="ap@customer.example", sender="someone@elsewhere.example",
                     subject="Remittance for INV-1001", body="Thank you, payment applied to INV-1001.\n",
                     in_reply_to="orig-1@customer.example", references=("root-0@customer.example",))


class Crash(BaseException):
    """The process dies here: nothing after it runs, no handler catches it."""


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    with App(settings) as app:
        yield app.sessions


def _config(sink: SmtpSink, **smtp: Any) -> ImapMailboxConfig:
    return ImapMailboxConfig.model_validate({
        "kind": "imap", "name": "ar-imap", "address": "ar@brightwater-supply.example", "host": "127.0.0.1",
        "username": "ar", "password": {"env": "UNUSED"},
        "smtp": {"host": sink.host, "port": sink.port, "security": "none", **smtp}})


def _row(sessions: sessionmaker[Session], key: str = REPLY.idempotency_key) -> m.OutgoingMessage:
    with sessions() as s:
        row = s.get(m.OutgoingMessage, key)
        assert row is not None
        return row


def test_threaded_reply_from_the_mailbox_address_sent_once(sink: SmtpSink, sessions: sessionmaker[Session]) -> None:
    outbox = SmtpOutbox(_config(sink), sessions)
    message_id = outbox.send(REPLY)
    assert outbox.send(REPLY) == message_id  # a second call sends nothing
    [got] = sink.received
    msg = got.message
    assert (got.mail_from, got.rcpt_tos) == ("ar@brightwater-supply.example", ["ap@customer.example"])
    assert msg["From"] == "ar@brightwater-supply.example"
    assert msg["Subject"] == "Re: Remittance for INV-1001"
    assert msg["In-Reply-To"] == "<orig-1@customer.example>"
    assert msg["References"] == "<root-0@customer.example> <orig-1@customer.example>"
    assert msg["Message-ID"] == message_id and message_id.endswith("@brightwater-supply.example>")
    assert msg.get_content().replace("\r\n", "\n") == REPLY.body  # CRLF on the wire
    row = _row(sessions)
    assert (row.status, row.attempts, row.message_id, outbox.was_sent(REPLY.idempotency_key)) == (
        "sent", 1, message_id, True)


def test_attachments_travel_in_the_mime(sink: SmtpSink, sessions: sessionmaker[Session]) -> None:
    pdf = OutgoingAttachment("INV-1001.pdf", "application/pdf", b"%PDF-1.4\n\x00\xff binary")
    csv = OutgoingAttachment("statement-C1.csv", "text/csv", "invoice;Fällig\r\nINV-1001;1.250,00\r\n".encode())
    SmtpOutbox(_config(sink), sessions).send(replace(REPLY, attachments=(pdf, csv)))
    [got] = sink.received
    msg = got.message
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == REPLY.body  # type: ignore[union-attr]
    files = {a.get_filename(): (a.get_content_type(), a.get_payload(decode=True)) for a in msg.iter_attachments()}
    assert files == {"INV-1001.pdf": ("application/pdf", pdf.data), "statement-C1.csv": ("text/csv", csv.data)}


def test_crash_after_the_smtp_transaction_is_never_resent(
        sink: SmtpSink, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(self: SmtpOutbox, key: str) -> None:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(SmtpOutbox, "_record_sent", crash)
        with pytest.raises(Crash):
            SmtpOutbox(_config(sink), sessions).send(REPLY)
    assert _row(sessions).status == "sending"
    retry = SmtpOutbox(_config(sink), sessions)  # the restarted service
    with pytest.raises(ReplyUncertainError, match="not sent again"):
        retry.send(REPLY)
    with pytest.raises(ReplyUncertainError):
        retry.send(REPLY)
    assert len(sink.received) == 1
    assert (_row(sessions).status, retry.was_sent(REPLY.idempotency_key)) == ("uncertain", False)


def test_refused_reply_is_marked_failed_and_sent_on_retry(sink: SmtpSink, sessions: sessionmaker[Session]) -> None:
    outbox = SmtpOutbox(_config(sink), sessions)
    sink.refuse_next(1)
    with pytest.raises(ReplySendError, match="451 4.3.0 Temporary failure"):
        outbox.send(REPLY)
    row = _row(sessions)
    assert (row.status, len(sink.received)) == ("failed", 0)
    assert row.last_error is not None and row.last_error.startswith("451")
    outbox.send(REPLY)
    row = _row(sessions)
    assert (row.status, row.attempts, row.last_error, len(sink.received)) == ("sent", 2, None, 1)


def test_unreachable_server_is_a_failure_to_retry(sessions: sessionmaker[Session]) -> None:
    with SmtpSink() as gone:
        config = _config(gone)
    with pytest.raises(ReplySendError, match="will be retried"):
        SmtpOutbox(config, sessions).send(REPLY)
    assert _row(sessions).status == "failed"


def test_starttls_with_a_verified_certificate(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    certs = make_certificates(tmp_path / "tls")
    with SmtpSink(starttls=(certs.cert_file, certs.key_file)) as tls_sink:
        outbox = SmtpOutbox(_config(tls_sink, security="starttls", ca_file=str(certs.ca_file)), sessions)
        outbox.send(REPLY)
        assert len(tls_sink.received) == 1


# --- with a copy in the Sent folder of a real Dovecot ---------------------------------------------


@pytest.fixture
def outboxes() -> Iterator[list[SmtpOutbox]]:
    opened: list[SmtpOutbox] = []
    yield opened
    for outbox in opened:
        outbox.close()


def _with_sent(dovecot: Any, tmp_path: Path, sink: SmtpSink, sessions: sessionmaker[Session],
               outboxes: list[SmtpOutbox], user: str | None = None) -> tuple[str, SmtpOutbox]:
    user = user or dovecot.new_user()
    config = dovecot.mailbox_config(user, tmp_path, smtp={"host": sink.host, "port": sink.port,
                                                           "security": "none", "append_to_sent": "Sent"})
    outboxes.append(SmtpOutbox(config, sessions, sent=ImapSentFolder(ImapConnection(config), "Sent")))
    return user, outboxes[-1]


@pytest.mark.imap
def test_sent_copy_is_kept_and_confirmed(dovecot: Any, tmp_path: Path, sink: SmtpSink,
                                         sessions: sessionmaker[Session], outboxes: list[SmtpOutbox]) -> None:
    user, outbox = _with_sent(dovecot, tmp_path, sink, sessions, outboxes)
    message_id = outbox.send(REPLY)
    outbox.send(REPLY)
    [(raw, flags)] = dovecot.folder_messages(user, "Sent").values()
    assert f"Message-ID: {message_id}".encode() in raw and UNSENT not in flags and b"\\Seen" in flags
    assert len(sink.received) == 1


@pytest.mark.imap
def test_crash_before_the_smtp_transaction_is_sent_on_retry(
        dovecot: Any, tmp_path: Path, sink: SmtpSink, sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch, outboxes: list[SmtpOutbox]) -> None:
    user, outbox = _with_sent(dovecot, tmp_path, sink, sessions, outboxes)

    def crash(*args: Any) -> None:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(ImapSentFolder, "append", crash)
        with pytest.raises(Crash):
            outbox.send(REPLY)
    assert (_row(sessions).status, len(sink.received)) == ("sending", 0)
    # no copy in Sent: the crash came before the SMTP transaction, so the retry may send
    _, retry = _with_sent(dovecot, tmp_path, sink, sessions, outboxes, user=user)
    retry.send(REPLY)
    assert len(sink.received) == 1 and _row(sessions).status == "sent"
    [(_, flags)] = dovecot.folder_messages(user, "Sent").values()
    assert UNSENT not in flags


@pytest.mark.imap
def test_crash_during_the_smtp_transaction_leaves_it_uncertain(
        dovecot: Any, tmp_path: Path, sink: SmtpSink, sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch, outboxes: list[SmtpOutbox]) -> None:
    user, outbox = _with_sent(dovecot, tmp_path, sink, sessions, outboxes)
    transmit = SmtpOutbox._transmit

    def send_then_crash(self: SmtpOutbox, mail: OutgoingMail, raw: bytes) -> None:
        transmit(self, mail, raw)
        raise Crash  # the server has the message; the 250 reply never reached the process

    with monkeypatch.context() as patch:
        patch.setattr(SmtpOutbox, "_transmit", send_then_crash)
        with pytest.raises(Crash):
            outbox.send(REPLY)
    with pytest.raises(ReplyUncertainError):
        outbox.send(REPLY)
    assert (len(sink.received), _row(sessions).status) == (1, "uncertain")
    [(_, flags)] = dovecot.folder_messages(user, "Sent").values()
    assert UNSENT in flags  # the copy shows a person what may have left


@pytest.mark.imap
def test_refused_reply_leaves_no_sent_copy(dovecot: Any, tmp_path: Path, sink: SmtpSink,
                                           sessions: sessionmaker[Session], outboxes: list[SmtpOutbox]) -> None:
    user, outbox = _with_sent(dovecot, tmp_path, sink, sessions, outboxes)
    sink.refuse_next(1)
    with pytest.raises(ReplySendError):
        outbox.send(REPLY)
    assert dovecot.folder_messages(user, "Sent") == {}
    outbox.send(REPLY)
    assert len(dovecot.folder_messages(user, "Sent")) == 1 and len(sink.received) == 1
