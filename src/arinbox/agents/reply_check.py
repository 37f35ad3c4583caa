"""Facts in a reply must come from the ledger: check a (possibly edited) draft before it is sent.

Every amount written in the text must be one of the figures the email's ledger facts or proposals
hold, every date one of their dates, and every invoice or order it names must belong to the email's
customer.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from arinbox.agents.amounts import find_amounts
from arinbox.agents.dates import find_date_candidates
from arinbox.agents.references import ReferenceIndex
from arinbox.domain.models import LedgerFacts


def ledger_figures(facts: LedgerFacts, proposals: list[dict[str, Any]]) -> set[Decimal]:
    figures = {facts.balance, facts.overdue}
    for inv in [*facts.invoices, *facts.open_invoices]:
        figures |= {inv.amount, inv.open_amount}
    for p in proposals:
        figures.add(Decimal(str(p.get("amount", "0"))))
        payload = p.get("payload", {})
        for key in ("payment", "amount"):
            if key in payload:
                figures.add(Decimal(str(payload[key])))
        figures |= {Decimal(str(a["amount"])) for a in payload.get("allocations", [])}
    return {f.quantize(Decimal("0.01")) for f in figures}


def ledger_dates(facts: LedgerFacts, proposals: list[dict[str, Any]]) -> set[dt.date]:
    days: set[dt.date] = set()
    for inv in [*facts.invoices, *facts.open_invoices]:
        days |= {inv.issue_date, inv.due_date}
    for o in facts.orders:
        days |= {d for d in (o.order_date, o.promised_ship_date, o.ship_date) if d}
    for p in proposals:
        payload = p.get("payload", {})
        days |= {dt.date.fromisoformat(str(payload[k])) for k in ("promised_date", "received", "as_of") if k in payload}
    return days


_YEAR = re.compile(r"\d{4}")


def _unknown_dates(text: str, days: set[dt.date], language: str | None) -> list[str]:
    """Dates written out (not "tomorrow"), read the way the reply's language writes them; one
    without a year passes when some ledger date has its day and month."""
    base = max(days, default=dt.date(2000, 1, 1))
    found = []
    for c in find_date_candidates(text, language, base):
        if c.kind == "relative":
            continue
        known = c.value in days if _YEAR.search(c.written) else any(
            (d.month, d.day) == (c.value.month, c.value.day) for d in days)
        if not known:
            found.append(c.written)
    return found


def check_reply(text: str, facts: LedgerFacts, proposals: list[dict[str, Any]], index: ReferenceIndex,
                language: str | None) -> list[str]:
    """Problems found; an empty list means every figure and reference is the ledger's."""
    problems: list[str] = []
    figures = ledger_figures(facts, proposals)
    for money in find_amounts(text, language):
        if money.amount.quantize(Decimal("0.01")) not in figures:
            problems.append(f"the amount {money.text} is not a ledger figure of this email")
    for written in _unknown_dates(text, ledger_dates(facts, proposals), language):
        problems.append(f"the date {written} is not a ledger date of this email")
    customer = facts.customer.customer_id if facts.customer else None
    invoices, orders, _ = index.resolve(text, customer)
    for number in [*invoices, *orders]:
        owner = index.owner(number)
        if owner != customer:
            problems.append(f"{number} is not a document of this customer")
    return problems
