"""An SMTP server on loopback (aiosmtpd) that keeps what it receives and can be told to refuse."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.dovecot import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refuse: int = 0  # refuse the next n messages at DATA with a temporary error

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Temporary failure, try again later"
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 OK queued"


class SmtpSink:
    """``with SmtpSink() as sink:``; ``starttls=(cert, key)`` offers and requires STARTTLS."""

    host = "127.0.0.1"

    def __init__(self, starttls: tuple[Path, Path] | None = None) -> None:
        self.port = free_port()
        self.handler = _Handler()
        kwargs: dict[str, Any] = {}
        if starttls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(starttls[0]), str(starttls[1]))
            kwargs = {"tls_context": ctx, "require_starttls": True}
        self.controller = Controller(self.handler, hostname=self.host, port=self.port, **kwargs)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def refuse_next(self, n: int = 1) -> None:
        self.handler.refuse = n

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
