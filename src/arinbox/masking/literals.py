"""Where a text holds any of the ledger's business terms, in one pass whatever their number.

A regular expression alternation of every invoice, PO and order number tries each term at each
position of the text: with a real ledger (100,000 invoices) that is most of a second per email.
An Aho-Corasick automaton (pyahocorasick) finds every term in one pass over the text.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

import ahocorasick


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _folded(text: str) -> tuple[str, list[int] | None]:
    """``text`` case-folded, and where each folded position starts in ``text`` when folding changed
    a length ("ß" is "ss"); None when positions are the same."""
    folded = text.casefold()
    if len(folded) == len(text):  # folding never shortens a character, so each kept its length
        return folded, None
    index: list[int] = []
    for i, ch in enumerate(text):
        index.extend([i] * len(ch.casefold()))
    index.append(len(text))
    return folded, index


class LiteralFinder:
    """Case-insensitive whole-word matches of a fixed set of terms."""

    def __init__(self, terms: Iterable[str]) -> None:
        self._automaton = ahocorasick.Automaton()
        for term in {t.casefold() for t in terms if len(t) >= 2}:
            self._automaton.add_word(term, len(term))
        self.empty = len(self._automaton) == 0
        if not self.empty:
            self._automaton.make_automaton()

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every term in ``text`` that no letter or digit continues on either side."""
        if self.empty or not text:
            return []
        folded, index = _folded(text)
        found: list[tuple[int, int]] = []
        for last, length in self._automaton.iter(folded):
            start, end = last - length + 1, last + 1
            if index is not None:
                start, end = index[start], index[end]
            if (start > 0 and _is_word(text[start - 1])) or (end < len(text) and _is_word(text[end])):
                continue
            found.append((start, end))
        return found


class FinderCache:
    """One finder per sequence of terms, by identity: the same ledger terms come with every email,
    and hashing 200,000 of them per email would cost what the automaton saves. A sequence is
    treated as immutable once given; it is held here so its identity cannot pass to another."""

    def __init__(self, build: Callable[[Sequence[str]], LiteralFinder], size: int = 4) -> None:
        self._build, self._size = build, size
        self._lock = threading.Lock()
        self._items: OrderedDict[int, tuple[Sequence[str], LiteralFinder]] = OrderedDict()

    def get(self, terms: Sequence[str]) -> LiteralFinder:
        with self._lock:
            hit = self._items.get(id(terms))
            if hit is not None and hit[0] is terms:
                self._items.move_to_end(id(terms))
                return hit[1]
        finder = self._build(terms)
        with self._lock:
            self._items[id(terms)] = (terms, finder)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return finder
