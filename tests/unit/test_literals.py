from __future__ import annotations

import re

from arinbox.masking.literals import FinderCache, LiteralFinder


def _found(finder: LiteralFinder, text: str) -> list[str]:
    return sorted(text[s:e] for s, e in finder.spans(text))


def test_whole_terms_in_any_case() -> None:
    finder = LiteralFinder(["INV-2026-004512", "Valtek Pumps", "PO 4500123"])
    text = "inv-2026-004512 and INV-2026-0045123, valtek pumps's PO 4500123; xPO 4500123"
    assert _found(finder, text) == ["PO 4500123", "inv-2026-004512", "valtek pumps"]


def test_positions_hold_where_case_folding_changes_lengths() -> None:
    finder = LiteralFinder(["Großhandel Nord", "INV-7"])
    text = "Straße 5, GROSSHANDEL NORD and Großhandel Nord paid INV-7."
    spans = finder.spans(text)
    assert sorted(text[s:e] for s, e in spans) == ["GROSSHANDEL NORD", "Großhandel Nord", "INV-7"]


def test_the_same_matches_as_a_regular_expression_alternation() -> None:
    terms = [f"INV-2026-{i:06d}" for i in range(0, 3000, 7)] + ["Ateliers Mécaniques Durand", "C105"]
    text = " ".join(f"INV-2026-{i:06d}" for i in range(0, 3000, 5)) + " ateliers mécaniques durand SA (C105)"
    alternation = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, terms)) + r")(?!\w)", re.IGNORECASE)
    assert sorted(LiteralFinder(terms).spans(text)) == sorted(m.span() for m in alternation.finditer(text))


def test_short_and_no_terms_find_nothing() -> None:
    assert LiteralFinder(["a", ""]).spans("a b c") == []
    assert LiteralFinder([]).spans("anything") == []


def test_a_finder_is_built_once_per_sequence() -> None:
    built: list[int] = []

    def build(terms: object) -> LiteralFinder:
        built.append(1)
        return LiteralFinder(terms)  # type: ignore[arg-type]

    cache = FinderCache(build, size=2)
    ledger = ["INV-1", "INV-2"]
    assert cache.get(ledger) is cache.get(ledger)
    assert len(built) == 1
    cache.get(["INV-3"])
    cache.get(["INV-4"])  # pushes the ledger's finder out
    cache.get(ledger)
    assert len(built) == 4
