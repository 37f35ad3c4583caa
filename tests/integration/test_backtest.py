"""Backtest a candidate policy against the decisions the real pipeline stored, on SQLite and PostgreSQL.

Expectations are computed from the stored trace records, not from knowledge of the corpus.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.policies.backtest import backtest, held_for_person, render_backtest
from arinbox.policies.schema import Policy, load_policy
from arinbox.service.bootstrap import App
from tests.conftest import DATA

MINI = DATA / "mini"
Stored = dict[int, dict[str, dict[str, Any]]]  # work item -> node -> trace body


def _stored(app: App) -> Stored:
    """The trace of every email that reached the gate, read directly."""
    out: Stored = {}
    with app.sessions() as s:
        gated = select(m.TraceRecord.work_item_id).where(m.TraceRecord.node == "gate")
        for rec in s.scalars(select(m.TraceRecord).where(m.TraceRecord.work_item_id.in_(gated))):
            assert rec.work_item_id is not None
            out.setdefault(rec.work_item_id, {})[rec.node] = json.loads(rec.body)
    return out


def _held(gate: dict[str, Any]) -> bool:
    return held_for_person(gate["needs_person"], [d["outcome"] for d in gate["decisions"]])


def _copy(app: App, tmp_path: Path, name: str, change: Callable[[dict[str, Any]], None]) -> Policy:
    data = yaml.safe_load(app.settings.policy_path.read_text())
    change(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_policy(path)


def test_the_same_policy_changes_nothing(processed: App) -> None:
    stored = _stored(processed)
    with processed.sessions() as s:
        count_before = s.scalar(select(func.count()).select_from(m.TraceRecord))
        report = backtest(s, processed.policy)
        assert not (s.new or s.dirty or s.deleted)
        assert s.scalar(select(func.count()).select_from(m.TraceRecord)) == count_before
        assert trace.verify(s).ok
    assert report.replayed == len(stored) and not report.skipped
    assert report.stored_policies == (processed.policy.version_id,)
    assert report.changes == [] and report.rule_changes == []
    assert report.resolved_before == report.resolved_after == sum(not _held(n["gate"]) for n in stored.values())
    assert report.auto_rate_before == report.auto_rate_after
    for e in report.emails:
        gate = stored[e.work_item_id]["gate"]
        assert (e.after.rule_id, e.after.needs_person) == (gate["email_rule"], gate["needs_person"])
        assert list(e.after.outcomes) == [d["outcome"] for d in gate["decisions"]]
        assert e.message_id == stored[e.work_item_id]["parse"]["message_id"]
    assert sorted(report.stranded_before) == sorted(
        wi for wi, n in stored.items() if _held(n["gate"]) and not n["gate"]["needs_person"])
    for k in report.kinds:
        outcomes = [d["outcome"] for n in stored.values() for p, d in zip(n["propose"]["proposals"],
                                                                           n["gate"]["decisions"], strict=True)
                    if p["kind"] == k.kind]
        assert (k.proposals, k.held_before, k.held_after) == (len(outcomes), outcomes.count("approval"),
                                                              outcomes.count("approval"))
    text = render_backtest(report)
    assert f"on {len(stored)} stored gate decisions" in text and "verdict changes: 0" in text


def test_since_selects_by_the_day_of_the_gate_decision(processed: App) -> None:
    with processed.sessions() as s:
        first = s.scalar(select(func.min(m.TraceRecord.created_at)).where(m.TraceRecord.node == "gate"))
        last = s.scalar(select(func.max(m.TraceRecord.created_at)).where(m.TraceRecord.node == "gate"))
        assert first is not None and last is not None
        assert backtest(s, processed.policy, since=first.date()).replayed == len(_stored(processed))
        later = backtest(s, processed.policy, since=last.date() + dt.timedelta(days=1))
    assert later.replayed == 0 and later.auto_rate_before is None
    assert "n/a (nothing replayed)" in render_backtest(later)


def test_kill_switch_sends_every_action_email_to_a_person(processed: App, tmp_path: Path) -> None:
    stored = _stored(processed)
    killed = _copy(processed, tmp_path, "killed", lambda d: d.update(kill_switch=True))
    with processed.sessions() as s:
        report = backtest(s, killed)
    with_actions = {wi for wi, n in stored.items() if n["propose"]["proposals"]}
    assert with_actions and len(with_actions) < len(stored)
    for e in report.emails:
        if e.work_item_id in with_actions:
            assert e.after.held and set(e.after.outcomes) == {"approval"}
            assert e.after.rule_id == ("review.no_proposal" if stored[e.work_item_id]["propose"]["review_reason"]
                                       else "kill_switch")
        else:  # nothing to act on: the kill switch changes nothing
            assert e.after.held == _held(stored[e.work_item_id]["gate"])
    no_action_resolved = sum(not _held(n["gate"]) for wi, n in stored.items() if wi not in with_actions)
    assert report.resolved_after == no_action_resolved
    assert report.auto_rate_after == no_action_resolved / len(stored)
    expected = {wi for wi in with_actions if not _held(stored[wi]["gate"])}
    assert expected and {c.work_item_id for c in report.changes} == expected
    assert {c.direction for c in report.changes} == {"now needs a person"}
    assert all(k.held_after == k.proposals for k in report.kinds)
    assert killed.version_id in render_backtest(report)


def _intent_held(gate: dict[str, Any]) -> bool:
    rule = gate["email_rule"]
    return rule == "intent.min_confidence" or rule.endswith(".min_intent_confidence")


def _passes_the_rest(body: dict[str, dict[str, Any]], policy: Policy) -> bool:
    """Below the intent floors, does every proposal pass its action's other thresholds?"""
    day = dt.datetime.fromisoformat(body["parse"]["date"]).date()
    if body["lookup"]["customer"] is None:
        return False
    for p in body["propose"]["proposals"]:
        rule = policy.actions[p["kind"]]
        if not rule.auto or p["confidence"] < rule.min_confidence:
            return False
        if rule.max_amount is not None and Decimal(p["amount"]) > rule.max_amount:
            return False
        promised = p["payload"].get("promised_date")
        if p["kind"] == "record_promise" and rule.max_days_ahead is not None and promised and \
                (dt.date.fromisoformat(promised) - day).days > rule.max_days_ahead:
            return False
    return True


def test_lower_intent_floors_release_the_emails_held_for_intent_confidence(processed: App, tmp_path: Path) -> None:
    stored = _stored(processed)
    held_for_intent = {wi: n for wi, n in stored.items() if _intent_held(n["gate"])}
    assert held_for_intent, "the corpus has no email held for its intent confidence"
    floor = min(n["classify"]["confidence"] for n in held_for_intent.values())
    floor = int(floor * 100) / 100  # just below the least sure of them

    def loosen(d: dict[str, Any]) -> None:
        d["min_intent_confidence"] = floor
        for rule in d["actions"].values():
            rule["min_intent_confidence"] = min(rule.get("min_intent_confidence", 0), floor)

    looser = _copy(processed, tmp_path, "looser", loosen)
    with processed.sessions() as s:
        report = backtest(s, looser)
    released = {wi for wi, n in held_for_intent.items() if _passes_the_rest(n, looser)}
    assert released
    assert {c.work_item_id for c in report.changes} == released
    assert {c.direction for c in report.changes} == {"now automatic"}
    assert all(c.after_rule == "" for c in report.changes)
    assert report.resolved_after == report.resolved_before + len(released)
    assert report.auto_rate_after == (report.resolved_before + len(released)) / len(stored)
    assert report.stranded_after == []


def test_a_higher_cash_confidence_floor_holds_the_payments_applied_alone(processed: App, tmp_path: Path) -> None:
    stored = _stored(processed)
    auto_cash = {wi: n for wi, n in stored.items() if any(
        p["kind"] == "apply_payment" and d["outcome"] == "auto"
        for p, d in zip(n["propose"]["proposals"], n["gate"]["decisions"], strict=True))}
    assert auto_cash, "the corpus has no payment applied without a person"
    top = max(p["confidence"] for n in auto_cash.values() for p in n["propose"]["proposals"]
              if p["kind"] == "apply_payment")
    assert top < 1
    stricter = _copy(processed, tmp_path, "stricter",
                     lambda d: d["actions"]["apply_payment"].update(min_confidence=min(1.0, round(top + 0.01, 2))))
    with processed.sessions() as s:
        report = backtest(s, stricter)
    assert {c.work_item_id for c in report.changes} == set(auto_cash)
    assert {(c.direction, c.after_rule) for c in report.changes} == {
        ("now needs a person", "action.apply_payment.min_confidence")}
    assert report.resolved_after == report.resolved_before - len(auto_cash)
    # every proposal of those emails now waits (the payment, and what runs with it)
    newly_held: dict[str, int] = {}
    for n in auto_cash.values():
        for p, d in zip(n["propose"]["proposals"], n["gate"]["decisions"], strict=True):
            if d["outcome"] != "approval":
                newly_held[p["kind"]] = newly_held.get(p["kind"], 0) + 1
    for k in report.kinds:
        assert k.held_after == k.held_before + newly_held.get(k.kind, 0)
    assert "now needs a person" in render_backtest(report)
