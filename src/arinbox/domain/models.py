"""The domain vocabulary shared by every stage: plain pydantic models, no I/O.

Graph state holds these as JSON dicts (``model_dump(mode="json")``) so checkpoints stay
portable between SQLite and PostgreSQL and readable by auditors.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Intent(StrEnum):
    REMITTANCE_ADVICE = "remittance_advice"
    DISPUTE = "dispute"
    INVOICE_REQUEST = "invoice_request"
    ORDER_INQUIRY = "order_inquiry"
    ACCOUNT_INQUIRY = "account_inquiry"
    PROMISE_TO_PAY = "promise_to_pay"
    AUTO_REPLY = "auto_reply"
    OTHER = "other"


class DisputeReason(StrEnum):
    PRICING = "pricing"
    QUANTITY = "quantity"
    DAMAGED = "damaged"
    NOT_RECEIVED = "not_received"
    DUPLICATE = "duplicate"
    TAX = "tax"
    RETURNED = "returned"
    SERVICE = "service"
    OTHER = "other"


class ActionKind(StrEnum):
    APPLY_PAYMENT = "apply_payment"
    OPEN_DISPUTE = "open_dispute"
    RECORD_PROMISE = "record_promise"
    SEND_REPLY = "send_reply"


CreditRisk = Literal["low", "normal", "high"]
RiskTier = Literal["low", "medium", "high"]
TIER_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}


class Outcome(StrEnum):
    """What the policy gate decided for one proposal."""

    AUTO = "auto"
    APPROVAL = "approval"
    SKIP = "skip"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LineKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_MEMO = "credit_memo"
    ADJUSTMENT = "adjustment"  # a deduction or charge-back not tied to a document of ours
    PAYMENT = "payment"  # a bank entry (lockbox, BAI2, camt): money received, no document named


class RemittanceLine(Frozen):
    """One line of a remittance: business identifiers and amounts only, never names or accounts."""

    reference: str | None = None  # the invoice or document number as written
    kind: LineKind = LineKind.INVOICE
    amount: Decimal | None = None  # paid on this line; negative for a credit memo or deduction taken
    gross: Decimal | None = None  # the invoice's own amount when stated
    discount: Decimal | None = None  # cash discount taken
    adjustment: Decimal | None = None  # deduction (negative) or addition with the reason below
    reason_code: str | None = None
    reason: str | None = None
    currency: str | None = None
    date: dt.date | None = None


class RemittanceDoc(Frozen):
    """What one remittance document (attachment, bank file or body table) states."""

    format: str  # csv, xlsx, pdf, text-table, html-table, camt.054, remt.001, x12-820, bai2, nacha
    payer_reference: str | None = None  # a customer or payment number, never a name or account
    total: Decimal | None = None
    currency: str | None = None
    date: dt.date | None = None
    lines: list[RemittanceLine] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # what the parser skipped or could not read


class Attachment(Frozen):
    filename: str
    content_type: str
    size: int
    text: str | None = None  # extracted text where the type is readable (csv, txt, html, remittance files)
    remittance: RemittanceDoc | None = None  # structured lines when the content is a remittance format
    note: str | None = None  # why it could not be read (encrypted, too large, malformed)


class ParsedEmail(Frozen):
    """One message as the pipeline sees it after MIME parsing (not yet masked)."""

    message_id: str
    subject: str
    sender: str  # bare address, lower-case
    sender_name: str
    to: list[str] = Field(default_factory=list)
    date: dt.datetime | None = None
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)  # selected structural headers
    content_types: list[str] = Field(default_factory=list)
    body: str  # full plain text, HTML converted
    newest: str  # the newest message only: no quoted history, forwards kept
    attachments: list[Attachment] = Field(default_factory=list)
    defects: list[str] = Field(default_factory=list)


class Classification(Frozen):
    intent: Intent
    confidence: float
    secondary: list[Intent] = Field(default_factory=list)
    language: str = "en"
    engine: str
    scores: dict[str, float] = Field(default_factory=dict)
    rule: str | None = None  # a structural rule that decided, if any
    cues: list[str] = Field(default_factory=list)  # phrase-cue groups found (agents/intent_cues.yaml)
    rationale: str | None = None  # an LLM engine's one-sentence reason, kept for the trace


class Money(Frozen):
    amount: Decimal
    currency: str | None = None
    text: str  # as written


class Extraction(Frozen):
    customer_id: str | None = None
    customer_how: str | None = None  # partner (a reconciliation rule), contact, domain, name, invoice
    invoices: list[str] = Field(default_factory=list)  # ledger spelling
    orders: list[str] = Field(default_factory=list)  # ledger order numbers
    unresolved_refs: list[str] = Field(default_factory=list)
    amounts: list[Money] = Field(default_factory=list)
    amount: Money | None = None  # the principal amount for the intent
    # every amount written as paid ("we transferred", "payment of"), in reading order
    paid_amounts: list[Decimal] = Field(default_factory=list)
    invoice_amounts: dict[str, Decimal] = Field(default_factory=dict)  # per-invoice amounts stated
    # per-invoice cash discounts and deductions a remittance states, with the deduction's reason
    invoice_discounts: dict[str, Decimal] = Field(default_factory=dict)
    invoice_deductions: dict[str, Decimal] = Field(default_factory=dict)
    deduction_reasons: dict[str, str] = Field(default_factory=dict)
    # remittance lines whose reference named no single document: reference as written -> amount paid
    unresolved_amounts: dict[str, Decimal] = Field(default_factory=dict)
    remittance_lines: int = 0  # structured remittance lines read (attachments, bank files, tables)
    promised_date: dt.date | None = None
    dispute_reason: DisputeReason | None = None
    signals: list[str] = Field(default_factory=list)  # needs-human signals found in the text
    # reconciliation rules (policies/reconciliation.yaml) that read this email: rule id -> what it did
    rules: dict[str, str] = Field(default_factory=dict)


class InvoiceFact(Frozen):
    invoice_number: str
    customer_id: str
    issue_date: dt.date
    due_date: dt.date
    currency: str
    amount: Decimal
    open_amount: Decimal
    status: str
    po_number: str | None = None
    order_number: str | None = None


class OrderFact(Frozen):
    order_number: str
    customer_id: str
    po_number: str | None = None
    status: str
    order_date: dt.date | None = None
    promised_ship_date: dt.date | None = None
    ship_date: dt.date | None = None
    carrier: str | None = None
    tracking_number: str | None = None


class CustomerFact(Frozen):
    customer_id: str
    name: str
    email_domains: list[str] = Field(default_factory=list)
    contact_emails: list[str] = Field(default_factory=list)
    currency: str
    language: str
    payment_terms_days: int
    credit_limit: Decimal
    strategic: bool = False  # finance marks key accounts; the policy may hold their actions
    credit_risk: CreditRisk = "normal"


class LedgerFacts(Frozen):
    """What the ledger said when the email was looked up; traced verbatim."""

    customer: CustomerFact | None = None
    invoices: list[InvoiceFact] = Field(default_factory=list)  # referenced ones
    open_invoices: list[InvoiceFact] = Field(default_factory=list)  # all open for the customer
    orders: list[OrderFact] = Field(default_factory=list)
    balance: Decimal = Decimal("0")
    overdue: Decimal = Decimal("0")


class Allocation(Frozen):
    invoice: str
    amount: Decimal


class Proposal(Frozen):
    """One action the pipeline wants to take; the policy decides whether it runs alone."""

    index: int
    kind: ActionKind
    summary: str
    confidence: float
    amount: Decimal = Decimal("0")
    currency: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    evidence: list[str] = Field(default_factory=list)


class Decision(Frozen):
    proposal_index: int
    outcome: Outcome
    rule_id: str
    reason: str
    policy_version: str
    tier: RiskTier = "low"  # the action's risk tier: who may approve it
