"""The web console through FastAPI's TestClient over a seeded queue: every route's role limits, CSRF on
every POST, raw text only for the policy's raw_text_roles (each view traced), queue filters and paging,
search, audit export, policy, KPIs and the session cookie."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from starlette.routing import BaseRoute

from arinbox.persistence import models as m
from arinbox.persistence import trace
from arinbox.service.bootstrap import App
from arinbox.service.users import add_user
from arinbox.settings import ConsoleSettings, Settings
from arinbox.web import create_app
from tests.support.console_seed import PERSON, seed_queue

PASSWORD = "console-test-password"
ROLES = ("clerk", "approver", "auditor", "admin")
EVERYONE = set(ROLES)
DECIDERS = {"clerk", "approver", "admin"}
AUDITORS = {"auditor", "admin"}
OVERSIGHT = {"approver", "auditor", "admin"}
RAW = {"approver", "admin"}  # policies/default.yaml raw_text_roles
PUBLIC: set[str] | None = None
SEEDED = 30

# every route of the console and who may use it; a new route must be added here
ROUTES: dict[tuple[str, str], set[str] | None] = {
    ("GET", "/"): PUBLIC, ("GET", "/login"): PUBLIC, ("POST", "/login"): PUBLIC, ("POST", "/logout"): PUBLIC,
    ("GET", "/healthz"): PUBLIC, ("GET", "/metrics"): PUBLIC,
    ("GET", "/queue"): EVERYONE, ("GET", "/queue/{approval_id}"): EVERYONE,
    ("POST", "/queue/{approval_id}/approve"): DECIDERS, ("POST", "/queue/{approval_id}/edit"): DECIDERS,
    ("POST", "/queue/{approval_id}/reject"): DECIDERS,
    ("GET", "/emails"): EVERYONE, ("GET", "/emails/{work_item_id}"): EVERYONE,
    ("POST", "/emails/{work_item_id}/raw"): RAW,
    ("GET", "/audit"): AUDITORS, ("GET", "/audit/export"): AUDITORS,
    ("GET", "/policy"): OVERSIGHT, ("POST", "/policy/backtest"): OVERSIGHT, ("GET", "/kpis"): OVERSIGHT,
    ("GET", "/api/session"): PUBLIC, ("POST", "/api/session"): PUBLIC, ("DELETE", "/api/session"): PUBLIC,
    ("GET", "/api/approvals"): EVERYONE, ("GET", "/api/approvals/{approval_id}"): EVERYONE,
    ("POST", "/api/approvals/{approval_id}/approve"): DECIDERS,
    ("POST", "/api/approvals/{approval_id}/edit"): DECIDERS,
    ("POST", "/api/approvals/{approval_id}/reject"): DECIDERS,
    ("GET", "/api/emails"): EVERYONE, ("GET", "/api/emails/{work_item_id}"): EVERYONE,
    ("POST", "/api/emails/{work_item_id}/raw"): RAW,
    ("GET", "/api/audit/verify"): AUDITORS, ("GET", "/api/audit/export"): AUDITORS,
    ("GET", "/api/policy"): OVERSIGHT, ("GET", "/api/policy/backtest"): OVERSIGHT,
    ("POST", "/api/policy/backtest"): OVERSIGHT, ("GET", "/api/kpis"): OVERSIGHT,
    ("GET", "/api/openapi.json"): EVERYONE,
}
# these would resume the graph for an allowed role: the browser tests drive them on a processed mailbox
RESUMES_GRAPH = {p for (method, p), roles in ROUTES.items() if roles == DECIDERS}


@dataclass
class Console:
    app: App
    web: FastAPI
    approvals: list[int]

    def client(self, role: str | None = None) -> TestClient:
        client = TestClient(self.web)
        if role is not None:
            r = client.post("/login", data={"username": role, "password": PASSWORD,
                                             "csrf_token": token(client.get("/login").text)}, follow_redirects=False)
            assert r.status_code == 303, r.text
        return client

    def trace_count(self, node: str | None = None) -> int:
        with self.app.sessions() as s:
            q = select(func.count()).select_from(m.TraceRecord)
            return s.scalar(q.where(m.TraceRecord.node == node) if node else q) or 0


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every endpoint, also inside included routers (which FastAPI may keep as one lazy entry)."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif (inner := getattr(r, "original_router", None)) is not None:
            yield from api_routes(inner.routes)


def token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def console(settings: Settings) -> Iterator[Console]:
    settings = settings.model_copy(update={"console": ConsoleSettings(secret_key=SecretStr("k" * 40), page_size=10)})
    with App(settings) as app:
        ids = seed_queue(app.sessions, SEEDED)
        for role in ROLES:  # each user is named after its role
            add_user(app.sessions, role, role, password=PASSWORD)
        yield Console(app, create_app(app), ids)


def _url(path: str, c: Console) -> str:
    with c.app.sessions() as s:
        work_item = s.scalar(select(m.Approval.work_item_id).where(m.Approval.id == c.approvals[0]))
    return path.replace("{approval_id}", str(c.approvals[0])).replace("{work_item_id}", str(work_item))


def _send(client: TestClient, method: str, url: str, csrf: str | None) -> int:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    if method == "GET":
        return client.get(url, follow_redirects=False).status_code
    if url.startswith("/api/"):
        return client.request(method, url, headers=headers, json={"reason": "x", "reply_body": "x"},
                              follow_redirects=False).status_code
    return client.request(method, url, headers=headers, data={"reason": "x", "reply_body": "x"},
                          follow_redirects=False).status_code


def test_every_route_admits_only_its_roles(console: Console) -> None:
    routes = {(method, r.path) for r in api_routes(console.web.routes) for method in r.methods}
    assert routes == set(ROUTES), "a route was added or removed: declare who may use it in ROUTES"
    anonymous = console.client()
    clients = {role: console.client(role) for role in ROLES}
    for (method, path), allowed in ROUTES.items():
        if allowed is PUBLIC:
            continue
        url = _url(path, console)
        status = _send(anonymous, method, url, token(anonymous.get("/login").text))
        assert status == (401 if path.startswith("/api/") else 303), (method, path, "anonymous")
        for role, client in clients.items():
            csrf = client.get("/api/session").json()["csrf_token"]
            if role not in allowed:
                assert _send(client, method, url, csrf) == 403, (method, path, role)
            elif path not in RESUMES_GRAPH:
                assert _send(client, method, url, csrf) in (200, 303), (method, path, role)
    with console.app.sessions() as s:  # nothing was decided by any refused request
        assert s.scalar(select(func.count()).select_from(m.Approval).where(m.Approval.status != "pending")) == 0


def test_a_post_without_the_sessions_csrf_token_is_refused(console: Console) -> None:
    admin = console.client("admin")
    before = console.trace_count()
    for (method, path), _ in ROUTES.items():
        if method == "GET":
            continue
        url = _url(path, console)
        assert _send(admin, method, url, None) == 403, (method, path, "no token")
        assert _send(admin, method, url, "not-the-token") == 403, (method, path, "wrong token")
    assert console.trace_count() == before  # no raw view was traced, no backtest ran
    assert admin.get("/api/policy/backtest").status_code == 404
    assert admin.get("/api/session").json()["user"]["username"] == "admin"  # logout was refused too
    page = admin.post(_url("/queue/{approval_id}/reject", console), data={"reason": "x"})
    assert page.status_code == 403 and "CSRF" in page.text


def test_raw_text_only_for_raw_text_roles_and_every_view_is_traced(console: Console) -> None:
    clerk, approver, admin = console.client("clerk"), console.client("approver"), console.client("admin")
    detail = clerk.get(_url("/queue/{approval_id}", console))
    assert detail.status_code == 200
    assert PERSON not in detail.text and "&lt;PERSON_1&gt;" in detail.text  # masked text only
    assert "Show unmasked text" not in detail.text
    raw_url = _url("/emails/{work_item_id}/raw", console)
    refused = clerk.post(raw_url, data={"csrf_token": token(detail.text)})
    assert refused.status_code == 403 and "may not read unmasked email text" in refused.text
    assert console.trace_count("raw_view") == 0

    page = approver.get(_url("/queue/{approval_id}", console))
    assert "Show unmasked text" in page.text
    shown = approver.post(raw_url, data={"csrf_token": token(page.text)})
    assert shown.status_code == 200 and PERSON in shown.text and "+44 20 7946 0991" in shown.text
    api = admin.post("/api/" + raw_url.removeprefix("/"),
                     headers={"X-CSRF-Token": admin.get("/api/session").json()["csrf_token"]})
    assert api.status_code == 200 and PERSON in api.json()["body"]
    with console.app.sessions() as s:
        views = [json.loads(r.body) for r in s.scalars(select(m.TraceRecord).where(m.TraceRecord.node == "raw_view")
                                                       .order_by(m.TraceRecord.id))]
        assert [(v["actor"], v["role"]) for v in views] == [("approver", "approver"), ("admin", "admin")]
        assert all(v["at"] for v in views)
        assert trace.verify(s).ok


def test_queue_filters_sorts_and_pages_in_the_database(console: Console) -> None:
    clerk = console.client("clerk")

    def rows(query: str = "") -> dict[str, object]:
        r = clerk.get(f"/api/approvals{query}")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    first = rows()
    assert (first["total"], first["pages"], len(first["rows"])) == (SEEDED, 3, 10)  # type: ignore[arg-type]
    ages = [r["age_hours"] for r in first["rows"]]  # type: ignore[index]
    assert ages == sorted(ages, reverse=True)  # oldest first
    third = rows("?page=3")["rows"]
    assert len(third) == 10 and not {r["approval_id"] for r in third} & {r["approval_id"] for r in first["rows"]}  # type: ignore[index]
    assert {r["tier"] for r in rows("?tier=high&page=1")["rows"]} == {"high"}  # type: ignore[index]
    assert rows("?tier=high")["total"] == SEEDED // 3
    assert {r["customer_id"] for r in rows("?customer=acme")["rows"]} == {"C1"}  # type: ignore[index]
    assert rows("?customer=C2")["total"] == SEEDED // 3
    assert {r["intent"] for r in rows("?intent=dispute")["rows"]} == {"dispute"}  # type: ignore[index]
    by_amount = [float(r["amount"]) for r in rows("?sort=amount_desc")["rows"]]  # type: ignore[index]
    assert by_amount == sorted(by_amount, reverse=True)
    with console.app.sessions() as s:
        top = max(float(a) for a in s.scalars(select(m.ActionRow.amount)))
    assert by_amount[0] == top
    assert all(float(r["amount"]) >= 3000 for r in rows("?min_amount=3000")["rows"])  # type: ignore[index]
    assert rows("?min_age_hours=0.25")["total"] == SEEDED - 15  # seeded one a minute back from now
    assert clerk.get("/api/approvals?min_amount=lots").status_code == 400
    html = clerk.get("/queue?sort=tier&tier=medium&customer=Durand")
    assert html.status_code == 200 and "badge medium" in html.text and "Durand Mecanique SA" in html.text
    bad = clerk.get("/queue?page=zero")
    assert bad.status_code == 200 and "page must be a whole number" in bad.text


def test_search_trace_audit_policy_and_kpis(console: Console) -> None:
    clerk, auditor = console.client("clerk"), console.client("auditor")
    found = clerk.get("/api/emails?invoice=INV-000003").json()
    assert found["total"] == 1 and found["rows"][0]["invoices"] == ["INV-000003"]
    assert clerk.get("/api/emails?customer=Northwind&status=waiting_approval").json()["total"] == SEEDED // 3
    assert clerk.get("/api/emails?status=done").json()["total"] == 0
    item = found["rows"][0]["work_item_id"]
    page = clerk.get(f"/emails/{item}")
    assert page.status_code == 200 and "Decision trace" in page.text and "INV-000003" in page.text
    assert clerk.get("/emails/999999").status_code == 404
    detail = clerk.get(f"/api/emails/{item}").json()
    assert [t["node"] for t in detail["trace"]] == ["mask"]
    assert detail["changes"][0]["before"] == "1,003.00"  # open amount now, and after the proposed payment

    assert "Intact: " in auditor.get("/audit").text
    assert auditor.get("/api/audit/verify").json()["ok"] is True
    exported = auditor.get("/audit/export?format=csv")
    assert exported.headers["content-disposition"].startswith("attachment")
    table = list(csv.reader(io.StringIO(exported.text)))
    assert table[0][:3] == ["id", "created_at", "work_item_id"] and len(table) == SEEDED + 1
    lines = auditor.get("/api/audit/export?format=jsonl&since=2000-01-01").text.splitlines()
    assert len(lines) == SEEDED and json.loads(lines[0])["node"] == "mask"
    assert auditor.get("/api/audit/export?since=yesterday").status_code == 400

    policy = auditor.get("/policy")
    assert console.app.policy.version_id in policy.text and "raw_text_roles" in policy.text
    ran = auditor.post("/policy/backtest", data={"csrf_token": token(policy.text)}, follow_redirects=True)
    assert "Backtest of " + console.app.policy.version_id in ran.text and "Last run" in ran.text
    assert auditor.get("/api/policy/backtest").json()["run_by"] == "auditor"
    kpis = auditor.get("/kpis")
    assert kpis.status_code == 200 and kpis.text.count("<svg") >= 4 and "Exceptions by reason" in kpis.text
    assert auditor.get("/api/kpis").json()["kpis"]["pending_approvals"] == SEEDED
    spec = auditor.get("/api/openapi.json").json()
    assert "/api/approvals/{approval_id}/approve" in spec["paths"] and "/queue" not in spec["paths"]


def test_session_cookie_login_and_logout(console: Console, settings: Settings) -> None:
    client = console.client()
    form = client.get("/login?next=/emails")
    wrong = client.post("/login", data={"username": "clerk", "password": "nope", "csrf_token": token(form.text)})
    assert wrong.status_code == 401 and "wrong password" in wrong.text
    ok = client.post("/login", data={"username": "clerk", "password": PASSWORD, "csrf_token": token(form.text),
                                     "next": "//elsewhere.example/"}, follow_redirects=False)
    assert ok.headers["location"] == "/queue"  # never redirected off the site
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert client.get("/queue").status_code == 200
    signed = client.cookies["arinbox_session"]
    client.cookies.clear()
    client.cookies.set("arinbox_session", signed[:-4] + "AAAA")  # a tampered signature
    assert client.get("/queue", follow_redirects=False).status_code == 303
    secure = settings.model_copy(update={"console": ConsoleSettings(secret_key=SecretStr("k" * 40),
                                                                    secure_cookies=True)})
    with App(secure) as app:
        web = TestClient(create_app(app))
        r = web.post("/login", data={"username": "clerk", "password": PASSWORD,
                                     "csrf_token": token(web.get("/login").text)}, follow_redirects=False)
        assert "secure" in r.headers["set-cookie"].lower()
    c = console.client("auditor")
    out = c.post("/logout", data={"csrf_token": token(c.get("/queue").text)}, follow_redirects=False)
    assert out.status_code == 303 and c.get("/queue", follow_redirects=False).status_code == 303
