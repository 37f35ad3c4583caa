"""Accounts-receivable recognizers on top of Presidio's predefined ones.

Pattern recognizers that compliance maintains live in ``masking/recognizers.yaml`` (Presidio's
YAML recognizer format plus named ``fragments``); the ones that need code (a checksum, an offline
suffix list) live here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import tldextract
from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from presidio_analyzer.predefined_recognizers import (
    AbaRoutingRecognizer,
    CreditCardRecognizer,
    EmailRecognizer,
    UkNinoRecognizer,
)
from presidio_analyzer.recognizer_registry import RecognizerRegistry
from pydantic import BaseModel, ConfigDict, Field, field_validator

from arinbox.domain.errors import ConfigError
from arinbox.yaml_files import load_yaml_model

# Predefined recognizers replaced by ours: the US bank-number one matches any 8-17 digit run
# (invoice and PO numbers); the e-mail one validates through a suffix list fetched online; the
# phone one parses every digit run of an email (amounts, invoice numbers) once per region with
# libphonenumber, a third of the masking time, where the phone shapes of recognizers.yaml
# (international, US, UK, DE, FR, ES and anything after a phone label) find the same numbers;
# the card one takes any Luhn-valid digit run for a card.
REPLACED_PREDEFINED = ("UsBankRecognizer", "EmailRecognizer", "PhoneRecognizer", "CreditCardRecognizer")

_FRAGMENT_REF = re.compile(r"\{\{([A-Z][A-Z0-9_]*)\}\}")


# an address and what surrounds it up to a space, a bracket, a quote or list punctuation
_WORD_WITH_AT = re.compile(r"[^\s<>()\[\]\"',;:]*@[^\s<>()\[\]\"',;:]*")


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer, validating domains against tldextract's bundled snapshot."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language)
        # suffix_list_urls=() and no cache: never fetch, never write a cache file.
        self._extract = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None,
                regex_flags: int | None = None) -> list[RecognizerResult]:
        # Presidio's pattern costs ~1.5 ms over a whole email: run it on the words holding an "@" only
        found: list[RecognizerResult] = []
        for word in _WORD_WITH_AT.finditer(text):
            for result in super().analyze(word.group(), entities, nlp_artifacts, regex_flags):
                result.start += word.start()
                result.end += word.start()
                found.append(result)
        return found

    def validate_result(self, pattern_text: str) -> bool | None:
        # A known public suffix confirms the address; an unknown one (a new or private top-level
        # domain) keeps the pattern's own score rather than dropping the match.
        return True if self._extract(pattern_text).fqdn else None


class AbaRoutingNumberRecognizer(AbaRoutingRecognizer):
    """US ABA routing numbers, only where the checksum holds.

    Presidio's shapes (nine digits, or 4-4-1 with dashes) score too low to mask without a context
    word such as "routing" or "ABA" nearby; right after a routing label they score high. A
    number whose checksum fails is never a routing number, so a nine-digit PO number is safe.
    """

    LABELLED = (
        r"\b(?:routing|aba|rtn|ach[ \t]+routing|transit)(?:[ \t]+(?:no|nr|number|\#))?\.?[ \t]*[:#]?[ \t]*"
        r"\K\d{4}-?\d{4}-?\d(?![\d\-])"
    )

    def __init__(self) -> None:
        super().__init__(
            patterns=[Pattern("ABA routing number after its label", self.LABELLED, 0.6), *self.PATTERNS],
            name="AbaRoutingNumberRecognizer",
        )

    def validate_result(self, pattern_text: str) -> bool | None:  # type: ignore[override]
        # Presidio scores every valid checksum 1.0, but one nine-digit number in ten passes it:
        # a valid checksum only keeps the pattern's score, and context or a label decides.
        return None if super().validate_result(pattern_text) else False


class GroupedCreditCardRecognizer(CreditCardRecognizer):
    """Payment cards by Luhn checksum, trusted alone only when written in groups.

    One digit run in ten passes Luhn, so a bare 13-19 digit run (an invoice or PO number) keeps
    the weak pattern score and needs a card word nearby; "4111 1111 1111 1111" is a card.
    """

    def validate_result(self, pattern_text: str) -> bool | None:  # type: ignore[override]
        # None keeps the pattern's score (Presidio's contract; its annotation says bool)
        if not super().validate_result(pattern_text):
            return False
        return True if re.search(r"\d[ \-]\d", pattern_text) else None


# --- EU VAT identifiers -----------------------------------------------------------------------

_VAT_BODIES = {
    "AT": r"U\d{8}",
    "BE": r"[01]?\d{9}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}",
    "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
    "GB": r"\d{9}(?:\d{3})?",
    "IE": r"\d[A-Z0-9+*]\d{5}[A-Z]{1,2}",
    "IT": r"\d{11}",
    "LU": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "SE": r"\d{12}",
}


def _vat_regex() -> str:
    # The body may be written in groups ("DE 123 456 789"); separators are stripped before the
    # checksum, so the grouped form is matched by allowing one optional separator between
    # any two characters of the body.
    alternatives = []
    for country, body in _VAT_BODIES.items():
        alternatives.append(rf"{country}[ .\-]?{body}")
    compact = "|".join(alternatives)
    grouped = r"(?:DE|GB|PT|IT|FR|BE)[ .\-]?\d{2,3}(?:[ .\-]\d{3}){2,3}(?:[ .\-]\d{2,3})?"
    return rf"(?-i:\b(?:{compact}|{grouped})\b)"


def _de_valid(digits: str) -> bool:
    # ISO 7064 MOD 11,10
    product = 10
    for char in digits[:8]:
        total = (int(char) + product) % 10 or 10
        product = (2 * total) % 11
    return (11 - product) % 10 == int(digits[8])


def _fr_valid(body: str) -> bool:
    key, siren = body[:2], body[2:]
    if not key.isdigit():
        return False  # letter keys use another scheme; leave the decision to context
    return int(key) == (12 + 3 * (int(siren) % 97)) % 97


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _nl_valid(body: str) -> bool:
    digits = body[:9]
    weighted = sum((9 - i) * int(d) for i, d in enumerate(digits[:8]))
    if (weighted - int(digits[8])) % 11 == 0:
        return True
    # sole traders since 2020: ISO 7064 MOD 97-10 over "NL" + number
    numeric = "".join(str(int(c, 36)) for c in "NL" + body)
    return int(numeric) % 97 == 1


def _be_valid(body: str) -> bool:
    digits = body.zfill(10)
    return 97 - int(digits[:8]) % 97 == int(digits[8:])


def _gb_valid(body: str) -> bool:
    digits = body[:9]
    total = sum(w * int(d) for w, d in zip(range(8, 1, -1), digits[:7], strict=True))
    total += int(digits[7:9])
    return total % 97 == 0 or (total + 55) % 97 == 0


_VAT_CHECKS: Mapping[str, Callable[[str], bool]] = {
    "DE": _de_valid,
    "FR": _fr_valid,
    "IT": _luhn_valid,
    "NL": _nl_valid,
    "BE": _be_valid,
    "GB": _gb_valid,
}


class VatIdRecognizer(PatternRecognizer):
    """EU VAT identification numbers, confirmed by the national checksum where one is known.

    A valid checksum scores 1.0. A failed or unknown checksum keeps the low pattern score, so the
    match only survives with a VAT context word nearby (a mistyped but labelled id is still
    masked; a bare look-alike is not).
    """

    CONTEXT = [
        "vat",
        "ust",
        "umsatzsteuer",
        "mwst",
        "uid",
        "tva",
        "intracom",
        "iva",
        "nif",
        "cif",
        "btw",
        "moms",
        "tax",
        "steuer",
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="VAT_ID",
            name="VatIdRecognizer",
            supported_language=supported_language,
            patterns=[Pattern("EU VAT id", _vat_regex(), 0.3)],
            context=self.CONTEXT,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        compact = re.sub(r"[ .\-]", "", pattern_text).upper()
        check = _VAT_CHECKS.get(compact[:2])
        if check is None:
            return None
        return True if check(compact[2:]) else None


# --- recognizers.yaml -------------------------------------------------------------------------


class _PatternSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    regex: str
    score: float = Field(ge=0.0, le=1.0)


class _RecognizerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    supported_entity: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    supported_language: str = "en"
    patterns: list[_PatternSpec] = Field(default_factory=list)
    deny_list: list[str] = Field(default_factory=list)
    deny_list_score: float = Field(default=1.0, ge=0.0, le=1.0)
    context: list[str] = Field(default_factory=list)

    @field_validator("supported_language")
    @classmethod
    def _english_only(cls, value: str) -> str:
        # The masker analyses every mail as "en"; other languages would never run.
        if value != "en":
            raise ValueError("must be 'en' (every mail is analysed as en)")
        return value


class _RecognizersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fragments: dict[str, str] = Field(default_factory=dict)
    recognizers: list[_RecognizerSpec]


def _expand(pattern: str, fragments: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fragments:
            raise KeyError(name)
        return fragments[name]

    # fragments may use other fragments; a few rounds cover any sane nesting
    for _ in range(5):
        expanded = _FRAGMENT_REF.sub(replace, pattern)
        if expanded == pattern:
            return expanded
        pattern = expanded
    raise KeyError("fragments nest too deeply")


def load_yaml_recognizers(path: Path) -> list[PatternRecognizer]:
    """Read, validate and compile a recognizers YAML file; a bad file fails with its location."""
    spec = load_yaml_model(path, _RecognizersFile)
    recognizers: list[PatternRecognizer] = []
    for rec in spec.recognizers:
        where = f"{path}: recognizer {rec.name!r}"
        if not rec.patterns and not rec.deny_list:
            raise ConfigError(f"{where}: needs patterns or a deny_list")
        patterns = []
        for pat in rec.patterns:
            try:
                expanded = _expand(pat.regex, spec.fragments)
            except KeyError as exc:
                raise ConfigError(f"{where}, pattern {pat.name!r}: unknown fragment {exc}") from exc
            try:  # Presidio compiles the regex here, so a bad one fails at start-up
                patterns.append(Pattern(pat.name, expanded, pat.score))
            except ValueError as exc:
                raise ConfigError(f"{where}, pattern {pat.name!r}: bad regex: {exc}") from exc
        recognizers.append(
            PatternRecognizer(
                supported_entity=rec.supported_entity,
                name=rec.name,
                supported_language=rec.supported_language,
                patterns=patterns,
                deny_list=rec.deny_list,
                deny_list_score=rec.deny_list_score,
                context=rec.context,
            )
        )
    return recognizers


def build_registry(nlp_engine: NlpEngine, recognizers_file: Path | None) -> RecognizerRegistry:
    """Presidio's predefined English recognizers, adjusted for AR mail, plus the YAML ones."""
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp_engine)
    for name in REPLACED_PREDEFINED:
        registry.remove_recognizer(name)
    registry.add_recognizer(OfflineEmailRecognizer())
    registry.add_recognizer(UkNinoRecognizer(supported_language="en"))
    registry.add_recognizer(VatIdRecognizer())
    registry.add_recognizer(AbaRoutingNumberRecognizer())
    registry.add_recognizer(GroupedCreditCardRecognizer())
    if recognizers_file is not None:
        for recognizer in load_yaml_recognizers(recognizers_file):
            registry.add_recognizer(recognizer)
    return registry
