"""Time the console's approval-queue page with 10,000 pending approvals in a SQLite database.

Seeds the approvals straight into a fresh database (no models run), logs in through the console and
GETs the queue page through the ASGI app, several times per variant; prints one JSON object with the
median and worst time per variant in milliseconds.

    .venv/bin/python benchmarks/console_queue.py [--approvals 10000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support holds the seeder

from arinbox.service.bootstrap import App  # noqa: E402
from arinbox.service.users import add_user  # noqa: E402
from arinbox.settings import ConsoleSettings, Settings  # noqa: E402
from arinbox.web import create_app  # noqa: E402
from tests.support.console_seed import seed_queue  # noqa: E402

VARIANTS = {
    "oldest first, page 1": "/queue",
    "largest amount first": "/queue?sort=amount_desc",
    "high tier, customer name": "/queue?tier=high&customer=acme",
    "page 150": "/queue?page=150",
    "API, page 1": "/api/approvals",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approvals", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = Settings(database_url=f"sqlite:///{folder / 'bench.sqlite'}", outbox_dir=folder / "outbox",
                            vault_key=SecretStr(Fernet.generate_key().decode()),
                            console=ConsoleSettings(secret_key=SecretStr("b" * 40)))
        with App(settings) as app:
            started = time.perf_counter()
            seed_queue(app.sessions, args.approvals)
            seeded_s = time.perf_counter() - started
            add_user(app.sessions, "bench", "approver", password="bench-password")
            client = TestClient(create_app(app))
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            assert token is not None
            client.post("/login", data={"username": "bench", "password": "bench-password",
                                        "csrf_token": token.group(1)})
            results = {}
            for name, path in VARIANTS.items():
                times = []
                for _ in range(args.runs + 1):  # the first run warms caches and is not counted
                    t0 = time.perf_counter()
                    response = client.get(path)
                    times.append((time.perf_counter() - t0) * 1000)
                    if response.status_code != 200:
                        raise SystemExit(f"{path}: HTTP {response.status_code}")
                results[name] = {"median_ms": round(statistics.median(times[1:]), 1),
                                 "max_ms": round(max(times[1:]), 1)}
            print(json.dumps({"approvals": args.approvals, "runs": args.runs, "seed_seconds": round(seeded_s, 1),
                              "database": "sqlite", "pages": results, "budget_ms": 200,
                              "within_budget": all(r["median_ms"] < 200 for r in results.values())}, indent=2))


if __name__ == "__main__":
    main()
