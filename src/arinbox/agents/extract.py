"""Extraction of AR facts from the masked text of one email.

``extract`` reads the masked text (subject, newest message, attachment texts), the sender
address and the email date, and returns an :class:`Extraction`: the customer and how it was
found, the invoices and orders referred to, the amounts and the principal one, per-invoice
amounts from tables, the promised payment date, the dispute reason and needs-human signals.

Customer resolution, first that applies:
  partner   a reconciliation rule maps the payer (sender or remittance payer reference) to a customer;
  contact   the sender is one of a customer's contact addresses;
  domain    the sender's domain (or a parent domain) is one of a customer's domains;
  name      the customer's company name is written in the text (fuzzy, token_set_ratio >= 90);
  invoice   every invoice or order referred to belongs to one customer.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rapidfuzz import fuzz

from arinbox.agents.amounts import AmountHit, find_amount_hits
from arinbox.agents.dates import DateOrder, find_promised_date
from arinbox.agents.lexicon import Lexicon, default_lexicon, fold, normalize_language
from arinbox.agents.references import ReferenceIndex, Resolution
from arinbox.agents.rule_refs import add_to, blank, line_resolver, rule_references
from arinbox.domain.models import (
    CustomerFact,
    DisputeReason,
    Extraction,
    Intent,
    InvoiceFact,
    Money,
    OrderFact,
    RemittanceDoc,
)
from arinbox.policies.reconciliation import NO_RULES, ReconciliationRules
from arinbox.remittance.resolve import resolve_lines

NAME_MATCH_MIN = 90
_DOLLAR_CURRENCIES = frozenset({"USD", "CAD", "AUD", "NZD", "MXN", "SGD", "HKD"})
# English writers in these currencies or country domains write 05/11 as 5 November.
_DMY_CURRENCIES = frozenset({"GBP", "EUR", "AUD", "NZD", "INR", "ZAR", "CHF", "SEK", "NOK", "DKK", "PLN"})
_MDY_TLDS = frozenset({"com", "us", "net", "org", "edu", "gov", "ca", "ph"})
_LEGAL_WORDS = frozenset(
    re.findall(
        r"\w+",
        "ltd limited inc incorporated llc llp lp corp corporation co company gmbh mbh ag kg ohg ug se sa "
        "sas sarl eurl sl slu srl spa bv nv plc pty cie ek the and und et y of de group",
    )
)
_PAID_COLUMN = re.compile(r"paid|payment|net|bezahlt|zahlbetrag|zahlung|paye|pagado|montant regle|importe pagado")
_AMOUNT_COLUMN = re.compile(r"amount|betrag|montant|importe|monto|total|summe|sum")
_OTHER_COLUMN = re.compile(r"discount|skonto|remise|escompte|descuento|deduct|abzug|gross|brutto|open|offen|due")


_ROW = re.compile(r"[;|\t]|\S {2,}\S")


@dataclass(frozen=True)
class CustomerMatch:
    customer: CustomerFact | None
    how: str | None
    evidence: str = ""


def extract(
    text: str,
    sender: str,
    email_date: dt.date | dt.datetime | None,
    language: str | None,
    customers: Sequence[CustomerFact],
    invoices: Sequence[InvoiceFact],
    orders: Sequence[OrderFact],
    index: ReferenceIndex | None = None,
    *,
    lexicon: Lexicon | None = None,
    date_order: DateOrder | None = None,
    own_names: Sequence[str] = (),
    intent: Intent | None = None,
    remittance: Sequence[RemittanceDoc] = (),
    reconciliation: ReconciliationRules = NO_RULES,
) -> Extraction:
    """Every AR fact the text states; nothing is looked up beyond what resolution needs.

    ``index`` should be built once per ledger snapshot and passed in; without it one is
    built from ``customers``, ``invoices`` and ``orders``. ``lexicon`` defaults to the
    reviewed ``agents/lexicon.yaml``. ``own_names`` are the seller's names, ignored when
    looking for customer names in the text. ``intent``, when known, picks the principal
    amount the way the intent means it (for a dispute: the contested amount). ``remittance``
    holds the structured documents of the email (attachments, bank files, body tables): their
    lines come first for per-invoice amounts, discounts, deductions and the payment total.
    ``reconciliation``: finance's rules (partner mapping, customers' own reference styles), applied
    before the general resolution; the rules used are named in ``Extraction.rules``.
    """
    index = index or ReferenceIndex.build(customers, invoices, orders)
    lexicon = lexicon or default_lexicon()
    used: dict[str, str] = {}
    match = _partner(reconciliation, sender, remittance, customers, used) or resolve_customer(
        sender, text, customers, own_names=own_names, index=index)
    customer = match.customer
    resolution = _resolve(text, customer.customer_id if customer else None, index, reconciliation, used)
    how = match.how
    if customer is None:
        customer = _owner_of_all(resolution, index, customers)
        if customer is not None:
            how = "invoice"
            # Tails that were ambiguous across the whole ledger may be unique for this customer.
            resolution = _resolve(text, customer.customer_id, index, reconciliation, used)

    dollar = customer.currency if customer and customer.currency in _DOLLAR_CURRENCIES else "USD"
    default_currency = customer.currency if customer else None
    hits = [_with_currency(h, default_currency) for h in find_amount_hits(text, language, dollar=dollar)]
    invoice_amounts = pair_invoice_amounts(text, resolution, hits)
    # a remittance's lines state what is paid; in a dispute or a question a table lists what is billed
    paying = intent in (None, Intent.REMITTANCE_ADVICE)
    cid = customer.customer_id if customer else None
    lines = resolve_lines(remittance if paying else (), index, cid,
                          line_resolver(reconciliation, cid, index.invoice_owner, used))
    numbers = list(dict.fromkeys([*lines.invoices, *resolution.invoices]))
    invoice_amounts = {**invoice_amounts, **lines.amounts}  # a structured line beats a text pairing
    principal = principal_amount(hits, invoice_amounts, default_currency)
    if lines.total is not None:
        principal = Money(amount=lines.total, currency=lines.currency or default_currency, text=str(lines.total))
    disputed = [h for h in hits if h.disputed]
    reason = lexicon.dispute_reason(text, language)
    taxed = [h for h in hits if h.label == "tax"]
    if intent is Intent.DISPUTE and disputed:
        principal = disputed[0].money
    elif intent is Intent.DISPUTE and reason is DisputeReason.TAX and len({h.money.amount for h in taxed}) == 1:
        principal = taxed[0].money  # the tax charged is what a tax dispute contests
    order = date_order or date_order_for(language, sender, customer)
    promised = find_promised_date(text, language, email_date, date_order=order) if email_date else None

    return Extraction(
        customer_id=customer.customer_id if customer else None,
        customer_how=how if customer else None,
        invoices=numbers,
        orders=resolution.orders,
        unresolved_refs=list(dict.fromkeys([*resolution.unresolved, *lines.unresolved])),
        amounts=[h.money for h in hits],
        amount=principal,
        paid_amounts=list(dict.fromkeys(h.money.amount for h in hits if h.label in ("paid", "paid_total"))),
        invoice_amounts=invoice_amounts,
        invoice_discounts=lines.discounts,
        invoice_deductions=lines.deductions,
        deduction_reasons=lines.reasons,
        unresolved_amounts=lines.unresolved_amounts,
        remittance_lines=lines.count,
        promised_date=promised,
        dispute_reason=reason,
        signals=lexicon.signals(text, language),
        rules=used,
    )


def _resolve(text: str, customer_id: str | None, index: ReferenceIndex, rules: ReconciliationRules,
             used: dict[str, str]) -> Resolution:
    """The rules' reference styles first; the general resolver reads what they left."""
    ruled = rule_references(rules, text, customer_id, index.invoice_owner)
    if not ruled:
        return index.match(text, customer_id)
    resolution = index.match(blank(text, ruled), customer_id)
    add_to(resolution, ruled, used)
    return resolution


def _partner(rules: ReconciliationRules, sender: str, remittance: Sequence[RemittanceDoc],
             customers: Sequence[CustomerFact], used: dict[str, str]) -> CustomerMatch | None:
    """A payer finance mapped to the customer it pays for (a parent, a shared-service centre)."""
    found = rules.partner_for(sender, [d.payer_reference for d in remittance if d.payer_reference])
    if found is None:
        return None
    rule, why = found
    assert rule.partner is not None
    customer = next((c for c in customers if c.customer_id == rule.partner.customer), None)
    if customer is None:
        return None  # the mapping names a customer the ledger does not hold: resolve as usual
    line = f"{why} pays for customer {customer.customer_id} (rule {rule.id})"
    used.setdefault(rule.id, line)
    return CustomerMatch(customer, "partner", line)


# ---------------------------------------------------------------- customer


def resolve_customer(
    sender: str,
    text: str,
    customers: Sequence[CustomerFact],
    *,
    own_names: Sequence[str] = (),
    index: ReferenceIndex | None = None,
) -> CustomerMatch:
    """The customer by contact address, then by domain, then by company name in the text.

    When an address or domain belongs to several customers (a group sharing one mailbox),
    the one owning the documents the text refers to is taken (``index`` needed), else the first.
    """
    address = sender.strip().lower()
    by_contact = [c for c in customers if address and address in {e.strip().lower() for e in c.contact_emails}]
    if by_contact:
        return CustomerMatch(_one_of(by_contact, text, index), "contact", f"sender {address} is a contact")
    domain = address.rpartition("@")[2]
    if domain:
        by_domain: list[tuple[int, CustomerFact]] = []
        for customer in customers:
            for known in customer.email_domains:
                known = known.strip().lower().lstrip("@")
                if known and (domain == known or domain.endswith("." + known)):
                    by_domain.append((len(known), customer))
        if by_domain:
            longest = max(n for n, _ in by_domain)
            unique = {c.customer_id: c for n, c in by_domain if n == longest}
            found_by_domain = list(unique.values())
            return CustomerMatch(_one_of(found_by_domain, text, index), "domain", f"sender domain {domain}")
    found = customer_by_name(text, customers, own_names=own_names)
    if found is not None:
        return CustomerMatch(found, "name", f"company name {found.name!r} in the text")
    return CustomerMatch(None, None)


def _one_of(candidates: list[CustomerFact], text: str, index: ReferenceIndex | None) -> CustomerFact:
    if len(candidates) == 1 or index is None:
        return candidates[0]
    resolution = index.match(text, None)
    owners = [index.owner(n) for n in [*resolution.invoices, *resolution.orders]]
    for candidate in candidates:
        if candidate.customer_id in owners:
            return candidate
    return candidates[0]


def _name_core(name: str) -> list[str]:
    words = re.findall(r"\w+", fold(name))
    return [w for w in words if w not in _LEGAL_WORDS and not w.isdigit()]


def customer_by_name(
    text: str, customers: Sequence[CustomerFact], *, own_names: Sequence[str] = ()
) -> CustomerFact | None:
    """The one customer whose company name is written in ``text`` (fuzzy, per line)."""
    folded = fold(text)
    for own in own_names:
        core = _name_core(own)
        if core:
            folded = re.sub(r"\W+".join(map(re.escape, core)), " ", folded)
    words = set(re.findall(r"\w+", folded))
    lines = [line for line in folded.splitlines() if line.strip()]
    scored: list[tuple[float, int, CustomerFact]] = []
    for customer in customers:
        core = _name_core(customer.name)
        if not core or len(" ".join(core)) < 4:
            continue
        if all(w in words for w in core):
            score = 100.0
        else:
            distinctive = [w for w in core if len(w) >= 4]
            if not distinctive or not any(w[:4] in folded for w in distinctive):
                continue
            core_text = " ".join(core)
            score = max((fuzz.token_set_ratio(core_text, line) for line in lines), default=0.0)
            # token_set_ratio of a two-word name against a long line rewards one shared word:
            # demand that every distinctive word be (nearly) present as well.
            if score >= NAME_MATCH_MIN and not all(
                max((fuzz.ratio(w, x) for x in words), default=0.0) >= NAME_MATCH_MIN - 5 for w in distinctive
            ):
                continue
        if score >= NAME_MATCH_MIN:
            scored.append((score, len(" ".join(core)), customer))
    if not scored:
        return None
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    top = scored[0]
    rivals = [s for s in scored[1:] if s[0] == top[0] and s[1] == top[1] and s[2] != top[2]]
    return None if rivals else top[2]


def _owner_of_all(
    resolution: Resolution, index: ReferenceIndex, customers: Sequence[CustomerFact]
) -> CustomerFact | None:
    owners = {index.owner(n) for n in [*resolution.invoices, *resolution.orders]}
    owners.discard(None)
    if len(owners) != 1:
        return None
    owner = owners.pop()
    return next((c for c in customers if c.customer_id == owner), None)


def date_order_for(language: str | None, sender: str, customer: CustomerFact | None) -> DateOrder:
    """How the sender writes ``05/11``: month first only for North American English."""
    if normalize_language(language) not in ("en", ""):
        return "DMY"
    if customer is not None:
        if customer.language and normalize_language(customer.language) != "en":
            return "DMY"
        if customer.currency in _DMY_CURRENCIES:
            return "DMY"
        if customer.currency in ("USD", "CAD"):
            return "MDY"
    tld = sender.strip().lower().rpartition(".")[2]
    return "MDY" if not tld or tld in _MDY_TLDS else "DMY"


# ---------------------------------------------------------------- amounts


def _with_currency(hit: AmountHit, currency: str | None) -> AmountHit:
    if hit.money.currency or currency is None:
        return hit
    money = hit.money.model_copy(update={"currency": currency})
    return AmountHit(money, hit.start, hit.end, hit.label, hit.explicit_currency)


def pair_invoice_amounts(text: str, resolution: Resolution, hits: Sequence[AmountHit]) -> dict[str, Decimal]:
    """Per-invoice amounts where a line pairs invoices with amounts (table rows, CSV, lists).

    A line with as many invoices as amounts pairs them in order; a row with one invoice
    and several amounts takes the column its header calls paid/net/amount, else the last.
    """
    pairs: dict[str, Decimal] = {}
    refs = sorted(
        (start, number) for number, spans in resolution.invoice_spans.items() for start, _ in spans
    )
    lines = text.split("\n")
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line) + 1
    # Table rows first: a row states the amount applied; prose may name a deduction instead.
    order = sorted(range(len(lines)), key=lambda i: (not _ROW.search(lines[i]), i))
    for line_no in order:
        line = lines[line_no]
        start, end = starts[line_no], starts[line_no] + len(line)
        invs: list[tuple[int, str]] = []
        for pos, number in refs:
            if start <= pos < end and (not invs or invs[-1][1] != number):
                invs.append((pos, number))
        amounts = [h for h in hits if start <= h.start < end]
        if not invs or not amounts:
            continue
        if len(invs) == len(amounts):
            inv_first = all(i[0] < a.start for i, a in zip(invs, amounts, strict=True))
            amt_first = all(a.start < i[0] for i, a in zip(invs, amounts, strict=True))
            if inv_first or amt_first:
                for (_, number), hit in zip(invs, amounts, strict=True):
                    pairs.setdefault(number, hit.money.amount)
            continue
        if len(invs) == 1 and len(amounts) > 1 and _ROW.search(line) and all(a.start > invs[0][0] for a in amounts):
            chosen = _column_amount(lines, line_no, start, amounts)
            if chosen is not None:
                pairs.setdefault(invs[0][1], chosen.money.amount)
    return pairs


def _split_cells(line: str) -> tuple[list[tuple[int, int]], str] | None:
    for delimiter in (";", "\t", "|"):
        if delimiter in line:
            cells, pos = [], 0
            for cell in line.split(delimiter):
                cells.append((pos, pos + len(cell)))
                pos += len(cell) + 1
            return cells, delimiter
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+(?: \S+)*", line)]
    return (spans, "  ") if len(spans) > 1 else None


def _column_amount(
    lines: Sequence[str], line_no: int, line_start: int, amounts: Sequence[AmountHit]
) -> AmountHit | None:
    row = _split_cells(lines[line_no])
    above = (lines[i] for i in range(line_no - 1, max(-1, line_no - 30), -1))
    header = next((line for line in above if line.strip() and not re.search(r"\d", line)), None)
    if row is None:
        return amounts[-1]
    cells, delimiter = row
    if header is not None:
        names = header.split(delimiter) if delimiter != "  " else re.split(r"\s{2,}|\t", header.strip())
        if len(names) == len(cells):
            folded = [fold(n) for n in names]
            for pattern in (_PAID_COLUMN, _AMOUNT_COLUMN):
                for column, name in enumerate(folded):
                    if pattern.search(name) and not (pattern is _AMOUNT_COLUMN and _OTHER_COLUMN.search(name)):
                        c_start, c_end = cells[column]
                        for hit in amounts:
                            if c_start <= hit.start - line_start < c_end:
                                return hit
    return amounts[-1]


def _part_sums(values: Sequence[Decimal]) -> set[Decimal]:
    """What some of ``values`` (two or more, not all) add up to; only for a handful of lines."""
    if len(values) > 12:
        return set()
    return {sum(c, Decimal("0")) for size in range(2, len(values)) for c in itertools.combinations(values, size)}


def principal_amount(
    hits: Sequence[AmountHit], invoice_amounts: dict[str, Decimal], currency: str | None
) -> Money | None:
    """The payment total.

    In order: an amount equal to the sum of a table's per-invoice amounts; an amount labelled
    as paid ("Net paid", "Zahlbetrag"), as a total, or after a pay verb ("we paid $X"); one
    labelled "amount"; the sum of the table; else the single or the largest amount that is
    not labelled as an invoice's own amount.
    """
    if not hits:
        return None
    table_sum = sum(invoice_amounts.values(), Decimal("0")) if len(invoice_amounts) >= 2 else None
    if table_sum is not None:
        matching = [h for h in hits if h.money.amount == table_sum]
        if matching:
            return matching[-1].money
        # "a transfer of 3,021.30 for invoices A and B" beside "invoice C (576.00) is still open":
        # an amount that only some of the lines add up to is what was paid
        line_values = set(invoice_amounts.values())
        part_sums = _part_sums(list(invoice_amounts.values()))
        partial = [h for h in hits if h.label != "invoice" and h.money.amount not in line_values
                   and h.money.amount in part_sums]
        if len({h.money.amount for h in partial}) == 1:
            return partial[0].money
    for label in ("paid_total", "total", "paid"):
        labelled = [h for h in hits if h.label == label]
        if labelled:
            return labelled[-1].money if label != "paid" else labelled[0].money
    amount_labelled = [h for h in hits if h.label == "amount"]
    if len({h.money.amount for h in amount_labelled}) == 1:
        return amount_labelled[0].money
    if table_sum is not None:
        written = [h for h in hits if h.money.amount in set(invoice_amounts.values())]
        currencies = {h.money.currency for h in written if h.money.currency}
        return Money(
            amount=table_sum,
            currency=currencies.pop() if len(currencies) == 1 else currency,
            text=" + ".join(h.money.text for h in written) or str(table_sum),
        )
    if amount_labelled:
        return amount_labelled[0].money
    candidates = [h for h in hits if h.label != "invoice"] or list(hits)
    return max(candidates, key=lambda h: h.money.amount).money
