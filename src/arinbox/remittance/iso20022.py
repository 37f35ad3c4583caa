"""ISO 20022 bank-to-customer messages: camt.054 (and camt.052/053 entries) and remt.001.

Any version namespace is read (``urn:iso:std:iso:20022:tech:xsd:camt.054.001.02`` ... ``.08``):
elements are matched by local name. XML is parsed with defusedxml (no DTDs, no entity expansion).
Per transaction, each structured block (``RmtInf/Strd``) becomes a line: the referred document
number (``RfrdDocInf/Nb``) or else the creditor reference (``CdtrRefInf/Ref``), and the amounts of
``RfrdDocAmt`` (remitted, due, discount, credit note, adjustments with reason). A transaction with
no structured block becomes a payment line; its free text (``Ustrd``) goes to the readable text
only, since it may name people. Names, addresses and account numbers are never read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from arinbox.domain.errors import RemittanceFormatError
from arinbox.domain.models import LineKind, RemittanceDoc, RemittanceLine
from arinbox.remittance.numbers import to_decimal

_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:([a-z]{4}\.\d{3})\.\d{3}\.\d{2}")
_ENTRY_MESSAGES = {"camt.052", "camt.053", "camt.054"}
_CREDIT_NOTE_CODES = {"CREN", "CRNT"}


def looks_like_iso20022(data: bytes) -> bool:
    head = data[:4096]
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and b"urn:iso:std:iso:20022:tech:xsd:" in head


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _kids(el: Element, name: str) -> Iterator[Element]:
    return (child for child in el if _local(child.tag) == name)


def _find(el: Element | None, path: str) -> Element | None:
    for name in path.split("/"):
        if el is None:
            return None
        el = next(_kids(el, name), None)
    return el


def _all(el: Element, path: str) -> list[Element]:
    found = [el]
    for name in path.split("/"):
        found = [child for parent in found for child in _kids(parent, name)]
    return found


def _text(el: Element | None, path: str = "") -> str | None:
    node = _find(el, path) if path else el
    if node is None or node.text is None:
        return None
    return " ".join(node.text.split()) or None


def _amount(el: Element | None, path: str) -> tuple[Decimal | None, str | None]:
    """An amount element; newer versions nest it (``DscntApldAmt/Amt``)."""
    node = _find(el, path)
    if node is not None and node.text is not None and not node.text.strip():
        node = _find(node, "Amt")
    if node is None or node.text is None:
        return None, None
    return to_decimal(node.text), node.get("Ccy")


def _date(el: Element | None, path: str) -> dt.date | None:
    node = _find(el, path)
    if node is None:
        return None
    raw = _text(node, "Dt") or _text(node, "DtTm") or _text(node)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        return None


def message_type(root: Element) -> str:
    found = _NAMESPACE.search(root.tag)
    if not found:
        raise RemittanceFormatError(f"XML root {_local(root.tag)!r} is not an ISO 20022 document")
    return found.group(1)


def parse_iso20022(data: bytes) -> tuple[RemittanceDoc, str]:
    """The document and a readable rendering of its free text."""
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise RemittanceFormatError(f"ISO 20022 XML unreadable: {exc}") from exc
    kind = message_type(root)
    if kind in _ENTRY_MESSAGES:
        return _entries(root, kind)
    if kind == "remt.001":
        return _remittance_advice(root)
    raise RemittanceFormatError(f"ISO 20022 {kind} is not a remittance format (camt.052/053/054, remt.001 are)")


def _entries(root: Element, kind: str) -> tuple[RemittanceDoc, str]:
    lines: list[RemittanceLine] = []
    free: list[str] = []
    notes: list[str] = []
    total = Decimal("0")
    currencies: set[str] = set()
    first_date: dt.date | None = None
    body = next(iter(root), None)
    reports = [r for r in (body if body is not None else []) if _local(r.tag) in ("Ntfctn", "Stmt", "Rpt")]
    if kind == "camt.053":
        notes.append("camt.053 is a bank statement: its entries are read as payments received")
    elif kind == "camt.052":
        notes.append("camt.052 is an intraday account report: its entries are read as payments received")
    for report in reports:
        for entry in _kids(report, "Ntry"):
            amount, currency = _amount(entry, "Amt")
            debit = _text(entry, "CdtDbtInd") == "DBIT"
            if amount is not None:
                total += -amount if debit else amount
            if currency:
                currencies.add(currency)
            date = _date(entry, "BookgDt") or _date(entry, "ValDt")
            first_date = first_date or date
            txs = _all(entry, "NtryDtls/TxDtls")
            if not txs:
                lines.append(RemittanceLine(kind=LineKind.PAYMENT, amount=_signed(amount, debit),
                                            currency=currency, date=date))
            for tx in txs:
                tx_amount, tx_ccy = _amount(tx, "AmtDtls/TxAmt/Amt")
                if tx_amount is None:
                    tx_amount, tx_ccy = _amount(tx, "Amt")
                if tx_amount is None and len(txs) == 1:
                    tx_amount, tx_ccy = amount, currency
                tx_lines = _structured(tx, tx_amount, tx_ccy or currency, date)
                free.extend(t for t in (_text(u) for u in _all(tx, "RmtInf/Ustrd")) if t)
                lines.extend(tx_lines or [RemittanceLine(kind=LineKind.PAYMENT, amount=_signed(tx_amount, debit),
                                                         currency=tx_ccy or currency, date=date)])
    doc = RemittanceDoc(format=kind, total=total, currency=currencies.pop() if len(currencies) == 1 else None,
                        date=first_date, lines=lines, notes=notes)
    return doc, "\n".join(free)


def _signed(amount: Decimal | None, debit: bool) -> Decimal | None:
    return -amount if amount is not None and debit else amount


def _structured(tx: Element, tx_amount: Decimal | None, currency: str | None,
                date: dt.date | None) -> list[RemittanceLine]:
    blocks = _all(tx, "RmtInf/Strd")
    lines = []
    for block in blocks:
        number = _text(block, "RfrdDocInf/Nb")
        code = _text(block, "RfrdDocInf/Tp/CdOrPrtry/Cd") or ""
        reference = number or _text(block, "CdtrRefInf/Ref")
        doc_amounts = _find(block, "RfrdDocAmt")
        paid, ccy = _amount(doc_amounts, "RmtdAmt")
        gross, _ = _amount(doc_amounts, "DuePyblAmt")
        discount, _ = _amount(doc_amounts, "DscntApldAmt")
        credit_note, credit_ccy = _amount(doc_amounts, "CdtNoteAmt")
        adjustment, reason_code, reason = _adjustment(doc_amounts)
        kind = LineKind.CREDIT_MEMO if code in _CREDIT_NOTE_CODES or credit_note is not None else LineKind.INVOICE
        if credit_note is not None and paid is None:
            paid, ccy = -abs(credit_note), credit_ccy
        if paid is None and len(blocks) == 1:
            paid = tx_amount  # one document per transaction: the transaction pays it
        lines.append(RemittanceLine(
            reference=reference, kind=kind, amount=paid, gross=gross, discount=discount, adjustment=adjustment,
            reason_code=reason_code, reason=reason, currency=ccy or currency,
            date=_date(block, "RfrdDocInf/RltdDt") or _date(block, "RfrdDocInf") or date,
        ))
    return lines


def _adjustment(doc_amounts: Element | None) -> tuple[Decimal | None, str | None, str | None]:
    adjustments = _all(doc_amounts, "AdjstmntAmtAndRsn") if doc_amounts is not None else []
    if not adjustments:
        return None, None, None
    total = Decimal("0")
    codes, texts = [], []
    for adj in adjustments:
        amount, _ = _amount(adj, "Amt")
        # CRDT: the adjustment credits the debtor, i.e. reduces what they pay
        if amount is not None:
            total += amount if _text(adj, "CdtDbtInd") == "DBIT" else -abs(amount)
        if code := _text(adj, "Rsn"):
            codes.append(code)
        if info := _text(adj, "AddtlInf"):
            texts.append(info)
    return total, ",".join(codes) or None, "; ".join(texts) or None


def _remittance_advice(root: Element) -> tuple[RemittanceDoc, str]:
    advice = next(iter(root), None)
    lines: list[RemittanceLine] = []
    free: list[str] = []
    notes: list[str] = []
    date: dt.date | None = None
    if advice is not None:
        created = _text(advice, "GrpHdr/CreDtTm")
        date = dt.date.fromisoformat(created[:10]) if created and re.match(r"\d{4}-\d\d-\d\d", created) else None
        for info in _all(advice, "RmtInf"):
            lines.extend(_strd_blocks(info, date))
            free.extend(t for t in (_text(u) for u in _kids(info, "Ustrd")) if t)
    if not lines:
        notes.append("remt.001 carries no structured remittance information")
    total = sum((line.amount for line in lines if line.amount is not None), Decimal("0")) if lines else None
    return RemittanceDoc(format="remt.001", date=date, total=total, lines=lines, notes=notes), "\n".join(free)


def _strd_blocks(info: Element, date: dt.date | None) -> list[RemittanceLine]:
    holder = Element("TxDtls")
    rmt = Element("RmtInf")
    for block in _kids(info, "Strd"):
        rmt.append(block)
    holder.append(rmt)
    return _structured(holder, None, None, date)
