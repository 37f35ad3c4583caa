"""Score what the pipeline did with a corpus against its labels: pure functions, no I/O.

The metrics are those the corpus format document lists for ``arinbox eval``. Every
ratio with an empty denominator is 0.0, never NaN, so a report is always valid JSON.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from arinbox.domain.models import ActionKind, Allocation, DisputeReason, Intent
from arinbox.evaluation.labels import Label

# the confusion-matrix column of an email that failed before it got an intent
NO_INTENT = "none"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- what the pipeline did


class AutoAction(_Frozen):
    """An action that ran with no human step."""

    kind: ActionKind
    invoice: str | None = None
    amount: Decimal | None = None
    # the date a recorded promise holds; if absent, the prediction's promised_date
    promised_date: dt.date | None = None


class Prediction(_Frozen):
    """What the pipeline made of one email of the corpus."""

    file: str
    intent: Intent | None = None  # None when the email failed before classification
    secondary_intents: list[Intent] = Field(default_factory=list)
    language: str | None = None
    customer_id: str | None = None
    invoices: list[str] = Field(default_factory=list)
    orders: list[str] = Field(default_factory=list)
    amount: Decimal | None = None
    currency: str | None = None
    promised_date: dt.date | None = None
    dispute_reason: DisputeReason | None = None
    proposed_allocations: list[Allocation] = Field(default_factory=list)
    auto_allocations: list[Allocation] = Field(default_factory=list)
    auto_actions: list[AutoAction] = Field(default_factory=list)
    # a person was needed: approval was requested, or the email failed
    human_step: bool = False
    failed: bool = False
    masked_text: str = ""
    duration_ms: float = 0.0


# ---------------------------------------------------------------- the report


class IntentScore(_Frozen):
    precision: float
    recall: float
    f1: float
    support: int


class IntentReport(_Frozen):
    accuracy: float
    macro_f1: float
    per_intent: dict[str, IntentScore]
    confusion: dict[str, dict[str, int]]  # true intent -> predicted intent -> count


class Accuracy(_Frozen):
    """Share of labelled emails whose prediction was right (``scored`` labelled)."""

    value: float
    correct: int
    scored: int


class PrecisionRecall(_Frozen):
    precision: float
    recall: float
    true_positives: int
    predicted: int
    labelled: int
    scored: int  # emails that took part


class FieldReport(_Frozen):
    customer_id: Accuracy
    language: Accuracy
    amount: Accuracy
    promised_date: Accuracy
    dispute_reason: Accuracy
    invoices: PrecisionRecall
    orders: PrecisionRecall


class AllocationReport(_Frozen):
    precision: float
    recall: float
    remittances_fully_applied: float
    scored: int  # remittances whose label has an allocation list
    fully_applied: int
    fully_applicable: int  # remittances with a non-empty labelled allocation list


class MaskingReport(_Frozen):
    pii_leak_rate: float
    keep_rate: float
    pii_values: int
    pii_leaked: int
    keep_values: int
    keep_kept: int


class WrongAction(_Frozen):
    file: str
    kind: ActionKind
    reason: str


class AutomationReport(_Frozen):
    auto_resolution_rate: float
    wrong_automatic_actions: int
    needs_human_missed: int
    auto_resolved: int
    wrong: list[WrongAction]
    missed_files: list[str]


class TimingReport(_Frozen):
    emails_per_second: float
    p50_ms: float
    p95_ms: float
    wall_seconds: float


class Report(_Frozen):
    emails: int
    failed: int
    missing_predictions: list[str]  # labelled files the pipeline returned nothing for
    intent: IntentReport
    fields: FieldReport
    allocations: AllocationReport
    masking: MaskingReport
    automation: AutomationReport
    timing: TimingReport


# ---------------------------------------------------------------- scoring


def score(
    labels: Sequence[Label], predictions: Iterable[Prediction], wall_seconds: float
) -> Report:
    """Score ``predictions`` against ``labels``, matched by ``file``.

    A labelled email with no prediction counts as failed; predictions for unlabelled
    files are ignored.
    """
    by_file = {prediction.file: prediction for prediction in predictions}
    missing = [label.file for label in labels if label.file not in by_file]
    pairs = [
        (
            label,
            by_file.get(label.file)
            or Prediction(file=label.file, human_step=True, failed=True),
        )
        for label in labels
    ]
    durations = [
        by_file[label.file].duration_ms for label in labels if label.file in by_file
    ]
    return Report(
        emails=len(pairs),
        failed=sum(1 for _, prediction in pairs if prediction.failed),
        missing_predictions=missing,
        intent=score_intents(pairs),
        fields=score_fields(pairs),
        allocations=score_allocations(pairs),
        masking=score_masking(pairs),
        automation=score_automation(pairs),
        timing=score_timing(len(pairs), durations, wall_seconds),
    )


Pair = tuple[Label, Prediction]


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, or 0.0 when the denominator is zero."""
    return float(numerator) / float(denominator) if denominator else 0.0


def f1(precision: float, recall: float) -> float:
    return ratio(2 * precision * recall, precision + recall)


def score_intents(pairs: Sequence[Pair]) -> IntentReport:
    confusion: dict[str, Counter[str]] = {}
    for label, prediction in pairs:
        predicted = (
            prediction.intent.value if prediction.intent is not None else NO_INTENT
        )
        confusion.setdefault(label.intent.value, Counter())[predicted] += 1
    per_intent: dict[str, IntentScore] = {}
    for intent in Intent:
        true_positives = confusion.get(intent.value, Counter())[intent.value]
        support = sum(confusion.get(intent.value, Counter()).values())
        predicted_as = sum(row[intent.value] for row in confusion.values())
        precision = ratio(true_positives, predicted_as)
        recall = ratio(true_positives, support)
        per_intent[intent.value] = IntentScore(
            precision=precision,
            recall=recall,
            f1=f1(precision, recall),
            support=support,
        )
    supported = [s.f1 for s in per_intent.values() if s.support]
    correct = sum(row[true] for true, row in confusion.items())
    return IntentReport(
        accuracy=ratio(correct, len(pairs)),
        macro_f1=ratio(sum(supported), len(supported)),
        per_intent=per_intent,
        confusion={true: dict(row) for true, row in sorted(confusion.items())},
    )


def _language(code: str) -> str:
    # "en-GB" and "en" name the same language for this purpose
    return code.strip().replace("_", "-").split("-")[0].lower()


def _amount_matches(label: Label, prediction: Prediction) -> bool:
    if prediction.amount is None or prediction.amount != label.amount:
        return False
    if label.currency and prediction.currency:
        return label.currency.strip().upper() == prediction.currency.strip().upper()
    return True


def _accuracy(outcomes: Iterable[bool | None]) -> Accuracy:
    """Accuracy over scored outcomes (None: the label has no value, not scored)."""
    scored = [outcome for outcome in outcomes if outcome is not None]
    correct = sum(scored)
    return Accuracy(
        value=ratio(correct, len(scored)), correct=correct, scored=len(scored)
    )


def _reference_pr(
    pairs: Iterable[tuple[list[str] | None, list[str]]],
) -> PrecisionRecall:
    """Micro-averaged precision and recall over emails whose label has the list."""
    true_positives = predicted_total = labelled_total = scored = 0
    for labelled, predicted in pairs:
        if labelled is None:
            continue
        scored += 1
        truth, guess = set(labelled), set(predicted)
        true_positives += len(truth & guess)
        predicted_total += len(guess)
        labelled_total += len(truth)
    return PrecisionRecall(
        precision=ratio(true_positives, predicted_total),
        recall=ratio(true_positives, labelled_total),
        true_positives=true_positives,
        predicted=predicted_total,
        labelled=labelled_total,
        scored=scored,
    )


def score_fields(pairs: Sequence[Pair]) -> FieldReport:
    def when(labelled: object, outcome: bool) -> bool | None:
        return None if labelled is None else outcome

    return FieldReport(
        customer_id=_accuracy(
            when(label.customer_id, prediction.customer_id == label.customer_id)
            for label, prediction in pairs
        ),
        language=_accuracy(
            when(
                label.language,
                prediction.language is not None
                and label.language is not None
                and _language(prediction.language) == _language(label.language),
            )
            for label, prediction in pairs
        ),
        amount=_accuracy(
            when(label.amount, _amount_matches(label, prediction))
            for label, prediction in pairs
        ),
        promised_date=_accuracy(
            when(label.promised_date, prediction.promised_date == label.promised_date)
            for label, prediction in pairs
        ),
        dispute_reason=_accuracy(
            when(
                label.dispute_reason, prediction.dispute_reason == label.dispute_reason
            )
            for label, prediction in pairs
        ),
        invoices=_reference_pr(
            (label.invoices, prediction.invoices) for label, prediction in pairs
        ),
        orders=_reference_pr(
            (label.orders, prediction.orders) for label, prediction in pairs
        ),
    )


class _AllocationLike(Protocol):
    @property
    def invoice(self) -> str: ...

    @property
    def amount(self) -> Decimal: ...


def _keys(allocations: Iterable[_AllocationLike]) -> Counter[tuple[str, Decimal]]:
    # Decimal("10.0") == Decimal("10.00") and both hash alike, so amounts compare by
    # value; being a multiset it also catches the same allocation applied twice
    return Counter(
        (allocation.invoice, allocation.amount) for allocation in allocations
    )


def _is_remittance(label: Label) -> bool:
    return label.intent is Intent.REMITTANCE_ADVICE or Intent.REMITTANCE_ADVICE in (
        label.secondary_intents or []
    )


def score_allocations(pairs: Sequence[Pair]) -> AllocationReport:
    true_positives = predicted_total = labelled_total = scored = 0
    fully_applied = fully_applicable = 0
    for label, prediction in pairs:
        if label.allocations is None or not _is_remittance(label):
            continue
        scored += 1
        truth = _keys(label.allocations)
        proposed = _keys(prediction.proposed_allocations)
        true_positives += sum((truth & proposed).values())
        predicted_total += sum(proposed.values())
        labelled_total += sum(truth.values())
        if truth:
            fully_applicable += 1
            fully_applied += _keys(prediction.auto_allocations) == truth
    return AllocationReport(
        precision=ratio(true_positives, predicted_total),
        recall=ratio(true_positives, labelled_total),
        remittances_fully_applied=ratio(fully_applied, fully_applicable),
        scored=scored,
        fully_applied=fully_applied,
        fully_applicable=fully_applicable,
    )


def score_masking(pairs: Sequence[Pair]) -> MaskingReport:
    pii_values = pii_leaked = keep_values = keep_kept = 0
    for label, prediction in pairs:
        masked = prediction.masked_text
        folded = masked.casefold()
        for value in label.pii or []:
            pii_values += 1
            pii_leaked += value.casefold() in folded
        for value in label.keep or []:
            keep_values += 1
            keep_kept += value in masked
    return MaskingReport(
        pii_leak_rate=ratio(pii_leaked, pii_values),
        keep_rate=ratio(keep_kept, keep_values),
        pii_values=pii_values,
        pii_leaked=pii_leaked,
        keep_values=keep_values,
        keep_kept=keep_kept,
    )


def _take(unmatched: Counter[tuple[str, Decimal]], action: AutoAction) -> bool:
    """Use up one labelled allocation equal to ``action``; False when none is left."""
    if action.invoice is None or action.amount is None:
        return False
    key = (action.invoice, action.amount)
    if unmatched[key] <= 0:
        return False
    unmatched[key] -= 1
    return True


def wrong_actions(label: Label, prediction: Prediction) -> list[WrongAction]:
    """The automatic actions on one email that its label says are wrong."""
    wrong: list[WrongAction] = []
    unmatched = _keys(label.allocations) if label.allocations is not None else None

    def flag(action: AutoAction, reason: str) -> None:
        wrong.append(WrongAction(file=label.file, kind=action.kind, reason=reason))

    for action in prediction.auto_actions:
        if label.intent is Intent.AUTO_REPLY:
            flag(action, "acted on an auto-reply")
        elif action.kind is ActionKind.APPLY_PAYMENT and not _is_remittance(label):
            flag(action, f"applied {action.amount} to {action.invoice}: the email is no remittance")
        elif action.kind is ActionKind.APPLY_PAYMENT and unmatched is not None:
            if not _take(unmatched, action):
                flag(
                    action, f"applied {action.amount} to {action.invoice}: not labelled"
                )
        elif action.kind is ActionKind.SEND_REPLY and label.intent is Intent.OTHER:
            flag(action, "replied to an email labelled other")
        elif action.kind is ActionKind.OPEN_DISPUTE and label.invoices is not None:
            # a dispute on no invoice is only wrong when the label names the invoice(s)
            on_wrong_invoice = (
                action.invoice not in label.invoices
                if action.invoice is not None
                else bool(label.invoices)
            )
            if on_wrong_invoice:
                flag(
                    action,
                    f"opened a dispute on {action.invoice}: not a labelled invoice",
                )
        elif (
            action.kind is ActionKind.RECORD_PROMISE and label.promised_date is not None
        ):
            promised = action.promised_date or prediction.promised_date
            if promised != label.promised_date:
                flag(
                    action,
                    f"promise recorded for {promised}, labelled {label.promised_date}",
                )
    return wrong


def score_automation(pairs: Sequence[Pair]) -> AutomationReport:
    handled_alone = [
        (label, prediction)
        for label, prediction in pairs
        if not prediction.human_step and not prediction.failed
    ]
    wrong = [
        entry
        for label, prediction in pairs
        for entry in wrong_actions(label, prediction)
    ]
    missed = [label.file for label, _ in handled_alone if label.needs_human]
    return AutomationReport(
        auto_resolution_rate=ratio(len(handled_alone), len(pairs)),
        wrong_automatic_actions=len(wrong),
        needs_human_missed=len(missed),
        auto_resolved=len(handled_alone),
        wrong=wrong,
        missed_files=missed,
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks; 0.0 if empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def score_timing(
    emails: int, durations_ms: Sequence[float], wall_seconds: float
) -> TimingReport:
    return TimingReport(
        emails_per_second=ratio(emails, wall_seconds) if wall_seconds > 0 else 0.0,
        p50_ms=percentile(durations_ms, 50),
        p95_ms=percentile(durations_ms, 95),
        wall_seconds=wall_seconds,
    )
