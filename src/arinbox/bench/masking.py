"""`arinbox bench masking`: stock Presidio against arinbox's masker on the same AR emails.

The emails are the corpus's labelled ones (by default the development eval set) made into
replies of about 1.5 KB: each keeps its own message and quotes earlier corpus emails under a
reply attribution, as a mail client does. Both engines get, per email, the texts the mask node
masks (subject, newest message, attachments, sender line, whole body) and use the same installed
spaCy pipeline. Stock is Presidio's ``AnalyzerEngine`` as it comes: the pipeline's default
components, the default recognizers, every entity, every detection replaced; built offline.

A personal value (label ``pii``) leaks when it is still in the masked subject, body or
attachments, as ``arinbox eval`` counts it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerResult
from presidio_analyzer.nlp_engine import NlpEngineProvider
from threadpoolctl import threadpool_limits

from arinbox.agents.context import LedgerRefs
from arinbox.bench.corpus import corpus_app
from arinbox.domain.errors import ConfigError
from arinbox.domain.models import ParsedEmail
from arinbox.evaluation.labels import load_labels
from arinbox.mail.parse import parse_email
from arinbox.masking.masker import PresidioMasker
from arinbox.settings import Settings

# the size of a typical AR reply with its quoted history
TARGET_CHARS = 1500


@dataclass(frozen=True)
class BenchEmail:
    texts: list[str]  # what the mask node masks, in its order
    scored: list[int]  # indexes of the texts leaks are counted in (subject, attachments, body)
    pii: list[str]
    keep: list[str]


@dataclass(frozen=True)
class MaskingBench:
    emails: int
    rounds: int
    mean_chars: float
    stock_ms_p50: float
    arinbox_ms_p50: float
    stock_leak_rate: float
    arinbox_leak_rate: float
    stock_keep_rate: float
    arinbox_keep_rate: float

    @property
    def speedup(self) -> float:
        return self.stock_ms_p50 / self.arinbox_ms_p50 if self.arinbox_ms_p50 else 0.0

    def as_json(self) -> dict[str, float | int]:
        return {
            "emails": self.emails,
            "stock_ms_p50": round(self.stock_ms_p50, 2),
            "arinbox_ms_p50": round(self.arinbox_ms_p50, 2),
            "speedup": round(self.speedup, 2),
            "stock_leak_rate": round(self.stock_leak_rate, 4),
            "arinbox_leak_rate": round(self.arinbox_leak_rate, 4),
            "stock_keep_rate": round(self.stock_keep_rate, 4),
            "arinbox_keep_rate": round(self.arinbox_keep_rate, 4),
            "rounds": self.rounds,
            "mean_chars": round(self.mean_chars),
        }


def mask_node_texts(email: ParsedEmail) -> tuple[list[str], list[int]]:
    """The texts the mask node masks and the indexes of those the eval scores leaks in."""
    attachments = [a.text or "" for a in email.attachments]
    texts = [email.subject, email.newest, *attachments, f"From: {email.sender_name}", email.body]
    return texts, [0, *range(2, 2 + len(attachments)), len(texts) - 1]


def _reply(email: ParsedEmail, raw: bytes, quoted: Sequence[tuple[ParsedEmail, bytes]]) -> bytes:
    """``email`` as a reply that quotes ``quoted`` below its own text."""
    body = email.body.rstrip()
    for earlier, _ in quoted:
        when = earlier.date.strftime("%a, %d %b %Y at %H:%M") if earlier.date else "an earlier date"
        lines = "\n".join(f"> {line}".rstrip() for line in earlier.body.strip().splitlines())
        body += f"\n\nOn {when}, {earlier.sender_name or earlier.sender} <{earlier.sender}> wrote:\n{lines}"
    message = EmailMessage(policy=SMTP)
    original = parse_email(raw)
    message["From"] = f"{original.sender_name} <{original.sender}>" if original.sender_name else original.sender
    message["To"] = "ar@brightwater-supply.example"
    message["Subject"] = email.subject
    if email.date is not None:
        message["Date"] = email.date.strftime("%a, %d %b %Y %H:%M:%S %z")
    message.set_content(body + "\n")
    return bytes(message)


def load_bench_emails(corpus: Path) -> list[BenchEmail]:
    """The corpus's labelled emails as ~1.5 KB replies."""
    labels = [label for label in load_labels(corpus / "labels.jsonl") if label.pii is not None]
    if not labels:
        raise ConfigError(f"{corpus / 'labels.jsonl'}: no email is labelled with pii")
    originals: list[tuple[ParsedEmail, bytes, list[str], list[str]]] = []
    for label in labels:
        path = corpus / label.file
        if not path.is_file():
            raise ConfigError(f"{corpus / 'labels.jsonl'}: {label.file} does not exist")
        raw = path.read_bytes()
        originals.append((parse_email(raw), raw, list(label.pii or []), list(label.keep or [])))
    emails: list[BenchEmail] = []
    for index, (email, raw, pii, keep) in enumerate(originals):
        quoted: list[tuple[ParsedEmail, bytes]] = []
        size, step = len(email.body), 1
        while size + 400 < TARGET_CHARS and step < len(originals):  # stop near, not past, the size
            earlier, earlier_raw, earlier_pii, earlier_keep = originals[(index + 7 * step) % len(originals)]
            quoted.append((earlier, earlier_raw))
            pii, keep = pii + earlier_pii, keep + earlier_keep
            size += len(earlier.body) + 60
            step += 1
        parsed = parse_email(_reply(email, raw, quoted)) if quoted else email
        # attachments of the original stay with it: the reply is plain text plus the same files
        parsed = parsed.model_copy(update={"attachments": email.attachments})
        texts, scored = mask_node_texts(parsed)
        # a quoted email brings its body only: values of its subject or attachments are not there
        present = "\n".join(texts[i] for i in scored).casefold()
        emails.append(BenchEmail(
            texts, scored, sorted({v for v in pii if v.casefold() in present}),
            sorted({v for v in keep if v.casefold() in present})))
    return emails


def load_masker(corpus: Path, base: Settings) -> tuple[PresidioMasker, list[str]]:
    """arinbox's masker as the application builds it, and the keep terms of the corpus ledger."""
    with corpus_app(corpus, base) as app:
        return app.masker, LedgerRefs.load(app.ledger, (base.company_name,)).keep_terms


@contextmanager
def offline_suffix_list() -> Iterator[None]:
    """Stock Presidio's e-mail recognizer validates through tldextract's shared extractor, which
    downloads the public suffix list on first use; give it the bundled snapshot instead."""
    shared = tldextract.tldextract.TLD_EXTRACTOR
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(
        cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True
    )
    try:
        yield
    finally:
        tldextract.tldextract.TLD_EXTRACTOR = shared


def build_stock_analyzer(model_name: str) -> AnalyzerEngine:
    """Presidio as it comes, on the installed pipeline with all its components."""
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model_name}]})
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])


def stock_mask(analyzer: AnalyzerEngine, texts: Sequence[str]) -> list[str]:
    """Every detection replaced by its entity type, longest first where detections overlap."""
    masked = []
    for text in texts:
        results: list[RecognizerResult] = analyzer.analyze(text=text, language="en")
        chosen: list[RecognizerResult] = []
        for result in sorted(results, key=lambda r: (-(r.end - r.start), -r.score, r.start)):
            if all(result.end <= c.start or c.end <= result.start for c in chosen):
                chosen.append(result)
        for result in sorted(chosen, key=lambda r: r.start, reverse=True):
            text = f"{text[: result.start]}<{result.entity_type}>{text[result.end :]}"
        masked.append(text)
    return masked


def _rates(emails: Sequence[BenchEmail], masked: Sequence[Sequence[str]]) -> tuple[float, float]:
    leaked = pii = kept = keep = 0
    for email, texts in zip(emails, masked, strict=True):
        scored = "\n".join(texts[i] for i in email.scored).casefold()
        pii += len(email.pii)
        leaked += sum(value.casefold() in scored for value in email.pii)
        keep += len(email.keep)
        kept += sum(value.casefold() in scored for value in email.keep)
    return (leaked / pii if pii else 0.0), (kept / keep if keep else 1.0)


def _timed(mask: Callable[[BenchEmail], list[str]], email: BenchEmail, out: list[float]) -> list[str]:
    started = time.perf_counter()
    masked = mask(email)
    out.append((time.perf_counter() - started) * 1000)
    return masked


def bench_masking(
    corpus: list[BenchEmail], keep_terms: list[str], stock: AnalyzerEngine, masker: PresidioMasker,
    emails: int, rounds: int,
) -> MaskingBench:
    if emails < 1 or rounds < 1:
        raise ConfigError("--emails and --rounds must be at least 1")
    chosen = [corpus[n % len(corpus)] for n in range(emails)]

    def run_stock(email: BenchEmail) -> list[str]:
        return stock_mask(stock, email.texts)

    def run_arinbox(email: BenchEmail) -> list[str]:
        return [result.text for result in masker.mask(email.texts, keep_terms)]

    stock_p50: list[float] = []
    arinbox_p50: list[float] = []
    with offline_suffix_list(), threadpool_limits(limits=1):  # one core for both
        run_stock(chosen[0])  # load lazily built parts outside the timing
        run_arinbox(chosen[0])
        for _ in range(rounds):
            stock_ms: list[float] = []
            arinbox_ms: list[float] = []
            stock_out: list[list[str]] = []
            arinbox_out: list[list[str]] = []
            for email in chosen:  # interleaved, so both see the same load on a shared machine
                stock_out.append(_timed(run_stock, email, stock_ms))
                arinbox_out.append(_timed(run_arinbox, email, arinbox_ms))
            stock_p50.append(statistics.median(stock_ms))
            arinbox_p50.append(statistics.median(arinbox_ms))
    stock_leak, stock_keep = _rates(chosen, stock_out)
    arinbox_leak, arinbox_keep = _rates(chosen, arinbox_out)
    return MaskingBench(
        emails=emails,
        rounds=rounds,
        mean_chars=statistics.mean(len(email.texts[-1]) for email in chosen),
        stock_ms_p50=statistics.median(stock_p50),
        arinbox_ms_p50=statistics.median(arinbox_p50),
        stock_leak_rate=stock_leak,
        arinbox_leak_rate=arinbox_leak,
        stock_keep_rate=stock_keep,
        arinbox_keep_rate=arinbox_keep,
    )


def run(corpus: Path, settings: Settings, emails: int, rounds: int) -> MaskingBench:
    """Load the corpus and both engines, then measure."""
    bench_emails = load_bench_emails(corpus)
    masker, keep_terms = load_masker(corpus, settings)
    stock = build_stock_analyzer(settings.spacy_model)
    return bench_masking(bench_emails, keep_terms, stock, masker, emails, rounds)


def render(result: MaskingBench, corpus: Path) -> str:
    return (
        f"masking on {result.emails} replies from {corpus.name} (~{result.mean_chars:.0f} chars), "
        f"median of {result.rounds} rounds: stock Presidio p50 {result.stock_ms_p50:.1f} ms, "
        f"arinbox p50 {result.arinbox_ms_p50:.1f} ms, {result.speedup:.1f}x faster; "
        f"leaked stock {result.stock_leak_rate:.1%} / arinbox {result.arinbox_leak_rate:.1%}; "
        f"business values kept stock {result.stock_keep_rate:.1%} / arinbox {result.arinbox_keep_rate:.1%}"
    )
