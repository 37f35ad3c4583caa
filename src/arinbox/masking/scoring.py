"""Score the masker on span-labelled texts: per-entity precision, recall and F2, and the keep rate.

Two file formats are read:

- presidio-research's dataset (``.json``): a list of InputSample objects, each with
  ``full_text`` and ``spans`` of ``entity_type``, ``start_position`` and ``end_position``;
  an optional ``keep`` list per sample names values masking must leave.
- arinbox's masking set (``.jsonl``): one object per line with ``text``, ``language``,
  ``pii`` (a list of ``{"value", "entity"}``, every occurrence counts), ``keep`` and
  ``keep_passed`` (the ledger's keep terms, passed to the masker as the mask node does).

Recall counts a labelled span found when masking covers all of it, whatever entity type the
masker gives it (a leak is a leak); precision is per entity type the masker predicts, a
prediction counting when it overlaps a labelled span. F2 weighs recall twice: a leak costs
more than an over-masked word.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from arinbox.domain.errors import ConfigError
from arinbox.masking.masker import PresidioMasker


@dataclass(frozen=True)
class Sample:
    text: str
    spans: list[tuple[int, int, str]]  # labelled personal data
    keep: list[str] = field(default_factory=list)  # values that must survive
    keep_passed: list[str] = field(default_factory=list)  # keep terms given to the masker
    language: str | None = None


@dataclass(frozen=True)
class EntityScore:
    precision: float
    recall: float
    f2: float
    labelled: int
    predicted: int


@dataclass(frozen=True)
class MaskingScore:
    samples: int
    per_entity: dict[str, EntityScore]
    overall: EntityScore
    keep_rate: float
    keep_values: int


def load_samples(path: Path) -> list[Sample]:
    """Samples from a presidio-research ``.json`` or an arinbox ``.jsonl``; a bad one names its place."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if path.suffix == ".jsonl":
        return [_jsonl_sample(path, n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: line {exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a JSON list of InputSample objects")
    return [_input_sample(path, n, item) for n, item in enumerate(data)]


def _input_sample(path: Path, index: int, item: object) -> Sample:
    where = f"{path}: sample {index}"
    if not isinstance(item, dict) or not isinstance(item.get("full_text"), str):
        raise ConfigError(f"{where}: needs full_text")
    text: str = item["full_text"]
    spans = []
    for span in item.get("spans") or []:
        try:
            start, end, entity = int(span["start_position"]), int(span["end_position"]), str(span["entity_type"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{where}: a span needs entity_type, start_position and end_position") from None
        if not 0 <= start < end <= len(text):
            raise ConfigError(f"{where}: span {start}-{end} lies outside the text")
        spans.append((start, end, entity))
    keep = [str(v) for v in item.get("keep") or []]
    return Sample(text, spans, keep, keep, item.get("metadata", {}).get("language") if item.get("metadata") else None)


def _jsonl_sample(path: Path, number: int, line: str) -> Sample:
    where = f"{path}: line {number}"
    try:
        item = json.loads(line)
        text = str(item["text"])
        pii = [(str(p["value"]), str(p["entity"])) for p in item.get("pii", [])]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"{where}: needs text and pii entries of value and entity ({exc})") from None
    spans: list[tuple[int, int, str]] = []
    for value, entity in pii:
        # every occurrence that stands alone ("12345678" inside "INV 1234567890" is not one)
        found = [m.start() for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", text)]
        if not found:
            raise ConfigError(f"{where}: pii value {value!r} is not in the text")
        spans.extend((start, start + len(value), entity) for start in found)
    keep = [str(v) for v in item.get("keep", [])]
    missing = [v for v in keep if v not in text]
    if missing:
        raise ConfigError(f"{where}: keep value {missing[0]!r} is not in the text")
    return Sample(text, spans, keep, [str(v) for v in item.get("keep_passed", [])], item.get("language"))


def _f2(precision: float, recall: float) -> float:
    return 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0


def _score(found: int, labelled: int, right: int, predicted: int) -> EntityScore:
    precision = right / predicted if predicted else 1.0
    recall = found / labelled if labelled else 1.0
    return EntityScore(round(precision, 4), round(recall, 4), round(_f2(precision, recall), 4), labelled, predicted)


def score_masking(masker: PresidioMasker, samples: Sequence[Sample]) -> MaskingScore:
    labelled: Counter[str] = Counter()
    found: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    right: Counter[str] = Counter()
    keep_values = keep_kept = 0
    for sample in samples:
        spans = masker.find([sample.text], sample.keep_passed)[0]
        masked = masker.mask([sample.text], sample.keep_passed)[0].text
        covered: set[int] = set()
        for start, end, _ in spans:
            covered.update(range(start, end))
        for start, end, entity in sample.spans:
            labelled[entity] += 1
            found[entity] += all(i in covered or sample.text[i].isspace() for i in range(start, end))
        for start, end, entity in spans:
            predicted[entity] += 1
            right[entity] += any(start < e and s < end for s, e, _ in sample.spans)
        keep_values += len(sample.keep)
        keep_kept += sum(value in masked for value in sample.keep)
    entities = sorted(set(labelled) | set(predicted))
    per_entity = {
        entity: _score(found[entity], labelled[entity], right[entity], predicted[entity]) for entity in entities
    }
    overall = _score(sum(found.values()), sum(labelled.values()), sum(right.values()), sum(predicted.values()))
    return MaskingScore(
        len(samples), per_entity, overall, round(keep_kept / keep_values if keep_values else 1.0, 4), keep_values
    )


def to_json(score: MaskingScore) -> dict[str, object]:
    def entity(e: EntityScore) -> dict[str, float | int]:
        return {"precision": e.precision, "recall": e.recall, "f2": e.f2, "labelled": e.labelled,
                "predicted": e.predicted}

    return {
        "samples": score.samples,
        "overall": entity(score.overall),
        "per_entity": {name: entity(e) for name, e in score.per_entity.items()},
        "keep_rate": score.keep_rate,
        "keep_values": score.keep_values,
    }


def render(score: MaskingScore) -> str:
    lines = [f"{score.samples} samples; business values kept {score.keep_rate:.1%} of {score.keep_values}",
             f"{'entity':<22}{'precision':>10}{'recall':>8}{'F2':>7}{'labelled':>10}{'predicted':>10}"]
    for name, e in [*score.per_entity.items(), ("all", score.overall)]:
        lines.append(f"{name:<22}{e.precision:>10.2f}{e.recall:>8.2f}{e.f2:>7.2f}{e.labelled:>10}{e.predicted:>10}")
    return "\n".join(lines)
