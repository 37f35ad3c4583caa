"""Phrase patterns are compiled for speed; they must find exactly what the plain form finds."""

from __future__ import annotations

import json
import re

from arinbox.agents.lexicon import compile_phrase, default_lexicon, fold
from tests.conftest import ROOT


def _plain(phrase: str) -> re.Pattern[str]:
    fast = compile_phrase(phrase).pattern
    if fast.startswith(r"(?<!\w)"):
        return re.compile(fast)
    return re.compile(r"(?<!\w)" + fast[0] + fast[len(r"x(?<!\w\w)"):])


def test_fast_phrase_patterns_match_like_a_leading_lookbehind() -> None:
    lexicon = default_lexicon()
    phrases = {c.phrase for group in (lexicon._reasons, lexicon._weak, lexicon._cues, lexicon._signals)
               for c in group}
    lines = (ROOT / "agents" / "training" / "intents.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [fold(json.loads(line)["text"]) for line in lines[::4]]
    # glued words must not match; a phrase at the very start of the text must
    texts += ["xwrong price", "wrong price", "overbilled twice", "(billed twice)"]
    found = 0
    for phrase in sorted(phrases):
        fast, plain = compile_phrase(phrase), _plain(phrase)
        assert fast.pattern != plain.pattern or fast.pattern.startswith(r"(?<!\w)")
        for text in texts:
            spans = [m.span() for m in fast.finditer(text)]
            assert spans == [m.span() for m in plain.finditer(text)], (phrase, text)
            found += len(spans)
    assert found > 100
