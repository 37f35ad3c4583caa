"""The ground truth of an evaluation corpus: one ``Label`` per line of labels.jsonl.

Only ``file`` and ``intent`` are required; a missing or null field is not scored.
Unknown keys are ignored so that a corpus may carry notes for its own authors.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arinbox.domain.errors import ConfigError
from arinbox.domain.models import DisputeReason, Intent


class LabelFileError(ConfigError):
    """A line of a labels file is wrong: names the file, line (from 1) and field."""

    def __init__(self, file: str, line: int, field: str, message: str) -> None:
        super().__init__(f"{file}: line {line}, field {field!r}: {message}")
        self.file, self.line, self.field = file, line, field


class LabelAllocation(BaseModel):
    """One correct cash application: this amount against this invoice."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    invoice: str = Field(min_length=1)
    amount: Decimal


class Label(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    file: str = Field(min_length=1)
    intent: Intent
    secondary_intents: list[Intent] | None = None
    language: str | None = None
    customer_id: str | None = None
    invoices: list[str] | None = None
    orders: list[str] | None = None
    amount: Decimal | None = None
    currency: str | None = None
    promised_date: dt.date | None = None
    dispute_reason: DisputeReason | None = None
    allocations: list[LabelAllocation] | None = None
    needs_human: bool | None = None
    pii: list[str] | None = None
    keep: list[str] | None = None


def load_labels(path: Path) -> list[Label]:
    """Read ``labels.jsonl``; blank lines are skipped, the first bad line raises."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read labels: {exc}") from exc
    labels: list[Label] = []
    first_line_of: dict[str, int] = {}
    # split on "\n" only: a JSON string may hold U+2028, which splitlines() breaks on
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        label = _parse_line(str(path), number, line)
        earlier = first_line_of.get(label.file)
        if earlier is not None:
            raise LabelFileError(
                str(path), number, "file", f"already labelled on line {earlier}"
            )
        first_line_of[label.file] = number
        labels.append(label)
    return labels


def _parse_line(file: str, number: int, line: str) -> Label:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LabelFileError(
            file, number, "(line)", f"not valid JSON: {exc.msg}"
        ) from exc
    if not isinstance(data, dict):
        raise LabelFileError(file, number, "(line)", "expected a JSON object")
    try:
        return Label.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(line)"
        raise LabelFileError(file, number, field, first["msg"]) from exc
