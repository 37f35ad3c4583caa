"""SQLAlchemy tables: mail, work items, the embedded AR ledger, proposals, actions, approvals, trace.

The same models run on SQLite and PostgreSQL. Money is stored as a decimal string so no dialect
rounds it through a float.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MoneyType(TypeDecorator[Decimal]):
    """Exact decimals on every dialect (SQLite has no decimal type)."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(Decimal(value))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every dialect (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {Decimal: MoneyType, dt.datetime: UTCDateTime, dict[str, Any]: JSON}


# --- mail and work -------------------------------------------------------------------------


class Mailbox(Base):
    __tablename__ = "mailboxes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RawMessage(Base):
    __tablename__ = "raw_messages"
    __table_args__ = (UniqueConstraint("mailbox_id", "source_key", name="uq_raw_messages_source"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id"))
    source_key: Mapped[str] = mapped_column(String(500))
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    parse_status: Mapped[str] = mapped_column(String(20), default="ok")
    parse_error: Mapped[str | None] = mapped_column(Text, default=None)
    # set once the mailbox adapter has flagged or moved the message after processing
    settled_outcome: Mapped[str | None] = mapped_column(String(20), default=None)


class OutgoingMessage(Base):
    """One reply per idempotency key, recorded before the network send so that a crash between
    send and record is seen on restart and the reply is never sent twice."""

    __tablename__ = "outgoing_messages"
    idempotency_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    mailbox_name: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(998))
    # sending -> sent | failed (retryable) | uncertain (crashed mid-send: a person checks)
    status: Mapped[str] = mapped_column(String(20), default="sending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class User(Base):
    """A console user: local password (hashed) or an OIDC subject; one role."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(500), default=None)
    role: Mapped[str] = mapped_column(String(20))  # clerk | approver | auditor | admin
    display_name: Mapped[str | None] = mapped_column(String(200), default=None)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LedgerRevision(Base):
    """Bumped by every ledger import: long-running processes reload the ledger's numbering when it moves."""

    __tablename__ = "ledger_revision"
    id: Mapped[int] = mapped_column(primary_key=True)  # a single row, id 1
    revision: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class MailboxSyncState(Base):
    """Durable cursors of a mailbox adapter: IMAP UIDVALIDITY/last UID per folder, Graph delta links."""

    __tablename__ = "mailbox_sync_state"
    mailbox_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class WorkItem(Base):
    """One email's way through the graph; status is the queue."""

    __tablename__ = "work_items"
    # workers claim by status, oldest first, and take back what an expired lease left
    __table_args__ = (Index("ix_work_items_claim", "status", "lease_until"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    raw_message_id: Mapped[int] = mapped_column(ForeignKey("raw_messages.id"), unique=True)
    # pending -> processing -> done | waiting_approval | failed | retry
    status: Mapped[str] = mapped_column(String(30), index=True, default="pending")
    intent: Mapped[str | None] = mapped_column(String(40), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    duration_ms: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # the worker holding the item and until when; an expired lease makes it claimable again.
    # For an item in 'retry', lease_until is the earliest time a worker tries it again.
    claimed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_until: Mapped[dt.datetime | None] = mapped_column(default=None)


class VaultEntry(Base):
    """The placeholder mapping of one email, encrypted; only the reply sender opens it."""

    __tablename__ = "vault_entries"
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id"), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


# --- the embedded AR ledger ----------------------------------------------------------------


class Customer(Base):
    __tablename__ = "customers"
    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    email_domains: Mapped[str] = mapped_column(Text, default="")  # ';'-separated, as in the CSV
    contact_emails: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3))
    language: Mapped[str] = mapped_column(String(8))
    payment_terms_days: Mapped[int] = mapped_column(Integer)
    credit_limit: Mapped[Decimal]
    strategic: Mapped[bool] = mapped_column(default=False)
    credit_risk: Mapped[str] = mapped_column(String(10), default="normal")  # low | normal | high


class Invoice(Base):
    __tablename__ = "invoices"
    invoice_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    issue_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal]
    open_amount: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(20))
    po_number: Mapped[str | None] = mapped_column(String(64), default=None)
    order_number: Mapped[str | None] = mapped_column(String(64), default=None)


class Order(Base):
    __tablename__ = "orders"
    order_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    po_number: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(20))
    order_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    promised_ship_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    ship_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    carrier: Mapped[str | None] = mapped_column(String(100), default=None)
    tracking_number: Mapped[str | None] = mapped_column(String(100), default=None)


class Payment(Base):
    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    received_date: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(Text, default="")
    unapplied_amount: Mapped[Decimal]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PaymentApplication(Base):
    __tablename__ = "payment_applications"
    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_number: Mapped[str] = mapped_column(ForeignKey("invoices.invoice_number"), index=True)
    amount: Mapped[Decimal]


class Dispute(Base):
    __tablename__ = "disputes"
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    invoice_number: Mapped[str] = mapped_column(ForeignKey("invoices.invoice_number"), index=True)
    amount: Mapped[Decimal]
    reason: Mapped[str] = mapped_column(String(40))
    owner: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open")
    note: Mapped[str] = mapped_column(Text, default="")
    previous_invoice_status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PromiseToPay(Base):
    __tablename__ = "promises_to_pay"
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    invoice_numbers: Mapped[list[str]] = mapped_column(JSON)
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    promised_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- proposals, actions, approvals, trace ----------------------------------------------------


class ActionRow(Base):
    """One proposed action and what became of it; the idempotency key is email id + index."""

    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("work_item_id", "proposal_index", name="uq_actions_proposal"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id"), index=True)
    proposal_index: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    amount: Mapped[Decimal]
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence: Mapped[list[str]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(20))  # auto | approval | skip
    rule_id: Mapped[str] = mapped_column(String(200))
    policy_version: Mapped[str] = mapped_column(String(80))
    # proposed -> awaiting_approval -> approved|rejected ; approved|auto -> executed -> verified
    status: Mapped[str] = mapped_column(String(30), default="proposed")
    result: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    executed_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Approval(Base):
    __tablename__ = "approvals"
    # the console's queue: pending first, oldest first, filtered by tier
    __table_args__ = (Index("ix_approvals_status_requested", "status", "requested_at"),
                      Index("ix_approvals_status_tier", "status", "tier"))
    id: Mapped[int] = mapped_column(primary_key=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|approved|rejected
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    approver: Mapped[str | None] = mapped_column(String(200), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    edits: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # waited past the policy's limit
    tier: Mapped[str] = mapped_column(String(10), default="low")  # the highest risk tier of its actions
    edited_by: Mapped[str | None] = mapped_column(String(200), default=None)  # who saved the current edit


class TraceRecord(Base):
    """Append-only, hash-chained decision trace. ``body`` is canonical JSON, hashed as stored."""

    __tablename__ = "trace_records"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)  # makes re-run nodes append once
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id"), index=True)
    node: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
