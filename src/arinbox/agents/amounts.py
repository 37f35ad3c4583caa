"""Money amounts in customer mail: ``$1,234.56``, ``1.234,56 €``, ``1 234,56 EUR``, ``£980``.

A number counts as an amount when a currency symbol or code stands next to it, or when it
has the shape of money (two decimals, or thousands groups) and the line around it talks
about paying, or the line is a table row. Numbers that are dates (``28.02.``), percentages,
quantities (``12.50 kg``) or references (``#4512``, ``Nr. 4512``) are not amounts.

The decimal separator is decided per number: the last of two different separators is the
decimal one; a single separator followed by exactly three digits groups thousands
(``2.350 dollars`` is 2350); otherwise it is the decimal separator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from price_parser import Price

from arinbox.agents.lexicon import fold
from arinbox.domain.models import Money

# A number, possibly grouped by , . ' or (narrow) no-break / plain spaces.
_NUM = re.compile(
    r"(?<![\d.,/])"
    r"(?:\d{1,3}(?:[,.'’\u00a0\u202f ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
    r"(?![\w]|[.,]\d)"
)

_CODES = (
    "USD|EUR|GBP|CHF|CAD|AUD|NZD|MXN|JPY|CNY|SEK|NOK|DKK|PLN|CZK|HUF|RON|TRY|INR|BRL|ZAR|SGD|HKD"
)
_SYMBOL_CODES: tuple[tuple[str, str], ...] = (
    ("us$", "USD"),
    ("u$s", "USD"),
    ("ca$", "CAD"),
    ("c$", "CAD"),
    ("a$", "AUD"),
    ("mx$", "MXN"),
    ("sfr", "CHF"),
    ("fr.", "CHF"),
    ("€", "EUR"),
    ("£", "GBP"),
    ("¥", "JPY"),
)
_WORD_CODES: dict[str, str] = {
    "euro": "EUR",
    "euros": "EUR",
    "dollar": "$",
    "dollars": "$",
    "dolares": "$",
    "pound": "GBP",
    "pounds": "GBP",
    "sterling": "GBP",
}
_PREFIX = re.compile(
    r"(?:(?<![a-z])(?P<code>" + _CODES + r")|(?P<sym>us\$|u\$s|ca\$|c\$|a\$|mx\$|\$|€|£|¥)"
    r"|(?<![a-z])(?P<chf>sfr\.?|fr\.))"
    r"[ \u00a0]?[-–]?[ \u00a0]?$",
    re.IGNORECASE,
)
_SUFFIX = re.compile(
    r"(?:,-{1,2}|\.-{1,2})?[ \u00a0]?(?:(?P<cad>\$[ \u00a0]?ca\b)|(?P<usd>\$[ \u00a0]?us\b)"
    r"|(?P<code>(?:" + _CODES + r"))(?![a-z])|(?P<sym>€|£|\$|¥)"
    r"|(?P<word>euros?|dollars?|d[oó]lares|pounds?|sterling)(?![a-z]))"
    r"(?![ \u00a0]?[-–]?[ \u00a0]?[\d$€£])",  # "#4471 $5,100.00": the symbol belongs to the next number
    re.IGNORECASE,
)
_PERCENT = re.compile(r"^[ \u00a0]?(?:%|percent|per cent|prozent|pour ?cent|por ?ciento)", re.I)
_UNIT = re.compile(
    r"^[ \u00a0]?(?:x\b|kg\b|g\b|mm\b|cm\b|m\b|km\b|h\b|hrs?\b|hours?\b|stunden\b|heures?\b|"
    r"horas?\b|pcs\b|pieces?\b|units?\b|st(?:ü|u)ck\b|stk\b|pi(?:è|e)ces?\b|unidades?\b|uds?\b|"
    r"ml\b|l\b|bar\b|psi\b|days?\b|tage?n?\b|jours?\b|d(?:í|i)as?\b|weeks?\b|wochen?\b)",
    re.I,
)
_REF_BEFORE = re.compile(r"(?:#|\bno\.?|\bnr\.?|n°|nº|\bnum\.?)[ \u00a0]*$", re.I)
_DATE_CUE = re.compile(
    r"(?:\bam|\bvom|\bbis|\bzum|\ble|\bdu|\bau|\bel|\bdel|\bon|\bby|\buntil|\bdated?|\bseit)\s*$",
    re.I,
)

# Words that make a bare money-shaped number an amount (folded: lower case, no accents).
_PAY_CONTEXT = re.compile(
    r"(?<!\w)(?:pa(?:y|id|yment|yments|ying)|amount|total|sum|wire|transfer|ach|check|cheque|money|sent|"
    r"geld|argent|dinero|paypal|zelle|"
    r"remit\w*|credit|debit|balance|invoice\w*|inv|net|gross|discount|deduct\w*|short|"
    r"zahl\w*|bezahl\w*|uberw\w*|betrag|summe|gesamt\w*|saldo|gutschrift|rechnung\w*|rg|skonto|"
    r"insgesamt|zusammen|paye\w*|paie\w*|regl\w*|virement|montant|somme|solde|avoir|factur\w*|"
    r"pag\w*|transferencia|importe|monto|suma|abono|liquid\w*|descuento)(?!\w)"
)
_AMOUNT_HEADER = re.compile(
    r"(?<!\w)(?:amount|paid|betrag|montant|importe|monto|total|summe|gross|net)(?!\w)"
)

# Labels that say which amount is the payment; the nearest label before the number wins.
# paid_total: the amount paid ("Net paid", "Zahlbetrag", "total payé"); total: a sum ("Total",
# "Summe"); paid: a payment verb right before ("we paid $X"); amount: "Amount", "Betrag";
# invoice: the invoice's own amount ("Invoice amount", "Rechnungsbetrag"), never the payment.
_PAID_TOTAL_LABEL = re.compile(
    r"(?<!\w)(?:total (?:paid|payment|pagado|paye|regle|du paiement|du virement)|net paid|net payment|"
    r"amount paid|paid amount|payment amount|payment total|amount of (?:the )?payment|remittance amount|"
    r"zahlbetrag|uberweisungsbetrag|auszahlungsbetrag|gezahlt|montant (?:paye|regle|du virement|du reglement|vire)|"
    r"importe (?:pagado|transferido|abonado|del pago)|monto (?:pagado|del pago|transferido))"
    r"(?!\w)[^\n\d$€£]{0,25}$"
)
_TOTAL_LABEL = re.compile(
    r"(?<!\w)(?:(?:grand |net |)total(?: amount)?|sum|in total|insgesamt|gesamt\w*|summe|zusammen|"
    r"montant total|au total|importe total|suma|en total|soit)(?!\w)[^\n\d$€£]{0,25}$"
)
_INVOICE_LABEL = re.compile(
    r"(?<!\w)(?:invoice (?:amount|total|value)|gross(?: amount)?|rechnungsbetrag|bruttobetrag|"
    r"montant (?:de la |)facture|importe (?:de la )?factura|original amount)(?!\w)[^\n\d$€£]{0,25}$"
)
# a tax line ("USt. 20 %  820,00 EUR", "VAT @ 20%: £699.20", "IVA 21 %"): in a tax dispute, what is contested
_TAX_LABEL = re.compile(
    r"(?<!\w)(?:ust|mwst|umsatzsteuer|mehrwertsteuer|vat|tva|iva|sales tax|gst)\.?"
    r"(?:\s*(?:@|at|a|de|von)?\s*\(?\d{1,2}(?:[.,]\d{1,2})?\s*%\)?)?[^\n\d$€£]{0,12}$"
)
_PAID_LABEL = re.compile(
    r"(?<!\w)(?:paid|pd|wired|remitted|sent|transferred|bezahlt|uberwiesen|paye|regle|vire|pagado|pagamos|"
    r"transferido|transferimos|abonado)(?:\s+\w+){0,3}?\s*:?\s*$"
    # a payment named by its noun: "a transfer of", "un virement de", "eine Überweisung über", "un pago de"
    r"|(?<!\w)(?:payment|transfer|wire|remittance|virement|paiement|reglement|acompte|versement|uberweisung|"
    r"zahlung|anzahlung|teilzahlung|transferencia|pago|abono)(?:\s+(?:of|for|de|d'un montant de|du montant de|"
    r"von|uber|in hohe von|por|por importe de|por un importe de))\s*:?\s*$"
)
_AMOUNT_LABEL = re.compile(
    r"(?<!\w)(?:amount|check for|cheque for|betrag|in hohe von|"
    r"montant|d'un montant de|pour un montant de|importe|por (?:un )?importe de|monto|por (?:un )?monto de|"
    r"por valor de)(?!\w)[^\n\d$€£]{0,12}$"
)


# Words around an amount that say it is the contested part ("overbilled us $507.50",
# "$412.35 of sales tax", "credit memo for $800.00", "250,00 EUR zu viel berechnet").
_DISPUTED_BEFORE = re.compile(
    r"(?<!\w)(?:overbill\w*|overcharg\w*|credit(?: memo| note)? (?:for|of)|difference(?: of| is)?|disput\w*|contest\w*|"
    r"(?:sales |use )?tax of|vat of|charg\w*(?: us| me)?|fee of|deduct\w*|short[- ]?paid(?:\W+\w+){0,3}? by|"
    r"short by|refund(?: of)?|differenz(?: von)?|gutschrift(?: uber| von| in hohe von)?|gekurzt um|"
    r"berechnen sie uns|ecart de|avoir de|trop factur\w*|deduit|difference de|diferencia de|"
    r"(?:the )?difference (?:amounts to|comes to)|la difference (?:est|s'eleve a) de|l'ecart (?:est|s'eleve a) de|"
    r"la diferencia (?:es|asciende a) de|die differenz betragt|differenz in hohe von|"
    r"nota de credito por|descontamos|cobran)(?!\w)[^\n\d$€£]{0,20}$"
)
_DISPUTED_AFTER = re.compile(
    r"[^\w\n]{0,3}(?:of (?:sales |use )?tax|sales tax|vat|overbilled|overcharged|too much|deducted|short|"
    r"zu viel|abgezogen|gekurzt|de trop|en trop|de mas|deduit\w*|descontad\w*)(?!\w)"
)


@dataclass(frozen=True)
class AmountHit:
    """One amount with where it stands and how it is labelled."""

    money: Money
    start: int
    end: int
    label: str | None = None  # paid_total, tax, total, paid, amount or invoice (see the label patterns)
    explicit_currency: bool = False
    disputed: bool = False  # the words around it say it is the contested part


def parse_number(text: str) -> Decimal | None:
    """Parse one written number, deciding its decimal separator from its own shape."""
    s = text.strip().replace("\u00a0", " ").replace("\u202f", " ").replace("’", "'")
    seps = [(i, c) for i, c in enumerate(s) if c in ".,' "]
    decimal: str | None = None
    if seps:
        last_i, last_c = seps[-1]
        tail = len(s) - last_i - 1
        kinds = {c for _, c in seps}
        if last_c in " '":
            decimal = None
        elif len(kinds) > 1:
            decimal = last_c
        elif sum(1 for _, c in seps if c == last_c) > 1:
            decimal = None
        else:
            decimal = None if tail == 3 else last_c
    if decimal is not None:
        price = Price.fromstring(s, decimal_separator=decimal)
        if price.amount is not None:
            return price.amount
    digits = "".join(c for c in s if c.isdigit() or c == decimal)
    if decimal:
        digits = digits.replace(decimal, ".")
    try:
        return Decimal(digits) if digits else None
    except InvalidOperation:
        return None


def _currency_before(text: str, start: int, dollar: str) -> tuple[str | None, int]:
    m = _PREFIX.search(text, max(0, start - 7), start)
    if not m:
        return None, start
    begin = m.start()
    if m.group("code"):
        return m.group("code").upper(), begin
    if m.group("chf"):
        return "CHF", begin
    sym = m.group("sym").lower()
    if sym == "$":
        return dollar, begin
    for written, code in _SYMBOL_CODES:
        if sym == written:
            return code, begin
    return None, start


def _currency_after(text: str, end: int, dollar: str) -> tuple[str | None, int]:
    m = _SUFFIX.match(text, end, min(len(text), end + 14))
    if not m:
        return None, end
    stop = m.end()
    if m.group("cad"):
        return "CAD", stop
    if m.group("usd"):
        return "USD", stop
    if m.group("code"):
        return m.group("code").upper(), stop
    if m.group("sym"):
        sym = m.group("sym")
        if sym == "$":
            return dollar, stop
        return dict(_SYMBOL_CODES)[sym], stop
    word = fold(m.group("word"))
    code = _WORD_CODES.get(word, "$")
    return (dollar if code == "$" else code), stop


def _is_code_after(text: str, end: int, stop: int) -> bool:
    return bool(re.search(r"[A-Za-z]{3}", text[end:stop]))


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return line_start, len(text) if line_end < 0 else line_end


def _looks_like_row(line: str) -> bool:
    return bool(re.search(r"[;|\t]|\S {2,}\S", line))


def _is_date_like(num: str, before: str, after: str) -> bool:
    m = re.fullmatch(r"(\d{1,2})[.,/](\d{1,2})", num)
    if not m:
        return False
    day, month = int(m.group(1)), int(m.group(2))
    valid = 1 <= day <= 31 and 1 <= month <= 12 or 1 <= month <= 31 and 1 <= day <= 12
    if not valid:
        return False
    return after.startswith(".") or bool(_DATE_CUE.search(before))


def _label(folded_before: str) -> str | None:
    for name, pattern in (
        ("paid_total", _PAID_TOTAL_LABEL),
        ("tax", _TAX_LABEL),
        ("invoice", _INVOICE_LABEL),
        ("total", _TOTAL_LABEL),
        ("paid", _PAID_LABEL),
        ("amount", _AMOUNT_LABEL),
    ):
        if pattern.search(folded_before):
            return name
    return None


def find_amount_hits(text: str, language: str | None = None, *, dollar: str = "USD") -> list[AmountHit]:
    """Every amount in ``text`` with its position and label, in reading order.

    ``dollar`` is the ISO code a bare ``$`` stands for (the customer's dollar currency
    when known). ``language`` is accepted for symmetry with the other finders: the
    context words of every supported language are searched, because customers mix them.
    """
    folded = fold(text)
    hits: list[AmountHit] = []
    for m in _NUM.finditer(text):
        raw = m.group(0)
        start, end = m.start(), m.end()
        # A plain space may group thousands only when decimals or a currency confirm it.
        spaced = " " in raw
        prev = text[start - 1] if start else ""
        glued = prev.isalpha() or (prev == "-" and start >= 2 and text[start - 2].isalnum())
        if glued and not _PREFIX.search(text, max(0, start - 7), start):
            continue  # part of a reference such as INV-4512 or F2026
        currency, begin = _currency_before(text, start, dollar)
        after_currency, stop = (None, end)
        bare_dollar = currency == dollar and text[begin:start].strip(" \u00a0-–") == "$"
        if (currency is None or bare_dollar) and not _REF_BEFORE.search(text[max(0, start - 6) : start]):
            after_currency, stop = _currency_after(text, end, dollar)
            if after_currency is not None and (currency is None or _is_code_after(text, end, stop)):
                currency = after_currency  # "$620.00 CAD": the code says which dollar
            else:
                after_currency, stop = None, end
        line_start, line_end = _line_bounds(text, start, end)
        before = text[max(line_start, start - 60) : start]
        after = text[end : min(line_end, end + 20)]
        if _PERCENT.match(after):
            continue
        if currency is None:
            if spaced and not re.search(r"[.,]\d{1,2}$", raw):
                continue
            if _UNIT.match(after) or _REF_BEFORE.search(before):
                continue
            if _is_date_like(raw, before, after):
                continue
            has_decimals = bool(re.search(r"[.,]\d{2}$", raw))
            grouped = bool(re.fullmatch(r"\d{1,3}(?:[,.'’\u00a0\u202f ]\d{3})+(?:[.,]\d{2})?", raw))
            folded_line_before = folded[max(line_start, start - 80) : start]
            if has_decimals or grouped:
                line = text[line_start:line_end]
                context = (
                    _PAY_CONTEXT.search(folded_line_before)
                    or _PAY_CONTEXT.search(folded[end : min(line_end, end + 40)])
                    or _looks_like_row(line)
                    or _AMOUNT_HEADER.search(folded[max(0, _nth_line_start(text, line_start, 5)) : line_start])
                )
                if not context:
                    continue
            elif not re.search(
                r"(?<!\w)(?:amount|total|sum|betrag|summe|montant|importe|monto)(?: paid| paye| pagado)?"
                r"\s*[:=]?\s*$",
                folded_line_before,
            ):
                continue
        value = parse_number(raw)
        if value is None:
            continue
        label = _label(folded[max(line_start, begin - 60) : begin])
        disputed = bool(
            _DISPUTED_BEFORE.search(folded[max(line_start, begin - 60) : begin])
            or _DISPUTED_AFTER.match(folded, end if after_currency is None else stop, line_end)
        )
        span_start = begin if currency is not None and begin < start else start
        span_end = stop if after_currency is not None else end
        hits.append(
            AmountHit(
                money=Money(amount=value, currency=currency, text=text[span_start:span_end]),
                start=span_start,
                end=span_end,
                label=label,
                explicit_currency=currency is not None,
                disputed=disputed,
            )
        )
    return hits


def _nth_line_start(text: str, line_start: int, n: int) -> int:
    pos = line_start
    for _ in range(n):
        if pos <= 0:
            return 0
        pos = text.rfind("\n", 0, pos - 1) + 1
    return pos


def find_amounts(text: str, language: str | None = None, *, dollar: str = "USD") -> list[Money]:
    """The amounts written in ``text``, in reading order (see :func:`find_amount_hits`)."""
    return [hit.money for hit in find_amount_hits(text, language, dollar=dollar)]


def money_spans(text: str) -> list[tuple[int, int]]:
    """Spans of every number written like money (with a currency, decimals or groups).

    Used by reference matching so that ``1,234.56`` or ``$4,512.00`` never resolves to an
    invoice ending in 1234 or 4512, whatever the context words say.
    """
    spans = [(h.start, h.end) for h in find_amount_hits(text)]
    for m in _NUM.finditer(text):
        raw = m.group(0)
        if " " in raw and not re.search(r"[.,]\d{2}$", raw):
            continue
        shaped = re.search(r"[.,]\d{2}$", raw) or re.fullmatch(r"\d{1,3}(?:[,.'’]\d{3})+", raw)
        if shaped and not _is_date_like(raw, text[max(0, m.start() - 8) : m.start()], text[m.end() : m.end() + 2]):
            spans.append((m.start(), m.end()))
    return sorted(set(spans))
