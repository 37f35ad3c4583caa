"""``arinbox eval`` scoring: labels, each metric on hand-computed cases, the report."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arinbox.domain.errors import ConfigError
from arinbox.domain.models import ActionKind, Allocation, DisputeReason, Intent
from arinbox.evaluation.labels import (
    Label,
    LabelAllocation,
    LabelFileError,
    load_labels,
)
from arinbox.evaluation.report import render_text, to_json
from arinbox.evaluation.scoring import AutoAction, Prediction, percentile, score

# The keys of `arinbox eval --json` promised by the corpus format document, copied here
# so the test does not depend on where that document lives. per_intent holds one entry
# per intent, each with the keys below.
DOCUMENTED_KEYS = {
    "emails",
    "intent.accuracy",
    "intent.macro_f1",
    "intent.per_intent",
    "fields.customer_id",
    "fields.invoices.precision",
    "fields.invoices.recall",
    "fields.amount",
    "fields.promised_date",
    "fields.dispute_reason",
    "allocations.precision",
    "allocations.recall",
    "allocations.remittances_fully_applied",
    "masking.pii_leak_rate",
    "masking.keep_rate",
    "automation.auto_resolution_rate",
    "automation.wrong_automatic_actions",
    "automation.needs_human_missed",
    "timing.emails_per_second",
    "timing.p50_ms",
    "timing.p95_ms",
}
PER_INTENT_KEYS = {"precision", "recall", "f1", "support"}
ALLOWED_EXTRA_KEYS = {
    "failed",
    "intent.confusion",
    "fields.language",
    "fields.orders.precision",
    "fields.orders.recall",
}
INTEGER_KEYS = {
    "emails",
    "failed",
    "automation.wrong_automatic_actions",
    "automation.needs_human_missed",
}


def label(file: str, intent: Intent = Intent.OTHER, **fields: Any) -> Label:
    return Label(file=file, intent=intent, **fields)


def prediction(
    file: str, intent: Intent | None = Intent.OTHER, **fields: Any
) -> Prediction:
    return Prediction(file=file, intent=intent, **fields)


def alloc(invoice: str, amount: str) -> Allocation:
    return Allocation(invoice=invoice, amount=Decimal(amount))


def label_alloc(invoice: str, amount: str) -> LabelAllocation:
    return LabelAllocation(invoice=invoice, amount=Decimal(amount))


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaves; per_intent and confusion count as leaves."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and key not in {"per_intent", "confusion"}:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


# ---------------------------------------------------------------- labels.jsonl


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_labels_reads_optional_fields_and_ignores_unknown_keys(
    tmp_path: Path,
) -> None:
    full = {
        "file": "emails/001.eml",
        "intent": "remittance_advice",
        "secondary_intents": ["dispute"],
        "language": "de",
        "customer_id": "C-100",
        "invoices": ["INV-1", "INV-2"],
        "orders": None,
        "amount": "1250.50",
        "currency": "EUR",
        "promised_date": None,
        "dispute_reason": "pricing",
        "allocations": [{"invoice": "INV-1", "amount": "1000.00"}],
        "needs_human": False,
        "pii": ["Anna Schmidt"],
        "keep": ["INV-1"],
        "note": "labeller's comment, not a field",
    }
    minimal = {"file": "emails/002.eml", "intent": "auto_reply"}
    path = write_lines(
        tmp_path / "labels.jsonl", [json.dumps(full), "", json.dumps(minimal)]
    )

    first, second = load_labels(path)

    assert first.intent is Intent.REMITTANCE_ADVICE
    assert first.secondary_intents == [Intent.DISPUTE]
    assert first.amount == Decimal("1250.50")
    assert first.dispute_reason is DisputeReason.PRICING
    assert first.allocations == [label_alloc("INV-1", "1000")]
    assert first.orders is None and first.promised_date is None
    assert second == Label(file="emails/002.eml", intent=Intent.AUTO_REPLY)
    assert second.invoices is None and second.allocations is None


@pytest.mark.parametrize(
    ("bad_line", "field"),
    [
        ('{"file": "c.eml", "intent": "complaint"}', "intent"),
        ('{"file": "c.eml"}', "intent"),
        ('{"file": "c.eml", "intent": "other", "amount": "12,50"}', "amount"),
        (
            '{"file": "c.eml", "intent": "other", "promised_date": "soon"}',
            "promised_date",
        ),
        (
            '{"file": "c.eml", "intent": "other", "allocations": [{"invoice": "I"}]}',
            "allocations.0.amount",
        ),
        ('{"file": "c.eml", "intent": "other", "amount": "NaN"}', "amount"),
        ('{"file": "c.eml", "intent": "other"', "(line)"),
        ('["c.eml", "other"]', "(line)"),
        ('{"file": "a.eml", "intent": "dispute"}', "file"),  # a.eml is on line 1
    ],
)
def test_load_labels_names_file_line_and_field(
    tmp_path: Path, bad_line: str, field: str
) -> None:
    path = write_lines(
        tmp_path / "labels.jsonl",
        [
            '{"file": "a.eml", "intent": "other"}',
            '{"file": "b.eml", "intent": "other"}',
            bad_line,
        ],
    )

    with pytest.raises(ConfigError) as caught:
        load_labels(path)

    error = caught.value
    assert isinstance(error, LabelFileError)
    assert (error.file, error.line, error.field) == (str(path), 3, field)
    assert f"line 3, field {field!r}" in str(error)
    assert str(path) in str(error)


def test_load_labels_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read labels"):
        load_labels(tmp_path / "nope.jsonl")


# ---------------------------------------------------------------- intents


def test_intent_precision_recall_f1_accuracy_and_macro_f1() -> None:
    labels = [
        label("1", Intent.REMITTANCE_ADVICE),
        label("2", Intent.REMITTANCE_ADVICE),
        label("3", Intent.DISPUTE),
        label("4", Intent.OTHER),
    ]
    predictions = [
        prediction("1", Intent.REMITTANCE_ADVICE),
        prediction("2", Intent.DISPUTE),
        prediction("3", Intent.DISPUTE),
        prediction(
            "4", None, failed=True, human_step=True
        ),  # failed before classifying
    ]

    report = score(labels, predictions, wall_seconds=1.0).intent

    remittance = report.per_intent["remittance_advice"]
    assert (remittance.precision, remittance.recall, remittance.support) == (
        1.0,
        0.5,
        2,
    )
    assert remittance.f1 == pytest.approx(2 / 3)
    dispute = report.per_intent["dispute"]
    assert (dispute.precision, dispute.recall, dispute.support) == (0.5, 1.0, 1)
    assert dispute.f1 == pytest.approx(2 / 3)
    other = report.per_intent["other"]
    assert (other.precision, other.recall, other.f1, other.support) == (0, 0, 0, 1)
    assert report.accuracy == 0.5
    # macro over the three intents with support; the five without are left out
    assert report.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert list(report.per_intent) == [intent.value for intent in Intent]
    assert report.confusion == {
        "dispute": {"dispute": 1},
        "other": {"none": 1},
        "remittance_advice": {"remittance_advice": 1, "dispute": 1},
    }


def test_intent_predicted_but_never_labelled_scores_zero_without_nan() -> None:
    labels = [label("1", Intent.DISPUTE)]
    predictions = [prediction("1", Intent.PROMISE_TO_PAY)]

    report = score(labels, predictions, wall_seconds=1.0).intent

    promise = report.per_intent["promise_to_pay"]
    assert (promise.precision, promise.recall, promise.f1, promise.support) == (
        0,
        0,
        0,
        0,
    )
    assert report.macro_f1 == 0.0  # only dispute has support, and its F1 is 0


def test_empty_corpus_scores_zero_everywhere_and_is_valid_json() -> None:
    report = score([], [], wall_seconds=0.0)

    document = to_json(report)

    encoded = json.dumps(document, allow_nan=False)  # raises on NaN or infinity
    for path, value in flatten(json.loads(encoded)).items():
        if path == "intent.per_intent":
            assert all(v == dict.fromkeys(PER_INTENT_KEYS, 0) for v in value.values())
        elif path == "intent.confusion":
            assert value == {}
        else:
            assert value == 0, path


# ---------------------------------------------------------------- fields


def test_field_accuracies_skip_unlabelled_fields() -> None:
    labels = [
        label("1", customer_id="C1", language="en", promised_date=dt.date(2025, 3, 1)),
        label(
            "2", customer_id="C1", language="de", dispute_reason=DisputeReason.PRICING
        ),
        label("3"),  # nothing labelled: scored nowhere, whatever is predicted
    ]
    predictions = [
        prediction(
            "1", customer_id="C1", language="EN-gb", promised_date=dt.date(2025, 3, 1)
        ),
        prediction(
            "2", customer_id="C2", language=None, dispute_reason=DisputeReason.PRICING
        ),
        prediction(
            "3", customer_id="C9", language="fr", dispute_reason=DisputeReason.TAX
        ),
    ]

    fields = score(labels, predictions, wall_seconds=1.0).fields

    assert (fields.customer_id.value, fields.customer_id.scored) == (0.5, 2)
    assert (fields.language.value, fields.language.scored) == (0.5, 2)
    assert (fields.promised_date.value, fields.promised_date.scored) == (1.0, 1)
    assert (fields.dispute_reason.value, fields.dispute_reason.scored) == (1.0, 1)
    assert (fields.amount.value, fields.amount.scored) == (0.0, 0)  # nothing labelled


def test_amount_is_decimal_equality_and_currency_must_match_when_both_given() -> None:
    eur: dict[str, Any] = {"amount": Decimal("100.00"), "currency": "EUR"}
    labels = [
        label("same value, other scale", **eur),
        label("other currency", **eur),
        label("prediction has no currency", **eur),
        label("label has no currency", amount=Decimal("7.5")),
        label("no amount predicted", **eur),
        label("other value", **eur),
    ]
    predictions = [
        prediction("same value, other scale", amount=Decimal("100.0"), currency="eur"),
        prediction("other currency", amount=Decimal("100"), currency="USD"),
        prediction("prediction has no currency", amount=Decimal("100")),
        prediction("label has no currency", amount=Decimal("7.50"), currency="GBP"),
        prediction("no amount predicted", currency="EUR"),
        prediction("other value", amount=Decimal("100.01"), currency="EUR"),
    ]

    amount = score(labels, predictions, wall_seconds=1.0).fields.amount

    assert (amount.correct, amount.scored) == (3, 6)
    assert amount.value == 0.5


def test_invoice_and_order_references_are_micro_averaged() -> None:
    labels = [
        label("1", invoices=["A", "B"], orders=["SO-1"]),
        label(
            "2", invoices=[]
        ),  # labelled as none: every prediction is a false positive
        label("3"),  # not labelled: ignored
    ]
    predictions = [
        prediction("1", invoices=["A", "C", "A"], orders=[]),
        prediction("2", invoices=["D"], orders=["SO-2"]),
        prediction("3", invoices=["E"], orders=["SO-3"]),
    ]

    fields = score(labels, predictions, wall_seconds=1.0).fields

    # found A; predicted {A, C} + {D}; labelled {A, B}
    assert fields.invoices.precision == pytest.approx(1 / 3)
    assert fields.invoices.recall == 0.5
    assert fields.invoices.scored == 2
    # only email 1 labels orders: nothing predicted there, one labelled
    assert (fields.orders.precision, fields.orders.recall) == (0.0, 0.0)
    assert (fields.orders.predicted, fields.orders.labelled) == (0, 1)


# ---------------------------------------------------------------- allocations


def test_allocation_precision_recall_and_fully_applied() -> None:
    remittance = Intent.REMITTANCE_ADVICE
    labels = [
        label(
            "r1",
            remittance,
            allocations=[label_alloc("A", "100"), label_alloc("B", "50")],
        ),
        label("r2", remittance, allocations=[]),  # nothing should be applied
        label("r3", remittance),  # allocations not labelled
        label("r4", remittance, allocations=[label_alloc("D", "5")]),
        label(
            "d1", Intent.DISPUTE, allocations=[label_alloc("E", "1")]
        ),  # not a remittance
    ]
    predictions = [
        prediction(
            "r1",
            proposed_allocations=[
                alloc("A", "100.00"),
                alloc("B", "40"),
            ],  # B: wrong amount
            auto_allocations=[
                alloc("B", "50.0"),
                alloc("A", "100"),
            ],  # order does not matter
        ),
        prediction("r2", proposed_allocations=[alloc("C", "10")]),
        prediction("r3", proposed_allocations=[alloc("X", "1")], auto_allocations=[]),
        prediction("r4", proposed_allocations=[], auto_allocations=[]),
        prediction("d1", proposed_allocations=[alloc("Z", "1")]),
    ]

    allocations = score(labels, predictions, wall_seconds=1.0).allocations

    # matched: A/100; proposed: A, B/40, C; labelled: A, B/50, D
    assert allocations.precision == pytest.approx(1 / 3)
    assert allocations.recall == pytest.approx(1 / 3)
    assert allocations.scored == 3
    # r1 fully auto-applied; r4 not; r2 has an empty list and is not counted
    assert allocations.remittances_fully_applied == 0.5
    assert (allocations.fully_applied, allocations.fully_applicable) == (1, 2)


def test_secondary_remittance_counts_and_partial_auto_application_is_not_full() -> None:
    labels = [
        label(
            "1",
            Intent.DISPUTE,
            secondary_intents=[Intent.REMITTANCE_ADVICE],
            allocations=[label_alloc("A", "10"), label_alloc("B", "20")],
        )
    ]
    predictions = [
        prediction(
            "1",
            proposed_allocations=[alloc("A", "10"), alloc("B", "20")],
            auto_allocations=[alloc("A", "10")],
        )
    ]

    allocations = score(labels, predictions, wall_seconds=1.0).allocations

    assert (allocations.precision, allocations.recall) == (1.0, 1.0)
    assert allocations.remittances_fully_applied == 0.0


def test_allocations_with_no_proposals_and_no_labels_score_zero() -> None:
    labels = [label("1", Intent.REMITTANCE_ADVICE, allocations=[])]
    predictions = [prediction("1")]

    allocations = score(labels, predictions, wall_seconds=1.0).allocations

    assert (allocations.precision, allocations.recall) == (0.0, 0.0)
    assert allocations.remittances_fully_applied == 0.0


# ---------------------------------------------------------------- masking


def test_pii_leaks_case_insensitively_and_keep_values_must_survive_verbatim() -> None:
    labels = [
        label("1", pii=["John Smith", "DE89 3704 0044"], keep=["INV-1", "500.00"]),
        label("2", pii=["jane@example.org"], keep=["PO-77"]),
        label("3"),
    ]
    predictions = [
        prediction("1", masked_text="Dear JOHN SMITH, inv-1 paid 500.00 from <IBAN_1>"),
        prediction("2", masked_text="From <EMAIL_1> about PO-77"),
        prediction("3", masked_text="John Smith"),  # no pii labelled: not scored
    ]

    masking = score(labels, predictions, wall_seconds=1.0).masking

    assert masking.pii_leak_rate == pytest.approx(1 / 3)
    assert (masking.pii_leaked, masking.pii_values) == (1, 3)
    assert masking.keep_rate == pytest.approx(2 / 3)  # "INV-1" became "inv-1"
    assert (masking.keep_kept, masking.keep_values) == (2, 3)


def test_masking_with_nothing_labelled_scores_zero() -> None:
    masking = score([label("1")], [prediction("1", masked_text="x")], 1.0).masking

    assert (masking.pii_leak_rate, masking.keep_rate) == (0.0, 0.0)


# ---------------------------------------------------------------- automation


def apply(invoice: str | None, amount: str | None) -> AutoAction:
    return AutoAction(
        kind=ActionKind.APPLY_PAYMENT,
        invoice=invoice,
        amount=Decimal(amount) if amount is not None else None,
    )


def test_wrong_cash_applications_count_one_each() -> None:
    labels = [
        label("1", Intent.REMITTANCE_ADVICE, allocations=[label_alloc("A", "100")]),
        label("2", Intent.REMITTANCE_ADVICE, allocations=[]),
        label("3", Intent.REMITTANCE_ADVICE),  # allocations not labelled: not judged
    ]
    predictions = [
        prediction(
            "1",
            auto_actions=[
                apply("A", "100.00"),  # right
                apply("A", "100"),  # the same allocation a second time
                apply("B", "5"),  # wrong invoice
                apply("A", None),  # no amount
            ],
        ),
        prediction("2", auto_actions=[apply("C", "1")]),
        prediction("3", auto_actions=[apply("Z", "9")]),
    ]

    automation = score(labels, predictions, wall_seconds=1.0).automation

    assert automation.wrong_automatic_actions == 4
    assert [w.file for w in automation.wrong] == ["1", "1", "1", "2"]


def test_any_action_on_auto_reply_and_a_reply_to_other_are_wrong() -> None:
    reply = AutoAction(kind=ActionKind.SEND_REPLY)
    labels = [
        label("auto", Intent.AUTO_REPLY, allocations=[label_alloc("A", "1")]),
        label("spam", Intent.OTHER),
        label("question", Intent.ACCOUNT_INQUIRY),
    ]
    predictions = [
        # even an allocation the label lists is wrong on an auto-reply
        prediction("auto", auto_actions=[reply, apply("A", "1")]),
        prediction("spam", auto_actions=[reply]),
        prediction("question", auto_actions=[reply]),  # a reply to a question is fine
    ]

    automation = score(labels, predictions, wall_seconds=1.0).automation

    assert automation.wrong_automatic_actions == 3
    assert [w.file for w in automation.wrong] == ["auto", "auto", "spam"]


def test_disputes_on_unlabelled_invoices_and_promises_on_other_dates_are_wrong() -> (
    None
):
    def dispute(invoice: str | None) -> AutoAction:
        return AutoAction(kind=ActionKind.OPEN_DISPUTE, invoice=invoice)

    def promise(on: dt.date | None = None) -> AutoAction:
        return AutoAction(kind=ActionKind.RECORD_PROMISE, promised_date=on)

    march_1, march_2 = dt.date(2025, 3, 1), dt.date(2025, 3, 2)
    labels = [
        label("d1", Intent.DISPUTE, invoices=["X"]),
        label("d2", Intent.DISPUTE, invoices=[]),
        label("d3", Intent.DISPUTE),  # invoices not labelled: not judged
        label("p1", Intent.PROMISE_TO_PAY, promised_date=march_1),
        label("p2", Intent.PROMISE_TO_PAY),  # date not labelled: not judged
    ]
    predictions = [
        prediction("d1", auto_actions=[dispute("X"), dispute("Y"), dispute(None)]),
        prediction("d2", auto_actions=[dispute(None), dispute("Q")]),
        prediction("d3", auto_actions=[dispute("Y")]),
        prediction(
            "p1",
            promised_date=march_1,
            # the action's own date wins; without one, the prediction's date is used
            auto_actions=[promise(), promise(march_2), promise(march_1)],
        ),
        prediction("p2", auto_actions=[promise(march_2)]),
    ]

    automation = score(labels, predictions, wall_seconds=1.0).automation

    # d1: Y and no invoice; d2: Q; p1: March 2
    assert automation.wrong_automatic_actions == 4
    assert [(w.file, w.kind) for w in automation.wrong] == [
        ("d1", ActionKind.OPEN_DISPUTE),
        ("d1", ActionKind.OPEN_DISPUTE),
        ("d2", ActionKind.OPEN_DISPUTE),
        ("p1", ActionKind.RECORD_PROMISE),
    ]


def test_auto_resolution_rate_and_needs_human_missed() -> None:
    labels = [
        label("alone", needs_human=False),
        label("missed", needs_human=True),
        label("asked", needs_human=True),
        label("failed", needs_human=True),
        label("unlabelled"),
    ]
    predictions = [
        prediction("alone", human_step=False),
        prediction("missed", human_step=False),
        prediction("asked", human_step=True),
        prediction("failed", None, human_step=False, failed=True),
        prediction("unlabelled", human_step=False),
    ]

    report = score(labels, predictions, wall_seconds=1.0)

    assert report.automation.auto_resolution_rate == pytest.approx(3 / 5)
    assert report.automation.needs_human_missed == 1
    assert report.automation.missed_files == ["missed"]
    assert report.failed == 1


def test_a_labelled_email_without_prediction_counts_as_failed() -> None:
    labels = [label("1", Intent.DISPUTE, needs_human=True), label("2", Intent.DISPUTE)]
    predictions = [
        prediction("2", Intent.DISPUTE, duration_ms=8.0),
        prediction("not labelled", Intent.DISPUTE, duration_ms=1000.0),
    ]

    report = score(labels, predictions, wall_seconds=1.0)

    assert report.missing_predictions == ["1"]
    assert report.failed == 1
    assert report.intent.confusion["dispute"] == {"none": 1, "dispute": 1}
    assert report.automation.auto_resolution_rate == 0.5
    assert report.automation.needs_human_missed == 0
    assert (report.timing.p50_ms, report.timing.p95_ms) == (8.0, 8.0)


# ---------------------------------------------------------------- timing


def test_timing_throughput_and_percentiles() -> None:
    labels = [label(str(i)) for i in range(4)]
    predictions = [
        prediction(str(i), duration_ms=ms) for i, ms in enumerate([40, 10, 30, 20])
    ]

    timing = score(labels, predictions, wall_seconds=2.0).timing

    assert timing.emails_per_second == 2.0
    assert timing.p50_ms == 25.0
    assert timing.p95_ms == pytest.approx(38.5)  # 30 + 0.85 * (40 - 30)


def test_timing_with_no_wall_time_or_durations_is_zero() -> None:
    timing = score([label("1")], [], wall_seconds=0.0).timing

    assert (timing.emails_per_second, timing.p50_ms, timing.p95_ms) == (0.0, 0.0, 0.0)
    assert percentile([], 95) == 0.0
    assert percentile([7.0], 95) == 7.0


# ---------------------------------------------------------------- report


def sample_report_inputs() -> tuple[list[Label], list[Prediction]]:
    labels = [
        label(
            "r.eml",
            Intent.REMITTANCE_ADVICE,
            customer_id="C1",
            invoices=["A"],
            amount=Decimal("10"),
            allocations=[label_alloc("A", "10")],
            pii=["Ann"],
            keep=["A"],
        ),
        label(
            "d.eml", Intent.DISPUTE, invoices=["B"], dispute_reason=DisputeReason.TAX
        ),
        label("o.eml", Intent.AUTO_REPLY),
    ]
    predictions = [
        prediction(
            "r.eml",
            Intent.REMITTANCE_ADVICE,
            customer_id="C1",
            invoices=["A"],
            amount=Decimal("10"),
            proposed_allocations=[alloc("A", "10")],
            auto_allocations=[alloc("A", "10")],
            auto_actions=[apply("A", "10")],
            masked_text="<PERSON_1> paid A",
            duration_ms=12.0,
        ),
        prediction("d.eml", Intent.DISPUTE, human_step=True, duration_ms=30.0),
        prediction(
            "o.eml",
            Intent.OTHER,
            auto_actions=[AutoAction(kind=ActionKind.SEND_REPLY)],
            duration_ms=3.0,
        ),
    ]
    return labels, predictions


def test_json_has_exactly_the_documented_keys_plus_the_allowed_extras() -> None:
    labels, predictions = sample_report_inputs()

    document = to_json(score(labels, predictions, wall_seconds=1.5))

    flat = flatten(json.loads(json.dumps(document, allow_nan=False)))
    assert set(flat) == DOCUMENTED_KEYS | ALLOWED_EXTRA_KEYS
    assert set(flat["intent.per_intent"]) == {intent.value for intent in Intent}
    for scores in flat["intent.per_intent"].values():
        assert set(scores) == PER_INTENT_KEYS
        assert isinstance(scores["support"], int)
    for path, value in flat.items():
        if path in INTEGER_KEYS:
            assert isinstance(value, int) and not isinstance(value, bool), path
        elif path not in {"intent.per_intent", "intent.confusion"}:
            assert isinstance(value, float) and math.isfinite(value), path
            if path.startswith("timing."):
                assert value >= 0, path
            else:
                assert 0.0 <= value <= 1.0, path
    assert flat["emails"] == 3
    assert flat["timing.emails_per_second"] == 2.0
    assert flat["automation.wrong_automatic_actions"] == 1  # the reply to an auto-reply
    assert flat["intent.confusion"] == {
        "auto_reply": {"other": 1},
        "dispute": {"dispute": 1},
        "remittance_advice": {"remittance_advice": 1},
    }


def test_text_report_has_an_aligned_intent_table_and_every_section() -> None:
    labels, predictions = sample_report_inputs()

    text = render_text(score(labels, predictions, wall_seconds=1.5))

    lines = text.splitlines()
    header = next(
        i for i, line in enumerate(lines) if line.split()[:2] == ["intent", "precision"]
    )
    table = lines[header : header + 2 + len(Intent)]
    assert len({len(line) for line in table}) == 1  # every row as wide as the header
    assert [row.split()[0] for row in table[2:]] == [intent.value for intent in Intent]
    assert "  remittance_advice" in table[2] and table[2].endswith("1")
    for section in ("fields", "allocations", "masking", "automation", "timing"):
        assert any(line.startswith(section) for line in lines), section
    assert "o.eml: send_reply: acted on an auto-reply" in text
    assert "2.0 emails/s" in text
    assert "dispute_reason" in text and "0/1" in text


def test_cash_applied_to_an_email_that_is_no_remittance_is_wrong() -> None:
    from arinbox.evaluation.labels import Label
    from arinbox.evaluation.scoring import wrong_actions

    label = Label(file="p.eml", intent=Intent.PROMISE_TO_PAY, promised_date=dt.date(2026, 11, 20))
    applied = AutoAction(kind=ActionKind.APPLY_PAYMENT, invoice="I1", amount=Decimal("10"))
    prediction = Prediction(file="p.eml", intent=Intent.REMITTANCE_ADVICE, auto_actions=[applied])
    assert [w.reason for w in wrong_actions(label, prediction)] == ["applied 10 to I1: the email is no remittance"]
    secondary = label.model_copy(update={"secondary_intents": [Intent.REMITTANCE_ADVICE]})
    assert wrong_actions(secondary, prediction) == []
