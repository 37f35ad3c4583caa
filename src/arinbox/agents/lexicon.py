"""Keyword lexicon for extraction: dispute reasons and needs-human signals per language.

The phrase lists live in ``agents/lexicon.yaml`` so that finance and compliance can review and
extend them without reading Python. This module validates that file with pydantic at load
time (a bad file raises :class:`ConfigError` naming the file and the field) and compiles the
phrases into accent- and case-insensitive patterns.

Phrase syntax (kept small on purpose so that reviewers can write it):

- words are matched whole, case- and accent-insensitively (``Rechnung`` = ``rechnung``,
  ``reçu`` = ``recu``); any run of spaces or punctuation may stand between two words;
- a word ending in ``*`` matches any continuation (``beschädig*`` = beschädigt, beschädigte);
- a lone ``...`` stands for up to four arbitrary words (``ignore ... instructions``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from arinbox.domain.errors import ConfigError
from arinbox.domain.models import DisputeReason
from arinbox.settings import project_root
from arinbox.yaml_files import load_yaml_model

_LANG_RE = re.compile(r"^[a-z]{2}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_GAP = "..."


@lru_cache(maxsize=256)  # each email's text is folded once per phrase list: reason, cue, weak, signal
def fold(text: str) -> str:
    """Lower-case and strip accents one character at a time, so offsets stay valid."""
    if text.isascii():
        return text.lower()  # ASCII lower-cases one character to one character, nothing to strip
    out: list[str] = []
    for ch in text:
        low = ch.lower()
        if len(low) != 1:
            low = ch
        if ord(low) > 127:
            decomposed = unicodedata.normalize("NFKD", low)
            if decomposed and not unicodedata.combining(decomposed[0]):
                low = decomposed[0]
        out.append(low)
    return "".join(out)


def normalize_language(language: str | None) -> str:
    """``de-DE`` -> ``de``; empty or unknown stays as given, lower-cased."""
    return (language or "").strip().lower().replace("_", "-").split("-")[0]


# ---------------------------------------------------------------- file schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_phrases(value: dict[str, list[str]]) -> dict[str, list[str]]:
    for lang, phrases in value.items():
        if not _LANG_RE.match(lang):
            raise ValueError(f"language key {lang!r} is not a two-letter code")
        for phrase in phrases:
            words = phrase.split()
            if not words:
                raise ValueError(f"empty phrase in language {lang!r}")
            if all(w == _GAP or w.strip("*") == "" for w in words):
                raise ValueError(f"phrase {phrase!r} ({lang}) has no literal word")
            if words[0] == _GAP or words[-1] == _GAP:
                raise ValueError(f"phrase {phrase!r} ({lang}) may not start or end with '...'")
    return value


class ReasonSpec(_Strict):
    description: str = ""
    phrases: dict[str, list[str]]  # enough on their own
    weak_phrases: dict[str, list[str]] = Field(default_factory=dict)  # only next to a dispute cue

    _phrases_ok = field_validator("phrases", "weak_phrases")(_check_phrases)


class SignalSpec(_Strict):
    description: str = ""
    needs_human: bool
    phrases: dict[str, list[str]]

    _phrases_ok = field_validator("phrases")(_check_phrases)


class LexiconFile(_Strict):
    version: int = Field(ge=1)
    dispute_cues: dict[str, list[str]] = Field(default_factory=dict)
    dispute_reasons: dict[DisputeReason, ReasonSpec]
    signals: dict[str, SignalSpec]

    _cues_ok = field_validator("dispute_cues")(_check_phrases)

    @field_validator("signals")
    @classmethod
    def _signal_names(cls, value: dict[str, SignalSpec]) -> dict[str, SignalSpec]:
        for name in value:
            if not _NAME_RE.match(name):
                raise ValueError(f"signal name {name!r} must be lower_snake_case")
        return value


# ---------------------------------------------------------------- compiled lexicon


def compile_phrase(phrase: str) -> re.Pattern[str]:
    """Compile one phrase of the syntax above into a pattern over folded text."""
    parts: list[str] = []
    for word in phrase.split():
        if word == _GAP:
            parts.append(r"(?:\w+[^\w\n]+){0,4}?")
            continue
        stem = word.endswith("*")
        body = re.escape(fold(word.rstrip("*")))
        parts.append(body + (r"\w*" if stem else "") + r"[^\w\n]+")
    pattern = "".join(parts)
    pattern = pattern[: -len(r"[^\w\n]+")]  # no separator after the last word
    if re.match(r"\w", pattern):
        # Same matches as a leading (?<!\w), which would stop the regex engine from scanning for the
        # first letter (~15x slower): after that letter, "not two word characters behind" says the same.
        return re.compile(pattern[0] + r"(?<!\w\w)" + pattern[1:] + r"(?!\w)")
    return re.compile(r"(?<!\w)" + pattern + r"(?!\w)")


@dataclass(frozen=True)
class PhraseHit:
    name: str  # reason or signal name
    phrase: str  # as written in the lexicon
    start: int
    end: int
    weak: bool = False  # a weak reason phrase: counts half


@dataclass(frozen=True)
class _Compiled:
    name: str
    language: str
    phrase: str
    pattern: re.Pattern[str]


def _compile_all(name: str, phrases: dict[str, list[str]]) -> list[_Compiled]:
    return [
        _Compiled(name, lang, phrase, compile_phrase(phrase))
        for lang, items in phrases.items()
        for phrase in items
    ]


class Lexicon:
    """Validated, compiled phrase lists; cheap to share between threads (read-only)."""

    def __init__(self, spec: LexiconFile, source: str = "<memory>") -> None:
        self.spec = spec
        self.source = source
        self._reasons: list[_Compiled] = []
        self._weak: list[_Compiled] = []
        for reason, rspec in spec.dispute_reasons.items():
            self._reasons.extend(_compile_all(reason.value, rspec.phrases))
            self._weak.extend(_compile_all(reason.value, rspec.weak_phrases))
        self._cues = _compile_all("cue", spec.dispute_cues)
        self._signals: list[_Compiled] = []
        for name, sspec in spec.signals.items():
            self._signals.extend(_compile_all(name, sspec.phrases))
        self.languages = frozenset(c.language for c in [*self._reasons, *self._weak, *self._signals])

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """Load and validate a lexicon file; a bad file raises ConfigError naming file, line and field."""
        return cls(load_yaml_model(path, LexiconFile), str(path))

    @classmethod
    def from_data(cls, data: Any, source: str = "<memory>") -> Lexicon:
        try:
            spec = LexiconFile.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"field {'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"{source}: {problems}") from exc
        return cls(spec, source)

    @property
    def needs_human_signals(self) -> frozenset[str]:
        return frozenset(n for n, s in self.spec.signals.items() if s.needs_human)

    def _languages_for(self, language: str | None) -> frozenset[str]:
        # The detected language plus English (the lingua franca of AR mail); an unknown or
        # missing language searches every list rather than none.
        lang = normalize_language(language)
        if lang not in self.languages:
            return self.languages
        return frozenset({lang, "en"})

    def _hits(
        self, compiled: Iterable[_Compiled], text: str, language: str | None
    ) -> list[PhraseHit]:
        folded = fold(text)
        langs = self._languages_for(language)
        hits: list[PhraseHit] = []
        for item in compiled:
            if item.language not in langs:
                continue
            for m in item.pattern.finditer(folded):
                hits.append(PhraseHit(item.name, item.phrase, m.start(), m.end()))
        hits.sort(key=lambda h: (h.start, -h.end))
        return hits

    def reason_hits(self, text: str, language: str | None) -> list[PhraseHit]:
        """Strong reason phrases, plus the weak ones when the text contests something."""
        strong = self._hits(self._reasons, text, language)
        if strong or self._hits(self._cues, text, language):
            weak = [
                PhraseHit(h.name, h.phrase, h.start, h.end, weak=True) for h in self._hits(self._weak, text, language)
            ]
            return sorted([*strong, *weak], key=lambda h: (h.start, -h.end))
        return []

    def has_dispute_cue(self, text: str, language: str | None) -> bool:
        return bool(self._hits(self._cues, text, language))

    def signal_hits(self, text: str, language: str | None) -> list[PhraseHit]:
        return self._hits(self._signals, text, language)

    def dispute_reason(self, text: str, language: str | None) -> DisputeReason | None:
        """The reason whose phrases match best; None when no phrase matches.

        Each distinct phrase counts once, weighted by its length in words (a specific
        "billed twice" outweighs a bare "price") and halved for weak phrases; ties go to
        the earliest mention.
        """
        scores: dict[str, float] = {}
        first: dict[str, int] = {}
        seen: set[tuple[str, str]] = set()
        for hit in _drop_nested(self.reason_hits(text, language)):
            first.setdefault(hit.name, hit.start)
            if (hit.name, hit.phrase) in seen:
                continue
            seen.add((hit.name, hit.phrase))
            words = len([w for w in hit.phrase.split() if w != _GAP])
            weight = (1.0 + 0.5 * (words - 1)) * (0.5 if hit.weak else 1.0)
            scores[hit.name] = scores.get(hit.name, 0.0) + weight
        if not scores:
            return None
        best = max(scores, key=lambda n: (scores[n], -first[n]))
        return DisputeReason(best)

    def signals(self, text: str, language: str | None) -> list[str]:
        """Names of the signals found, in the order of their first mention."""
        names: list[str] = []
        for hit in self.signal_hits(text, language):
            if hit.name not in names:
                names.append(hit.name)
        return names


def _drop_nested(hits: Sequence[PhraseHit]) -> list[PhraseHit]:
    """Keep the longest of overlapping hits so "not received" does not also count "received"."""
    kept: list[PhraseHit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -(h.end - h.start))):
        if kept and hit.start < kept[-1].end and hit.end <= kept[-1].end:
            continue
        kept.append(hit)
    return kept


def load_lexicon(path: Path) -> Lexicon:
    """Load and validate a lexicon file; raises ConfigError on any problem."""
    return Lexicon.load(path)


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The reviewed ``agents/lexicon.yaml`` of this checkout, loaded once on first use."""
    return Lexicon.load(project_root() / "agents" / "lexicon.yaml")
