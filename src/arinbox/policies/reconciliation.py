"""Finance-owned reconciliation rules (``policies/reconciliation.yaml``), validated at load.

In the spirit of an ERP's reconciliation models: ordered rules, each of one kind,

- ``reference``: a customer's own way of writing our invoice numbers (a regular expression whose
  named groups fill a template: "their doc no. 4512" = ``INV-2026-004512``);
- ``partner``: a payer (sender address or domain, or a remittance's payer reference) that pays on
  behalf of a ledger customer;
- ``tolerance``: a small difference between payment and open amount that is accepted (absolute
  and/or percent); the difference stays open unless the rule says ``write_off``;

and an ``action``: ``auto`` (the policy's thresholds decide) or ``review`` (always a person).
The first rule of a kind that applies wins; every use is cited by rule id in the evidence.
"""

from __future__ import annotations

import hashlib
import re
import string
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from arinbox.yaml_files import load_yaml_model

RuleAction = Literal["auto", "review"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReferencePattern(_Strict):
    # searched case-insensitively in the email text and in each remittance line's reference
    pattern: str = Field(min_length=1)
    # our invoice number, a format template over the pattern's named groups: "INV-2026-{number:0>6}"
    invoice: str = Field(min_length=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value, re.IGNORECASE)
        except re.error as e:
            raise ValueError(f"not a valid regular expression: {e}") from None
        if not compiled.groupindex:
            raise ValueError("the pattern needs a named group, e.g. (?P<number>\\d+)")
        return value

    @model_validator(mode="after")
    def _template_uses_groups(self) -> Self:
        groups = set(re.compile(self.pattern).groupindex)
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(self.invoice) if f is not None}
        except ValueError as e:
            raise ValueError(f"invoice template: {e}") from None
        unknown = sorted(f for f in fields if f not in groups)
        if not fields or unknown:
            raise ValueError(f"invoice template must use the pattern's named groups {sorted(groups)}"
                             + (f", not {unknown}" if unknown else ""))
        try:
            self.invoice.format(**{g: "1" for g in groups})
        except (ValueError, KeyError, IndexError) as e:
            raise ValueError(f"invoice template: {e}") from None
        return self

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.IGNORECASE)

    def number(self, found: re.Match[str]) -> str | None:
        """Our invoice number for one match, or None when a group the template needs is empty."""
        groups = {k: v for k, v in found.groupdict().items() if v}
        try:
            return self.invoice.format(**groups)
        except (KeyError, ValueError):
            return None


class PartnerMapping(_Strict):
    # sender addresses (ap@payco.example) or domains (payco.example: subdomains too)
    payers: list[str] = Field(default_factory=list)
    # a regular expression matched against a remittance document's payer reference
    payer_reference: str | None = None
    customer: str = Field(min_length=1)  # the ledger customer the payer pays for

    @field_validator("payers")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return [v.strip().lower().lstrip("@") for v in values if v.strip()]

    @field_validator("payer_reference")
    @classmethod
    def _reference_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as e:
                raise ValueError(f"not a valid regular expression: {e}") from None
        return value

    @model_validator(mode="after")
    def _names_a_payer(self) -> Self:
        if not self.payers and self.payer_reference is None:
            raise ValueError("a partner mapping needs payers or a payer_reference")
        return self

    def matches(self, sender: str, payer_references: list[str]) -> str | None:
        """What identified the payer (for the evidence), or None."""
        address = sender.strip().lower()
        domain = address.rpartition("@")[2]
        for payer in self.payers:
            if "@" in payer and payer == address:
                return f"sender {address}"
            if "@" not in payer and domain and (domain == payer or domain.endswith("." + payer)):
                return f"sender domain {domain}"
        if self.payer_reference is not None:
            for ref in payer_references:
                if re.fullmatch(self.payer_reference, ref.strip()):
                    return f"payer reference {ref.strip()}"
        return None


class Tolerance(_Strict):
    # the difference is accepted when within every limit given
    absolute: Decimal | None = Field(default=None, ge=0)
    percent: Decimal | None = Field(default=None, ge=0, le=100)  # of the open amount
    # true: a short difference is proposed for write-off; false: it stays open on the invoice
    write_off: bool = False

    @model_validator(mode="after")
    def _has_a_limit(self) -> Self:
        if self.absolute is None and self.percent is None:
            raise ValueError("a tolerance needs absolute, percent or both")
        return self

    def accepts(self, difference: Decimal, base: Decimal) -> bool:
        difference = abs(difference)
        if self.absolute is not None and difference > self.absolute:
            return False
        return self.percent is None or difference <= base * self.percent / 100


class ReconciliationRule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)
    description: str = ""
    # only for these ledger customers (empty: every customer); not for partner rules
    customers: list[str] = Field(default_factory=list)
    # only for payments in these currencies (empty: any)
    currencies: list[str] = Field(default_factory=list)
    reference: ReferencePattern | None = None
    partner: PartnerMapping | None = None
    tolerance: Tolerance | None = None
    action: RuleAction

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        kinds = [k for k in ("reference", "partner", "tolerance") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a rule has exactly one of reference, partner or tolerance"
                             + (f" (found {', '.join(kinds)})" if kinds else ""))
        if self.partner is not None and self.customers:
            raise ValueError("a partner rule names its customer under partner.customer, not customers")
        return self

    @property
    def kind(self) -> str:
        return "reference" if self.reference else "partner" if self.partner else "tolerance"

    def applies_to(self, customer_id: str | None, currency: str | None = None) -> bool:
        if self.customers and customer_id not in self.customers:
            return False
        return not (self.currencies and currency is not None and currency not in self.currencies)


class ReconciliationRules(_Strict):
    name: str
    version: int = Field(ge=1)
    rules: list[ReconciliationRule] = Field(default_factory=list)
    content_hash: str = ""

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self

    @property
    def version_id(self) -> str:
        return f"{self.name}@{self.version}#{self.content_hash[:12]}"

    def get(self, rule_id: str) -> ReconciliationRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def of_kind(self, kind: str, customer_id: str | None = None,
                currency: str | None = None) -> list[ReconciliationRule]:
        return [r for r in self.rules if r.kind == kind and r.applies_to(customer_id, currency)]

    def partner_for(self, sender: str, payer_references: list[str]) -> tuple[ReconciliationRule, str] | None:
        """The first partner rule naming this payer, with what identified it."""
        for rule in self.of_kind("partner"):
            assert rule.partner is not None
            why = rule.partner.matches(sender, payer_references)
            if why is not None:
                return rule, why
        return None

    def tolerance_for(self, customer_id: str | None, currency: str | None) -> ReconciliationRule | None:
        found = self.of_kind("tolerance", customer_id, currency)
        return found[0] if found else None


NO_RULES = ReconciliationRules(name="none", version=1)


def load_reconciliation(path: Path) -> ReconciliationRules:
    rules = load_yaml_model(path, ReconciliationRules)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return rules.model_copy(update={"content_hash": digest})
