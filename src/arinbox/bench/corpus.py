"""A labelled corpus's ledger in a throw-away database, for benchmarks that need the application's
own adapters (masker, ledger references) without touching the configured database."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import SecretStr

from arinbox.ledger.csv_import import import_ledger
from arinbox.service.bootstrap import App
from arinbox.settings import Settings


@contextmanager
def corpus_app(corpus: Path, base: Settings) -> Iterator[App]:
    """An ``App`` on a temporary SQLite database holding ``corpus/ledger``; gone on exit."""
    with tempfile.TemporaryDirectory(prefix="arinbox-bench-") as tmp:
        settings = base.model_copy(update={
            "database_url": f"sqlite:///{Path(tmp) / 'bench.sqlite'}", "checkpoint_url": "",
            "vault_key": SecretStr(Fernet.generate_key().decode())})
        with App(settings) as app:
            import_ledger(corpus / "ledger", app.sessions)
            yield app
