from __future__ import annotations

import numpy as np
import pytest

from arinbox.agents.calibration import calibrated, fit_temperature, reliability
from arinbox.agents.model_cache import default_cache_dir
from arinbox.domain.models import ParsedEmail
from arinbox.service.bootstrap import embedded_classifier
from tests.conftest import ROOT

TRAINING = ROOT / "agents" / "training"
CUES = ROOT / "agents" / "intent_cues.yaml"


def test_temperature_recovers_the_scale_of_overly_flat_logits() -> None:
    rng = np.random.default_rng(7)
    classes = np.array(["a", "b", "c"])
    true_logits = rng.normal(0, 3, size=(4000, 3))
    y = np.array([classes[rng.choice(3, p=p)] for p in calibrated(true_logits, 1.0)])
    # a model whose logits are half as large as they should be is under-confident; T must be ~0.5
    assert fit_temperature(true_logits / 2, y, classes) == pytest.approx(0.5, abs=0.05)


def test_reliability_bins_and_thresholds() -> None:
    r = reliability([0.95, 0.95, 0.55, 0.55], [True, True, True, False])
    # bins: 0.95 -> accuracy 1.0 (gap 0.05), 0.55 -> accuracy 0.5 (gap 0.05)
    assert r.ece == pytest.approx(0.05)
    assert r.accuracy == 0.75
    assert r.above[0.6] == (0.5, 1.0)
    assert r.above[0.8] == (0.5, 1.0)


def test_confidence_is_calibrated_and_keeps_the_ranking() -> None:
    clf = embedded_classifier(TRAINING, CUES, default_cache_dir())
    # fitted on cross-validated training logits; an under-confident TF-IDF model needs T < 1
    assert 0.2 < clf.temperature < 1.0
    email = ParsedEmail(message_id="<x@example.com>", subject="", sender="a@example.com", sender_name="",
                        body="", newest="")
    text = ("Payment of invoices\nDear team, please find below the payment we made today by wire transfer "
            "for invoices INV-2026-004512 and INV-2026-004513, total 2,480.00 USD. Kind regards")
    calibrated_probs, raw = clf.probabilities(text)
    assert max(calibrated_probs, key=calibrated_probs.__getitem__) == max(raw, key=raw.__getitem__)
    assert max(calibrated_probs.values()) > max(raw.values())
    result = clf.classify(email, text)
    assert result.confidence == pytest.approx(max(calibrated_probs.values()), abs=1e-4)
    assert result.engine.endswith(f":t{clf.temperature:.2f}")
