"""From classified, extracted and looked-up facts to proposed actions (no side effects).

Returns the proposals and the signals that a person should see. No proposal and no closing
intent means a person triages the email.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from arinbox.agents.cash import CashMatch, corroborated, match
from arinbox.agents.replies import ReplyRenderer
from arinbox.documents.attach import invoice_copies, statement_files
from arinbox.domain.models import (
    ActionKind,
    Allocation,
    Classification,
    DisputeReason,
    Extraction,
    Intent,
    InvoiceFact,
    LedgerFacts,
    Proposal,
)
from arinbox.policies.reconciliation import NO_RULES, ReconciliationRules

ZERO = Decimal("0")
MAX_INVOICE_COPIES = 10  # more than this is a statement's job, not a mail's


@dataclass
class Proposed:
    proposals: list[Proposal] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    review_reason: str | None = None  # set when nothing can be proposed and a person must look


@dataclass(frozen=True)
class Attach:
    """Documents a reply carries: named in the proposal, rendered from the ledger at send time."""

    customer_id: str
    as_of: dt.date  # the email's date: the statement's overdue days and the documents' dates
    specs: list[dict[str, str]]


@dataclass(frozen=True)
class ReplyContext:
    greeting_name: str  # a placeholder such as <PERSON_1>, re-hydrated only at send time
    language: str


def _inv(i: InvoiceFact) -> dict[str, Any]:
    return i.model_dump(mode="json")


class Proposer:
    def __init__(self, renderer: ReplyRenderer, reconciliation: ReconciliationRules = NO_RULES) -> None:
        self.renderer = renderer
        # finance's reconciliation rules: read by extraction too (partner mapping, reference styles)
        self.reconciliation = reconciliation

    def _cite(self, p: Proposal, used: dict[str, str]) -> Proposal:
        """Name the reconciliation rules a proposal rests on; a ``review`` rule (or one no longer in
        the file) sends it to a person whatever the policy's thresholds say."""
        ids = list(dict.fromkeys([*p.payload.get("rules", []), *used]))
        if not ids:
            return p
        review = [i for i in ids if (rule := self.reconciliation.get(i)) is None or rule.action == "review"]
        payload = p.payload | {"rules": ids, "rules_version": self.reconciliation.version_id}
        if review:
            payload["review_rules"] = review
        evidence = [*p.evidence, *(used[i] for i in used if used[i] not in p.evidence)]
        return p.model_copy(update={"payload": payload, "evidence": evidence})

    def _reply(self, out: Proposed, template: str, ctx: ReplyContext, confidence: float, summary: str,
               evidence: list[str], documents: Attach | None = None, **data: Any) -> None:
        body = self.renderer.render(template, ctx.language, greeting_name=ctx.greeting_name,
                                    attached=bool(documents), **data)
        payload: dict[str, Any] = {"template": template, "language": self.renderer.language(ctx.language),
                                   "body": body}
        if documents:  # named here, rendered from the ledger when the reply is sent
            payload |= {"documents": documents.specs, "customer_id": documents.customer_id,
                        "as_of": documents.as_of.isoformat()}
        out.proposals.append(Proposal(
            index=len(out.proposals), kind=ActionKind.SEND_REPLY, summary=summary, confidence=confidence,
            payload=payload, evidence=evidence,
        ))

    def propose(self, cls: Classification, ex: Extraction, facts: LedgerFacts, ctx: ReplyContext,
                email_date: dt.date) -> Proposed:
        out = Proposed(signals=list(ex.signals))
        intent = cls.intent
        if intent in (Intent.AUTO_REPLY, Intent.OTHER):
            return out
        if "ai_instruction" in ex.signals:
            # an email that tries to instruct the software is handled by a person from scratch: no
            # pre-filled ledger change or reply that an approver could wave through with it
            out.review_reason = "the email carries instructions addressed to an automated system"
            return out
        if facts.customer is None:
            out.signals.append("unknown_sender")
            out.review_reason = "no ledger customer could be resolved for this email"
            return out
        if ex.customer_how in ("name", "invoice"):
            out.signals.append("unknown_sender")  # resolved by content, not by a known address
        elif ex.customer_how == "domain":
            out.signals.append("new_sender")  # the customer's domain, an address not on file
        handler = {
            Intent.REMITTANCE_ADVICE: self._remittance,
            Intent.DISPUTE: self._dispute,
            Intent.PROMISE_TO_PAY: self._promise,
            Intent.INVOICE_REQUEST: self._invoice_request,
            Intent.ORDER_INQUIRY: self._order_inquiry,
            Intent.ACCOUNT_INQUIRY: self._account_inquiry,
        }[intent]
        handler(out, cls, ex, facts, ctx, email_date)
        out.proposals = [self._cite(p, ex.rules) for p in out.proposals]
        if not out.proposals and out.review_reason is None:
            out.review_reason = "nothing could be proposed from the ledger facts"
        out.signals = list(dict.fromkeys(out.signals))
        return out

    # --- per intent ---
    def _remittance(self, out: Proposed, cls: Classification, ex: Extraction, facts: LedgerFacts,
                    ctx: ReplyContext, email_date: dt.date) -> None:
        assert facts.customer is not None
        customer_id = facts.customer.customer_id
        currency = (ex.amount.currency if ex.amount and ex.amount.currency else None) or facts.customer.currency
        mine = [i for i in facts.invoices if i.customer_id == customer_id]
        # a payment is never applied to an invoice in another currency (the ledger refuses it too)
        referenced = [i for i in mine if i.currency == currency]
        other = [i.invoice_number for i in mine if i.currency != currency]
        if other:
            out.signals.append("currency_mismatch")
        open_invoices = [i for i in facts.open_invoices if i.customer_id == customer_id and i.currency == currency]
        if "question_paid" in cls.cues or ("promise" in cls.cues and "paid" not in cls.cues):
            # money is applied on a statement that it was paid, not on a plan or on a question
            # whether it arrived: those a person checks against the bank
            out.signals.append("payment_not_confirmed")
        # a short payment explained by a deduction, not one whose rest is promised for later
        deduction = (ex.dispute_reason is not None or Intent.DISPUTE in cls.secondary
                     or bool(ex.invoice_deductions)) and "promise" not in cls.cues
        # "paid half today, the rest on the 30th": the short payment is announced, not unexplained
        rest_promised = "promise" in cls.cues and "paid" in cls.cues
        stated = dict(ex.invoice_amounts)
        slips, slip_evidence = corroborated(ex.unresolved_amounts, open_invoices, {i.invoice_number for i in mine})
        if slips:  # a line's reference mistyped, its amount the invoice's open amount to the cent
            referenced += [i for i in open_invoices if i.invoice_number in slips]
            stated |= slips
        m = match(ex.amount.amount if ex.amount else None, referenced, stated,
                  open_invoices, deduction or rest_promised, ex.invoice_discounts, ex.invoice_deductions,
                  tolerance=self.reconciliation.tolerance_for(customer_id, currency))
        if slips:
            m.confidence = min(m.confidence, 0.9)
        m = self._today_s_payment(m, ex, referenced, stated, open_invoices, deduction or rest_promised,
                                  customer_id, currency)
        out.signals.extend(m.signals)
        evidence = [f"{', '.join(other)} in another currency than the payment ({currency})"] if other else []
        evidence += slip_evidence
        if not m.allocations:
            out.review_reason = "; ".join(evidence + m.evidence) or "no allocation found"
            return
        summary = f"apply {m.payment} {currency} to " + ", ".join(a.invoice for a in m.allocations)
        payload: dict[str, object] = {
            "customer_id": customer_id, "payment": str(m.payment), "currency": currency,
            "received": email_date.isoformat(), "allocations": [a.model_dump(mode="json") for a in m.allocations]}
        if m.rules:
            payload["rules"] = list(m.rules)
        if m.write_offs:
            payload["write_offs"] = [Allocation(invoice=n, amount=a).model_dump(mode="json")
                                     for n, a in m.write_offs.items()]
            summary += "; write off " + ", ".join(f"{a} on {n}" for n, a in m.write_offs.items())
        out.proposals.append(Proposal(
            index=0, kind=ActionKind.APPLY_PAYMENT, confidence=m.confidence, amount=m.payment, currency=currency,
            summary=summary, payload=payload, evidence=evidence + m.evidence,
        ))
        if deduction and m.short_paid:  # not when the rest is promised: that is no dispute
            for number, short in m.short_paid.items():
                self._open_dispute(out, facts, number, short, ex.dispute_reason or DisputeReason.OTHER, 0.8,
                                   ["short payment with a deduction reason"])

    def _today_s_payment(self, m: CashMatch, ex: Extraction, referenced: list[InvoiceFact],
                         stated: dict[str, Decimal], open_invoices: list[InvoiceFact], short_explained: bool,
                         customer_id: str, currency: str) -> CashMatch:
        """"After our first transfer of 2,000.00 we have today transferred the balance of 1,555.00":
        of several amounts written as paid, the one that is exactly what the named invoices have open."""
        if m.allocations and "amount_mismatch" not in m.signals or len(ex.paid_amounts) < 2 or stated:
            return m
        open_total = sum((i.open_amount for i in referenced if i.open_amount > 0), ZERO)
        fits = [a for a in ex.paid_amounts if a == open_total]
        if open_total <= 0 or len(fits) != 1:
            return m
        again = match(fits[0], referenced, stated, open_invoices, short_explained,
                      tolerance=self.reconciliation.tolerance_for(customer_id, currency))
        if not again.allocations or again.signals:
            return m
        again.confidence = min(again.confidence, 0.9)
        others = ", ".join(str(a) for a in ex.paid_amounts if a != fits[0])
        again.evidence.append(f"of the amounts written as paid, {fits[0]} is what the named invoices have open "
                              f"({others} taken for an earlier payment)")
        return again

    def _open_dispute(self, out: Proposed, facts: LedgerFacts, invoice: str, amount: Decimal,
                      reason: DisputeReason, confidence: float, evidence: list[str]) -> None:
        assert facts.customer is not None
        out.proposals.append(Proposal(
            index=len(out.proposals), kind=ActionKind.OPEN_DISPUTE, confidence=confidence, amount=amount,
            currency=facts.customer.currency, summary=f"open a {reason.value} dispute on {invoice} for {amount}",
            payload={"customer_id": facts.customer.customer_id, "invoice": invoice, "amount": str(amount),
                     "reason": reason.value},
            evidence=evidence,
        ))

    def _dispute(self, out: Proposed, cls: Classification, ex: Extraction, facts: LedgerFacts,
                 ctx: ReplyContext, email_date: dt.date) -> None:
        invoices = [i for i in facts.invoices if i.status != "credited"]
        if not invoices:
            out.review_reason = "the dispute names no invoice of this customer"
            return
        reason = ex.dispute_reason or DisputeReason.OTHER
        # one invoice and a contested amount within it make a clear case even when the reason is not
        # one of ours ("other" goes to the owner all the same); several invoices or no amount are less sure
        stated = ex.amount is not None and len(invoices) == 1 and ex.amount.amount <= invoices[0].amount
        confidence = (0.9 if ex.dispute_reason else 0.85) if stated else (0.85 if ex.dispute_reason else 0.7)
        if len(invoices) > 1:
            confidence = min(confidence, 0.8)
        for inv in invoices[:3]:
            amount = ex.amount.amount if ex.amount and len(invoices) == 1 else inv.open_amount or inv.amount
            if amount > inv.amount:
                out.signals.append("amount_mismatch")
                amount = inv.amount
            self._open_dispute(out, facts, inv.invoice_number, amount, reason, confidence,
                               [f"dispute reason {reason.value}" + (" from the text" if ex.dispute_reason else
                                                                     " not recognised")])
            case_ref = f"D-{inv.invoice_number}"
            self._reply(out, "dispute_ack", ctx, confidence, f"acknowledge the dispute on {inv.invoice_number}",
                        ["ledger invoice facts"], dispute={
                            "case_ref": case_ref, "invoice": inv.invoice_number, "amount": str(amount),
                            "currency": inv.currency,
                            "reason_text": self.renderer.label(ctx.language, "dispute_reason", reason.value)})

    def _promise(self, out: Proposed, cls: Classification, ex: Extraction, facts: LedgerFacts,
                 ctx: ReplyContext, email_date: dt.date) -> None:
        assert facts.customer is not None
        if "payment_plan" in cls.cues:
            out.signals.append("payment_plan")  # terms are negotiated by a person, not accepted by software
        if ex.promised_date is None:
            out.review_reason = "no payment date could be read from the promise"
            return
        invoices = [i for i in facts.invoices if i.open_amount > 0] or [
            i for i in facts.open_invoices if i.due_date <= ex.promised_date]
        amount = ex.amount.amount if ex.amount else sum((i.open_amount for i in invoices), ZERO)
        if amount <= 0:
            out.review_reason = "the promise names no amount and the customer has nothing open"
            return
        currency = (ex.amount.currency if ex.amount and ex.amount.currency else None) or facts.customer.currency
        confidence = 0.9 if (ex.amount or facts.invoices) else 0.8
        numbers = [i.invoice_number for i in invoices]
        out.proposals.append(Proposal(
            index=0, kind=ActionKind.RECORD_PROMISE, confidence=confidence, amount=amount, currency=currency,
            summary=f"record a promise to pay {amount} {currency} by {ex.promised_date}",
            payload={"customer_id": facts.customer.customer_id, "invoices": numbers, "amount": str(amount),
                     "currency": currency, "promised_date": ex.promised_date.isoformat()},
            evidence=["date read from the text"] + (["amount read from the text"] if ex.amount else
                                                      ["amount = open total of the invoices"]),
        ))
        self._reply(out, "promise_ack", ctx, confidence, "confirm the promise to pay", ["ledger facts"],
                    promise={"amount": str(amount), "currency": currency, "date": ex.promised_date.isoformat(),
                             "invoices": numbers})

    def _invoice_request(self, out: Proposed, cls: Classification, ex: Extraction, facts: LedgerFacts,
                         ctx: ReplyContext, email_date: dt.date) -> None:
        assert facts.customer is not None
        if facts.invoices:
            copies = facts.invoices[:MAX_INVOICE_COPIES]
            self._reply(out, "invoice_copy", ctx, 0.9, "send the invoice copies",
                        ["invoices resolved in the ledger"], invoices=[_inv(i) for i in facts.invoices],
                        documents=Attach(facts.customer.customer_id, email_date,
                                         invoice_copies([i.invoice_number for i in copies])))
        else:
            self._statement(out, facts, ctx, 0.85, email_date)

    def _statement(self, out: Proposed, facts: LedgerFacts, ctx: ReplyContext, confidence: float,
                   email_date: dt.date) -> None:
        assert facts.customer is not None
        self._reply(out, "account_statement", ctx, confidence, "send the statement of open items",
                    ["open items from the ledger"], open_invoices=[_inv(i) for i in facts.open_invoices],
                    balance=str(facts.balance), overdue=str(facts.overdue), currency=facts.customer.currency,
                    recent_payments=[_inv(i) for i in facts.invoices if i.status == "paid"],
                    documents=Attach(facts.customer.customer_id, email_date, statement_files()))

    def _order_inquiry(self, out: Proposed, cls: Classification, ex: Extraction, facts: LedgerFacts,
                       ctx: ReplyContext, email_date: dt.date) -> None:
        if not facts.orders:
            out.review_reason = "the order inquiry names no order of this customer"
            return
        orders = [o.model_dump(mode="json") | {"status_text": self.renderer.label(ctx.language, "order_status",
                                                                                   o.status)} for o in facts.orders]
        self._reply(out, "order_status", ctx, 0.9, "send the order status", ["orders from the ledger"],
                    orders=orders)

    def _account_inquiry(self, out: Proposed, cls: Classification, ex: Extraction, facts: LedgerFacts,
                         ctx: ReplyContext, email_date: dt.date) -> None:
        assert facts.customer is not None
        if "question_paid" in cls.cues and facts.invoices:
            # "did you receive our payment for ...": where each named invoice stands, and the balance
            self._reply(out, "payment_received", ctx, 0.88, "answer whether the payment was received",
                        ["invoice statuses from the ledger"], currency=facts.customer.currency,
                        invoices=[_inv(i) | {"status_text": self.renderer.label(ctx.language, "invoice_status",
                                                                                i.status)} for i in facts.invoices],
                        balance=str(facts.balance), overdue=str(facts.overdue))
            return
        self._statement(out, facts, ctx, 0.88, email_date)
