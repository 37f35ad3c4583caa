"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is the machine's server (``scripts/system-deps.sh`` installs and starts it); each test
gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from arinbox.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"
PG_ADMIN = os.environ.get("ARINBOX_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_available() -> str:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as e:  # never skip: the setup must provide the server
        pytest.fail(f"PostgreSQL is required by the suite and is not reachable ({PG_ADMIN}): {e}")
    return PG_ADMIN


def _new_pg_database(admin: str) -> tuple[str, str]:
    name = f"arinbox_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def _drop_pg_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'arinbox.sqlite'}"
        return
    admin = request.getfixturevalue("pg_available")
    name, url = _new_pg_database(admin)
    try:
        yield url
    finally:
        _drop_pg_database(admin, name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        outbox_dir=tmp_path / "outbox",
        vault_key=SecretStr(Fernet.generate_key().decode()),
        vault_key_file=tmp_path / "vault.key",
    )


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Any]:
    """A real Dovecot on loopback for the whole session (``scripts/system-deps.sh`` installs it);
    each test takes a user of its own with ``dovecot.new_user()``."""
    from tests.support.dovecot import Dovecot

    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.close()
