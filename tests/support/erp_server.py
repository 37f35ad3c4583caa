"""A small REST ERP on loopback (stdlib ThreadingHTTPServer in a thread) speaking the JSON shape that
``connectors/erp-rest.example.yaml`` maps: paged lists under ``data``, nested invoice totals, its own
status codes. Writes honour ``Idempotency-Key`` (a repeated key answers 200 with the first record and
``Idempotent-Replayed: true``) and refuse over-application and other customers' invoices with 422.
Hooks make it fail the next requests (503/429 with Retry-After) or accept a write without keeping it.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from arinbox.domain.models import CustomerFact, InvoiceFact, OrderFact

PREFIX = "/api/v2"
INVOICE_STATES = {"open": "Open", "paid": "Paid", "partially_paid": "PartiallyPaid", "disputed": "Disputed",
                  "credited": "Credited"}
ORDER_STATES = {"received": "Received", "in_production": "InProduction", "shipped": "Shipped",
                "delivered": "Delivered", "backordered": "Backordered", "cancelled": "Cancelled"}


class Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class FakeErp:
    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.RLock()
        self.customers: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.writes: dict[str, dict[str, dict[str, Any]]] = {"payments": {}, "disputes": {}, "promises": {}}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path with query, Idempotency-Key
        self._ids = itertools.count(1001)
        self._faults: list[tuple[int, str | None, str | None]] = []  # status, Retry-After, only this method
        self.forget_next_write = False

    # -- test controls --------------------------------------------------------------------------

    def seed(self, customers: list[CustomerFact], invoices: list[InvoiceFact], orders: list[OrderFact]) -> None:
        with self.lock:
            for c in customers:
                self.customers[c.customer_id] = {
                    "id": c.customer_id, "displayName": c.name, "emailDomains": c.email_domains,
                    "contacts": c.contact_emails, "currencyCode": c.currency, "languageCode": c.language,
                    "paymentTermsDays": c.payment_terms_days, "creditLimit": float(c.credit_limit),
                    "keyAccount": c.strategic, "riskClass": c.credit_risk}
            for i in invoices:
                self.invoices[i.invoice_number] = {
                    "number": i.invoice_number, "customerId": i.customer_id, "documentDate": i.issue_date.isoformat(),
                    "dueDate": i.due_date.isoformat(), "currencyCode": i.currency,
                    "totals": {"gross": str(i.amount), "remaining": str(i.open_amount)},
                    "state": INVOICE_STATES[i.status], "customerPO": i.po_number, "salesOrder": i.order_number}
            for o in orders:
                self.orders[o.order_number] = {
                    "number": o.order_number, "customerId": o.customer_id, "customerPO": o.po_number,
                    "state": ORDER_STATES[o.status], "orderDate": o.order_date and o.order_date.isoformat(),
                    "promisedShipDate": o.promised_ship_date and o.promised_ship_date.isoformat(),
                    "shipDate": o.ship_date and o.ship_date.isoformat(), "carrier": o.carrier,
                    "trackingNo": o.tracking_number}

    def fail_next(self, times: int = 1, status: int = 503, retry_after: str | None = None,
                  method: str | None = None) -> None:
        """Answer the next ``times`` requests (of ``method`` only, when given) with ``status``."""
        with self.lock:
            self._faults += [(status, retry_after, method)] * times

    def posts(self, endpoint: str) -> list[str | None]:
        """The Idempotency-Key of every POST to an endpoint, repeats included."""
        return [k for m, p, k in self.requests if m == "POST" and p.endswith(endpoint)]

    # -- the API --------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.requests.append((method, path, headers.get("idempotency-key")))
            if self._faults and self._faults[0][2] in (None, method):
                status, after, _ = self._faults.pop(0)
                raise Refused(status, "temporarily unavailable", {"Retry-After": after} if after else {})
            if headers.get("authorization") != f"Bearer {self.token}":
                raise Refused(401, "invalid or missing token")
            if not path.startswith(PREFIX + "/"):
                raise Refused(404, f"no route {path}")
            parts = [unquote(p) for p in path[len(PREFIX) + 1:].split("/")]
            tables = {"customers": self.customers, "ar/invoices": self.invoices, "sales-orders": self.orders}
            writes = {"ar/payments": "payments", "ar/disputes": "disputes", "ar/promises": "promises"}
            if method == "GET" and "/".join(parts) in tables:
                rows = list(tables["/".join(parts)].values())
                if "customerId" in query:
                    rows = [r for r in rows if r.get("customerId") == query["customerId"]]
                return 200, self._page(rows, query), {}
            if method == "GET" and "/".join(parts[:-1]) in tables:
                row = tables["/".join(parts[:-1])].get(parts[-1])
                if row is None:
                    raise Refused(404, f"{parts[-1]} not found")
                return 200, row, {}
            if "/".join(parts) in writes:
                store = self.writes[writes["/".join(parts)]]
                if method == "GET":
                    rows = [r for k, r in store.items() if query.get("idempotencyKey") in (None, k)]
                    return 200, self._page(rows, query), {}
                if method == "POST":
                    key = headers.get("idempotency-key")
                    if not key:
                        raise Refused(400, "Idempotency-Key header is required")
                    if key in store:
                        return 200, store[key], {"Idempotent-Replayed": "true"}
                    record = getattr(self, f"_{writes['/'.join(parts)]}")(json.loads(body))
                    record["id"] = next(self._ids)
                    if self.forget_next_write:  # accepted, answered, and lost
                        self.forget_next_write = False
                    else:
                        store[key] = record
                    return 201, record, {}
            raise Refused(405 if parts else 404, f"{method} {path} is not supported")

    @staticmethod
    def _page(rows: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        page, size = int(query.get("page", 1)), int(query.get("per_page", 50))
        return {"data": rows[(page - 1) * size:page * size], "page": page}

    def _invoice_of(self, number: str, customer: str) -> dict[str, Any]:
        inv = self.invoices.get(number)
        if inv is None:
            raise Refused(422, f"invoice {number} does not exist")
        if inv["customerId"] != customer:
            raise Refused(422, f"invoice {number} belongs to another customer")
        return inv

    def _payments(self, req: dict[str, Any]) -> dict[str, Any]:
        apps = req.get("applications", [])
        for a in apps:
            inv = self._invoice_of(a["invoiceNumber"], req["customerId"])
            if Decimal(a["amount"]) > Decimal(inv["totals"]["remaining"]):
                left = inv["totals"]["remaining"]
                raise Refused(422, f"{a['amount']} exceeds the remaining {left} of {inv['number']}")
        for a in apps:
            inv = self.invoices[a["invoiceNumber"]]
            left = Decimal(inv["totals"]["remaining"]) - Decimal(a["amount"])
            inv["totals"]["remaining"] = str(left)
            gross = Decimal(inv["totals"]["gross"])
            inv["state"] = "Paid" if left == 0 else inv["state"] if inv["state"] == "Disputed" else (
                "PartiallyPaid" if left < gross else "Open")
        return dict(req)

    def _disputes(self, req: dict[str, Any]) -> dict[str, Any]:
        inv = self._invoice_of(req["invoiceNumber"], req["customerId"])
        if inv["state"] in ("Open", "PartiallyPaid"):
            inv["state"] = "Disputed"
        return dict(req)

    def _promises(self, req: dict[str, Any]) -> dict[str, Any]:
        for n in req.get("invoiceNumbers", []):
            self._invoice_of(n, req["customerId"])
        return dict(req)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            status, payload, extra = self.server.fake.handle(method, url.path, query, headers, body)
        except Refused as e:
            status, payload, extra = e.status, {"error": e.message}, e.headers
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeErp


@contextmanager
def erp_server(token: str = "erp-test-token") -> Iterator[tuple[FakeErp, str]]:
    """Serve a FakeErp on an ephemeral loopback port; yields it and its base URL."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeErp(token)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.fake, f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
