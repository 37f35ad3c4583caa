"""Mask the personal data in the texts of one email with stable placeholders."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from presidio_analyzer import AnalyzerEngine, RecognizerResult
from pydantic import RootModel, StringConstraints
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Span

from arinbox.domain.errors import ConfigError
from arinbox.domain.ports import MaskResult
from arinbox.language import LanguageGuesser
from arinbox.masking.engine import NER_SCORE, NerOnlySpacyNlpEngine
from arinbox.masking.literals import FinderCache, LiteralFinder
from arinbox.yaml_files import load_yaml_model

DEFAULT_ENTITIES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "IBAN_CODE",
    "CREDIT_CARD",
    "US_SSN",
    "US_ITIN",
    "UK_NINO",
    "US_BANK_ACCOUNT",
    "ABA_ROUTING_NUMBER",
    "US_EIN",
    "STREET_ADDRESS",
    "SWIFT_CODE",
    "VAT_ID",
    "UK_SORT_CODE_ACCOUNT",
    "IP_ADDRESS",
)

# Presidio's phone recognizer scores plain matches 0.4; below that only weak guesses remain.
DEFAULT_SCORE_THRESHOLD = 0.4

_CURRENCY = r"(?:[$€£¥]|\b(?:EUR|USD|GBP|CHF|CAD|AUD|NZD|JPY|SEK|NOK|DKK|PLN|CZK|HUF|MXN|BRL)\b)"
_NUMBER = r"\d{1,3}(?:[,.'\u00a0 ]\d{3})*(?:[.,]\d{1,2})?"

# Business values the AR work needs, kept whatever a recognizer says. A pattern with a group
# named "value" keeps only that group (the label before it may still be masked).
DEFAULT_KEEP_PATTERNS: tuple[str, ...] = (
    # amounts with a currency before or after: "$1,234.56", "EUR 1 234,56", "1.234,56 €"
    rf"{_CURRENCY}[ \t\u00a0]?-?{_NUMBER}(?!\d)",
    rf"(?<![\d.,])-?{_NUMBER}[ \t\u00a0]?{_CURRENCY}",
    # amounts without a currency but with two decimals: "1,234.56", "1.234,56"
    r"(?<![\d.,])\d+(?:[,.'\u00a0]\d{3})*[.,]\d{2}(?![.,]?\d)",
    # dates: "2026-11-15", "15.11.2026", "11/15/2026", "15/11/26"
    r"(?<![\d.\-])\d{4}-\d{2}-\d{2}(?![\d\-])",
    r"(?<![\d./])\d{1,2}[./]\d{1,2}[./](?:\d{4}|\d{2})(?![\d./])",
    # document numbers with a letter or year prefix: "INV-2026-004512", "Inv-3133", "PDR-VIR-2026-10-0211",
    # "2026-002318"
    r"(?i:\b[A-Z]{2,5}(?:-[A-Z]{2,5}){0,2}-\d[\dA-Z]*(?:-[\dA-Z]+)*\b)",
    r"(?<![\d\-])(?:19|20)\d{2}-\d{4,8}(?![\d\-])",
    # a reference right after its label: "PO 4500123456", "Rechnung Nr. 2026-4512", "pedido 88123"
    r"(?i:\b(?:invoices?|inv|rechnung(?:en)?|rg|factures?|facturas?|credit[ \t]+notes?|credit[ \t]+memos?"
    r"|gutschrift|avoir|abono|purchase[ \t]+orders?|po|p\.o\.|orders?|bestellung(?:en)?|bestellnummer"
    r"|auftrag|commandes?|pedidos?|lieferschein|albarán|customer|kunden|client|cliente|debitor"
    r"|ref|reference|referenz|référence|referencia|verwendungszweck|payment[ \t]+ref(?:erence)?"
    r"|check|cheque|chèque|trace|utr|transaction|transaktion"
    r"|company(?:[ \t]+(?:registration|reg))?|hrb|hra|siren|siret|rcs)"
    r"\.?(?:[ \t\-]*(?:no|nr|number|num|nummer|numéro|número|n[°º]|id|\#))?\.?[ \t]*[:#]?[ \t]*"
    r"(?:(?:is|ist|est|es)[ \t]+)?)"
    r"(?P<value>[A-Z0-9][A-Z0-9/\-]*\d[A-Z0-9/\-]*(?: \d[\d/\-]*){0,2})",
)

# Entities whose values are compared without spacing or punctuation ("DE89 3704 ..." is
# "DE89370400..."); the others are compared case-insensitively with spacing collapsed.
_COMPACT_ENTITIES = frozenset(
    {
        "PHONE_NUMBER",
        "IBAN_CODE",
        "CREDIT_CARD",
        "US_SSN",
        "US_ITIN",
        "UK_NINO",
        "US_BANK_ACCOUNT",
        "ABA_ROUTING_NUMBER",
        "US_EIN",
        "SWIFT_CODE",
        "VAT_ID",
        "UK_SORT_CODE_ACCOUNT",
    }
)

# Languages the language guesser chooses from: those of the mail an AR team receives.
GUESSED_LANGUAGES: tuple[str, ...] = (
    "en",
    "de",
    "fr",
    "es",
    "it",
    "nl",
    "pt",
    "pl",
    "sv",
    "da",
    "no",
    "fi",
    "cs",
)
# Texts shorter than this are too short for a language guess.
_MIN_GUESS_CHARS = 80
# a run of text up to a blank line (quoted blank lines "> " count as blank)
_PARAGRAPH = re.compile(r"(?:(?!\n[ \t>]*\n).)+", re.DOTALL)

# a capitalised word ("Maria", "Łukasz", "O'Brien"), not one inside a token like "ap@Example"
_CAPITALISED = re.compile(r"(?<![\w@.\-])(?![a-zß-ÿ])[^\W\d_][a-zß-öø-ÿ'’]+")
# Capitalised words that are no reason to run the NER model on their line.
_NO_NAME_CUE = frozenset(STOP_WORDS) | {
    "january", "february", "march", "april", "june", "july", "august", "september", "october",
    "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
    # header and contact labels of quoted mail and signatures
    "sent", "date", "message", "original", "forwarded", "tel", "mob", "fax", "phone", "mobile", "direct", "cell",
    "web", "www", "office",
}
_LINE = re.compile(r"[^\n]+")
_LETTERS = re.compile(r"[^\W\d_]+")
# a kept value of two words or more: a company's name, not a number or an amount
_WORDS_WITH_SPACE = re.compile(r"[^\W\d_]{2,}[ \t]+[^\W\d_]{2,}")
# "I'm", "we'll", "it's": the word before the apostrophe decides
_CONTRACTION = re.compile(r"['’](?:m|ll|s|ve|d|re|t)?$")
# A text at least this long that recurs inside another text of the email is analysed once.
_MIN_SHARED = 40

# Entities made of words, from whose edges allow-listed words are trimmed.
_WORD_ENTITIES = frozenset({"PERSON", "STREET_ADDRESS"})

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*?)_(\d+)>")
_EDGE_PUNCT = " \t\r\n,;:|"
_LEGAL_FORM = re.compile(
    r",?\s+(?:Inc|Ltd|Limited|LLC|LLP|PLC|Corp|Co|Company|GmbH|AG|KG|SARL|SAS|SA|S\.A|S\.L|SL|SpA|BV|B\.V|NV)\.?$",
    re.IGNORECASE,
)
_ARTICLES = frozenset({"der", "die", "das", "le", "la", "les", "el", "los", "las", "de", "del", "des", "du", "und"})


def company_short_forms(name: str) -> list[str]:
    """How people shorten a company's name in mail: its first two words ("Valtek Pumps" for
    "Valtek Pumps & Controls Inc."), when both are capitalised words of their own."""
    words = _LEGAL_FORM.sub("", name.strip()).split()
    if len(words) < 3:
        return []
    first_two = words[:2]
    if any(len(w) < 3 or not w[0].isupper() or not w.isalpha() or w.casefold() in STOP_WORDS
           or w.casefold() in _ARTICLES for w in first_two):
        return []
    return [" ".join(first_two)]


# Values this short are not searched for again elsewhere in the email.
_MIN_PROPAGATE = 4


class _AllowListFile(RootModel[list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]]]):
    pass


def load_allow_list(path: Path) -> list[str]:
    """Words and phrases never masked: a YAML list of strings."""
    return list(load_yaml_model(path, _AllowListFile).root)


def rehydrate(text: str, mapping: dict[str, str]) -> str:
    """Put the originals back in place of the placeholders; unknown placeholders stay."""
    return _PLACEHOLDER.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    entity: str
    score: float

    def overlaps(self, other: _Span) -> bool:
        return self.start < other.end and other.start < self.end


def _normalise(entity: str, value: str) -> str:
    if entity in _COMPACT_ENTITIES:
        return re.sub(r"[\W_]", "", value).upper()
    return " ".join(value.split()).casefold()


def _subtract(span: _Span, holes: Sequence[tuple[int, int]]) -> list[_Span]:
    """The parts of ``span`` outside every hole."""
    pieces = [span]
    for hole_start, hole_end in holes:
        next_pieces: list[_Span] = []
        for piece in pieces:
            if hole_end <= piece.start or piece.end <= hole_start:
                next_pieces.append(piece)
                continue
            if piece.start < hole_start:
                next_pieces.append(_Span(piece.start, hole_start, piece.entity, piece.score))
            if hole_end < piece.end:
                next_pieces.append(_Span(hole_end, piece.end, piece.entity, piece.score))
        pieces = next_pieces
    return pieces


def _resolve_overlaps(spans: Iterable[_Span]) -> list[_Span]:
    """Longest span wins, then the highest score, then the earliest."""
    chosen: list[_Span] = []
    for span in sorted(spans, key=lambda s: (-(s.end - s.start), -s.score, s.start)):
        if not any(span.overlaps(kept) for kept in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


class PresidioMasker:
    """The ``Masker`` port on a Presidio analyzer.

    ``keep`` values (passed per call: invoice, PO and order numbers, customer names from the
    ledger) and ``keep_patterns`` matches are never masked: a detection that overlaps one is cut
    back to the part outside it. ``allow_list`` words are trimmed from the edges of detections
    ("Hi Tom" -> "Tom") and never masked on their own.

    Every text is analysed as English, so pattern recognizers work on any language, but the
    spaCy model's own detections are used only in paragraphs written in ``ner_languages``:
    an English model reads capitalised German nouns as names.
    """

    def __init__(
        self,
        analyzer: AnalyzerEngine,
        entities: list[str] | None = None,
        keep_patterns: list[str] | None = None,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        allow_list: list[str] | None = None,
        ner_languages: Sequence[str] = ("en",),
        guess_language: Callable[[str], str] | None = None,
    ) -> None:
        self._analyzer = analyzer
        if not isinstance(analyzer.nlp_engine, NerOnlySpacyNlpEngine):
            raise ConfigError("the masker needs an analyzer from arinbox.masking.build_analyzer")
        self._engine = analyzer.nlp_engine
        self._ner_languages = frozenset(ner_languages)
        self._guess_language = guess_language if guess_language is not None else LanguageGuesser(GUESSED_LANGUAGES)
        self._entities = list(entities if entities is not None else DEFAULT_ENTITIES)
        supported = set(analyzer.get_supported_entities(language="en"))
        unknown = sorted(set(self._entities) - supported)
        if unknown:
            raise ConfigError(f"masking entities not recognised by the analyzer: {unknown}")
        patterns = keep_patterns if keep_patterns is not None else list(DEFAULT_KEEP_PATTERNS)
        try:
            self._keep_patterns = [re.compile(p) for p in patterns]
        except re.error as exc:
            raise ConfigError(f"bad keep pattern {exc.pattern!r}: {exc}") from exc
        self._score_threshold = score_threshold
        self._allow = _AllowList(allow_list or [])
        self._no_name_cue = _NO_NAME_CUE | {w.casefold() for term in allow_list or [] for w in term.split()}

    def mask(self, texts: Sequence[str], keep: Sequence[str] = ()) -> list[MaskResult]:
        texts = list(texts)
        final = self._spans(texts, keep)
        # Placeholders are numbered per entity type in order of first appearance in the email.
        placeholders: dict[tuple[str, str], str] = {}
        mapping: dict[str, str] = {}
        numbers: Counter[str] = Counter()
        masked: list[tuple[str, Counter[str]]] = []
        for text, spans in zip(texts, final, strict=True):
            counts: Counter[str] = Counter()
            parts: list[str] = []
            cursor = 0
            for span in spans:
                value = text[span.start : span.end]
                key = (span.entity, _normalise(span.entity, value))
                if key not in placeholders:
                    numbers[span.entity] += 1
                    placeholders[key] = f"<{span.entity}_{numbers[span.entity]}>"
                    mapping[placeholders[key]] = value
                counts[span.entity] += 1
                parts += [text[cursor : span.start], placeholders[key]]
                cursor = span.end
            parts.append(text[cursor:])
            masked.append(("".join(parts), counts))
        return [MaskResult(text=t, mapping=dict(mapping), entities=dict(counts)) for t, counts in masked]

    def find(self, texts: Sequence[str], keep: Sequence[str] = ()) -> list[list[tuple[int, int, str]]]:
        """Where ``mask`` would put placeholders: (start, end, entity) per text, in order."""
        return [[(s.start, s.end, s.entity) for s in spans] for spans in self._spans(list(texts), keep)]

    def _spans(self, texts: list[str], keep: Sequence[str]) -> list[list[_Span]]:
        email_language = self._guess("\n\n".join(texts))
        keep_literal = _FINDERS.get(keep)
        # Each distinct stretch of text is analysed once: the newest message is usually part of
        # the whole body, so the body is analysed as that message plus what surrounds it.
        plans = _plan_pieces(texts)
        pieces = list(dict.fromkeys(piece for plan in plans for _, piece in plan))
        piece_holes = [self._keep_spans(piece, keep_literal) for piece in pieces]
        hole_of = dict(zip(pieces, piece_holes, strict=True))
        found = self._find(pieces, piece_holes, email_language)
        detected = [
            [_Span(offset + s.start, offset + s.end, s.entity, s.score) for offset, piece in plan for s in found[piece]]
            for plan in plans
        ]
        holes = [
            [(offset + start, offset + end) for offset, piece in plan for start, end in hole_of[piece]]
            for plan in plans
        ]
        # A value found in one text is masked wherever else it appears in the email, and so is
        # each word of a name ("Declan" once "Declan Murphy" signed the quoted message).
        known: dict[tuple[str, str], float] = {}
        for text, spans in zip(texts, detected, strict=True):
            for span in spans:
                value = text[span.start : span.end]
                if len(value) >= _MIN_PROPAGATE:
                    known.setdefault((span.entity, value), span.score)
                if span.entity == "PERSON":
                    for word in _LETTERS.findall(value):
                        if len(word) >= 3 and word.istitle() and word.casefold() not in self._no_name_cue:
                            known.setdefault((span.entity, word), span.score)
        final = [
            _resolve_overlaps(spans + self._propagate(text, known, text_holes))
            for text, spans, text_holes in zip(texts, detected, holes, strict=True)
        ]
        return final

    def _keep_spans(self, text: str, keep_literal: LiteralFinder) -> list[tuple[int, int]]:
        spans = keep_literal.spans(text)
        for pattern in self._keep_patterns:
            for match in pattern.finditer(text):
                has_value = "value" in pattern.groupindex and match.group("value") is not None
                spans.append(match.span("value") if has_value else match.span())
        return [span for span in spans if span[0] < span[1]]

    def _find(
        self, pieces: list[str], piece_holes: list[list[tuple[int, int]]], email_language: str | None
    ) -> dict[str, list[_Span]]:
        """The personal data in each piece, outside the kept values.

        Rules first; the NER model then reads only the lines where a capitalised word is left
        that no rule explained: the model is most of the cost, and most names stand in
        greetings, signatures and headers, where the rules find them.
        """
        holes = dict(zip(pieces, piece_holes, strict=True))
        found = {piece: self._detect(piece, piece_holes) for piece, piece_holes in holes.items()}
        named = {
            word.casefold()
            for piece, spans in found.items()
            for span in spans
            if span.entity == "PERSON"
            for word in _LETTERS.findall(piece, span.start, span.end)
        }
        segments = [
            (piece, start, end)
            for piece, piece_holes in holes.items()
            for start, end in self._ner_segments(
                piece, email_language, piece_holes + [(span.start, span.end) for span in found[piece]], named
            )
        ]
        names = self._engine.find_names([piece[start:end] for piece, start, end in segments])
        kept_names = {piece: [(s, e) for s, e in piece_holes if _WORDS_WITH_SPACE.search(piece, s, e)]
                      for piece, piece_holes in holes.items()}
        for (piece, start, _), entities in zip(segments, names, strict=True):
            for entity in entities:
                if not any(ch.isupper() for ch in entity.text):
                    continue  # names are capitalised; "hose assemblies" is not one
                line = _longest_line(entity)
                whole = _Span(start + line.start_char, start + line.end_char, "PERSON", NER_SCORE)
                if any(s < whole.end and whole.start < e for s, e in kept_names[piece]):
                    # the model read a customer's name ("Valtek Pumps - Payment Notification") as a
                    # person's: what it found around that name is no more likely to be one
                    continue
                found[piece].extend(self._cut(piece, whole, holes[piece]))
        return found

    def _detect(self, text: str, holes: list[tuple[int, int]]) -> list[_Span]:
        """What the pattern recognizers find in ``text``, outside the kept values."""
        results: list[RecognizerResult] = self._analyzer.analyze(
            text=text,
            language="en",
            entities=self._entities,
            nlp_artifacts=self._engine.no_entities(),
            score_threshold=self._score_threshold,
        )
        spans: list[_Span] = []
        for result in results:
            spans.extend(self._cut(text, _Span(result.start, result.end, result.entity_type, result.score), holes))
        return spans

    def _cut(self, text: str, span: _Span, holes: list[tuple[int, int]]) -> list[_Span]:
        """``span`` without the kept values inside it and allow-listed words at its edges."""
        pieces = []
        for piece in _subtract(span, holes):
            trimmed = self._allow.trim(text, piece)
            if trimmed is not None:
                pieces.append(trimmed)
        return pieces

    def _guess(self, text: str) -> str | None:
        """The language of ``text``, or None when it is too short to tell."""
        return self._guess_language(text) if len(text.strip()) >= _MIN_GUESS_CHARS else None

    def _ner_segments(
        self, text: str, email_language: str | None, explained: list[tuple[int, int]], named: set[str]
    ) -> list[tuple[int, int]]:
        """The runs of lines worth running the NER model on.

        A line needs the model only when it has a capitalised word that is neither a common
        word, a greeting or job title of the allow list, a month or weekday, a word of a name
        the rules found elsewhere in the email, nor inside an ``explained`` span (a kept
        business value, a detection): elsewhere there is no name left for it to find.
        A paragraph in a language the model does not know is skipped: an English model reads
        capitalised German nouns as names. A paragraph too short to tell takes the email's
        language; when that cannot be told either, the model is trusted.
        """
        segments: list[tuple[int, int]] = []
        for paragraph in _PARAGRAPH.finditer(text):
            lines = [
                line.span()
                for line in _LINE.finditer(text, paragraph.start(), paragraph.end())
                if self._has_name_cue(text, line.start(), line.end(), explained, named)
            ]
            if not lines:
                continue
            language = self._guess(paragraph.group(0)) or email_language
            if language is not None and language not in self._ner_languages:
                continue
            for start, end in lines:  # neighbouring lines go to the model together
                if segments and text[segments[-1][1] : start].strip() == "":
                    segments[-1] = (segments[-1][0], end)
                else:
                    segments.append((start, end))
        return segments

    def _has_name_cue(
        self, text: str, start: int, end: int, explained: list[tuple[int, int]], named: set[str]
    ) -> bool:
        for word in _CAPITALISED.finditer(text, start, end):
            folded = _CONTRACTION.sub("", word.group(0).casefold())
            if folded in self._no_name_cue or folded in named:
                continue
            if any(s <= word.start() and word.end() <= e for s, e in explained):
                continue
            return True
        return False

    def _propagate(
        self,
        text: str,
        known: dict[tuple[str, str], float],
        holes: list[tuple[int, int]],
    ) -> list[_Span]:
        spans: list[_Span] = []
        for (entity, value), score in known.items():
            pattern = re.compile(rf"(?<!\w){re.escape(value)}(?!\w)")
            for match in pattern.finditer(text):
                span = _Span(match.start(), match.end(), entity, score)
                if not any(span.start < end and start < span.end for start, end in holes):
                    spans.append(span)
        return spans


def _plan_pieces(texts: Sequence[str]) -> list[list[tuple[int, str]]]:
    """Each text as (offset, piece) parts, reusing any other text of the call that it contains.

    The whole body of a reply holds the newest message: the body becomes the text before it,
    the newest message itself and the quoted history after it, so the newest message is
    analysed once and on its own, as the classifier reads it. Blank parts are left out.
    """
    plans: dict[int, list[tuple[int, str]]] = {}
    for index in sorted(range(len(texts)), key=lambda i: len(texts[i])):
        text = texts[index]
        plan = [(0, text)]
        for other in sorted(plans, key=lambda i: -len(texts[i])):
            inner = texts[other]
            position = text.find(inner) if len(inner) >= _MIN_SHARED or inner == text else -1
            if position >= 0:
                after = position + len(inner)
                plan = [(0, text[:position]), *((position + o, p) for o, p in plans[other]), (after, text[after:])]
                break
        plans[index] = [(offset, piece) for offset, piece in plan if piece.strip()]
    return [plans[index] for index in range(len(texts))]


def _longest_line(entity: Span) -> Span:
    """A name never runs over a line break: keep the longest line of a multi-line entity."""
    if "\n" not in entity.text:
        return entity
    best = (entity.start, entity.start)
    run_start = entity.start
    for token in entity:
        if token.is_space and "\n" in token.text:
            run_start = token.i + 1
        elif token.i + 1 - run_start > best[1] - best[0]:
            best = (run_start, token.i + 1)
    return Span(entity.doc, best[0], best[1], label=entity.label_)


def _keep_values(keep: Sequence[str]) -> Iterator[str]:
    for term in keep:
        term = term.strip()
        yield term
        # a company is often written without its legal form: "Blue Ridge Sawmill" for "... Inc."
        yield _LEGAL_FORM.sub("", term)


_FINDERS = FinderCache(lambda keep: LiteralFinder(_keep_values(keep)))


class _AllowList:
    """Drops detections that are allow-listed words; trims such words from the edges of names."""

    def __init__(self, words: Sequence[str]) -> None:
        terms = sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)
        self._exact = {t.casefold() for t in terms}
        self._leading: re.Pattern[str] | None = None
        self._trailing: re.Pattern[str] | None = None
        if terms:
            alternatives = "|".join(re.escape(t) for t in terms)
            # a term ends at a space, list punctuation or a final full stop, never inside a
            # token such as "ap@example.com"
            after = r"(?=[\s,;:!?/|()]|\.(?!\w)|$)"
            before = r"(?:^|(?<=[\s,;:!?/|()]))"
            # used with match(text, start): anchored at the start of the detection
            self._leading = re.compile(rf"(?:[\s,;:!?/|().]*(?:{alternatives}){after})+", re.IGNORECASE)
            self._trailing = re.compile(rf"(?:{before}(?:{alternatives})[\s,;:!?/|().]*)+$", re.IGNORECASE)

    def trim(self, text: str, span: _Span) -> _Span | None:
        start, end = _strip_edges(text, span.start, span.end)
        if text[start:end].casefold() in self._exact:
            return None
        if span.entity in _WORD_ENTITIES and self._leading and self._trailing:
            lead = self._leading.match(text, start, end)
            if lead:
                start = lead.end()
            trail = self._trailing.search(text, start, end)
            if trail:
                end = trail.start()
            start, end = _strip_edges(text, start, end)
        if not any(ch.isalnum() for ch in text[start:end]):
            return None
        return _Span(start, end, span.entity, span.score)


def _strip_edges(text: str, start: int, end: int) -> tuple[int, int]:
    """Whitespace and list punctuation at the edges are never part of a value."""
    while start < end and text[start] in _EDGE_PUNCT:
        start += 1
    while end > start and text[end - 1] in _EDGE_PUNCT:
        end -= 1
    return start, end
