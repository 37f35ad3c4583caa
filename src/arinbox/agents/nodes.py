"""The graph's nodes: ``(state, runtime) -> partial state``. Each appends to the decision trace.

A node may run again after a crash or a resume, so every write here is idempotent: trace records
by key, action rows by (email, index), ledger effects and replies by idempotency key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from sqlalchemy import select, update

from arinbox.agents.context import Deps
from arinbox.agents.extract import extract
from arinbox.agents.hostile import greeting_name, outside_signals, split_hidden
from arinbox.agents.lexicon import default_lexicon
from arinbox.agents.propose import ReplyContext
from arinbox.agents.reply_check import check_reply
from arinbox.agents.state import EmailState
from arinbox.documents.attach import DocumentRenderer
from arinbox.domain.errors import LedgerError, MailParseError
from arinbox.domain.models import (
    ActionKind,
    Allocation,
    Classification,
    Decision,
    Extraction,
    InvoiceFact,
    LedgerFacts,
    Outcome,
    ParsedEmail,
    Proposal,
)
from arinbox.domain.ports import OutgoingMail
from arinbox.mail.parse import parse_email
from arinbox.masking.masker import rehydrate
from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.policies.engine import decide_email
from arinbox.remittance import parse_text_table

ZERO = Decimal("0")


def action_key(work_item_id: int, index: int) -> str:
    return f"email-{work_item_id}-action-{index}"


def _trace(deps: Deps, wi: int, node: str, body: dict[str, Any], suffix: str = "") -> None:
    with deps.sessions.begin() as s:
        trace.append(s, key=f"{wi}:{node}{suffix}", node=node, work_item_id=wi, body=body)


def _email(state: EmailState) -> ParsedEmail:
    return ParsedEmail.model_validate(state["email"])


def _email_day(email: ParsedEmail) -> dt.date:
    return (email.date or dt.datetime.now(dt.UTC)).date()


def masked_text(state: EmailState, with_attachments: bool = False, whole: bool = False) -> str:
    """Subject and newest message (what the classifier reads); optionally attachments and the
    full body with quoted history (what the trace keeps)."""
    masked = state["masked"]
    parts = [masked["subject"], masked["body"] if whole else masked["newest"]]
    if with_attachments:
        parts += [a for a in masked["attachments"] if a]
    return "\n".join(parts)


# --- nodes ---------------------------------------------------------------------------------


def _raw_id(deps: Deps, wi: int) -> int:
    with deps.sessions() as s:
        raw_id = s.scalar(select(m.WorkItem.raw_message_id).where(m.WorkItem.id == wi))
        assert raw_id is not None
        return raw_id


def _raw(deps: Deps, wi: int) -> tuple[int, bytes]:
    """The stored message of a work item: its id and bytes, in one query."""
    with deps.sessions() as s:
        row = s.execute(select(m.RawMessage.id, m.RawMessage.raw)
                        .join(m.WorkItem, m.WorkItem.raw_message_id == m.RawMessage.id)
                        .where(m.WorkItem.id == wi)).one()
        return row.id, row.raw


def without_content(email: ParsedEmail) -> ParsedEmail:
    """What later nodes may keep in checkpointed state: headers and structure, no unmasked text."""
    return email.model_copy(update={
        "subject": "", "sender_name": "", "body": "", "newest": "",
        "attachments": [a.model_copy(update={"text": None}) for a in email.attachments]})


def parse(state: EmailState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps, wi = runtime.context, state["work_item_id"]
    raw_id, raw = _raw(deps, wi)
    try:
        email = parse_email(raw)
    except MailParseError as e:
        with deps.sessions.begin() as s:
            row = s.get(m.RawMessage, raw_id)
            assert row is not None
            row.parse_status, row.parse_error = "failed", str(e)
            trace.append(s, key=f"{wi}:parse", node="parse", work_item_id=wi,
                         body={"ok": False, "error": str(e), "size": len(raw)})
        return {"status": "failed", "error": f"cannot parse: {e}"}
    _trace(deps, wi, "parse", {
        "ok": True, "message_id": email.message_id, "date": email.date, "content_types": email.content_types,
        "attachments": [a.model_dump(exclude={"text"}) for a in email.attachments], "defects": email.defects,
    })
    deps.parses.put(raw_id, email)
    return {"status": "running", "email": without_content(email).model_dump(mode="json")}


def mask(state: EmailState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """The only node that reads unmasked text: the parse node's email if this process has it, else
    the stored message parsed again (after a restart), never the checkpointed state."""
    deps, wi = runtime.context, state["work_item_id"]
    email = deps.parses.pop(_raw_id(deps, wi)) or parse_email(_raw(deps, wi)[1])
    attachments = [a.text or "" for a in email.attachments]
    # the display name goes in as a header line so the signature/header name rules see it
    # the full body (quoted history too) is masked for the trace: auditors read the whole email
    texts = [email.subject, email.newest, *attachments, f"From: {email.sender_name}", email.body]
    results = deps.masker.mask(texts, deps.refs.keep_terms)
    mapping: dict[str, str] = {}
    entities: dict[str, int] = {}
    for r in results:
        mapping.update(r.mapping)
        for k, v in r.entities.items():
            entities[k] = entities.get(k, 0) + v
    masked = {"subject": results[0].text, "newest": results[1].text,
              "attachments": [r.text for r in results[2:-2]],
              "greeting": results[-2].text.removeprefix("From: ").strip(), "body": results[-1].text}
    with deps.sessions.begin() as s:
        s.merge(m.VaultEntry(work_item_id=wi, ciphertext=deps.vault.seal(mapping)))
        trace.append(s, key=f"{wi}:mask", node="mask", work_item_id=wi,
                     body={"masked_subject": masked["subject"], "masked_text": masked["newest"],
                           "masked_body": masked["body"],
                           "entities": entities, "placeholders": sorted(mapping)})
    return {"masked": masked}


def classify(state: EmailState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps, wi = runtime.context, state["work_item_id"]
    # the classifier gets structure and the masked subject, never the raw one
    email = _email(state).model_copy(update={"subject": state["masked"]["subject"]})
    result = deps.classifier.classify(email, masked_text(state))
    with deps.sessions.begin() as s:
        s.execute(update(m.WorkItem).where(m.WorkItem.id == wi).values(intent=result.intent.value))
        trace.append(s, key=f"{wi}:classify", node="classify", work_item_id=wi,
                     body={"model": result.engine, **result.model_dump(mode="json")})
    return {"classification": result.model_dump(mode="json")}


def extract_facts(state: EmailState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps, wi = runtime.context, state["work_item_id"]
    email = _email(state)
    cls = Classification.model_validate(state["classification"])
    refs = deps.refs
    # attachments' lines were read at parse time (they carry no personal data); a table in the body
    # is read from the masked text, which keeps invoice numbers and amounts
    docs = [a.remittance for a in email.attachments if a.remittance is not None]
    body_table = parse_text_table(state["masked"]["newest"], "body-table")
    # text hidden in the HTML is not the customer's words: scanned for signals, never read for facts
    shown, hidden = split_hidden(email.attachments, state["masked"]["attachments"])
    result = extract(
        "\n".join([state["masked"]["subject"], state["masked"]["newest"], *[t for t in shown if t]]),
        email.sender, email.date, cls.language,
        refs.customers, refs.invoices, refs.orders, refs.index,
        own_names=(deps.company_name,), intent=cls.intent,
        remittance=[*docs, *([body_table] if body_table is not None else [])],
        reconciliation=deps.proposer.reconciliation,
    )
    extra = outside_signals(hidden, state["masked"]["greeting"], cls.language, default_lexicon(), refs.index)
    if extra:
        result = result.model_copy(update={"signals": list(dict.fromkeys([*result.signals, *extra]))})
    _trace(deps, wi, "extract", result.model_dump(mode="json"))
    return {"extraction": result.model_dump(mode="json")}


def lookup(state: EmailState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps, wi = runtime.context, state["work_item_id"]
    ex = Extraction.model_validate(state["extraction"])
    day = _email_day(_email(state))
    customer = deps.ledger.customer(ex.customer_id) if ex.customer_id else None
    invoices: list[InvoiceFact] = []
    open_invoices: list[InvoiceFact] = []
    orders = []
    if customer is not None:
        mine = deps.ledger.invoices(customer.customer_id)
        by_number = {i.invoice_number: i for i in mine}
        invoices = [by_number[n] for n in ex.invoices if n in by_number]
        open_invoices = [i for i in mine if i.open_amount > 0 and i.status not in ("paid", "credited")]
        orders = [o for o in deps.ledger.orders(customer.customer_id) if o.order_number in ex.orders]
    facts = LedgerFacts(
        customer=customer, invoices=invoices, open_invoices=open_invoices, orders=orders,
        balance=sum((i.open_amount for i in open_invoices), ZERO),
        overdue=sum((i.open_amount for i in open_invoices if i.due_date < day), ZERO),
    )
    _trace(deps, wi, "lookup", facts.model_dump(mode="json"))
    return {"facts": facts.model_dump(mode="json")}


def propose(state: EmailState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps, wi = runtime.context, state["work_item_id"]
    email = _email(state)
    cls = Classification.model_validate(state["classification"])
    ex = Extraction.model_validate(state["extraction"])
    facts = LedgerFacts.model_validate(state["facts"])
    greeting = greeting_name(state["masked"]["greeting"])  # never an instruction written as a display name
    out = deps.proposer.propose(cls, ex, facts, ReplyContext(greeting, cls.language), _email_day(email))
    proposals = [p.model_dump(mode="json") for p in out.proposals]
    for p in out.proposals:
        if p.kind is ActionKind.SEND_REPLY and check_reply(p.payload["body"], facts, proposals, deps.refs.index,
                                                          cls.language):
            out.signals.append("reply_facts_mismatch")  # a template bug must not reach a customer
    _trace(deps, wi, "propose", {"proposals": proposals, "signals": out.signals, "review_reason": out.review_reason})
    return {"proposals": proposals, "signals": out.signals, "review_reason": out.review_reason}


def gate(state: EmailState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps, wi = runtime.context, state["work_item_id"]
    policy = deps.policy
    cls = Classification.model_validate(state["classification"])
    facts = LedgerFacts.model_validate(state["facts"])
    proposals = [Proposal.model_validate(p) for p in state["proposals"]]
    today = _email_day(_email(state))
    verdict = decide_email(proposals, cls, facts, state["signals"], state.get("review_reason"), policy, today)
    decisions, needs_person = verdict.decisions, verdict.needs_person
    email_rule, email_reason = verdict.rule_id, verdict.reason
    with deps.sessions.begin() as s:
        for p, d in zip(proposals, decisions, strict=True):
            exists = s.scalar(select(m.ActionRow.id).where(m.ActionRow.idempotency_key == action_key(wi, p.index)))
            if exists is None:
                s.add(m.ActionRow(
                    work_item_id=wi, proposal_index=p.index, idempotency_key=action_key(wi, p.index),
                    kind=p.kind.value, summary=p.summary, confidence=p.confidence, amount=p.amount,
                    currency=p.currency, payload=p.model_dump(mode="json")["payload"], evidence=p.evidence,
                    outcome=d.outcome.value, rule_id=d.rule_id, policy_version=d.policy_version,
                    status="awaiting_approval" if d.outcome is Outcome.APPROVAL else
                    ("skipped" if d.outcome is Outcome.SKIP else "approved"),
                ))
        if needs_person and s.scalar(select(m.Approval.id).where(m.Approval.work_item_id == wi)) is None:
            s.add(m.Approval(work_item_id=wi, tier=verdict.tier, request={
                "rule_id": email_rule, "reason": email_reason, "signals": state["signals"], "tier": verdict.tier}))
        trace.append(s, key=f"{wi}:gate", node="gate", work_item_id=wi, body={
            "policy": policy.version_id, "decisions": [d.model_dump(mode="json") for d in decisions],
            "email_rule": email_rule, "email_reason": email_reason, "needs_person": needs_person,
            "tier": verdict.tier,
            "signals": state["signals"]})
    return {"decisions": [d.model_dump(mode="json") for d in decisions],
            "status": "waiting_approval" if needs_person else "running"}


def approval(state: EmailState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Pause for a person. Nothing before ``interrupt`` has side effects: the node re-runs on resume."""
    deps, wi = runtime.context, state["work_item_id"]
    answer: dict[str, Any] = interrupt({"work_item_id": wi, "proposals": state["proposals"],
                                        "signals": state["signals"], "review_reason": state.get("review_reason")})
    decision = answer.get("decision")
    proposals = state["proposals"]
    edits: dict[str, str] = answer.get("edits") or {}
    if decision == "approve" and edits:
        proposals = [p | {"payload": p["payload"] | {"body": edits[str(p["index"])]}}
                     if str(p["index"]) in edits and p["kind"] == ActionKind.SEND_REPLY.value else p
                     for p in proposals]
    new_status = "approved" if decision == "approve" else "rejected"
    with deps.sessions.begin() as s:
        for row in s.scalars(select(m.ActionRow).where(m.ActionRow.work_item_id == wi)):
            if row.status == "awaiting_approval":
                row.status = new_status
                if str(row.proposal_index) in edits:
                    row.payload = row.payload | {"body": edits[str(row.proposal_index)]}
        trace.append(s, key=f"{wi}:approval", node="approval", work_item_id=wi, body={
            "decision": decision, "approver": answer.get("approver"), "role": answer.get("role"),
            "tier": answer.get("tier"), "reason": answer.get("reason"), "edited": sorted(edits),
            "edited_by": answer.get("edited_by")})
    if decision != "approve":
        return {"approval": answer, "status": "rejected"}
    return {"approval": answer, "proposals": proposals, "status": "running"}


def _run_action(deps: Deps, wi: int, p: Proposal, state: EmailState) -> dict[str, Any]:
    key = action_key(wi, p.index)
    pl = p.payload
    if p.kind is ActionKind.APPLY_PAYMENT:
        w = deps.ledger.apply_payment(
            key, pl["customer_id"], Decimal(pl["payment"]), pl["currency"],
            [Allocation.model_validate(a) for a in pl["allocations"]], reference=state["masked"]["subject"],
            received=dt.date.fromisoformat(pl["received"]))
    elif p.kind is ActionKind.OPEN_DISPUTE:
        owner = deps.policy.dispute_routing.owner(pl["customer_id"], pl["reason"], Decimal(pl["amount"]),
                                                  deps.dispute_owner)
        w = deps.ledger.open_dispute(key, pl["customer_id"], pl["invoice"], Decimal(pl["amount"]), pl["reason"],
                                     owner, note=state["masked"]["newest"][:2000])
    elif p.kind is ActionKind.RECORD_PROMISE:
        w = deps.ledger.record_promise(key, pl["customer_id"], pl["invoices"], Decimal(pl["amount"]),
                                       pl["currency"], dt.date.fromisoformat(pl["promised_date"]))
    else:
        return _send_reply(deps, wi, key, pl, state)
    return {"applied": w.applied, "record": w.record_id, "before": w.before, "after": w.after}


def _send_reply(deps: Deps, wi: int, key: str, payload: dict[str, Any], state: EmailState) -> dict[str, Any]:
    email = _email(state)
    with deps.sessions() as s:
        entry = s.get(m.VaultEntry, wi)
        mapping = deps.vault.open(entry.ciphertext) if entry else {}
    original = rehydrate(state["masked"]["subject"], mapping)
    subject = original if original.lower().startswith("re:") else f"Re: {original}".strip()
    # invoice copies and statements come from the ledger now, never from the draft's text
    files = DocumentRenderer(deps.ledger, deps.company_name, deps.proposer.renderer.label).render(
        payload, email.date or dt.datetime.combine(_email_day(email), dt.time(), dt.UTC))
    with deps.sessions() as s:
        mailbox = s.execute(select(m.Mailbox.name, m.Mailbox.address)
                            .join(m.RawMessage, m.RawMessage.mailbox_id == m.Mailbox.id)
                            .join(m.WorkItem, m.WorkItem.raw_message_id == m.RawMessage.id)
                            .where(m.WorkItem.id == wi)).one()
    sent = deps.outbox.send(OutgoingMail(
        idempotency_key=key, to=email.sender, sender=mailbox.address or deps.mailbox_address, subject=subject,
        body=rehydrate(payload["body"], mapping), in_reply_to=email.message_id, references=tuple(email.references),
        attachments=files, mailbox=mailbox.name))
    return {"sent": sent, "before": {}, "after": {"reply": sent, "attachments": [
        {"file": f.filename, "type": f.content_type, "sha256": hashlib.sha256(f.data).hexdigest()} for f in files]}}


def execute(state: EmailState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps, wi = runtime.context, state["work_item_id"]
    decisions = {d["proposal_index"]: Decision.model_validate(d) for d in state["decisions"]}
    approved = (state.get("approval") or {}).get("decision") == "approve"
    results: list[dict[str, Any]] = []
    for raw in state["proposals"]:
        p = Proposal.model_validate(raw)
        d = decisions[p.index]
        if not (d.outcome is Outcome.AUTO or (d.outcome is Outcome.APPROVAL and approved)):
            continue
        try:
            res = _run_action(deps, wi, p, state)
            status = "executed"
        except LedgerError as e:
            res, status = {"error": str(e)}, "failed"
        with deps.sessions.begin() as s:
            row = s.scalar(select(m.ActionRow).where(m.ActionRow.idempotency_key == action_key(wi, p.index)))
            assert row is not None
            if row.status not in ("executed", "verified"):
                row.status, row.result, row.executed_at = status, res, m.utcnow()
            trace.append(s, key=f"{wi}:execute:{p.index}", node="execute", work_item_id=wi, body={
                "action": p.kind.value, "key": action_key(wi, p.index), "status": status,
                "actor": (state.get("approval") or {}).get("approver") or "policy", "result": res})
        results.append({"index": p.index, "status": status, **res})
    return {"results": results}


def verify(state: EmailState, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps, wi = runtime.context, state["work_item_id"]
    checks = []
    for r in state.get("results", []):
        if r["status"] != "executed":
            checks.append({"index": r["index"], "ok": False, "why": r.get("error", r["status"])})
            continue
        key = action_key(wi, r["index"])
        effect: dict[str, object] | None
        if "sent" in r:
            ok, effect = deps.outbox.was_sent(key), {"reply": r["sent"]}
        else:
            effect = deps.ledger.read_effect(key)
            ok = effect is not None
        checks.append({"index": r["index"], "ok": ok, "effect": effect})
    failed = any(not c["ok"] for c in checks)
    with deps.sessions.begin() as s:
        for c in checks:
            row = s.scalar(select(m.ActionRow).where(m.ActionRow.idempotency_key == action_key(wi, c["index"])))
            if row is not None and c["ok"]:
                row.status = "verified"
        trace.append(s, key=f"{wi}:verify", node="verify", work_item_id=wi, body={"checks": checks})
    return {"status": "failed" if failed else "done", "error": "an action failed verification" if failed else ""}
