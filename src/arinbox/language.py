"""Language identification, offline: py3langid restricted to the languages a caller expects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from py3langid.langid import MODEL_FILE, LanguageIdentifier


class LanguageGuesser:
    """py3langid behind a typed call: ISO 639-1 code of the most likely language."""

    def __init__(self, languages: Sequence[str]) -> None:
        self._identifier: Any = LanguageIdentifier.from_model_file(MODEL_FILE)
        self._identifier.set_languages(list(languages))

    def __call__(self, text: str) -> str:
        language, _score = self._identifier.classify(text)
        return str(language)
