"""`arinbox bench matching`: cash application against a large synthetic ledger.

A ledger of N open invoices over M customers (invoices per customer drawn long-tailed, as real AR
books are: most customers hold a dozen items, a few hold hundreds; some bill the same amount every
month) is written to a temporary SQLite database through the ledger's own tables. Remittances of
1-50 lines are generated from it with their truth, each of one customer, in a mix of kinds:

- exact      the invoice number as we write it, the open amount paid;
- mangled    the number as customers write it (``4512``, ``inv4512``, ``2026/4512``, no dashes,
             lower case, one character wrong);
- partial    part of the open amount;
- discount   a 2 % cash discount taken, stated on the line or not;
- amount     no lines, only a total equal to one to three of the customer's open invoices.

The timed step per remittance is what the pipeline does after extraction: the lines' references
resolved against the ledger's numbering, the customer's open invoices read from the ledger (SQL,
through the ledger adapter), mistyped references corroborated by amount, and ``cash.match``.
Allocation precision and recall are counted as ``arinbox eval`` counts them: (invoice, amount)
pairs, proposed against true.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from arinbox.agents.cash import corroborated, match
from arinbox.agents.references import ReferenceIndex
from arinbox.domain.models import Allocation, CustomerFact, InvoiceFact, RemittanceDoc, RemittanceLine
from arinbox.ledger.sql_ledger import SqlLedger
from arinbox.persistence import models as m
from arinbox.persistence.db import make_engine, make_session_factory
from arinbox.policies.reconciliation import ReconciliationRules
from arinbox.remittance.resolve import resolve_lines

CENT = Decimal("0.01")
ISSUED = dt.date(2026, 6, 1)
KINDS = ("exact", "mangled", "partial", "discount")


@dataclass(frozen=True)
class BenchRemittance:
    customer_id: str
    kind: str  # "amount" for a remittance without lines, else "lines"
    doc: RemittanceDoc | None
    payment: Decimal
    truth: list[Allocation]
    line_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchingBench:
    invoices: int
    customers: int
    remittances: int
    lines: int
    max_open_per_customer: int
    setup_s: float  # ledger written and the reference index built (once per process in the service)
    p50_ms: float
    p95_ms: float
    max_ms: float
    cpu_p95_ms: float  # the same step in this thread's CPU time: what a busy machine does not add
    precision: float
    recall: float
    kinds: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "invoices": self.invoices, "customers": self.customers, "remittances": self.remittances,
            "lines": self.lines, "max_open_per_customer": self.max_open_per_customer,
            "setup_s": round(self.setup_s, 2), "p50_ms": round(self.p50_ms, 3), "p95_ms": round(self.p95_ms, 3),
            "max_ms": round(self.max_ms, 3), "cpu_p95_ms": round(self.cpu_p95_ms, 3),
            "precision": round(self.precision, 4), "recall": round(self.recall, 4), "kinds": self.kinds,
        }


# ---------------------------------------------------------------- the synthetic ledger


def _per_customer(invoices: int, customers: int, rng: random.Random) -> list[int]:
    """Invoices per customer: log-normal (a long tail of big accounts), at least one each, summing to N."""
    weights = [rng.lognormvariate(0, 1.1) for _ in range(customers)]
    scale = (invoices - customers) / sum(weights)
    counts = [1 + int(w * scale) for w in weights]
    for k in range(invoices - sum(counts)):  # the rounding remainder, spread over the first customers
        counts[k % customers] += 1
    return counts


def build_ledger(invoices: int, customers: int, seed: int) -> tuple[list[CustomerFact], list[InvoiceFact]]:
    rng = random.Random(seed)
    custs = [CustomerFact(customer_id=f"C{n:05d}", name=f"Customer {n:05d} Ltd", currency="EUR", language="en",
                          payment_terms_days=30, credit_limit=Decimal("1000000")) for n in range(1, customers + 1)]
    facts: list[InvoiceFact] = []
    numbers = list(range(1, invoices + 1))
    rng.shuffle(numbers)  # invoices are numbered as issued: the customers' numbers interleave
    seq = iter(numbers)
    for customer, count in zip(custs, _per_customer(invoices, customers, rng), strict=True):
        monthly = Decimal(rng.randint(20_000, 500_000)).scaleb(-2)  # a fixed fee some customers are billed
        fixed = rng.random() < 0.15
        for _ in range(count):
            amount = monthly if fixed and rng.random() < 0.6 else (
                Decimal(str(round(rng.lognormvariate(7.0, 1.0), 2))).quantize(CENT) + CENT)
            issued = ISSUED + dt.timedelta(days=rng.randint(0, 150))
            facts.append(InvoiceFact(
                invoice_number=f"INV-2026-{next(seq):06d}", customer_id=customer.customer_id, issue_date=issued,
                due_date=issued + dt.timedelta(days=30), currency="EUR", amount=amount, open_amount=amount,
                status="open"))
    return custs, facts


def write_ledger(url: str, customers: list[CustomerFact], invoices: list[InvoiceFact]) -> SqlLedger:
    """The ledger's own tables in a database of its own, filled in bulk."""
    engine = make_engine(url)
    m.Base.metadata.create_all(engine, tables=[m.Customer.__table__, m.Invoice.__table__])  # type: ignore[list-item]
    with engine.begin() as conn:
        conn.execute(insert(m.Customer), [
            {"customer_id": c.customer_id, "name": c.name, "email_domains": "", "contact_emails": "",
             "currency": c.currency, "language": c.language, "payment_terms_days": c.payment_terms_days,
             "credit_limit": c.credit_limit} for c in customers])
        conn.execute(insert(m.Invoice), [i.model_dump() for i in invoices])
    return SqlLedger(make_session_factory(engine))


# ---------------------------------------------------------------- remittances and their truth


def _mangle(number: str, rng: random.Random) -> str:
    digits = number.rsplit("-", 1)[1]
    tail = digits.lstrip("0")
    style = rng.randrange(6)
    if style == 0:
        return tail
    if style == 1:
        return f"inv{tail}"
    if style == 2:
        return f"2026/{tail}"
    if style == 3:
        return number.replace("-", "")
    if style == 4:
        return number.lower()
    k = rng.randrange(len(digits))  # one digit wrong in the full number
    wrong = str((int(digits[k]) + rng.randint(1, 9)) % 10)
    return f"INV-2026-{digits[:k]}{wrong}{digits[k + 1:]}"


def _line(inv: InvoiceFact, kind: str, rng: random.Random) -> tuple[RemittanceLine, Decimal]:
    open_amount = inv.open_amount
    if kind == "partial":
        paid = (open_amount * Decimal(rng.randint(20, 90)) / 100).quantize(CENT)
        return RemittanceLine(reference=inv.invoice_number, amount=paid), paid
    if kind == "discount":
        paid = (open_amount * Decimal("0.98")).quantize(CENT)
        stated = open_amount - paid if rng.random() < 0.5 else None
        return RemittanceLine(reference=inv.invoice_number, amount=paid, gross=open_amount, discount=stated), paid
    reference = _mangle(inv.invoice_number, rng) if kind == "mangled" else inv.invoice_number
    return RemittanceLine(reference=reference, amount=open_amount), open_amount


def generate(invoices: list[InvoiceFact], count: int, seed: int) -> list[BenchRemittance]:
    rng = random.Random(seed + 1)
    by_customer: dict[str, list[InvoiceFact]] = {}
    for inv in invoices:
        by_customer.setdefault(inv.customer_id, []).append(inv)
    ids = sorted(by_customer)
    big = [c for c in ids if len(by_customer[c]) >= 50]
    out: list[BenchRemittance] = []
    for _ in range(count):
        if rng.random() < 0.15:
            cid = rng.choice(ids)
            chosen = rng.sample(by_customer[cid], min(len(by_customer[cid]), rng.randint(1, 3)))
            total = sum((i.open_amount for i in chosen), Decimal("0"))
            out.append(BenchRemittance(cid, "amount", None, total,
                                       [Allocation(invoice=i.invoice_number, amount=i.open_amount) for i in chosen]))
            continue
        # most advices are short; a third are long bank-file style advices of up to 50 lines
        n = rng.randint(1, 5) if rng.random() < 0.67 else rng.randint(6, 50)
        cid = rng.choice(big if n > 5 and big else ids)
        chosen = rng.sample(by_customer[cid], min(n, len(by_customer[cid])))
        kinds = tuple(rng.choices(KINDS, weights=(45, 25, 10, 20))[0] for _ in chosen)
        lines, truth = [], []
        for inv, kind in zip(chosen, kinds, strict=True):
            line, paid = _line(inv, kind, rng)
            lines.append(line)
            truth.append(Allocation(invoice=inv.invoice_number, amount=paid))
        total = sum((a.amount for a in truth), Decimal("0"))
        doc = RemittanceDoc(format="csv", total=total, currency="EUR", lines=lines)
        out.append(BenchRemittance(cid, "lines", doc, total, truth, kinds))
    return out


# ---------------------------------------------------------------- measuring


def match_one(rem: BenchRemittance, index: ReferenceIndex, ledger: SqlLedger,
              rules: ReconciliationRules) -> list[Allocation]:
    """The pipeline's matching step: references, the customer's open invoices, ``cash.match``."""
    lines = resolve_lines([rem.doc] if rem.doc else [], index, rem.customer_id)
    mine = ledger.invoices(rem.customer_id)
    open_invoices = [i for i in mine if i.open_amount > 0 and i.status not in ("paid", "credited")]
    wanted = set(lines.invoices)
    slips, _ = corroborated(lines.unresolved_amounts, open_invoices, wanted)
    referenced = [i for i in mine if i.invoice_number in wanted or i.invoice_number in slips]
    result = match(lines.total if lines.total is not None else rem.payment, referenced, lines.amounts | slips,
                   open_invoices, False, lines.discounts, lines.deductions,
                   tolerance=rules.tolerance_for(rem.customer_id, "EUR"))
    return result.allocations


def _keys(allocations: list[Allocation]) -> Counter[tuple[str, Decimal]]:
    return Counter((a.invoice, a.amount) for a in allocations)


def run(invoices: int = 100_000, customers: int = 5_000, remittances: int = 2_000, seed: int = 7,
        rules: ReconciliationRules | None = None) -> MatchingBench:
    rules = rules or ReconciliationRules(name="none", version=1)
    started = time.perf_counter()
    custs, facts = build_ledger(invoices, customers, seed)
    with tempfile.TemporaryDirectory(prefix="arinbox-bench-") as tmp:
        ledger = write_ledger(f"sqlite:///{Path(tmp) / 'ledger.sqlite'}", custs, facts)
        index = ReferenceIndex.build(custs, facts, [])
        setup = time.perf_counter() - started
        batch = generate(facts, remittances, seed)
        timings: list[float] = []
        cpu: list[float] = []
        proposed: Counter[tuple[str, Decimal]] = Counter()
        truth: Counter[tuple[str, Decimal]] = Counter()
        hits = 0
        gc.collect()
        for rem in batch:
            t0, c0 = time.perf_counter(), time.thread_time()
            allocations = match_one(rem, index, ledger, rules)
            timings.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
            got, want = _keys(allocations), _keys(rem.truth)
            hits += sum((got & want).values())
            proposed += got
            truth += want
    timings.sort()
    cpu.sort()
    kinds = Counter(k for r in batch for k in (r.line_kinds or ("amount",)))
    return MatchingBench(
        invoices=len(facts), customers=len(custs), remittances=len(batch),
        lines=sum(len(r.doc.lines) if r.doc else 0 for r in batch),
        max_open_per_customer=max(Counter(i.customer_id for i in facts).values()),
        setup_s=setup, p50_ms=statistics.median(timings),
        p95_ms=_p95(timings), max_ms=timings[-1], cpu_p95_ms=_p95(cpu),
        precision=hits / sum(proposed.values()) if proposed else 0.0,
        recall=hits / sum(truth.values()) if truth else 0.0, kinds=dict(sorted(kinds.items())))


def _p95(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def render(r: MatchingBench) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in r.kinds.items())
    return (
        f"cash matching: {r.remittances} remittances ({r.lines} lines: {kinds}) against {r.invoices:,} open "
        f"invoices of {r.customers:,} customers (up to {r.max_open_per_customer} per customer), ledger in SQLite; "
        f"per remittance (references + open-invoice lookup + match) p50 {r.p50_ms:.2f} ms, "
        f"p95 {r.p95_ms:.2f} ms, max {r.max_ms:.2f} ms (CPU p95 {r.cpu_p95_ms:.2f} ms); "
        f"allocation precision {r.precision:.4f}, recall {r.recall:.4f}; setup {r.setup_s:.1f} s"
    )
