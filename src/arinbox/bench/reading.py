"""`arinbox bench reading`: the embedded classify-and-extract stage on already-masked text.

The corpus (by default the development eval set) is imported into a temporary database and masked
once, untimed, exactly as the mask node does it; then the classifier and the extraction run on the
masked texts the way the graph calls them, repeated to the requested number of emails.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from arinbox.agents.calibration import Reliability, reliability
from arinbox.agents.classifier import EmbeddedClassifier
from arinbox.agents.context import LedgerRefs
from arinbox.agents.extract import extract
from arinbox.bench.corpus import corpus_app
from arinbox.domain.errors import ConfigError, MailParseError
from arinbox.domain.models import Intent, ParsedEmail
from arinbox.evaluation.labels import load_labels
from arinbox.mail.parse import parse_email
from arinbox.service.bootstrap import embedded_classifier
from arinbox.settings import Settings


@dataclass(frozen=True)
class MaskedEmail:
    """One corpus email after the mask node: structure only, and the masked texts."""

    file: str
    intent: Intent  # the label
    email: ParsedEmail  # subject replaced by the masked one, no unmasked body
    classify_text: str  # subject and newest message
    extract_text: str  # plus attachment texts


@dataclass(frozen=True)
class MaskedCorpus:
    emails: list[MaskedEmail]
    refs: LedgerRefs
    company_name: str


@dataclass(frozen=True)
class ReadingBench:
    emails: int
    seconds: float
    cpu_seconds: float  # this process's CPU time: the figure that holds on a machine shared with other work
    p50_ms: float
    p95_ms: float
    train_seconds: float
    reliability: Reliability  # of the classifier's confidence on the corpus emails, each read once

    @property
    def emails_per_second(self) -> float:
        return self.emails / self.seconds if self.seconds else 0.0

    @property
    def emails_per_cpu_second(self) -> float:
        return self.emails / self.cpu_seconds if self.cpu_seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"emails": self.emails, "emails_per_second": round(self.emails_per_second, 1),
                "emails_per_cpu_second": round(self.emails_per_cpu_second, 1),
                "p50_ms": round(self.p50_ms, 3), "p95_ms": round(self.p95_ms, 3),
                "train_seconds": round(self.train_seconds, 2), "confidence": self.reliability.as_json()}


def mask_corpus(corpus: Path, base: Settings) -> MaskedCorpus:
    """Mask every labelled email of ``corpus`` with its own ledger's keep list, as the mask node does."""
    labels = load_labels(corpus / "labels.jsonl")
    with corpus_app(corpus, base) as app:
        refs = LedgerRefs.load(app.ledger, (base.company_name,))
        emails = []
        for label in labels:
            path = corpus / label.file
            if not path.is_file():
                raise ConfigError(f"{corpus / 'labels.jsonl'}: {label.file} does not exist")
            try:
                parsed = parse_email(path.read_bytes())
            except MailParseError:
                continue  # the graph stores it as failed; there is nothing to read
            attachments = [a.text or "" for a in parsed.attachments]
            masked = app.masker.mask([parsed.subject, parsed.newest, *attachments], refs.keep_terms)
            subject, newest = masked[0].text, masked[1].text
            structure = parsed.model_copy(update={"subject": subject, "sender_name": "", "body": "",
                                                  "newest": "", "attachments": []})
            emails.append(MaskedEmail(
                label.file, label.intent, structure, f"{subject}\n{newest}",
                "\n".join([subject, newest, *(r.text for r in masked[2:] if r.text)])))
    return MaskedCorpus(emails, refs, base.company_name)


def read_one(classifier: EmbeddedClassifier, corpus: MaskedCorpus, item: MaskedEmail) -> None:
    """The classify and extract nodes' work for one email, without the trace writes."""
    cls = classifier.classify(item.email, item.classify_text)
    refs = corpus.refs
    extract(item.extract_text, item.email.sender, item.email.date, cls.language, refs.customers, refs.invoices,
            refs.orders, refs.index, own_names=(corpus.company_name,), intent=cls.intent)


def bench_reading(corpus: MaskedCorpus, settings: Settings, emails: int) -> ReadingBench:
    if not corpus.emails:
        raise ConfigError("the corpus has no labelled emails")
    if emails < 1:
        raise ConfigError("--emails must be at least 1")
    root = settings.data_root
    started = time.perf_counter()
    classifier = embedded_classifier(root / "agents" / "training", root / "agents" / "intent_cues.yaml")
    train_seconds = time.perf_counter() - started
    read_one(classifier, corpus, corpus.emails[0])  # warm caches (lexicon, regexes) outside the timing
    durations: list[float] = []
    with threadpool_limits(limits=1):  # one core: numeric libraries must not fan out
        wall, cpu = time.perf_counter(), time.process_time()
        for n in range(emails):
            t = time.perf_counter()
            read_one(classifier, corpus, corpus.emails[n % len(corpus.emails)])
            durations.append((time.perf_counter() - t) * 1000)
        seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    durations.sort()
    return ReadingBench(emails, seconds, cpu_seconds, statistics.median(durations),
                        durations[min(len(durations) - 1, int(0.95 * len(durations)))], train_seconds,
                        confidence_reliability(classifier, corpus))


def confidence_reliability(classifier: EmbeddedClassifier, corpus: MaskedCorpus) -> Reliability:
    """Is the confidence a probability? Compared with the labels of the corpus, each email once."""
    results = [(classifier.classify(e.email, e.classify_text), e.intent) for e in corpus.emails]
    return reliability([r.confidence for r, _ in results], [r.intent is truth for r, truth in results])


def run(corpus: Path, settings: Settings, emails: int) -> ReadingBench:
    """Mask the corpus (untimed), train the classifier (timed apart), then measure."""
    return bench_reading(mask_corpus(corpus, settings), settings, emails)


def render(result: ReadingBench, corpus: Path) -> str:
    return (f"reading (embedded classify + extract, masked text) on {corpus.name}: {result.emails} emails in "
            f"{result.seconds:.2f} s = {result.emails_per_second:.0f} emails/s "
            f"({result.emails_per_cpu_second:.0f} per CPU second); p50 {result.p50_ms:.2f} ms, "
            f"p95 {result.p95_ms:.2f} ms; classifier training at start-up {result.train_seconds:.2f} s\n"
            f"intent confidence on {result.reliability.emails} emails: {result.reliability.render()}")
