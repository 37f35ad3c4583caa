"""The embedded intent classifier: structural rules first, then a TF-IDF + logistic-regression
model trained at start-up on ``agents/training/intents.jsonl`` (shipped in the repo, no network).

It only ever sees masked text; the parsed email supplies structural headers.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sklearn
from numpy.typing import NDArray
from pydantic import RootModel, field_validator
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from threadpoolctl import threadpool_limits

from arinbox.agents import calibration, model_cache
from arinbox.agents.calibration import calibrated, cross_val_logits, fit_temperature
from arinbox.domain.errors import ConfigError
from arinbox.domain.models import Classification, Intent, ParsedEmail
from arinbox.language import LanguageGuesser
from arinbox.mail import signature
from arinbox.mail.signature import strip_signature
from arinbox.yaml_files import load_yaml_model

LANGUAGES = ("en", "de", "fr", "es")

_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?(reply|response)|out of (the )?office|ooo\b|abwesenheit"
    r"|automatische antwort|r[ée]ponse automatique|absence|respuesta autom[aá]tica|fuera de la oficina"
    r"|undeliver(able|ed)|delivery status notification|mail delivery (failed|failure|subsystem)"
    r"|returned mail|unzustellbar|non remis|no se puede entregar)",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"<([A-Z_]+)_\d+>")
_DIGITS = re.compile(r"\d")


def normalise(text: str) -> str:
    """Placeholders become their type and digits collapse, so the model learns shapes, not values."""
    text = _PLACEHOLDER.sub(lambda m: f" {m.group(1).lower()} ", text)
    return _DIGITS.sub("0", text)


class IntentCues(RootModel[dict[str, list[str]]]):
    """``agents/intent_cues.yaml``: named groups of phrase patterns that become extra features."""

    @field_validator("root")
    @classmethod
    def _compiles(cls, groups: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, patterns in groups.items():
            if not re.fullmatch(r"[a-z_]+", name):
                raise ValueError(f"cue name {name!r} must be lower-case letters and underscores")
            for p in patterns:
                try:
                    re.compile(p)
                except re.error as e:
                    raise ValueError(f"{name}: pattern {p!r} does not compile: {e}") from None
        return groups

    def finder(self) -> Callable[[str], list[str]]:
        compiled = {name: [re.compile(p, re.IGNORECASE) for p in ps] for name, ps in self.root.items()}

        def find(text: str) -> list[str]:
            return [name for name, ps in compiled.items() if any(p.search(text) for p in ps)]

        return find


def structural_auto_reply(email: ParsedEmail) -> str | None:
    """RFC 3834 headers, DSN reports and autoresponder subjects: the reason, or None."""
    h = email.headers
    # RFC 3834 "auto-replied" answers a message; "auto-generated" also covers AP systems' payment
    # advices, which are real work, so that value is left to the model.
    auto = h.get("auto-submitted", "").strip().lower()
    if auto.startswith("auto-replied"):
        return f"header auto-submitted: {auto}"
    if "x-autoreply" in h or "x-autorespond" in h:
        return "header x-autoreply"
    if h.get("precedence", "").strip().lower() == "auto_reply":
        return "header precedence: auto_reply"
    if any(ct.startswith("multipart/report") or ct == "message/delivery-status" for ct in email.content_types):
        return "delivery status report"
    if _AUTO_SUBJECT.search(email.subject):
        return "autoresponder subject"
    return None




class LinearTextModel:
    """The fitted feature union and regression evaluated on one text without sklearn's per-call input
    validation and sparse-matrix assembly, which cost ~2.7 ms of the ~3 ms a single-email ``transform``
    took. Same arithmetic as ``TfidfVectorizer``/``CountVectorizer`` (counts, binary or sublinear tf,
    idf, L2 norm per block) followed by ``decision_function``; a test holds it to sklearn's output."""

    def __init__(self, union: FeatureUnion, model: LogisticRegression) -> None:
        weights = np.ascontiguousarray(model.coef_.T)  # features x classes
        self._intercept = np.asarray(model.intercept_, dtype=np.float64)
        self._blocks: list[tuple[Callable[[str], list[str]], dict[str, int], Any, bool, bool, Any, Any]] = []
        offset = 0
        for _name, vec in union.transformer_list:
            size = len(vec.vocabulary_)
            tfidf = isinstance(vec, TfidfVectorizer)
            self._blocks.append((vec.build_analyzer(), vec.vocabulary_, vec.idf_ if tfidf else None, vec.binary,
                                 tfidf and vec.sublinear_tf, vec.norm if tfidf else None,
                                 weights[offset:offset + size]))
            offset += size
        if offset != weights.shape[0]:
            raise ValueError("the feature union and the regression disagree on the number of features")

    def logits(self, text: str) -> NDArray[np.float64]:
        z = self._intercept.copy()
        for analyzer, vocabulary, idf, binary, sublinear, norm, weights in self._blocks:
            counts: dict[int, int] = {}
            for token, n in Counter(analyzer(text)).items():  # counted in C, looked up once per distinct token
                i = vocabulary.get(token)
                if i is not None:
                    counts[i] = n
            if not counts:
                continue
            idx = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            if binary:
                tf[:] = 1.0
            if sublinear:
                tf = np.log(tf) + 1.0
            if idf is not None:
                tf *= idf[idx]
            if norm == "l2":
                tf /= np.sqrt(tf @ tf)
            elif norm is not None:
                raise ValueError(f"unsupported norm {norm!r}")
            z += tf @ weights[idx]
        return z


class EmbeddedClassifier:
    name = "embedded-tfidf-lr"

    def __init__(self, training_file: Path, cues_file: Path, secondary_threshold: float = 0.3,
                 calibration_folds: int = 3, cache_dir: Path | None = None) -> None:
        """``cache_dir``: where a fit is kept for the next process (``model_cache``); None fits every time."""
        texts, labels = self._load(training_file)
        self.cues = load_yaml_model(cues_file, IntentCues).finder()
        self._secondary_threshold = secondary_threshold
        key = self._fingerprint(training_file, cues_file, calibration_folds)
        fitted = model_cache.load(cache_dir, key) if cache_dir is not None else None
        if not (isinstance(fitted, tuple) and len(fitted) == 3 and isinstance(fitted[0], FeatureUnion)
                and isinstance(fitted[1], LogisticRegression) and isinstance(fitted[2], float)):
            fitted = self._train(texts, labels, calibration_folds)
            if cache_dir is not None:
                model_cache.store(cache_dir, key, fitted)
        self._vectorizer: FeatureUnion = fitted[0]
        self._model: LogisticRegression = fitted[1]
        self.temperature: float = fitted[2]
        self._linear = LinearTextModel(self._vectorizer, self._model)
        self.classes: list[str] = [str(c) for c in self._model.classes_]
        self.version = f"{self.name}:{len(texts)}:t{self.temperature:.2f}"
        self._language = LanguageGuesser(LANGUAGES)

    @staticmethod
    def _fingerprint(training: Path, cues_file: Path, calibration_folds: int) -> str:
        """Everything the fit depends on: data, cues, the fitting code and the libraries' versions."""
        files = sorted(training.glob("*.jsonl")) if training.is_dir() else [training]
        code = [Path(__file__), Path(calibration.__file__), Path(signature.__file__)]
        return model_cache.fingerprint([
            *(p.read_bytes() for p in [*files, cues_file, *code]),
            f"{calibration_folds}|{sklearn.__version__}|{np.__version__}|{scipy.__version__}".encode()])

    def _train(self, texts: list[str], labels: list[str],
               calibration_folds: int) -> tuple[FeatureUnion, LogisticRegression, float]:
        vectorizer = FeatureUnion([
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode", min_df=1)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                      strip_accents="unicode", min_df=2)),
            ("cues", CountVectorizer(token_pattern=r"\bcue[a-z]+\b", binary=True, lowercase=False)),
        ])
        y = np.asarray(labels)
        # One BLAS thread: L-BFGS on ~500k weights runs 2-3x slower when its threads share two busy cores.
        with threadpool_limits(limits=1):
            x = vectorizer.fit_transform([self._features(t) for t in texts])
            model = self._fit(x, y)
            # The vocabulary is fitted once; only the regression is refitted per fold (that is the cost).
            temperature = 1.0 if calibration_folds < 2 else fit_temperature(
                cross_val_logits(self._fit, x, y, model.classes_, calibration_folds), y, model.classes_)
        return vectorizer, model, temperature

    @staticmethod
    def _fit(x: Any, y: Any) -> LogisticRegression:
        return LogisticRegression(C=30.0, max_iter=3000, class_weight="balanced").fit(x, y)

    @staticmethod
    def _load(training: Path) -> tuple[list[str], list[str]]:
        """One ``.jsonl`` file, or every ``.jsonl`` file of a folder."""
        files = sorted(training.glob("*.jsonl")) if training.is_dir() else [training]
        if not files:
            raise ConfigError(f"{training}: no training data (*.jsonl)")
        texts: list[str] = []
        labels: list[str] = []
        for path in files:
            EmbeddedClassifier._load_file(path, texts, labels)
        if len(set(labels)) < 2:
            raise ConfigError(f"{training}: training data needs at least two intents")
        return texts, labels

    @staticmethod
    def _load_file(path: Path, texts: list[str], labels: list[str]) -> None:
        valid = {i.value for i in Intent}
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise ConfigError(f"{path}: cannot read training data: {e.strerror}") from None
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, intent = str(row["text"]), str(row["intent"])
            except (ValueError, KeyError, TypeError):
                raise ConfigError(f"{path}: line {n}: needs JSON with 'text' and 'intent'") from None
            if intent not in valid:
                raise ConfigError(f"{path}: line {n}: field intent: unknown intent {intent!r}")
            texts.append(text)
            labels.append(intent)

    def _features(self, text: str, cues_of_text: list[str] | None = None) -> str:
        """``cues_of_text``: the cues of ``text`` when the caller has them (reused if no signature is cut)."""
        stripped = strip_signature(text)
        found = cues_of_text if cues_of_text is not None and stripped == text else self.cues(stripped)
        text = stripped
        tokens = " ".join(f"cue{name.replace('_', '')}" for name in found)
        return f"{normalise(text)} {tokens}" if tokens else normalise(text)

    def language(self, text: str) -> str:
        return self._language(_PLACEHOLDER.sub(" ", text))

    def probabilities(self, masked_text: str, cues: list[str] | None = None) -> tuple[dict[str, float],
                                                                                    dict[str, float]]:
        """Calibrated and raw class probabilities of one masked text."""
        logits = self._linear.logits(self._features(masked_text, cues))
        cal = calibrated(logits, self.temperature)
        raw = calibrated(logits, 1.0)
        return ({c: float(p) for c, p in zip(self.classes, cal, strict=True)},
                {c: float(p) for c, p in zip(self.classes, raw, strict=True)})

    def classify(self, email: ParsedEmail, masked_text: str) -> Classification:
        language = self.language(masked_text)
        cues = self.cues(masked_text)
        probs, raw = self.probabilities(masked_text, cues)
        scores = {c: round(p, 4) for c, p in probs.items()}
        rule = structural_auto_reply(email)
        if rule is not None:
            return Classification(intent=Intent.AUTO_REPLY, confidence=0.99, language=language,
                                  engine=self.version, scores=scores, rule=rule, cues=cues)
        # the secondary threshold was tuned on the uncalibrated distribution, so it reads that one
        ranked = sorted(raw.items(), key=lambda kv: kv[1], reverse=True)
        top = ranked[0][0]
        secondary = [Intent(i) for i, p in ranked[1:3]
                     if p >= self._secondary_threshold and i not in (Intent.AUTO_REPLY, Intent.OTHER)]
        return Classification(intent=Intent(top), confidence=scores[top], secondary=secondary, language=language,
                              engine=self.version, scores=scores, cues=cues)
