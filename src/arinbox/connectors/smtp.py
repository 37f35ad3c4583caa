"""Replies over SMTP, sent at most once per idempotency key, even across crashes.

The ``outgoing_messages`` row is committed as ``sending`` before the SMTP transaction and as
``sent`` after the server accepted the message. A row still ``sending`` on a later attempt means
the process died in between: the reply is not sent again but marked ``uncertain`` for a person,
unless the Sent folder proves it never left. For that proof the Sent copy is appended *before*
the SMTP transaction, flagged ``$arinbox-unsent`` until the server has accepted the message:

    no copy in Sent            the process died before the SMTP transaction: send it
    copy still flagged unsent  it died during or right after the transaction: uncertain
    copy without the flag      it was accepted: record it as sent
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import replace
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from arinbox.connectors.config import ImapMailboxConfig, SmtpConfig
from arinbox.connectors.folder import render_mail, reply_message_id
from arinbox.connectors.imap import SentCopy, tls_context
from arinbox.domain.errors import ArinboxError, ConfigError, ServiceUnavailable
from arinbox.domain.ports import OutgoingMail
from arinbox.persistence import models as m

log = logging.getLogger(__name__)

UNSENT = b"$arinbox-unsent"
SEEN = b"\\Seen"


class ReplySendError(ServiceUnavailable):
    """The SMTP server refused the reply or could not be reached; it was not sent and may be retried."""


class ReplyUncertainError(ArinboxError):
    """An earlier attempt died while sending: the reply may have left, so it is not sent again."""


class SentCopies(Protocol):
    """Where copies of sent replies are kept (the IMAP Sent folder)."""

    def find(self, message_id: str) -> SentCopy | None: ...

    def append(self, raw: bytes, flags: tuple[bytes, ...]) -> None: ...

    def set_flags(self, uid: int, add: tuple[bytes, ...] = (), remove: tuple[bytes, ...] = ()) -> None: ...

    def delete(self, uid: int) -> None: ...

    def close(self) -> None: ...


class _Uncertain(Exception):
    """The connection broke after the message data went out: the server may have accepted it."""


class SmtpOutbox:
    def __init__(self, mailbox: ImapMailboxConfig, sessions: sessionmaker[Session], *,
                 sent: SentCopies | None = None) -> None:
        if mailbox.smtp is None:
            raise ConfigError(f"mailbox {mailbox.name}: no smtp section, so it cannot send replies")
        self.config: SmtpConfig = mailbox.smtp
        self.mailbox_name = mailbox.name
        self.address = mailbox.address
        self.sessions = sessions
        self.sent = sent
        self._password: str | None = None

    def close(self) -> None:
        if self.sent is not None:
            self.sent.close()

    # --- the outgoing_messages row ------------------------------------------------------------

    def was_sent(self, idempotency_key: str) -> bool:
        with self.sessions() as s:
            row = s.get(m.OutgoingMessage, idempotency_key)
            return row is not None and row.status == "sent"

    def _claim(self, key: str, message_id: str) -> str:
        """Record the attempt before any network I/O; return what the row says to do."""
        with self.sessions.begin() as s:
            row = s.get(m.OutgoingMessage, key, with_for_update=True)
            if row is None:
                s.add(m.OutgoingMessage(idempotency_key=key, mailbox_name=self.mailbox_name,
                                        message_id=message_id, status="sending", attempts=1))
                return "send"
            if row.status == "failed":
                row.status, row.attempts = "sending", row.attempts + 1
                return "send"
            return row.status  # sent | uncertain | sending (an earlier attempt died mid-send)

    def _record(self, key: str, status: str, error: str | None = None, *, attempt: bool = False) -> None:
        with self.sessions.begin() as s:
            row = s.get(m.OutgoingMessage, key, with_for_update=True)
            assert row is not None
            row.status, row.last_error = status, error
            if attempt:
                row.attempts += 1
            if status == "sent":
                row.sent_at = m.utcnow()

    def _record_sent(self, key: str) -> None:
        self._record(key, "sent")

    # --- send --------------------------------------------------------------------------------

    def send(self, mail: OutgoingMail) -> str:
        mail = replace(mail, sender=self.address)  # replies leave from the mailbox they answer
        key, message_id = mail.idempotency_key, reply_message_id(mail)
        todo = self._claim(key, message_id)
        if todo == "sending":
            todo = self._after_crash(key, message_id)
        if todo == "sent":
            return message_id
        if todo == "uncertain":
            raise ReplyUncertainError(
                f"reply {key} ({message_id}): an earlier attempt died while sending it; not sent again, "
                "check the recipient's copy or the Sent folder")
        raw = render_mail(mail, linesep="\r\n")
        try:
            copy = self._append_copy(message_id, raw)
        except ArinboxError as e:  # nothing went out: a later attempt sends it
            self._record(key, "failed", f"Sent copy: {e}")
            raise ReplySendError(f"reply {key}: not sent, its Sent copy failed ({e}); it will be retried") from None
        try:
            self._transmit(mail, raw)
        except ArinboxError as e:  # a missing secret: nothing went out
            self._record(key, "failed", str(e))
            self._discard_copy(message_id)
            raise
        except _Uncertain as e:
            self._record(key, "uncertain", str(e))
            raise ReplyUncertainError(f"reply {key} ({message_id}): {e}; not sent again, check the Sent "
                                      "folder or the recipient") from None
        except (smtplib.SMTPException, OSError) as e:
            error = _smtp_text(e)
            self._record(key, "failed", error)
            self._discard_copy(message_id)
            if isinstance(e, smtplib.SMTPAuthenticationError):
                raise ConfigError(f"smtp {self.mailbox_name}: login failed for {self.config.username}: "
                                  f"{error}") from None
            raise ReplySendError(f"reply {key}: not sent ({error}); it will be retried") from None
        self._record_sent(key)
        if copy:
            self._confirm_copy(message_id)
        return message_id

    def _after_crash(self, key: str, message_id: str) -> str:
        copy = self.sent.find(message_id) if self.sent is not None else None
        if self.sent is not None and copy is None:
            log.warning("reply %s: an earlier attempt died before sending; sending it now", key)
            self._record(key, "sending", attempt=True)
            return "send"
        if copy is not None and UNSENT not in copy.flags:
            self._record_sent(key)
            return "sent"
        self._record(key, "uncertain", "an earlier attempt died while sending")
        return "uncertain"

    # --- the Sent copy -------------------------------------------------------------------------

    def _append_copy(self, message_id: str, raw: bytes) -> bool:
        if self.sent is None:
            return False
        if self.sent.find(message_id) is None:  # a failed attempt may have left one behind
            self.sent.append(raw, (SEEN, UNSENT))
        return True

    def _confirm_copy(self, message_id: str) -> None:
        sent = self.sent
        try:
            copy = sent.find(message_id) if sent is not None else None
            if sent is not None and copy is not None:
                sent.set_flags(copy.uid, remove=(UNSENT,))
        except ArinboxError as e:  # the reply is out and recorded; only the copy keeps its flag
            log.warning("reply %s: sent, but the Sent copy could not be updated: %s", message_id, e)

    def _discard_copy(self, message_id: str) -> None:
        sent = self.sent
        try:
            copy = sent.find(message_id) if sent is not None else None
            if sent is not None and copy is not None:
                sent.delete(copy.uid)
        except ArinboxError as e:
            log.warning("reply %s: not sent, and its Sent copy could not be removed: %s", message_id, e)

    # --- the SMTP transaction --------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        ctx: ssl.SSLContext = tls_context(cfg.verify_tls, cfg.ca_file)
        smtp: smtplib.SMTP
        if cfg.security == "tls":
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_s, context=ctx)
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s)
            if cfg.security == "starttls":
                smtp.ehlo()
                smtp.starttls(context=ctx)
        smtp.ehlo()
        if cfg.username:
            if self._password is None:
                if cfg.password is None:
                    raise ConfigError(f"smtp {self.mailbox_name}: username given without password")
                self._password = cfg.password.read(f"smtp {self.mailbox_name}: password")
            smtp.login(cfg.username, self._password)
        return smtp

    def _transmit(self, mail: OutgoingMail, raw: bytes) -> None:
        smtp = self._connect()
        try:
            options = ["BODY=8BITMIME"] if smtp.has_extn("8bitmime") and not raw.isascii() else []
            code, text = smtp.mail(mail.sender, options)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, text, mail.sender)
            code, text = smtp.rcpt(mail.to)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({mail.to: (code, text)})
            try:
                code, text = smtp.data(raw)
            except smtplib.SMTPResponseException:  # refused before the message was handed over
                raise
            except (smtplib.SMTPException, OSError) as e:
                raise _Uncertain(f"the connection broke after the message was handed over ({_smtp_text(e)})") from e
            if code != 250:  # the server answered, and refused: nothing was accepted
                raise smtplib.SMTPDataError(code, text)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def _smtp_text(e: BaseException) -> str:
    if isinstance(e, smtplib.SMTPResponseException):
        text = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        return f"{e.smtp_code} {text}"
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{to}: {code} {text.decode(errors='replace')}"
                         for to, (code, text) in e.recipients.items())
    return str(e) or type(e).__name__
