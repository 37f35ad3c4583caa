"""A ``Ledger`` on a generic REST ERP, configured by YAML (``connectors/erp-rest.example.yaml``).

Reads page through list endpoints and map the ERP's JSON field names to arinbox's; a list is
filtered by customer with the ERP's own name of the customer field as the query parameter
(``?customerId=C1``), one record is ``GET {endpoint}/{id}``. Writes (payments, disputes, promises)
are POSTed with an ``Idempotency-Key`` header, after the same checks the SQL ledger makes, and read
back by that key (``GET {endpoint}?idempotencyKey=...``) before they count as done. 5xx, 429 and
connection failures are retried with backoff (Retry-After wins) and then raise ServiceUnavailable,
so the email waits and a later run repeats the write under the same key; other 4xx answers are
clear errors: 401/403 a ConfigError naming the token, a refused write a LedgerError.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from arinbox.connectors.config import Secret
from arinbox.domain.errors import ConfigError, LedgerError, ServiceUnavailable
from arinbox.domain.models import Allocation, CustomerFact, InvoiceFact, OrderFact
from arinbox.domain.ports import LedgerWrite
from arinbox.ledger.rules import check_allocations
from arinbox.yaml_files import load_yaml_model

FIELDS: dict[str, tuple[str, ...]] = {
    "customer": tuple(CustomerFact.model_fields),
    "invoice": tuple(InvoiceFact.model_fields),
    "order": tuple(OrderFact.model_fields),
    "payment": ("id", "customer_id", "amount", "currency", "received", "reference", "allocations",
                "allocation_invoice", "allocation_amount"),
    "dispute": ("id", "customer_id", "invoice_number", "amount", "reason", "owner", "note"),
    "promise": ("id", "customer_id", "invoice_numbers", "amount", "currency", "promised_date"),
}
F = TypeVar("F", CustomerFact, InvoiceFact, OrderFact)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Auth(_Strict):
    header: str = "Authorization"
    prefix: str = "Bearer "
    token: Secret


class Paging(_Strict):
    page_param: str = "page"
    size_param: str = "per_page"
    size: int = Field(default=200, ge=1, le=10_000)
    items: str = "data"  # the key of the record list in a page


class Endpoints(_Strict):
    customers: str
    invoices: str
    orders: str
    payments: str
    disputes: str
    promises: str


class FieldMaps(_Strict):
    """ERP field name per arinbox field, per record kind; unmapped fields keep arinbox's name."""

    customer: dict[str, str] = Field(default_factory=dict)
    invoice: dict[str, str] = Field(default_factory=dict)
    order: dict[str, str] = Field(default_factory=dict)
    payment: dict[str, str] = Field(default_factory=dict)
    dispute: dict[str, str] = Field(default_factory=dict)
    promise: dict[str, str] = Field(default_factory=dict)

    @field_validator("*")
    @classmethod
    def _known(cls, mapping: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        known = FIELDS[str(info.field_name)]
        unknown = sorted(set(mapping) - set(known))
        if unknown:
            raise ValueError(f"no arinbox field {unknown[0]!r} (known: {', '.join(known)})")
        return mapping


class ErpConfig(_Strict):
    base_url: str = Field(pattern=r"^https?://")
    auth: Auth | None = None
    timeout_s: float = Field(default=10, gt=0)
    retries: int = Field(default=4, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0)
    paging: Paging = Paging()
    idempotency_query: str = "idempotencyKey"
    endpoints: Endpoints
    fields: FieldMaps = FieldMaps()
    values: dict[Literal["invoice_status", "order_status"], dict[str, str]] = Field(default_factory=dict)

    def name(self, kind: str, ours: str) -> str:
        """The ERP's name of one of our fields; unmapped fields keep ours."""
        mapping: dict[str, str] = getattr(self.fields, kind)
        return mapping.get(ours, ours)


def load_erp_config(path: Path) -> ErpConfig:
    return load_yaml_model(path, ErpConfig)


def _dig(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _nest(path: str, value: Any) -> dict[str, Any]:
    head, _, rest = path.partition(".")
    return {head: _nest(rest, value) if rest else value}


def _merge(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    for k, v in more.items():
        into[k] = _merge(into.get(k, {}), v) if isinstance(v, dict) else v
    return into


def _snapshot(inv: InvoiceFact) -> dict[str, object]:
    return {"invoice": inv.invoice_number, "open_amount": str(inv.open_amount), "status": inv.status}


class RestErpLedger:
    def __init__(self, config: ErpConfig, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._http = session or requests.Session()
        self._http.trust_env = False  # an ERP endpoint is reached directly, not through a proxy of the shell
        self._sleep = sleep
        self._auth: dict[str, str] | None = None

    def close(self) -> None:
        self._http.close()

    # --- HTTP -------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        if self._auth is None:
            a = self.config.auth
            self._auth = {a.header: a.prefix + a.token.read("ERP auth token")} if a else {}
        return {"Accept": "application/json", **self._auth}

    def _call(self, method: str, path: str, what: str, *, params: dict[str, Any] | None = None,
              body: dict[str, Any] | None = None, key: str | None = None, missing_ok: bool = False
              ) -> requests.Response | None:
        """One request with retries; None for a 404 when ``missing_ok``."""
        headers = self._headers() | ({"Idempotency-Key": key} if key else {})
        url = self.config.base_url.rstrip("/") + path
        last = ""
        for attempt in range(self.config.retries + 1):
            if attempt:
                self._sleep(self._wait)
            try:
                resp = self._http.request(method, url, params=params, json=body, headers=headers,
                                          timeout=self.config.timeout_s)
            except requests.RequestException as e:
                last, self._wait = f"{type(e).__name__}: {e}", self.config.backoff_s * 2**attempt
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                last = f"HTTP {resp.status_code} {resp.text[:200]}".strip()
                after = resp.headers.get("Retry-After", "")
                self._wait = float(after) if after.isdigit() else self.config.backoff_s * 2**attempt
                continue
            if resp.status_code == 404 and missing_ok:
                return None
            if resp.status_code in (401, 403):
                secret = self.config.auth.token if self.config.auth else None
                where = f" (check the token in {secret.env or secret.file})" if secret else ""
                raise ConfigError(f"ERP {what}: HTTP {resp.status_code} {resp.text[:200]}{where}")
            if resp.status_code >= 400:
                error = LedgerError if method == "POST" else ConfigError
                raise error(f"ERP {what}: HTTP {resp.status_code} {resp.text[:300]}".strip())
            return resp
        raise ServiceUnavailable(f"ERP {what}: {last} after {self.config.retries + 1} attempts; retried later")

    _wait = 0.0

    def _json(self, resp: requests.Response, what: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise ConfigError(f"ERP {what}: the answer is not JSON: {resp.text[:200]!r}") from None

    def _list(self, endpoint: str, what: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        p = self.config.paging
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self._call("GET", endpoint, what, params={**(params or {}), p.page_param: page,
                                                                  p.size_param: p.size})
            assert resp is not None
            items = _dig(self._json(resp, what), p.items)
            if not isinstance(items, list):
                raise ConfigError(f"ERP {what}: no list under {p.items!r} in the answer (paging.items)")
            out += items
            if len(items) < p.size:
                return out
            page += 1

    def _one(self, endpoint: str, ident: str, what: str) -> dict[str, Any] | None:
        resp = self._call("GET", f"{endpoint}/{quote(ident, safe='')}", what, missing_ok=True)
        return None if resp is None else dict(self._json(resp, what))

    # --- mapping ------------------------------------------------------------------------------------

    def _fact(self, kind: str, model: type[F], record: dict[str, Any]) -> F:
        data = {ours: _dig(record, self.config.name(kind, ours)) for ours in model.model_fields}
        if "status" in data:  # the ERP's status codes in ours
            codes = self.config.values.get(f"{kind}_status", {})  # type: ignore[call-overload]
            data["status"] = codes.get(data["status"], data["status"])
        for k in ("email_domains", "contact_emails"):
            if k in data and data[k] is None:
                data[k] = []
        for k in ("strategic", "credit_risk"):
            if k in data and data[k] is None:
                del data[k]
        try:
            return model.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            ours = str(err["loc"][0]) if err["loc"] else "-"
            ident = next(iter(data.values()), "?")
            raise ConfigError(f"ERP {kind} {ident}: field {self.config.name(kind, ours)!r} ({ours}): "
                              f"{err['msg']} (check fields.{kind} in the ERP config)") from None

    def _body(self, kind: str, values: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for ours, value in values.items():
            _merge(body, _nest(self.config.name(kind, ours), value))
        return body

    # --- reads --------------------------------------------------------------------------------------

    def _by_customer(self, kind: str, customer_id: str | None) -> dict[str, Any]:
        return {} if customer_id is None else {self.config.name(kind, "customer_id"): customer_id}

    def customers(self) -> list[CustomerFact]:
        rows = self._list(self.config.endpoints.customers, "customers")
        return sorted((self._fact("customer", CustomerFact, r) for r in rows), key=lambda c: c.customer_id)

    def customer(self, customer_id: str) -> CustomerFact | None:
        row = self._one(self.config.endpoints.customers, customer_id, f"customer {customer_id}")
        return None if row is None else self._fact("customer", CustomerFact, row)

    def invoices(self, customer_id: str | None = None) -> list[InvoiceFact]:
        rows = self._list(self.config.endpoints.invoices, "invoices", self._by_customer("invoice", customer_id))
        facts = [self._fact("invoice", InvoiceFact, r) for r in rows]
        return sorted((i for i in facts if customer_id in (None, i.customer_id)), key=lambda i: i.invoice_number)

    def orders(self, customer_id: str | None = None) -> list[OrderFact]:
        rows = self._list(self.config.endpoints.orders, "orders", self._by_customer("order", customer_id))
        facts = [self._fact("order", OrderFact, r) for r in rows]
        return sorted((o for o in facts if customer_id in (None, o.customer_id)), key=lambda o: o.order_number)

    def _invoice(self, number: str) -> InvoiceFact | None:
        row = self._one(self.config.endpoints.invoices, number, f"invoice {number}")
        return None if row is None else self._fact("invoice", InvoiceFact, row)

    # --- writes -------------------------------------------------------------------------------------

    def _write(self, endpoint: str, kind: str, key: str, values: dict[str, Any],
               before: dict[str, object]) -> LedgerWrite:
        resp = self._call("POST", endpoint, f"{kind} {key}", body=self._body(kind, values), key=key)
        assert resp is not None
        replayed = resp.status_code == 200 or resp.headers.get("Idempotent-Replayed", "").lower() == "true"
        effect = self.read_effect(key)
        if effect is None:  # accepted but not there: nothing may be taken as done
            raise LedgerError(f"ERP accepted {kind} {key} but reading it back by its key found nothing")
        return LedgerWrite(key, not replayed, before if not replayed else {}, effect, str(effect["record"]))

    def _replayed(self, key: str) -> LedgerWrite | None:
        effect = self.read_effect(key)
        return None if effect is None else LedgerWrite(key, False, {}, effect, str(effect["record"]))

    def apply_payment(self, key: str, customer_id: str, amount: Decimal, currency: str,
                      allocations: Sequence[Allocation], reference: str, received: dt.date) -> LedgerWrite:
        if (done := self._replayed(key)) is not None:  # the checks below hold for the first write only
            return done
        rows = {a.invoice: self._invoice(a.invoice) for a in allocations}
        check_allocations(customer_id, amount, currency, allocations, {k: v for k, v in rows.items() if v})
        c = self.config
        values = {"customer_id": customer_id, "amount": str(amount), "currency": currency,
                  "received": received.isoformat(), "reference": reference[:2000],
                  "allocations": [{c.name("payment", "allocation_invoice"): a.invoice,
                                   c.name("payment", "allocation_amount"): str(a.amount)} for a in allocations]}
        before: dict[str, object] = {"invoices": [_snapshot(r) for r in rows.values() if r]}
        return self._write(c.endpoints.payments, "payment", key, values, before)

    def open_dispute(self, key: str, customer_id: str, invoice_number: str, amount: Decimal, reason: str,
                     owner: str, note: str) -> LedgerWrite:
        if (done := self._replayed(key)) is not None:
            return done
        inv = self._invoice(invoice_number)
        if inv is None:
            raise LedgerError(f"invoice {invoice_number} does not exist")
        if inv.customer_id != customer_id:
            raise LedgerError(f"invoice {invoice_number} belongs to another customer")
        values = {"customer_id": customer_id, "invoice_number": invoice_number, "amount": str(amount),
                  "reason": reason, "owner": owner, "note": note[:4000]}
        return self._write(self.config.endpoints.disputes, "dispute", key, values, {"invoices": [_snapshot(inv)]})

    def record_promise(self, key: str, customer_id: str, invoice_numbers: Sequence[str], amount: Decimal,
                       currency: str, promised_date: dt.date) -> LedgerWrite:
        if (done := self._replayed(key)) is not None:
            return done
        for n in invoice_numbers:
            inv = self._invoice(n)
            if inv is None or inv.customer_id != customer_id:
                raise LedgerError(f"invoice {n} is not an invoice of {customer_id}")
        values = {"customer_id": customer_id, "invoice_numbers": list(invoice_numbers), "amount": str(amount),
                  "currency": currency, "promised_date": promised_date.isoformat()}
        return self._write(self.config.endpoints.promises, "promise", key, values, {"promise": None})

    # --- verification -------------------------------------------------------------------------------

    def _find(self, endpoint: str, key: str, what: str) -> dict[str, Any] | None:
        rows = self._list(endpoint, what, {self.config.idempotency_query: key})
        return rows[0] if rows else None

    def read_effect(self, key: str) -> dict[str, object] | None:
        c, e = self.config, self.config.endpoints

        def get(kind: str, row: dict[str, Any], ours: str) -> Any:
            return _dig(row, c.name(kind, ours))

        def snaps(numbers: list[str]) -> list[dict[str, object]]:
            return [_snapshot(i) for n in numbers if (i := self._invoice(n)) is not None]

        if (p := self._find(e.payments, key, f"payment {key}")) is not None:
            apps = [{"invoice": str(a.get(c.name("payment", "allocation_invoice"))),
                     "amount": str(Decimal(str(a.get(c.name("payment", "allocation_amount")))))}
                    for a in get("payment", p, "allocations") or []]
            return {"record": f"payment:{get('payment', p, 'id')}", "amount": str(get("payment", p, "amount")),
                    "applications": apps, "invoices": snaps([a["invoice"] for a in apps])}
        if (d := self._find(e.disputes, key, f"dispute {key}")) is not None:
            number = str(get("dispute", d, "invoice_number"))
            return {"record": f"dispute:{get('dispute', d, 'id')}", "invoice": number,
                    "amount": str(get("dispute", d, "amount")), "reason": get("dispute", d, "reason"),
                    "invoices": snaps([number])}
        if (pr := self._find(e.promises, key, f"promise {key}")) is not None:
            return {"record": f"promise:{get('promise', pr, 'id')}",
                    "invoices": list(get("promise", pr, "invoice_numbers") or []),
                    "amount": str(get("promise", pr, "amount")), "date": str(get("promise", pr, "promised_date"))}
        return None
