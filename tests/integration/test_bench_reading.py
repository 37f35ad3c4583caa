"""`arinbox bench reading` on the mini corpus: masked once, then classify + extract timed."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from arinbox.bench.reading import bench_reading, mask_corpus, render
from arinbox.cli import app
from arinbox.settings import Settings
from tests.conftest import DATA

MINI = DATA / "mini"


def test_reading_bench_masks_first_and_measures_classify_and_extract() -> None:
    corpus = mask_corpus(MINI, Settings())
    assert len(corpus.emails) == 7  # broken.eml does not parse: nothing to read
    remit = next(e for e in corpus.emails if e.file.endswith("remit-exact.eml"))
    assert "Dana Reyes" not in remit.extract_text and "INV-2026-004512" in remit.extract_text
    result = bench_reading(corpus, Settings(), 30)
    assert result.emails == 30 and result.emails_per_second > 0 and 0 < result.p50_ms <= result.p95_ms
    assert result.reliability.emails == 7 and 0 <= result.reliability.ece <= 1
    assert "emails/s" in render(result, MINI)


def test_bench_reading_command_prints_json() -> None:
    out = CliRunner().invoke(app, ["bench", "reading", "--emails", "10", "--corpus", str(MINI), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["emails"] == 10 and data["confidence"]["emails"] == 7
    assert {"emails_per_second", "emails_per_cpu_second", "p50_ms", "p95_ms", "train_seconds"} <= set(data)
