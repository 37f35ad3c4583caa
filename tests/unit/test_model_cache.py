from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from arinbox.agents import model_cache
from arinbox.agents.classifier import EmbeddedClassifier
from tests.conftest import ROOT

CUES = ROOT / "agents" / "intent_cues.yaml"
EXAMPLES = {
    "remittance_advice": ["we paid invoice 123 today, remittance attached", "payment sent for invoices 1 and 2",
                          "remittance advice: transfer of 500.00 made"],
    "dispute": ["invoice 123 is wrong, we were overcharged", "the goods arrived damaged, we dispute the invoice",
                "price on invoice does not match the PO"],
    "invoice_request": ["please send a copy of invoice 123", "can you resend the invoice pdf",
                        "we cannot find invoice 77, please send it again"],
}


def _training(folder: Path) -> Path:
    folder.mkdir()
    lines = [json.dumps({"text": t, "intent": i}) for i, ts in EXAMPLES.items() for t in ts]
    (folder / "small.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def _classifier(training: Path, cache: Path | None) -> EmbeddedClassifier:
    return EmbeddedClassifier(training, CUES, calibration_folds=1, cache_dir=cache)


def test_a_second_process_reads_the_fit_instead_of_fitting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    training, cache = _training(tmp_path / "training"), tmp_path / "cache"
    first = _classifier(training, cache)
    assert len(list(cache.glob("*.pickle"))) == 1
    assert oct(cache.stat().st_mode & 0o777) == oct(0o700)

    def no_fit(*_: Any) -> Any:
        raise AssertionError("fitted again although the cache holds this fit")

    monkeypatch.setattr(EmbeddedClassifier, "_train", no_fit)
    second = _classifier(training, cache)
    text = "please send a copy of invoice 991"
    assert second.probabilities(text) == first.probabilities(text)
    assert second.version == first.version


def test_changed_training_data_is_fitted_again(tmp_path: Path) -> None:
    training, cache = _training(tmp_path / "training"), tmp_path / "cache"
    before = _classifier(training, cache)
    with (training / "small.jsonl").open("a") as f:
        f.write(json.dumps({"text": "the invoice total is disputed", "intent": "dispute"}) + "\n")
    after = _classifier(training, cache)
    assert len(list(cache.glob("*.pickle"))) == 2
    assert after.version != before.version  # the example count is part of the version


def test_broken_or_foreign_entries_are_misses(tmp_path: Path) -> None:
    training, cache = _training(tmp_path / "training"), tmp_path / "cache"
    reference = _classifier(training, cache)
    entry = next(cache.glob("*.pickle"))
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    assert _classifier(training, cache).probabilities("x") == reference.probabilities("x")

    model_cache.store(cache, entry.stem, {"not": "a model"})  # readable, but not a fit
    assert _classifier(training, cache).probabilities("x") == reference.probabilities("x")


def test_a_folder_others_may_write_to_is_not_used(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    model_cache.store(shared, "k", [1, 2, 3])
    assert list(shared.iterdir()) == []
    (shared / "k.pickle").write_bytes(b"planted")
    assert model_cache.load(shared, "k") is None


def test_only_the_newest_entries_are_kept(tmp_path: Path) -> None:
    for i in range(6):
        model_cache.store(tmp_path / "c", f"k{i}", i, keep=3)
        os.utime(tmp_path / "c" / f"k{i}.pickle", (1000 + i, 1000 + i))
    assert sorted(p.stem for p in (tmp_path / "c").glob("*.pickle")) == ["k3", "k4", "k5"]
    assert model_cache.load(tmp_path / "c", "k5") == 5
