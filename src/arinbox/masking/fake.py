"""A regex-only masker for tests of the stages after masking."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from arinbox.domain.ports import MaskResult

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL_ADDRESS", re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")),
    ("PHONE_NUMBER", re.compile(r"(?<![\w+])\+\d[\d ()\-/.]{6,18}\d|\(\d{3}\) ?\d{3}-\d{4}")),
)


class FakeMasker:
    """Implements the ``Masker`` port with two regexes: e-mail addresses and phone numbers.

    Values listed in ``keep`` are left alone; placeholders are stable across the texts of a call.
    """

    def mask(self, texts: Sequence[str], keep: Sequence[str] = ()) -> list[MaskResult]:
        keep_set = set(keep)
        placeholders: dict[tuple[str, str], str] = {}
        mapping: dict[str, str] = {}
        counters: Counter[str] = Counter()
        masked: list[tuple[str, Counter[str]]] = []
        for text in texts:
            counts: Counter[str] = Counter()
            parts: list[str] = []
            cursor = 0
            for start, end, entity in _matches(text):
                value = text[start:end]
                if value in keep_set:
                    continue
                key = (entity, value)
                if key not in placeholders:
                    counters[entity] += 1
                    placeholders[key] = f"<{entity}_{counters[entity]}>"
                    mapping[placeholders[key]] = value
                counts[entity] += 1
                parts += [text[cursor:start], placeholders[key]]
                cursor = end
            parts.append(text[cursor:])
            masked.append(("".join(parts), counts))
        return [MaskResult(text=text, mapping=dict(mapping), entities=dict(counts)) for text, counts in masked]


def _matches(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping matches of all rules, in text order (earlier rules win ties)."""
    found: list[tuple[int, int, str]] = []
    for entity, pattern in _RULES:
        for match in pattern.finditer(text):
            start, end = match.span()
            if not any(start < e and s < end for s, e, _ in found):
                found.append((start, end, entity))
    return sorted(found)
