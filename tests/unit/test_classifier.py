from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from arinbox.agents.classifier import EmbeddedClassifier, structural_auto_reply
from arinbox.agents.model_cache import default_cache_dir
from arinbox.domain.errors import ConfigError
from arinbox.domain.models import Intent
from arinbox.mail.parse import parse_email
from arinbox.service.bootstrap import embedded_classifier
from tests.conftest import ROOT, SHARED_FIXTURES

TRAINING = ROOT / "agents" / "training"
CUES = ROOT / "agents" / "intent_cues.yaml"


def _clf() -> EmbeddedClassifier:
    return embedded_classifier(TRAINING, CUES, default_cache_dir())


RFC3834 = sorted((SHARED_FIXTURES / "mime" / "autoreply-rfc3834").glob("*.eml"))


@pytest.mark.parametrize("path", RFC3834, ids=lambda p: p.name)
def test_real_auto_replies_are_never_work(path: Path) -> None:
    email = parse_email(path.read_bytes())
    result = _clf().classify(email, f"{email.subject}\n{email.newest}")
    assert result.intent is Intent.AUTO_REPLY


def test_auto_generated_payment_advice_is_left_to_the_model() -> None:
    raw = (b"From: ap@example.com\r\nTo: ar@example.com\r\nSubject: Payment advice 2000048812\r\n"
           b"Auto-Submitted: auto-generated\r\nMessage-ID: <x@example.com>\r\n\r\n"
           b"The following payment has been made by wire transfer: INV-1001 1,250.00 USD.\r\n")
    email = parse_email(raw)
    assert structural_auto_reply(email) is None
    result = _clf().classify(email, f"{email.subject}\n{email.newest}")
    assert result.intent is Intent.REMITTANCE_ADVICE


@pytest.mark.parametrize(("text", "intent", "language"), [
    ("Payment sent\nWe wired $4,830.00 today for invoice 1043.", Intent.REMITTANCE_ADVICE, "en"),
    ("Rechnung 4512\nBitte senden Sie uns eine Kopie der Rechnung 4512.", Intent.INVOICE_REQUEST, "de"),
    ("Commande\nOù en est notre commande 10432 ? Avez-vous un numéro de suivi ?", Intent.ORDER_INQUIRY, "fr"),
    ("Factura\nPagaremos la factura 2026-77 el 30/11 mediante transferencia.", Intent.PROMISE_TO_PAY, "es"),
])
def test_intents_in_four_languages(text: str, intent: Intent, language: str) -> None:
    email = parse_email(b"From: a@example.com\r\nSubject: x\r\n\r\nx\r\n")
    result = _clf().classify(email, text)
    assert (result.intent, result.language) == (intent, language)
    assert 0 < result.confidence <= 1 and abs(sum(result.scores.values()) - 1) < 0.01


def test_bad_training_line_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "t.jsonl"
    bad.write_text('{"text": "hi", "intent": "other"}\n{"text": "x", "intent": "gossip"}\n')
    with pytest.raises(ConfigError, match=r"t.jsonl: line 2: field intent"):
        embedded_classifier(bad, CUES)


def test_bad_cue_pattern_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "cues.yaml"
    bad.write_text("promise:\n  - '(unclosed'\n")
    with pytest.raises(ConfigError, match=r"cues.yaml: line 1: .*promise: pattern '\(unclosed' does not compile"):
        embedded_classifier(TRAINING, bad)


def test_the_single_text_path_computes_what_sklearn_computes() -> None:
    clf = _clf()
    texts = [json.loads(line)["text"] for line in (TRAINING / "intents.jsonl").read_text().splitlines()[::40]]
    texts += ["", "Rechnung <PERSON_1> Überweisung 4.830,00 €", "ÀÉÎÕÜ ñ ß"]
    features = [clf._features(t) for t in texts]
    expected = clf._model.decision_function(clf._vectorizer.transform(features))
    got = np.array([clf._linear.logits(f) for f in features])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
