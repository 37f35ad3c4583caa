"""The Presidio analyzer arinbox masks with: offline, NER-only spaCy, AR recognizers."""

from __future__ import annotations

import functools
from pathlib import Path

import spacy
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider, SpacyNlpEngine
from spacy.language import Language
from spacy.tokens import Doc

from arinbox.domain.errors import ConfigError
from arinbox.masking.recognizers import build_registry

LOWERCASE_LEMMA = "arinbox_lowercase_lemma"


def _lowercase_lemma(doc: Doc) -> Doc:
    # Presidio's context enhancer compares context words against lemmas by substring; the
    # lower-cased form serves that without running tagger, attribute ruler and lemmatizer.
    for token in doc:
        token.lemma_ = token.lower_
    return doc


def _register_lowercase_lemma() -> None:
    if not Language.has_factory(LOWERCASE_LEMMA):
        Language.component(LOWERCASE_LEMMA, func=_lowercase_lemma)


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

    @staticmethod
    def _download_spacy_model_if_needed(model_name: str) -> None:
        # Presidio would download a missing model here; arinbox never fetches at run time.
        if not (spacy.util.is_package(model_name) or Path(model_name).exists()):
            raise ConfigError(f"spaCy model {model_name!r} is not installed")

    def load(self) -> None:
        _register_lowercase_lemma()
        super().load()
        for model in self.models:
            nlp = self.get_nlp(model["lang_code"])
            if "ner" not in nlp.pipe_names:
                raise ConfigError(f"spaCy model {model['model_name']!r} has no ner component")
            needed = _components_for_ner(nlp)
            for pipe in list(nlp.pipe_names):
                if pipe not in needed:
                    nlp.disable_pipe(pipe)
            nlp.add_pipe(LOWERCASE_LEMMA, last=True)


@functools.lru_cache(maxsize=4)
def build_analyzer(model_name: str, recognizers_file: Path | None) -> AnalyzerEngine:
    """An offline English analyzer; cached because loading spaCy takes about a second."""
    provider = NlpEngineProvider(
        nlp_engines=(NerOnlySpacyNlpEngine,),
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model_name}],
        },
    )
    nlp_engine = provider.create_engine()
    registry = build_registry(nlp_engine, recognizers_file)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
