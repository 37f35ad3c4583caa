"""`arinbox eval CORPUS_DIR`: a fresh temporary database, the corpus ledger imported, every
labelled email run through the real graph under the policy, then scored."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select

from arinbox.domain.errors import ConfigError
from arinbox.domain.ports import Ledger, RawMail
from arinbox.evaluation.labels import Label, load_labels
from arinbox.evaluation.scoring import Prediction, Report, score
from arinbox.ledger.csv_import import import_ledger
from arinbox.persistence import models as m
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.settings import Settings


class CorpusSource:
    """Yields the labelled emails, keyed by their path relative to the corpus."""

    kind = "corpus"

    def __init__(self, corpus: Path, labels: list[Label]) -> None:
        self.corpus, self.labels = corpus, labels
        self.name, self.address = f"eval:{corpus.name}", "ar@eval.invalid"

    def fetch(self) -> Iterator[RawMail]:
        for label in self.labels:
            path = self.corpus / label.file
            if not path.is_file():
                raise ConfigError(f"{self.corpus / 'labels.jsonl'}: {label.file} does not exist")
            yield RawMail(label.file, path.read_bytes())

    def acknowledge(self, source_key: str) -> None:
        """A corpus on disk keeps no cursor."""

    def settle(self, source_key: str, outcome: str) -> None:
        """Nothing to move: the corpus is read-only."""


def orders_as_order_numbers(labels: list[Label], ledger: Ledger) -> list[Label]:
    """EVAL_FORMAT lets a label name an order by its order or its PO number; score both as the order."""
    by_po = {o.po_number: o.order_number for o in ledger.orders() if o.po_number}
    return [label.model_copy(update={"orders": list(dict.fromkeys(by_po.get(o, o) for o in label.orders))})
            if label.orders else label for label in labels]


def run_eval(corpus: Path, base: Settings, policy_file: Path | None = None,
             on_progress: Callable[[int, int], None] | None = None, keep_dir: Path | None = None) -> Report:
    """Score a labelled corpus through the real graph in a fresh database: a temporary one, or one in
    ``keep_dir`` (which must not hold one yet) to inspect or backtest afterwards."""
    labels = load_labels(corpus / "labels.jsonl")
    if keep_dir is not None:
        keep_dir.mkdir(parents=True, exist_ok=True)
        if (keep_dir / "eval.sqlite").exists():
            raise ConfigError(f"{keep_dir / 'eval.sqlite'} exists: keep each evaluation in a new folder")
    with contextlib.ExitStack() as stack:
        tmp = str(keep_dir) if keep_dir is not None else stack.enter_context(
            tempfile.TemporaryDirectory(prefix="arinbox-eval-"))
        settings = base.model_copy(update={
            "database_url": f"sqlite:///{Path(tmp) / 'eval.sqlite'}", "checkpoint_url": "",
            "outbox_dir": Path(tmp) / "outbox", "vault_key": SecretStr(Fernet.generate_key().decode()),
        })
        with App(settings, policy_file) as app:
            import_ledger(corpus / "ledger", app.sessions)
            labels = orders_as_order_numbers(labels, app.ledger)
            ingest(CorpusSource(corpus, labels), app.sessions, kind="corpus")
            processor = app.processor
            ids = processor.runnable_ids()
            started = time.perf_counter()
            for n, wi in enumerate(ids, start=1):
                processor.run(wi)
                if on_progress:
                    on_progress(n, len(ids))
            wall = time.perf_counter() - started
            predictions = list(_predictions(app))
    return score(labels, predictions, wall)


def _predictions(app: App) -> Iterator[Prediction]:
    with app.sessions() as s:
        rows = s.execute(select(m.WorkItem, m.RawMessage.source_key)
                         .join(m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id))
        for item, key in rows:
            o = item.outcome or {}
            failed = item.status == "failed"
            yield Prediction.model_validate({
                **{k: v for k, v in o.items() if k in Prediction.model_fields},
                "file": key, "failed": failed, "human_step": bool(o.get("human_step")) or failed,
                "duration_ms": item.duration_ms or 0.0,
            })
