"""Replay stored gate decisions under a candidate policy: what would change, before finance adopts it.

For every email that reached the gate, the inputs the gate saw are rebuilt from the decision trace
(classify, lookup and propose records; the email date from the parse record) and decided again by
``decide_email`` under the candidate. The stored gate record is the "before". Only reads.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from arinbox.domain.models import ActionKind, Classification, LedgerFacts, Outcome, Proposal
from arinbox.persistence.models import RawMessage, TraceRecord, WorkItem
from arinbox.policies.engine import decide_email
from arinbox.policies.schema import Policy

INPUT_NODES = ("parse", "classify", "lookup", "propose")
CHUNK = 500  # work items per query: lookup bodies carry every open invoice of the customer

Direction = Literal["now needs a person", "now automatic"]


def held_for_person(needs_person: bool, outcomes: Sequence[str]) -> bool:
    # an action waiting for approval always means a person must act, whatever the email flag says:
    # a stored record with an approval outcome but no person asked is counted as held, not resolved
    return needs_person or Outcome.APPROVAL.value in outcomes


@dataclass(frozen=True)
class Verdict:
    rule_id: str
    needs_person: bool  # as the gate recorded or returned it
    outcomes: tuple[str, ...]  # per proposal, in order

    @property
    def held(self) -> bool:
        return held_for_person(self.needs_person, self.outcomes)

    @property
    def stranded(self) -> bool:
        """Actions wait for approval but nobody was asked: they would never run."""
        return self.held and not self.needs_person


@dataclass(frozen=True)
class EmailReplay:
    work_item_id: int
    message_id: str
    intent: str
    kinds: tuple[str, ...]  # proposed action kinds, in order
    before: Verdict
    after: Verdict

    @property
    def direction(self) -> Direction | None:
        if self.before.held == self.after.held:
            return None
        return "now needs a person" if self.after.held else "now automatic"

    @property
    def changed(self) -> bool:
        """Anything differs: the verdict, the deciding rule or a proposal's outcome."""
        return (self.before.held, self.before.rule_id, self.before.outcomes) != (
            self.after.held, self.after.rule_id, self.after.outcomes)


@dataclass(frozen=True)
class VerdictChange:
    work_item_id: int
    message_id: str
    before_rule: str
    after_rule: str
    direction: Direction


@dataclass(frozen=True)
class KindCount:
    kind: str
    proposals: int
    held_before: int  # proposals with an approval outcome
    held_after: int


@dataclass(frozen=True)
class Skipped:
    work_item_id: int
    why: str


@dataclass(frozen=True)
class BacktestReport:
    candidate: str  # the candidate policy's version id
    since: dt.date | None
    stored_policies: tuple[str, ...]  # versions that made the stored decisions
    emails: list[EmailReplay]
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def replayed(self) -> int:
        return len(self.emails)

    @property
    def resolved_before(self) -> int:
        return sum(not e.before.held for e in self.emails)

    @property
    def resolved_after(self) -> int:
        return sum(not e.after.held for e in self.emails)

    @property
    def auto_rate_before(self) -> float | None:
        return self.resolved_before / self.replayed if self.emails else None

    @property
    def auto_rate_after(self) -> float | None:
        return self.resolved_after / self.replayed if self.emails else None

    @property
    def changes(self) -> list[VerdictChange]:
        """Emails whose verdict flips: a person is now needed, or no longer."""
        return [VerdictChange(e.work_item_id, e.message_id, e.before.rule_id, e.after.rule_id, e.direction)
                for e in self.emails if e.direction is not None]

    @property
    def rule_changes(self) -> list[EmailReplay]:
        """Same verdict, but another rule decides or a proposal's outcome differs."""
        return [e for e in self.emails if e.changed and e.direction is None]

    @property
    def stranded_before(self) -> list[int]:
        return [e.work_item_id for e in self.emails if e.before.stranded]

    @property
    def stranded_after(self) -> list[int]:
        return [e.work_item_id for e in self.emails if e.after.stranded]

    @property
    def kinds(self) -> list[KindCount]:
        total: Counter[str] = Counter()
        before: Counter[str] = Counter()
        after: Counter[str] = Counter()
        approval = Outcome.APPROVAL.value
        for e in self.emails:
            for kind, b, a in zip(e.kinds, e.before.outcomes, e.after.outcomes, strict=True):
                total[kind] += 1
                before[kind] += b == approval
                after[kind] += a == approval
        order = [k.value for k in ActionKind] + sorted(set(total) - {k.value for k in ActionKind})
        return [KindCount(k, total[k], before[k], after[k]) for k in order if total[k]]


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _email_day(parse_body: dict[str, Any] | None, gate_at: dt.datetime) -> dt.date:
    """The gate counted dates from the email's own Date header, or from the day it ran without one."""
    stamp = (parse_body or {}).get("date")
    if isinstance(stamp, str) and stamp:
        try:
            return dt.datetime.fromisoformat(stamp).date()
        except ValueError:
            pass
    return gate_at.astimezone(dt.UTC).date()


def _classification(body: dict[str, Any]) -> Classification:
    # the classify record adds the engine under "model"; keep the fields the model knows
    return Classification.model_validate({k: v for k, v in body.items() if k in Classification.model_fields})


def _stored_verdict(gate: dict[str, Any]) -> Verdict:
    return Verdict(str(gate.get("email_rule") or ""), bool(gate.get("needs_person")),
                   tuple(str(d["outcome"]) for d in gate.get("decisions", [])))


def _replay(wi: int, message_id: str, gate_body: dict[str, Any], gate_at: dt.datetime,
            inputs: dict[str, dict[str, Any]], candidate: Policy) -> EmailReplay | Skipped:
    missing = [n for n in INPUT_NODES[1:] if n not in inputs]
    if missing:
        return Skipped(wi, f"no {', '.join(missing)} record in the trace")
    try:
        cls = _classification(inputs["classify"])
        facts = LedgerFacts.model_validate(inputs["lookup"])
        proposed = inputs["propose"]
        proposals = [Proposal.model_validate(p) for p in proposed.get("proposals", [])]
        signals = [str(s) for s in proposed.get("signals", [])]
        verdict = decide_email(proposals, cls, facts, signals, proposed.get("review_reason"), candidate,
                               _email_day(inputs.get("parse"), gate_at))
    except ValueError as e:  # pydantic's ValidationError too: a record this code cannot read
        return Skipped(wi, f"cannot rebuild the gate's inputs: {str(e).splitlines()[0]}")
    before = _stored_verdict(gate_body)
    after = Verdict(verdict.rule_id, verdict.needs_person, tuple(d.outcome.value for d in verdict.decisions))
    if len(before.outcomes) != len(after.outcomes):
        return Skipped(wi, f"the gate record has {len(before.outcomes)} decisions for {len(proposals)} proposals")
    return EmailReplay(wi, message_id, cls.intent.value, tuple(p.kind.value for p in proposals), before, after)


def backtest(session: Session, candidate: Policy, since: dt.date | None = None) -> BacktestReport:
    """Replay every email whose gate record was written on or after ``since`` (UTC day) under ``candidate``."""
    query = select(TraceRecord.work_item_id, TraceRecord.body, TraceRecord.created_at).where(
        TraceRecord.node == "gate", TraceRecord.work_item_id.is_not(None)).order_by(TraceRecord.id)
    if since is not None:
        query = query.where(TraceRecord.created_at >= dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC))
    gates: dict[int, tuple[dict[str, Any], dt.datetime]] = {}
    for wi, body, created_at in session.execute(query):
        if wi is not None:
            gates[wi] = (json.loads(body), created_at)
    emails: list[EmailReplay] = []
    skipped: list[Skipped] = []
    stored: dict[str, None] = {}
    for chunk in _chunks(list(gates), CHUNK):
        inputs: dict[int, dict[str, dict[str, Any]]] = {wi: {} for wi in chunk}
        rows = session.execute(select(TraceRecord.work_item_id, TraceRecord.node, TraceRecord.body).where(
            TraceRecord.work_item_id.in_(chunk), TraceRecord.node.in_(INPUT_NODES)))
        for wi, node, body in rows:
            assert wi is not None
            inputs[wi][node] = json.loads(body)
        message_ids = {wi: mid for wi, mid in session.execute(
            select(WorkItem.id, RawMessage.message_id).join(RawMessage, RawMessage.id == WorkItem.raw_message_id)
            .where(WorkItem.id.in_(chunk)))}
        for wi in chunk:
            gate_body, gate_at = gates[wi]
            stored[str(gate_body.get("policy", ""))] = None
            result = _replay(wi, message_ids.get(wi, ""), gate_body, gate_at, inputs[wi], candidate)
            if isinstance(result, Skipped):
                skipped.append(result)
            else:
                emails.append(result)
    return BacktestReport(candidate.version_id, since, tuple(stored), emails, skipped)


def _rate(resolved: int, total: int) -> str:
    return f"{resolved}/{total} ({resolved / total:.1%})" if total else "n/a (nothing replayed)"


def render_backtest(report: BacktestReport) -> str:
    since = f" since {report.since.isoformat()}" if report.since else ""
    out = [f"Backtest of {report.candidate} on {report.replayed} stored gate decisions{since}",
           f"stored decisions made under: {', '.join(report.stored_policies) or '(none)'}", ""]
    out += [f"auto-resolved (no person needed)  before {_rate(report.resolved_before, report.replayed)}"
            f"   after {_rate(report.resolved_after, report.replayed)}"]
    if report.kinds:
        out += ["", "proposals waiting for a person, per action kind:",
                f"  {'kind':<16}{'proposed':>9}{'before':>8}{'after':>7}"]
        out += [f"  {k.kind:<16}{k.proposals:>9}{k.held_before:>8}{k.held_after:>7}" for k in report.kinds]
    changes = report.changes
    out += ["", f"verdict changes: {len(changes)}"]
    out += [f"  #{c.work_item_id} <{c.message_id}>  {c.before_rule or '(no person)'} -> "
            f"{c.after_rule or '(no person)'}  {c.direction}" for c in changes]
    same = report.rule_changes
    if same:
        out += ["", f"same verdict, other rule or outcomes: {len(same)}"]
        out += [f"  #{e.work_item_id} <{e.message_id}>  {e.before.rule_id or '(no person)'} "
                f"[{', '.join(e.before.outcomes)}] -> {e.after.rule_id or '(no person)'} "
                f"[{', '.join(e.after.outcomes)}]" for e in same]
    for label, ids in (("stored", report.stranded_before), ("candidate", report.stranded_after)):
        if ids:
            out += ["", f"warning: {len(ids)} email(s) where the {label} decision holds actions for approval "
                        f"but asks nobody: {', '.join(f'#{i}' for i in ids)}"]
    if report.skipped:
        out += ["", f"not replayed: {len(report.skipped)}"]
        out += [f"  #{s.work_item_id}: {s.why}" for s in report.skipped]
    return "\n".join(out) + "\n"
