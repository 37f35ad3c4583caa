"""In-memory mailbox and outbox, for tests of the stages around them."""

from __future__ import annotations

from collections.abc import Iterator

from arinbox.domain.ports import OutgoingMail, RawMail


class InMemoryMailbox:
    def __init__(self, messages: dict[str, bytes], name: str = "memory", address: str = "ar@example.com") -> None:
        self.messages = dict(messages)
        self.name = name
        self.address = address
        self.acknowledged: list[str] = []
        self.settled: dict[str, str] = {}

    def fetch(self) -> Iterator[RawMail]:
        for key, raw in sorted(self.messages.items()):
            yield RawMail(key, raw)

    def acknowledge(self, source_key: str) -> None:
        self.acknowledged.append(source_key)

    def settle(self, source_key: str, outcome: str) -> None:
        self.settled[source_key] = outcome


class InMemorySyncState:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value


class InMemoryOutbox:
    def __init__(self) -> None:
        self.sent: dict[str, OutgoingMail] = {}

    def was_sent(self, idempotency_key: str) -> bool:
        return idempotency_key in self.sent

    def send(self, mail: OutgoingMail) -> str:
        self.sent.setdefault(mail.idempotency_key, mail)
        return mail.idempotency_key
