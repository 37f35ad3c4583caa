"""Present a scored ``Report``: the JSON other tools read, and a plain-text summary.

``to_json`` emits exactly the keys the corpus format document promises, plus
``fields.orders``, ``fields.language``, ``intent.confusion`` and ``failed``; the rest of
the report (counts, the list of wrong actions) appears only in the text.
"""

from __future__ import annotations

from typing import Any

from arinbox.evaluation.scoring import Accuracy, Report


def to_json(report: Report) -> dict[str, Any]:
    fields = report.fields
    return {
        "emails": report.emails,
        "failed": report.failed,
        "intent": {
            "accuracy": report.intent.accuracy,
            "macro_f1": report.intent.macro_f1,
            "per_intent": {
                intent: {
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "support": s.support,
                }
                for intent, s in report.intent.per_intent.items()
            },
            "confusion": {
                true: dict(row) for true, row in report.intent.confusion.items()
            },
        },
        "fields": {
            "customer_id": fields.customer_id.value,
            "language": fields.language.value,
            "invoices": {
                "precision": fields.invoices.precision,
                "recall": fields.invoices.recall,
            },
            "orders": {
                "precision": fields.orders.precision,
                "recall": fields.orders.recall,
            },
            "amount": fields.amount.value,
            "promised_date": fields.promised_date.value,
            "dispute_reason": fields.dispute_reason.value,
        },
        "allocations": {
            "precision": report.allocations.precision,
            "recall": report.allocations.recall,
            "remittances_fully_applied": report.allocations.remittances_fully_applied,
        },
        "masking": {
            "pii_leak_rate": report.masking.pii_leak_rate,
            "keep_rate": report.masking.keep_rate,
        },
        "automation": {
            "auto_resolution_rate": report.automation.auto_resolution_rate,
            "wrong_automatic_actions": report.automation.wrong_automatic_actions,
            "needs_human_missed": report.automation.needs_human_missed,
        },
        "timing": {
            "emails_per_second": report.timing.emails_per_second,
            "p50_ms": report.timing.p50_ms,
            "p95_ms": report.timing.p95_ms,
        },
    }


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Left-align the first column, right-align the others."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        return "  " + "  ".join(cells).rstrip()

    rule = "  " + "  ".join("-" * width for width in widths)
    return [line(header), rule, *(line(row) for row in rows)]


def _rate(value: float) -> str:
    return f"{value:.3f}"


def _accuracy_row(name: str, accuracy: Accuracy) -> list[str]:
    if not accuracy.scored:
        return [name, "-", "0 labelled"]
    return [name, _rate(accuracy.value), f"{accuracy.correct}/{accuracy.scored}"]


def render_text(report: Report) -> str:
    intent, fields = report.intent, report.fields
    allocations, masking = report.allocations, report.masking
    automation, timing = report.automation, report.timing
    out: list[str] = [
        f"emails: {report.emails}   failed: {report.failed}",
    ]
    if report.missing_predictions:
        out.append(f"no result for: {', '.join(report.missing_predictions)}")

    out += ["", f"intent  accuracy {_rate(intent.accuracy)}", ""]
    out += _table(
        ["intent", "precision", "recall", "f1", "support"],
        [
            [name, _rate(s.precision), _rate(s.recall), _rate(s.f1), str(s.support)]
            for name, s in intent.per_intent.items()
        ],
    )
    out.append(f"  macro-F1 (intents with support): {_rate(intent.macro_f1)}")

    out += ["", "fields", ""]
    out += _table(
        ["field", "score", "of"],
        [
            _accuracy_row("customer_id", fields.customer_id),
            _accuracy_row("language", fields.language),
            _accuracy_row("amount", fields.amount),
            _accuracy_row("promised_date", fields.promised_date),
            _accuracy_row("dispute_reason", fields.dispute_reason),
        ],
    )
    out.append("")
    out += _table(
        ["references", "precision", "recall", "found/predicted/labelled"],
        [
            [
                name,
                _rate(pr.precision),
                _rate(pr.recall),
                f"{pr.true_positives}/{pr.predicted}/{pr.labelled}",
            ]
            for name, pr in (("invoices", fields.invoices), ("orders", fields.orders))
        ],
    )

    out += [
        "",
        f"allocations  (remittances with labelled allocations: {allocations.scored})",
        f"  precision {_rate(allocations.precision)}"
        f"   recall {_rate(allocations.recall)}",
        f"  fully auto-applied {_rate(allocations.remittances_fully_applied)}"
        f" ({allocations.fully_applied}/{allocations.fully_applicable})",
        "",
        "masking",
        f"  pii leaked {_rate(masking.pii_leak_rate)}"
        f" ({masking.pii_leaked}/{masking.pii_values})",
        f"  keep kept  {_rate(masking.keep_rate)}"
        f" ({masking.keep_kept}/{masking.keep_values})",
        "",
        "automation",
        f"  auto-resolved {_rate(automation.auto_resolution_rate)}"
        f" ({automation.auto_resolved}/{report.emails})",
        f"  wrong automatic actions {automation.wrong_automatic_actions}",
    ]
    out += [f"    {w.file}: {w.kind.value}: {w.reason}" for w in automation.wrong]
    out.append(f"  needs-human missed {automation.needs_human_missed}")
    out += [f"    {file}" for file in automation.missed_files]
    out += [
        "",
        "timing",
        f"  {timing.emails_per_second:.1f} emails/s"
        f"   p50 {timing.p50_ms:.1f} ms   p95 {timing.p95_ms:.1f} ms"
        f"   wall {timing.wall_seconds:.1f} s",
    ]
    return "\n".join(out) + "\n"
