"""A remittance document as readable lines: what masking, the trace and the text extractor see."""

from __future__ import annotations

from decimal import Decimal

from arinbox.domain.models import LineKind, RemittanceDoc, RemittanceLine

_KIND_LABEL = {LineKind.INVOICE: "Invoice", LineKind.CREDIT_MEMO: "Credit memo",
               LineKind.ADJUSTMENT: "Adjustment", LineKind.PAYMENT: "Payment"}


def _money(value: Decimal, currency: str | None) -> str:
    return f"{value} {currency}" if currency else str(value)


def render_line(line: RemittanceLine, currency: str | None) -> str:
    ccy = line.currency or currency
    head = _KIND_LABEL[line.kind] + (f" {line.reference}" if line.reference else "")
    parts = []
    if line.amount is not None:
        parts.append(f"paid {_money(line.amount, ccy)}")
    if line.gross is not None:
        parts.append(f"gross {_money(line.gross, ccy)}")
    if line.discount:
        parts.append(f"discount {_money(line.discount, ccy)}")
    if line.adjustment is not None:
        why = " ".join(x for x in (line.reason_code, line.reason) if x)
        parts.append(f"adjustment {_money(line.adjustment, ccy)}" + (f" ({why})" if why else ""))
    if line.date:
        parts.append(line.date.isoformat())
    return head + ": " + ", ".join(parts) if parts else head


def render_doc(doc: RemittanceDoc, free_text: str = "") -> str:
    head = [f"Remittance ({doc.format})"]
    if doc.total is not None:
        head.append(f"total paid {_money(doc.total, doc.currency)}")
    if doc.date:
        head.append(f"dated {doc.date.isoformat()}")
    if doc.payer_reference:
        head.append(f"payment reference {doc.payer_reference}")
    lines = [", ".join(head)]
    lines += [render_line(line, doc.currency) for line in doc.lines]
    if free_text.strip():
        lines += ["", free_text.strip()]
    return "\n".join(lines)
