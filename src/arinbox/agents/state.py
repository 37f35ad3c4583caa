"""The graph state of one email. Values are JSON-ready dicts of the domain models."""

from __future__ import annotations

from typing import Any, TypedDict


class EmailState(TypedDict, total=False):
    work_item_id: int
    status: str  # running | failed | waiting_approval | rejected | done
    error: str
    email: dict[str, Any]  # ParsedEmail headers and structure only: unmasked text never enters state
    masked: dict[str, Any]  # subject, newest, attachments, greeting: masked text only
    classification: dict[str, Any]
    extraction: dict[str, Any]
    facts: dict[str, Any]  # LedgerFacts
    proposals: list[dict[str, Any]]
    signals: list[str]
    review_reason: str | None
    decisions: list[dict[str, Any]]
    approval: dict[str, Any] | None
    results: list[dict[str, Any]]
