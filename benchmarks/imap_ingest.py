"""IMAP ingest throughput: the adapter against a bare imapclient loop over the same messages.

Starts the test Dovecot (tests/support/dovecot.py), loads N messages into one INBOX, then per round:

After one untimed read (the server builds its caches), bare and adapter alternate in going first:
- bare:    one IMAPClient, ``UID SEARCH``, ``UID FETCH BODY.PEEK[]`` in batches; nothing stored;
- adapter: ``ImapMailbox.fetch`` + ``acknowledge`` with its cursor in SQLite (SqlSyncState), a fresh
           database each round;
- ingest:  the whole ``ingest()`` into a fresh SQLite database (parse, store, trace), for scale.

    .venv/bin/python benchmarks/imap_ingest.py --messages 5000 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arinbox.connectors.imap import ImapMailbox  # noqa: E402
from arinbox.persistence.db import make_engine, make_session_factory, upgrade  # noqa: E402
from arinbox.persistence.sync_state import SqlSyncState  # noqa: E402
from arinbox.service.ingest import ingest  # noqa: E402
from tests.support.dovecot import Dovecot  # noqa: E402

BATCH = 200
BODY = ("Hello,\r\n\r\nPlease find below our remittance advice for payment {n}.\r\n\r\n"
        + "".join(f"INV-{1000 + i:05d}    {i * 37 % 900 + 100:>8}.50 EUR    paid in full\r\n" for i in range(25))
        + "\r\nTotal as per bank transfer. Kind regards,\r\nAccounts Payable\r\nCustomer GmbH\r\n")


def message(n: int) -> bytes:
    return (f"From: Accounts Payable <ap@customer.example>\r\nTo: ar@brightwater-supply.example\r\n"
            f"Subject: Remittance advice {n}\r\nMessage-ID: <bench-{n}@customer.example>\r\n"
            f"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n" + BODY.format(n=n)).encode()


def load(server: Dovecot, user: str, count: int) -> None:
    with server.client(user) as c:
        for start in range(0, count, 500):
            c.multiappend("INBOX", [message(n) for n in range(start, min(start + 500, count))])


def bare(server: Dovecot, user: str) -> int:
    with server.client(user) as c:
        c.select_folder("INBOX")
        uids = sorted(c.search(["UID", "1:*"]))
        n = 0
        for i in range(0, len(uids), BATCH):
            n += sum(1 for d in c.fetch(uids[i:i + BATCH], ["BODY.PEEK[]"]).values() if d.get(b"BODY[]"))
        return n


def _sessions(folder: Path, name: str):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{folder / name}.sqlite")
    upgrade(engine)
    return engine, make_session_factory(engine)


def adapter(box: ImapMailbox) -> int:
    n = 0
    with box:
        for raw in box.fetch():
            box.acknowledge(raw.source_key)
            n += 1
    return n


def full_ingest(box: ImapMailbox, sessions) -> int:  # type: ignore[no-untyped-def]
    with box:
        return ingest(box, sessions, kind="imap").new


CPU: dict[str, list[float]] = {"bare": [], "adapter": []}


def timed(fn, *args) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    n = fn(*args)
    return n, time.perf_counter() - started


def cpu_timed(kind: str, fn, *args) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """Wall time, and this process's CPU time kept in CPU: the server's share and the machine's
    other work (which swing the wall times of a shared machine) stay out of the CPU figure."""
    cpu = time.process_time()
    n, secs = timed(fn, *args)
    CPU[kind].append(time.process_time() - cpu)
    return n, secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--ingest-rounds", type=int, default=1, help="rounds of the full ingest (slower)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    server = Dovecot()
    server.start()
    try:
        user = server.new_user()
        secrets = server.base / "secrets"
        secrets.mkdir()
        load_s = timed(load, server, user, args.messages)[1]
        bare(server, user)  # the server builds its index caches on the first full read: not timed
        config = server.mailbox_config(user, secrets)
        rates: dict[str, list[float]] = {"bare": [], "adapter": [], "ingest": []}
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds + args.ingest_rounds):
                # a fresh database each round, migrated before the clock starts
                engine, sessions = _sessions(Path(tmp), f"round{r}")
                box = ImapMailbox(config, SqlSyncState(sessions, config.name), batch_size=BATCH)
                if r < args.rounds:  # bare and adapter interleaved, so a busy machine slows both alike;
                    # which goes first alternates, since the server answers a second pass from warmer caches
                    runs = [("bare", bare, server, user), ("adapter", adapter, box)]
                    for kind, fn, *fn_args in (runs if r % 2 == 0 else runs[::-1]):
                        n, secs = cpu_timed(kind, fn, *fn_args)
                        assert n == args.messages, f"{kind} read {n} of {args.messages}"
                        rates[kind].append(n / secs)
                else:
                    n, secs = timed(full_ingest, box, sessions)
                    assert n == args.messages, f"ingest stored {n} of {args.messages}"
                    rates["ingest"].append(n / secs)
                engine.dispose()
    finally:
        server.close()

    med = {k: statistics.median(v) for k, v in rates.items() if v}
    result = {
        "messages": args.messages, "rounds": args.rounds, "batch_size": BATCH,
        "message_bytes": len(message(0)), "load_seconds": round(load_s, 2),
        "bare_msgs_per_s": round(med["bare"], 1), "adapter_msgs_per_s": round(med["adapter"], 1),
        "ratio_bare_over_adapter": round(med["bare"] / med["adapter"], 3),
        # client CPU seconds per pass: what the adapter adds on this side, free of server and machine noise
        "client_cpu_s": {k: round(statistics.median(v), 3) for k, v in CPU.items()},
        "cpu_ratio_adapter_over_bare": round(statistics.median(CPU["adapter"]) / statistics.median(CPU["bare"]), 3),
        "ingest_msgs_per_s": round(med["ingest"], 1) if "ingest" in med else None,
        "rounds_msgs_per_s": {k: [round(x, 1) for x in v] for k, v in rates.items()},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:>26}: {v}")


if __name__ == "__main__":
    main()
