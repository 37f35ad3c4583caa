"""The embedded mailbox: a Maildir or a plain folder of ``.eml`` files, and an outbox folder."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from arinbox.domain.errors import ConfigError
from arinbox.domain.ports import OutgoingMail, RawMail


class FolderMailbox:
    """Reads every message in a folder. Maildir ``cur/`` and ``new/`` are both read, and the
    Maildir flag suffix (``:2,S``) is dropped from the key, so a message whose flags change is
    still the same message."""

    def __init__(self, path: Path, name: str | None = None, address: str = "") -> None:
        if not path.is_dir():
            raise ConfigError(f"mailbox folder {path} does not exist or is not a folder")
        self.path = path
        self.name = name or f"folder:{path.resolve().name}"
        self.address = address

    def _files(self) -> list[Path]:
        if (self.path / "cur").is_dir() or (self.path / "new").is_dir():
            files = [p for sub in ("new", "cur") if (self.path / sub).is_dir()
                     for p in (self.path / sub).iterdir() if p.is_file() and not p.name.startswith(".")]
        else:
            files = [p for p in self.path.rglob("*.eml") if p.is_file()]
        return sorted(files)

    def fetch(self) -> Iterator[RawMail]:
        for p in self._files():
            key = p.relative_to(self.path).as_posix()
            if ":2," in key:
                key = key.split(":2,", 1)[0]
            if key.startswith(("cur/", "new/")):
                key = key[4:]
            yield RawMail(source_key=key, raw=p.read_bytes())

    def acknowledge(self, source_key: str) -> None:
        """A folder keeps no cursor: ingest's de-duplication by key is enough."""

    def settle(self, source_key: str, outcome: str) -> None:
        """Files are left where they are; the database records the outcome."""


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:150] + "-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def reply_message_id(mail: OutgoingMail) -> str:
    """The Message-ID of a reply, derived from its idempotency key: every retry sends the same one."""
    domain = mail.sender.rpartition("@")[2] or "arinbox.invalid"
    return f"<{hashlib.sha256(mail.idempotency_key.encode()).hexdigest()[:32]}@{domain}>"


def reply_subject(subject: str) -> str:
    return subject if subject[:3].lower() == "re:" else f"Re: {subject}".strip()


def render_mail(mail: OutgoingMail, linesep: str = "\n") -> bytes:
    """The reply as MIME; CRLF line ends (``linesep="\\r\\n"``) for the wire: SMTP, IMAP APPEND."""
    msg = EmailMessage()
    msg["Message-ID"] = reply_message_id(mail)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["From"] = mail.sender
    msg["To"] = mail.to
    msg["Subject"] = reply_subject(mail.subject) if mail.in_reply_to else mail.subject
    if mail.in_reply_to:
        msg["In-Reply-To"] = f"<{mail.in_reply_to}>"
    refs = [*mail.references, *([mail.in_reply_to] if mail.in_reply_to else [])]
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in dict.fromkeys(refs))
    msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: tells the customer's autoresponder not to answer
    msg.set_content(mail.body)
    for a in mail.attachments:
        maintype, _, subtype = a.content_type.partition("/")
        msg.add_attachment(a.data, maintype=maintype, subtype=subtype or "octet-stream", filename=a.filename)
    return msg.as_bytes(policy=msg.policy.clone(linesep=linesep))


class FolderOutbox:
    """Writes each reply as an ``.eml`` file named by its idempotency key; a second send is a no-op."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _file(self, key: str) -> Path:
        return self.path / f"{_safe_name(key)}.eml"

    def was_sent(self, idempotency_key: str) -> bool:
        return self._file(idempotency_key).exists()

    def send(self, mail: OutgoingMail) -> str:
        target = self._file(mail.idempotency_key)
        if not target.exists():
            self.path.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(render_mail(mail))
            os.replace(tmp, target)  # atomic: a crash leaves either nothing or the whole file
        return target.name
