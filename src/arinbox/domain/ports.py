"""Interfaces between the pipeline and the outside world.

Each port has a real adapter and an in-memory fake; only ``service.bootstrap`` builds the real
ones, so nodes and services never import an adapter directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from arinbox.domain.models import (
    Allocation,
    Classification,
    CustomerFact,
    InvoiceFact,
    OrderFact,
    ParsedEmail,
)


@dataclass(frozen=True)
class RawMail:
    """A message exactly as the mailbox handed it over."""

    source_key: str  # unique within the mailbox: file name, folder/UIDVALIDITY/UID or Graph id
    raw: bytes


class MailSource(Protocol):
    name: str
    address: str

    def fetch(self) -> Iterator[RawMail]:
        """Yield the messages not yet handed over (a folder yields all; ingest de-duplicates)."""
        ...

    def acknowledge(self, source_key: str) -> None:
        """Called once the raw message is stored: a server-side cursor or flag may advance now,
        never before, so a crash in between loses nothing."""
        ...

    def settle(self, source_key: str, outcome: str) -> None:
        """Called after processing with ``processed``, ``needs_review`` or ``failed``: the adapter
        may flag or move the message on the server. Must be harmless when repeated."""
        ...


class SyncState(Protocol):
    """Small durable key/value state of one mailbox adapter (IMAP UIDVALIDITY and last UID per
    folder, a Graph delta link). Lives in the database beside the stored messages."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


@dataclass(frozen=True)
class OutgoingAttachment:
    """A file sent with a reply (an invoice copy, a statement), rendered from the ledger at send time."""

    filename: str
    content_type: str  # "application/pdf", "text/csv"
    data: bytes


@dataclass(frozen=True)
class OutgoingMail:
    idempotency_key: str
    to: str
    sender: str
    subject: str
    body: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[OutgoingAttachment, ...] = ()
    mailbox: str = ""  # the mailbox the email came in through: its outbox sends the reply


class Outbox(Protocol):
    def send(self, mail: OutgoingMail) -> str:
        """Send once per idempotency key; return a stable id of the sent message."""
        ...

    def was_sent(self, idempotency_key: str) -> bool: ...


@dataclass(frozen=True)
class MaskResult:
    text: str
    mapping: dict[str, str] = field(default_factory=dict)  # placeholder -> original
    entities: dict[str, int] = field(default_factory=dict)  # entity type -> count


class Masker(Protocol):
    def mask(self, texts: Sequence[str], keep: Sequence[str] = ()) -> list[MaskResult]:
        """Mask several texts of one email with placeholders shared across them."""
        ...


class Classifier(Protocol):
    name: str

    def classify(self, email: ParsedEmail, masked_text: str) -> Classification:
        """Classify from masked text; ``email`` supplies structural headers only."""
        ...


@dataclass(frozen=True)
class LedgerWrite:
    """The result of one ledger write, with what the ledger held before and after."""

    idempotency_key: str
    applied: bool  # False when the key had already been applied
    before: dict[str, object]
    after: dict[str, object]
    record_id: str


class Ledger(Protocol):
    def customers(self) -> list[CustomerFact]: ...

    def customer(self, customer_id: str) -> CustomerFact | None: ...

    def invoices(self, customer_id: str | None = None) -> list[InvoiceFact]: ...

    def orders(self, customer_id: str | None = None) -> list[OrderFact]: ...

    def apply_payment(
        self,
        key: str,
        customer_id: str,
        amount: Decimal,
        currency: str,
        allocations: Sequence[Allocation],
        reference: str,
        received: dt.date,
    ) -> LedgerWrite: ...

    def open_dispute(
        self,
        key: str,
        customer_id: str,
        invoice_number: str,
        amount: Decimal,
        reason: str,
        owner: str,
        note: str,
    ) -> LedgerWrite: ...

    def record_promise(
        self,
        key: str,
        customer_id: str,
        invoice_numbers: Sequence[str],
        amount: Decimal,
        currency: str,
        promised_date: dt.date,
    ) -> LedgerWrite: ...

    def read_effect(self, key: str) -> dict[str, object] | None:
        """Re-read what a write left in the ledger, for verification."""
        ...
