"""What every graph node receives through the LangGraph runtime: ports and configuration.

Built once by ``service.bootstrap``; nodes never reach for module globals.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from arinbox.agents.propose import Proposer
from arinbox.agents.references import ReferenceIndex
from arinbox.domain.models import CustomerFact, InvoiceFact, OrderFact, ParsedEmail
from arinbox.domain.ports import Classifier, Ledger, Masker, Outbox
from arinbox.masking.masker import company_short_forms
from arinbox.masking.vault import Vault
from arinbox.policies.schema import Policy


@dataclass(frozen=True)
class LedgerRefs:
    """The ledger's numbering and names as of start-up: what resolution and masking need.

    Balances are never read from here; the lookup node reads the live ledger.
    """

    customers: list[CustomerFact]
    invoices: list[InvoiceFact]
    orders: list[OrderFact]
    index: ReferenceIndex
    keep_terms: list[str]  # business identifiers masking must leave alone

    @classmethod
    def load(cls, ledger: Ledger, own_names: tuple[str, ...] = ()) -> LedgerRefs:
        customers, invoices, orders = ledger.customers(), ledger.invoices(), ledger.orders()
        names = [c.name for c in customers] + list(own_names)
        terms = set(names) | {short for n in names for short in company_short_forms(n)}
        for inv in invoices:
            terms.update(t for t in (inv.invoice_number, inv.po_number, inv.order_number) if t)
        for order in orders:
            terms.update(t for t in (order.order_number, order.po_number, order.tracking_number) if t)
        return cls(customers, invoices, orders, ReferenceIndex.build(customers, invoices, orders), sorted(terms))


class LiveLedgerRefs:
    """LedgerRefs that follow the ledger: reloaded when an import has bumped the ledger's revision,
    so a long-running service resolves references a new import added without a restart."""

    def __init__(self, ledger: Ledger, revision: Callable[[], int], own_names: tuple[str, ...] = ()) -> None:
        self._ledger, self._revision, self._own_names = ledger, revision, own_names
        self._lock = threading.Lock()
        self._loaded: tuple[int, LedgerRefs] | None = None

    def __call__(self) -> LedgerRefs:
        rev = self._revision()
        with self._lock:
            if self._loaded is None or self._loaded[0] != rev:
                self._loaded = (rev, LedgerRefs.load(self._ledger, self._own_names))
            return self._loaded[1]


class RecentParses:
    """The last few emails this process parsed, by stored message id, so the mask node does not parse
    again what the parse node has just read. In memory only: unmasked text never enters checkpoints."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[int, ParsedEmail] = OrderedDict()

    def put(self, raw_id: int, email: ParsedEmail) -> None:
        with self._lock:
            self._items[raw_id] = email
            self._items.move_to_end(raw_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def pop(self, raw_id: int) -> ParsedEmail | None:
        with self._lock:
            return self._items.pop(raw_id, None)


@dataclass(frozen=True)
class Deps:
    sessions: sessionmaker[Session]
    ledger: Ledger
    refs_source: Callable[[], LedgerRefs]
    masker: Masker
    classifier: Classifier
    proposer: Proposer
    policy: Policy
    outbox: Outbox
    vault: Vault
    mailbox_address: str
    dispute_owner: str
    company_name: str
    parses: RecentParses = field(default_factory=RecentParses)

    @property
    def refs(self) -> LedgerRefs:
        return self.refs_source()
