"""The Presidio analyzer arinbox masks with: offline, NER-only spaCy, AR recognizers.

Speed comes from doing less, not from doing it differently: spaCy runs only its ``ner``
component, and only on the paragraphs the masker asks for; context words are looked up in a
window of the raw text instead of in lemmas, so no tagger, parser or lemmatizer is needed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path

import spacy
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngineProvider, SpacyNlpEngine
from spacy.language import Language
from spacy.tokens import Span

from arinbox.domain.errors import ConfigError
from arinbox.masking.recognizers import build_registry

# The model's labels arinbox uses; everything else it predicts (dates, money, organisations) is
# business data or covered by pattern recognizers.
NER_ENTITY_MAPPING = {"PERSON": "PERSON", "PER": "PERSON"}
# spaCy gives no per-entity confidence; this is Presidio's usual default.
NER_SCORE = 0.85

_WORD = re.compile(r"[\w'’]+")
_QUOTE_MARKERS = re.compile(r"^[ \t]*>[ \t>]*", re.MULTILINE)


def nlp_configuration(model_name: str) -> dict[str, object]:
    """The explicit Presidio NLP configuration: one installed pipeline, English, PERSON only."""
    return {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model_name}],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": NER_ENTITY_MAPPING,
            "labels_to_ignore": [],
            "low_score_entity_names": [],
            "default_score": NER_SCORE,
        },
    }


def _components_for_ner(nlp: Language) -> set[str]:
    """``ner`` plus any shared embedding layer (tok2vec, transformer) that feeds it."""
    needed = {"ner"}
    for name, component in nlp.pipeline:
        listeners = getattr(component, "listener_map", {})
        if "ner" in listeners:
            needed.add(name)
    return needed


class NerOnlySpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine that runs only what named-entity recognition needs.

    It never downloads: a model that is not installed is a configuration error.
    """

    engine_name = "spacy"
    _empty: NlpArtifacts | None = None

    @staticmethod
    def _download_spacy_model_if_needed(model_name: str) -> None:
        # Presidio would download a missing model here; arinbox never fetches at run time.
        if not (spacy.util.is_package(model_name) or Path(model_name).exists()):
            raise ConfigError(f"spaCy model {model_name!r} is not installed")

    def load(self) -> None:
        super().load()
        for model in self.models:
            nlp = self.get_nlp(model["lang_code"])
            if "ner" not in nlp.pipe_names:
                raise ConfigError(f"spaCy model {model['model_name']!r} has no ner component")
            needed = _components_for_ner(nlp)
            for pipe in list(nlp.pipe_names):
                if pipe not in needed:
                    nlp.disable_pipe(pipe)

    def find_names(self, texts: Sequence[str], language: str = "en") -> list[list[Span]]:
        """The model's PERSON entities in each text, all texts in one ``nlp.pipe`` batch."""
        nlp = self.get_nlp(language)
        # quote markers ("> ") hide a name at the start of a quoted line from the model; blanks of
        # the same length keep every offset
        unquoted = (_QUOTE_MARKERS.sub(lambda m: " " * len(m.group(0)), text) for text in texts)
        return [
            [ent for ent in doc.ents if NER_ENTITY_MAPPING.get(ent.label_) == "PERSON"]
            for doc in nlp.pipe(unquoted)
        ]

    def no_entities(self, language: str = "en") -> NlpArtifacts:
        """Artifacts for an analysis by pattern recognizers alone (the NER runs separately)."""
        if self._empty is None:
            self._empty = NlpArtifacts(
                entities=[], tokens=self.get_nlp(language).make_doc(""), tokens_indices=[], lemmas=[],
                nlp_engine=self, language=language, scores=[],
            )
        return self._empty


class WindowContextEnhancer(ContextAwareEnhancer):
    """Presidio's context boost, with context words read from the raw text around a match.

    Presidio's own enhancer compares lemmas, which needs the tagger, attribute ruler and
    lemmatizer; the words before a match ("IBAN:", "Tel.", "USt-IdNr") need none of them.
    Matching is by substring, as in Presidio ("phone" in "telephone").
    """

    def __init__(self, prefix_words: int = 5, suffix_words: int = 0, boost: float = 0.35, floor: float = 0.4) -> None:
        super().__init__(
            context_similarity_factor=boost,
            min_score_with_context_similarity=floor,
            context_prefix_count=prefix_words,
            context_suffix_count=suffix_words,
        )

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        by_id = {recognizer.id: recognizer for recognizer in recognizers}
        extra = [word.lower() for word in context or []]
        for result in raw_results:
            metadata = result.recognition_metadata or {}
            recognizer = by_id.get(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY, ""))
            if recognizer is None or not recognizer.context:
                continue
            if metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            words = self._surrounding_words(text, result.start, result.end) + extra
            supportive = next((c for c in recognizer.context if any(c.lower() in w for w in words)), None)
            if supportive is None:
                continue
            result.score = min(
                max(result.score + self.context_similarity_factor, self.min_score_with_context_similarity),
                ContextAwareEnhancer.MAX_SCORE,
            )
            if result.analysis_explanation is not None:
                result.analysis_explanation.set_supportive_context_word(supportive)
                result.analysis_explanation.set_improved_score(result.score)
        return raw_results

    def _surrounding_words(self, text: str, start: int, end: int) -> list[str]:
        # a word is at most ~25 characters: a bounded window keeps this linear in the matches
        before = _WORD.findall(text, max(0, start - 30 * self.context_prefix_count), start)
        after = _WORD.findall(text, end, end + 30 * self.context_suffix_count) if self.context_suffix_count else []
        words = before[-self.context_prefix_count :] if self.context_prefix_count else []
        words += after[: self.context_suffix_count]
        return [word.lower() for word in words]


@functools.lru_cache(maxsize=4)
def build_analyzer(model_name: str, recognizers_file: Path | None) -> AnalyzerEngine:
    """An offline English analyzer; cached because loading spaCy takes about a second."""
    provider = NlpEngineProvider(nlp_engines=(NerOnlySpacyNlpEngine,), nlp_configuration=nlp_configuration(model_name))
    nlp_engine = provider.create_engine()
    registry = build_registry(nlp_engine, recognizers_file)
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=["en"],
        context_aware_enhancer=WindowContextEnhancer(),
    )
