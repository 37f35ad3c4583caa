"""In-memory mailbox and outbox, for tests of the stages around them."""

from __future__ import annotations

from collections.abc import Iterator

from arinbox.domain.ports import OutgoingMail, RawMail


class InMemoryMailbox:
    def __init__(self, messages: dict[str, bytes], name: str = "memory", address: str = "ar@example.com") -> None:
        self.messages = dict(messages)
        self.name = name
        self.address = address

    def fetch(self) -> Iterator[RawMail]:
        for key, raw in sorted(self.messages.items()):
            yield RawMail(key, raw)


class InMemoryOutbox:
    def __init__(self) -> None:
        self.sent: dict[str, OutgoingMail] = {}

    def was_sent(self, idempotency_key: str) -> bool:
        return idempotency_key in self.sent

    def send(self, mail: OutgoingMail) -> str:
        self.sent.setdefault(mail.idempotency_key, mail)
        return mail.idempotency_key
