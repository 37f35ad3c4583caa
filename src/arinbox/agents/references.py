"""Find the ledger's invoice, order and PO numbers in free text, however customers write them.

The matching is derived from the ledger's own numbering, never from fixed prefixes: each
ledger number is cut into letter and digit segments (``INV-2026-004512`` -> ``INV | 2026 |
004512``) and indexed under

- its exact key (``INV2026004512``) and its key with leading zeros dropped per segment
  (``INV|2026|4512``), matched from any customer;
- its trailing segments (``2026|4512``, for ``2026-4512`` or ``2026/004512``);
- its numeric tail (``4512``, for ``inv 4512``, ``#4512``, ``Rechnung Nr. 4512``), used only
  when the tail names one document of the sender's customer (or of the whole ledger when
  the customer is unknown), and only with at least 3 significant digits after a reference
  word (4 without one).

Candidates are alphanumeric runs joined by ``- / . _ #``. Words before a candidate give it a
kind: ``invoice/Rechnung/facture/factura`` -> invoice, ``order/Auftrag/commande`` -> order,
``PO/Bestellung/orden de compra`` -> PO, ``check/RMA/tracking/phone/customer no.`` -> not a
reference. Numbers written like money or dates, percentages, quantities, phone numbers
and postcodes are skipped. A customer PO resolves to the orders and invoices that carry it.
A one-character typo in a full-length number is forgiven when it points at one document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from rapidfuzz import process
from rapidfuzz.distance import OSA

from arinbox.agents.amounts import money_spans
from arinbox.agents.lexicon import fold
from arinbox.domain.models import CustomerFact, InvoiceFact, OrderFact

Kind = Literal["invoice", "order", "po"]
Hint = Literal["invoice", "order", "po", "any", "block"]
_K = TypeVar("_K")

_TOKEN = re.compile(r"(?P<tok>[^\W_]+(?:[-/._#][^\W_]+)*)|(?P<nl>\n)|(?P<punct>[^\w\s])")
_SEGMENT = re.compile(r"[^\W\d_]+|\d+")



def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words (folded) that say what the next number is. German compounds are matched by stem.
_INVOICE_WORDS = _words(
    "invoice invoices inv invs invc invoice# bill bills rechnung rechnungen rg rgn rech re-nr "
    "rechnungsnummer rechnungsnr facture factures fact fac fra fras factura facturas fact. "
    "beleg belege belegnr document documents doc docs documento documentos mahnung zahlungserinnerung "
    "reminder relance recordatorio"
)
_ORDER_WORDS = _words(
    "order orders so auftrag auftrage auftrags auftragsnummer auftragsnr commande commandes "
    "cde cmde pedido pedidos orden"
)
_PO_WORDS = _words("po pos p.o bestellung bestellungen bestellnummer bestellnr oc bc")
_GENERIC_WORDS = _words(
    "no nr n nos nrs num number numbers nummer nummern numero numeros ref reference referenz "
    "referencia"
)
_BLOCK_WORDS = _words(
    "check checks cheque cheques chq ck scheck conf confirmation confirmacion trace tracking "
    "sendungsnummer suivi seguimiento rma bol awb quote angebot devis presupuesto cotizacion "
    "customer kunde kunden kundennummer kd client cliente vendor supplier lieferant fournisseur "
    "proveedor account acct konto compte cuenta tel phone telephone telefon telefono fax mobile "
    "mob cell handy movil tlf zip plz postcode part parts sku item items artikel article "
    "articulo ticket case request batch transaction trx id iban bic swift routing aba tax vat "
    "ust siret siren nif cif ein page seite suite box apt lot serial sn model modell modele "
    "modelo version payment payments zahlung paiement pago transfer virement transferencia "
    "uberweisung avis remittance lieferschein bl albaran run"
)
_TWO_WORDS: dict[tuple[str, str], Hint] = {
    ("purchase", "order"): "po",
    ("sales", "order"): "order",
    ("order", "number"): "order",
    ("customer", "po"): "po",
    ("your", "order"): "order",
    ("delivery", "note"): "block",
    ("packing", "slip"): "block",
    ("credit", "card"): "block",
    ("credit", "note"): "block",
    ("credit", "memo"): "block",
    ("bon", "commande"): "po",
    ("orden", "compra"): "po",
    ("numero", "cliente"): "block",
    ("numero", "client"): "block",
    ("our", "ref"): "block",
    ("bank", "ref"): "block",
}
_CONNECTOR_WORDS = _words(
    "and und et y e or oder ou o thru through to bis a au al & plus sowie"
)
_FILLER_WORDS = _words(
    "the our your its these those following listed below above covered numbers nos "
    "der die das den dem des unsere unserer ihre ihrer le la les du de des nos vos notre votre "
    "el los las del su sus nuestra nuestro nuestras nuestros"
)
_KEEP_PUNCT = frozenset(",;&+/-–:#°º.()'[]")
_UNIT_AFTER = re.compile(
    r"\s?(?:%|x\b|pcs\b|pc\b|pieces?\b|units?\b|ea\b|each\b|st(?:ü|u)ck\b|stk\b|pi(?:è|e)ces?\b|"
    r"unidades?\b|uds?\b|kg\b|mm\b|cm\b|m\b|hours?\b|hrs?\b|h\b|days?\b|tage?n?\b|jours?\b|"
    r"d(?:í|i)as?\b|weeks?\b|wochen?\b|semaines?\b|semanas?\b|months?\b|boxes\b|cartons?\b|"
    r"pallets?\b|rolls?\b|meters?\b|metres?\b|liters?\b|litres?\b)",
    re.I,
)
_DATE_TOKEN = re.compile(
    r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}(?:[-/.]\d{2,4})?)$"
)
_PHONE = re.compile(
    r"(?:\+|\b00)\d{1,3}[\s./-]\(?\d{1,5}\)?(?:[\s./-]\d{2,5}){1,4}"
    r"|\(\d{3}\)\s?\d{3}[-.\s]\d{4}|\b\d{3}[-.]\d{3}[-.]\d{4}\b"
)
_YEAR = re.compile(r"^(?:19|20)\d{2}$")
_YEARISH = re.compile(r"^(?:(?:19|20)?\d{2})$")
_PADDED_TAIL = re.compile(r"0{2,}([1-9]\d{2,})$")


def _segments(text: str) -> list[str]:
    return [s.upper() for s in _SEGMENT.findall(text)]


def _strip(seg: str) -> str:
    return (seg.lstrip("0") or "0") if seg.isdigit() else seg


def _raw_key(segs: Sequence[str]) -> str:
    return "".join(segs)


def _seg_key(segs: Sequence[str]) -> str:
    return "|".join(_strip(s) for s in segs)


@dataclass(frozen=True)
class LedgerRef:
    kind: Kind
    number: str  # as written in the ledger
    customer_id: str


@dataclass(frozen=True)
class RefHit:
    written: str
    start: int
    end: int
    ref: LedgerRef
    how: str  # exact, segments, tail, fuzzy


@dataclass
class Resolution:
    invoices: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    hits: list[RefHit] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    # invoice number -> the hits that point at it (directly or through a PO), for pairing
    invoice_spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    def as_tuple(self) -> tuple[list[str], list[str], list[str]]:
        return self.invoices, self.orders, self.unresolved


@dataclass(frozen=True)
class _Candidate:
    written: str
    start: int
    end: int
    hint: Hint | None


class ReferenceIndex:
    """Lookup tables over one snapshot of the ledger; read-only once built."""

    def __init__(self) -> None:
        self._exact: dict[str, list[LedgerRef]] = {}
        self._suffix: dict[str, list[LedgerRef]] = {}
        self._tail: dict[tuple[Kind, str], list[LedgerRef]] = {}
        self._padded: dict[tuple[Kind, str], list[LedgerRef]] = {}
        self._prefixes: dict[Kind, set[str]] = {"invoice": set(), "order": set(), "po": set()}
        self._fuzzy: dict[str | None, list[tuple[str, LedgerRef]]] = {None: []}
        self._po_orders: dict[tuple[str, str], list[str]] = {}
        self._po_invoices: dict[tuple[str, str], list[str]] = {}
        self.invoice_owner: dict[str, str] = {}
        self.order_owner: dict[str, str] = {}
        self.customers: dict[str, CustomerFact] = {}

    # ------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        customers: Iterable[CustomerFact],
        invoices: Iterable[InvoiceFact],
        orders: Iterable[OrderFact],
    ) -> ReferenceIndex:
        index = cls()
        for customer in customers:
            index.customers[customer.customer_id] = customer
        invoice_list = list(invoices)
        order_list = list(orders)
        for inv in invoice_list:
            index.invoice_owner[inv.invoice_number] = inv.customer_id
            index._add(LedgerRef("invoice", inv.invoice_number, inv.customer_id))
        order_po: dict[str, str] = {}
        for order in order_list:
            index.order_owner[order.order_number] = order.customer_id
            index._add(LedgerRef("order", order.order_number, order.customer_id))
            if order.po_number:
                order_po[order.order_number] = order.po_number
                key = (order.customer_id, order.po_number)
                index._po_orders.setdefault(key, []).append(order.order_number)
                index._po_invoices.setdefault(key, [])
        for inv in invoice_list:
            pos = {inv.po_number} if inv.po_number else set()
            if inv.order_number and inv.order_number in order_po:
                pos.add(order_po[inv.order_number])
            for po in pos:
                index._po_invoices.setdefault((inv.customer_id, po), []).append(inv.invoice_number)
                index._po_orders.setdefault((inv.customer_id, po), [])
        for customer_id, po in index._po_invoices:
            index._add(LedgerRef("po", po, customer_id))
        return index

    def _add(self, ref: LedgerRef) -> None:
        segs = _segments(ref.number)
        if not segs:
            return
        keys = {_raw_key(segs), _seg_key(segs)}
        for key in keys:
            _append(self._exact, key, ref)
        if not segs[0].isdigit():
            self._prefixes[ref.kind].add(segs[0])
        for k in range(1, len(segs)):
            suffix = segs[k:]
            if len(suffix) >= 2 and suffix[0].isdigit():
                _append(self._suffix, _seg_key(suffix), ref)
        last = segs[-1]
        if last.isdigit():
            _append(self._tail, (ref.kind, _strip(last)), ref)
            padded = _PADDED_TAIL.search(last)
            if ref.kind != "po" and len(last) >= 7 and padded:
                _append(self._padded, (ref.kind, padded.group(1)), ref)
        raw = _raw_key(segs)
        self._fuzzy[None].append((raw, ref))
        self._fuzzy.setdefault(ref.customer_id, []).append((raw, ref))

    # ------------------------------------------------------------ resolving

    def resolve(
        self, text: str, customer_id: str | None
    ) -> tuple[list[str], list[str], list[str]]:
        """(invoices, orders, unresolved references) in the order they are written."""
        return self.match(text, customer_id).as_tuple()

    def match(self, text: str, customer_id: str | None) -> Resolution:
        """Like :meth:`resolve`, with each hit, its position and a line of evidence."""
        result = Resolution()
        skip = _skip_spans(text)
        po_hits: list[RefHit] = []
        for cand in _candidates(text):
            if _overlaps(cand.start, cand.end, skip):
                continue
            for part, (refs, how, ambiguous) in self._match_or_split(cand, text, customer_id):
                if refs:
                    for ref in refs:
                        hit = RefHit(part.written, part.start, part.end, ref, how)
                        result.hits.append(hit)
                        if ref.kind == "po":
                            po_hits.append(hit)
                        else:
                            self._record(result, hit, customer_id)
                elif (ambiguous or self._looks_like_reference(part)) and part.written not in result.unresolved:
                    result.unresolved.append(part.written)
                    why = "matches several documents" if ambiguous else "not in the ledger"
                    result.evidence.append(f"{part.written!r}: unresolved ({why})")
        named = set(result.invoices)  # POs last: an invoice named beside its PO is the one meant
        for hit in po_hits:
            self._record(result, hit, customer_id, named)
        return result

    def _match_or_split(
        self, cand: _Candidate, text: str, customer_id: str | None
    ) -> list[tuple[_Candidate, tuple[list[LedgerRef], str, bool]]]:
        """Match a candidate; a list written with slashes (4512/4519/4533) is split."""
        found = self._match_candidate(cand, text, customer_id)
        if found[0] or found[2]:
            return [(cand, found)]
        parts = list(re.finditer(r"\d+", cand.written))
        joined = re.fullmatch(r"\d{3,}(?:[/-]\d{3,})+", cand.written)
        if not joined or all(_YEARISH.match(p.group(0)) for p in parts[:-1]):
            return [(cand, found)]
        out: list[tuple[_Candidate, tuple[list[LedgerRef], str, bool]]] = []
        for p in parts:
            sub = _Candidate(p.group(0), cand.start + p.start(), cand.start + p.end(), cand.hint)
            out.append((sub, self._match_candidate(sub, text, customer_id)))
        return out

    def _record(self, result: Resolution, hit: RefHit, customer_id: str | None,
                named: set[str] | None = None) -> None:
        ref = hit.ref
        other = "" if customer_id in (None, ref.customer_id) else f", customer {ref.customer_id}"
        if ref.kind == "invoice":
            _add_unique(result.invoices, ref.number)
            result.invoice_spans.setdefault(ref.number, []).append((hit.start, hit.end))
            result.evidence.append(f"{hit.written!r} -> invoice {ref.number} ({hit.how}{other})")
        elif ref.kind == "order":
            _add_unique(result.orders, ref.number)
            result.evidence.append(f"{hit.written!r} -> order {ref.number} ({hit.how}{other})")
        else:
            key = (ref.customer_id, ref.number)
            orders = self._po_orders.get(key, [])
            invoices = self._po_invoices.get(key, [])
            if named and named.intersection(invoices):
                # "invoice 10444 (our PO 0333)": the PO says which order, not that its other invoices
                # are meant too; a PO written alone still stands for all it carries
                invoices = [n for n in invoices if n in named]
            for number in orders:
                _add_unique(result.orders, number)
            for number in invoices:
                _add_unique(result.invoices, number)
                result.invoice_spans.setdefault(number, []).append((hit.start, hit.end))
            carried = ", ".join(
                [f"order {n}" for n in orders] + [f"invoice {n}" for n in invoices]
            )
            result.evidence.append(
                f"{hit.written!r} -> PO {ref.number} ({hit.how}{other}) carried by "
                f"{carried or 'no document'}"
            )

    def _match_candidate(
        self, cand: _Candidate, text: str, customer_id: str | None
    ) -> tuple[list[LedgerRef], str, bool]:
        segs = _segments(cand.written)
        if not segs:
            return [], "", False
        exact = self._exact.get(_raw_key(segs), []) or self._exact.get(_seg_key(segs), [])
        if exact and not (cand.hint == "block" and segs[0].isdigit()):
            return self._pick_exact(exact, cand.hint, customer_id)
        if cand.hint == "block" or _DATE_TOKEN.match(cand.written) and len(segs) > 1:
            return [], "", False
        prefix = segs[0] if not segs[0].isdigit() else None
        hint: Hint | None = cand.hint
        if prefix is not None:
            own = self._prefix_hint(prefix)
            if own is None:
                return self._fuzzy_match(segs, hint, customer_id), "fuzzy", False
            hint = own if own != "any" or hint is None else hint
        digits = [s for s in segs if s.isdigit()]
        if not digits or not segs[-1].isdigit():
            return [], "", False
        kinds = _kinds_for(hint)
        # Trailing segments: 2026-4512, 2026/004512, 26-10432.
        first_digit = next(i for i, s in enumerate(segs) if s.isdigit())
        numeric = segs[first_digit:]
        if len(numeric) >= 2:
            refs = self._unique(self._suffix.get(_seg_key(numeric), []), kinds, customer_id)
            if refs is not None:
                return refs, "segments", False
            if not all(_YEARISH.match(s) for s in numeric[:-1]):
                return self._fuzzy_match(segs, hint, customer_id), "fuzzy", False
        tail = _strip(segs[-1])
        if _YEAR.match(segs[-1]) and len(segs) == 1:
            return [], "", False
        needed = 3 if (hint is not None or prefix is not None or "#" in cand.written) else 4
        if len(tail) < needed:
            return [], "", False
        if hint is None and prefix is None and len(segs) == 1 and _looks_like_postcode(text, cand):
            return [], "", False
        for kind in kinds:
            for table in (self._tail, self._padded):
                found = _scoped(table.get((kind, tail), []), customer_id)
                numbers = {r.number for r in found}
                if len(numbers) == 1:
                    return found[:1], "tail", False
                if len(numbers) > 1:
                    return [], "", True
        fuzzy = self._fuzzy_match(segs, hint, customer_id)
        return fuzzy, "fuzzy", False

    def _pick_exact(
        self, refs: list[LedgerRef], hint: Hint | None, customer_id: str | None
    ) -> tuple[list[LedgerRef], str, bool]:
        if hint in ("invoice", "order", "po"):
            hinted = [r for r in refs if r.kind == hint]
            refs = hinted or refs
        own = [r for r in refs if r.customer_id == customer_id]
        refs = own or refs
        pos = {(r.customer_id, r.number) for r in refs if r.kind == "po"}
        if len({c for c, _ in pos}) > 1:
            return [], "", True  # the same PO string at two customers: cannot tell
        return _dedupe(refs), "exact", False

    def _unique(
        self, refs: list[LedgerRef], kinds: Sequence[Kind], customer_id: str | None
    ) -> list[LedgerRef] | None:
        for kind in kinds:
            found = _scoped([r for r in refs if r.kind == kind], customer_id)
            if len({r.number for r in found}) == 1:
                return found[:1]
        return None

    def _prefix_hint(self, prefix: str) -> Hint | None:
        word = fold(prefix)
        kinds: tuple[Kind, ...] = ("invoice", "order", "po")
        for kind in kinds:
            if prefix in self._prefixes[kind]:
                return kind
        hint = _word_hint(word)
        if hint in ("invoice", "order", "po", "any"):
            return hint
        if word == "re":
            return "invoice"  # RE-4471: the German Rechnung prefix
        return None

    def _fuzzy_match(
        self, segs: Sequence[str], hint: Hint | None, customer_id: str | None
    ) -> list[LedgerRef]:
        raw = _raw_key(segs)
        if len(raw) < 6 or not any(s.isdigit() for s in segs):
            return []
        choices = self._fuzzy.get(customer_id, []) if customer_id else self._fuzzy[None]
        if not choices:
            return []
        found = process.extract(
            raw, [c[0] for c in choices], scorer=OSA.distance, score_cutoff=1, limit=None
        )
        refs = [choices[i][1] for _, score, i in found if score <= 1]
        if hint in ("invoice", "order", "po"):
            refs = [r for r in refs if r.kind == hint] or refs
        if len({(r.kind, r.number) for r in refs}) != 1:
            return []
        return refs[:1]

    def _looks_like_reference(self, cand: _Candidate) -> bool:
        segs = _segments(cand.written)
        if not segs or cand.hint == "block" or not any(s.isdigit() for s in segs):
            return False
        if _DATE_TOKEN.match(cand.written) or (len(segs) == 1 and _YEAR.match(segs[0])):
            return False
        tail = _strip(segs[-1]) if segs[-1].isdigit() else ""
        if len(tail) < 3:
            return False
        prefix = segs[0] if not segs[0].isdigit() else None
        if prefix is not None:
            return self._prefix_hint(prefix) is not None
        return cand.hint in ("invoice", "order", "po") or cand.written.startswith("#")

    def owner(self, number: str) -> str | None:
        """The customer owning an invoice or order number as written in the ledger."""
        return self.invoice_owner.get(number) or self.order_owner.get(number)


# ---------------------------------------------------------------- candidates


def _word_hint(word: str) -> Hint | None:
    if word in _INVOICE_WORDS or "rechnung" in word or word.startswith("factur"):
        return "invoice"
    if word in _PO_WORDS or word.startswith("bestell"):
        return "po"
    if word in _ORDER_WORDS or word.startswith("auftrag"):
        return "order"
    if word in _GENERIC_WORDS:
        return "any"
    if word in _BLOCK_WORDS or word.startswith(
        ("zahlungsavis", "zahlungsnr", "zahlungsnummer", "zahlungsref", "kunde", "lieferant", "tracking", "telef")
    ):
        return "block"
    return None


def _candidates(text: str) -> list[_Candidate]:
    """Alphanumeric runs with at least one digit, each with the kind its context gives it."""
    tokens = [
        (m.lastgroup or "", m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)
    ]
    words = [fold(t[1]) if t[0] == "tok" else "" for t in tokens]
    out: list[_Candidate] = []
    hint: Hint | None = None
    skip = 0
    for i, (group, value, start, end) in enumerate(tokens):
        if skip:
            skip -= 1
            continue
        if group == "nl":
            hint = None
            continue
        if group == "punct":
            if value == "#":
                hint = hint or "any"
            elif value not in _KEEP_PUNCT:
                hint = None
            continue
        if any(c.isdigit() for c in value):
            out.append(_Candidate(value, start, end, hint))
            continue
        word = words[i]
        following = _next_word(tokens, words, i)
        pair = _TWO_WORDS.get((word, following)) if following else None
        if pair is not None:
            hint, skip = pair, 1
            continue
        if following in ("de", "du", "of"):
            third = _next_word(tokens, words, i + 1)
            pair = _TWO_WORDS.get((word, third)) if third else None
            if pair is not None:
                hint, skip = pair, 2
                continue
        found = _word_hint(word)
        if word == "so" and value != "SO":
            found = None  # the English word, not a sales-order prefix
        if found == "any":
            hint = hint or "any"
        elif found is not None:
            hint = found
        elif word in _CONNECTOR_WORDS:
            continue
        elif word in _FILLER_WORDS:
            hint = None if hint == "block" else hint
        else:
            hint = None
    return out


def _next_word(tokens: Sequence[tuple[str, str, int, int]], words: Sequence[str], i: int) -> str:
    if i + 1 < len(tokens) and tokens[i + 1][0] == "tok":
        nxt = words[i + 1]
        return "" if any(c.isdigit() for c in nxt) else nxt
    return ""


def _skip_spans(text: str) -> list[tuple[int, int]]:
    spans = money_spans(text)
    spans.extend((m.start(), m.end()) for m in _PHONE.finditer(text))
    for m in re.finditer(r"\d+(?:[.,]\d+)?(?=\s?(?:%|x\b))", text):
        spans.append((m.start(), m.end()))
    for m in _TOKEN.finditer(text):
        is_number = m.lastgroup == "tok" and any(c.isdigit() for c in m.group(0))
        if is_number and _UNIT_AFTER.match(text, m.end(), min(len(text), m.end() + 12)):
            spans.append((m.start(), m.end()))
    return spans


def _looks_like_postcode(text: str, cand: _Candidate) -> bool:
    """``75008 Paris``, ``D 89073 Ulm``, ``TX 75201``: a bare number in an address line."""
    if not 4 <= len(cand.written) <= 5:
        return False
    after = re.match(r"\s+([A-ZÄÖÜÉ][a-zäöüßéèàíóúñ]+)", text[cand.end : cand.end + 30])
    before = text[max(0, cand.start - 6) : cand.start]
    if re.search(r"\b[A-Z]{2}\s$", before):
        return True
    return bool(after) and bool(re.search(r"(?:^|[\n,]|\b[A-Z]-?)\s*$", before))


def _overlaps(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def _kinds_for(hint: Hint | None) -> tuple[Kind, ...]:
    if hint == "invoice":
        return ("invoice",)
    if hint == "order":
        return ("order", "po")
    if hint == "po":
        return ("po",)
    return ("invoice", "order", "po")


def _scoped(refs: list[LedgerRef], customer_id: str | None) -> list[LedgerRef]:
    if customer_id is None:
        return refs
    return [r for r in refs if r.customer_id == customer_id]


def _append(table: dict[_K, list[LedgerRef]], key: _K, ref: LedgerRef) -> None:
    bucket = table.setdefault(key, [])
    if ref not in bucket:
        bucket.append(ref)


def _add_unique(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


def _dedupe(refs: Iterable[LedgerRef]) -> list[LedgerRef]:
    out: list[LedgerRef] = []
    for ref in refs:
        if ref not in out:
            out.append(ref)
    return out
