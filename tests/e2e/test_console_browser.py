"""The web console in a real browser: uvicorn on a loopback port over the processed demo mailbox,
headless Chromium (Debian's, through Playwright). Log in, approve, edit, approve with an edit, reject,
the role limits (an auditor cannot approve, a clerk cannot read raw PII), errors shown as messages.
A screenshot of every page goes to test-artifacts/screenshots/."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pydantic import SecretStr
from sqlalchemy import select

from arinbox.connectors.folder import FolderMailbox
from arinbox.ledger.csv_import import import_ledger
from arinbox.masking.vault import Vault
from arinbox.persistence import models as m
from arinbox.service.bootstrap import App
from arinbox.service.ingest import ingest
from arinbox.service.users import add_user
from arinbox.settings import ConsoleSettings, Settings
from arinbox.web.server import build
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")  # scripts/system-deps.sh installs Debian's package
SHOTS = ROOT / "test-artifacts" / "screenshots"
SAMPLES = ROOT / "connectors" / "samples"
PASSWORD = "browser-test-password"
FIGURE = re.compile(r"\d[\d\u202f\xa0.,]*[.,]\d\d")  # an amount as a reply writes it: 2,960.00 or 2 950,00


@dataclass
class Server:
    app: App
    url: str

    def approvals(self, *, tier: str | None = None, kind: str | None = None) -> list[m.Approval]:
        """Pending approvals, oldest first, optionally of a tier and with an action of a kind."""
        with self.app.sessions() as s:
            q = select(m.Approval).where(m.Approval.status == "pending").order_by(m.Approval.id)
            if tier:
                q = q.where(m.Approval.tier == tier)
            if kind:
                q = q.where(m.Approval.work_item_id.in_(select(m.ActionRow.work_item_id)
                                                         .where(m.ActionRow.kind == kind)))
            return list(s.scalars(q))

    def draft(self, approval: m.Approval) -> str:
        with self.app.sessions() as s:
            row = s.scalar(select(m.ActionRow).where(m.ActionRow.work_item_id == approval.work_item_id,
                                                     m.ActionRow.kind == "send_reply"))
            return str(row.payload["body"]) if row else ""

    def masked_values(self, approval: m.Approval) -> list[str]:
        """The personal data masking replaced in the approval's email (from the encrypted vault)."""
        with self.app.sessions() as s:
            entry = s.get(m.VaultEntry, approval.work_item_id)
            mapping = Vault(self.app.settings.vault_key_bytes()).open(entry.ciphertext) if entry else {}
        # full names only: a single surname may also be part of a company name the ledger shows
        return [value for key, value in mapping.items() if key.startswith("<PERSON") and " " in value.strip()]

    def approval(self, approval_id: int) -> m.Approval:
        with self.app.sessions() as s:
            ap = s.get(m.Approval, approval_id)
            assert ap is not None
            return ap


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("console")
    settings = Settings(database_url=f"sqlite:///{folder / 'demo.sqlite'}", outbox_dir=folder / "outbox",
                        vault_key=SecretStr(Fernet.generate_key().decode()),
                        console=ConsoleSettings(secret_key=SecretStr("s" * 40)))
    with App(settings) as app:
        import_ledger(SAMPLES / "demo-ledger", app.sessions)
        ingest(FolderMailbox(SAMPLES / "demo-mailbox"), app.sessions, kind="folder")
        app.processor.process_all()
        for role in ("clerk", "approver", "auditor", "admin"):
            add_user(app.sessions, role, role, password=PASSWORD, display_name=f"Test {role}")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(build(app, warm_up=False), log_level="warning", access_log=False)
        uv = uvicorn.Server(config)
        thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not uv.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield Server(app, f"http://127.0.0.1:{sock.getsockname()[1]}")
        finally:
            uv.should_exit = True
            thread.join(timeout=10)
            sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "chromium is missing: run scripts/system-deps.sh (as root)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def login(browser: Browser, server: Server, role: str) -> Page:
    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    page.goto(server.url + "/queue")
    expect(page).to_have_url(server.url + "/login?next=/queue")
    page.get_by_label("User").fill(role)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(server.url + "/queue")
    expect(page.locator("header .who")).to_contain_text(f"Test {role}")
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def post_from_page(page: Page, path: str, form: dict[str, str]) -> tuple[int, str]:
    """A POST the page's own forms do not offer, sent with the page's session and CSRF token."""
    result = page.evaluate("""async ([path, form]) => {
        const body = new URLSearchParams(form);
        body.set('csrf_token', document.querySelector('input[name=csrf_token]').value);
        const r = await fetch(path, {method: 'POST', body, redirect: 'manual'});
        return [r.status, await r.text()];
    }""", [path, form])
    return int(result[0]), str(result[1])


def test_login_queue_filters_and_every_page(browser: Browser, server: Server) -> None:
    anonymous = browser.new_page()
    anonymous.goto(server.url + "/login")
    shot(anonymous, "01-login")
    anonymous.get_by_label("User").fill("approver")
    anonymous.get_by_label("Password").fill("wrong")
    anonymous.get_by_role("button", name="Log in").click()
    expect(anonymous.locator(".flash.error")).to_contain_text("wrong password")

    page = login(browser, server, "admin")
    pending = server.approvals()
    expect(page.locator("h1")).to_contain_text(f"{len(pending)} pending")
    expect(page.locator("#queue tbody tr")).to_have_count(len(pending))
    shot(page, "02-queue")
    high = server.approvals(tier="high")
    page.get_by_label("Risk tier").select_option("high")  # htmx swaps the table, the URL follows
    expect(page).to_have_url(re.compile(r"/queue\?.*tier=high"))
    expect(page.locator("#queue tbody tr")).to_have_count(len(high))
    shot(page, "03-queue-high-tier")

    page.goto(f"{server.url}/queue/{pending[0].id}")
    expect(page.get_by_test_id("masked-email")).to_be_visible()
    shot(page, "04-approval")
    page.goto(server.url + "/emails")
    shot(page, "05-emails")
    page.locator("#emails tbody a").first.click()
    expect(page.locator("#trace details").first).to_be_visible()
    shot(page, "06-email-trace")
    page.goto(server.url + "/kpis")
    expect(page.locator("svg.chart").first).to_be_visible()
    shot(page, "07-kpis")
    page.goto(server.url + "/policy")
    page.get_by_role("button", name="Run the backtest now").click()
    expect(page.get_by_test_id("backtest")).to_contain_text("Backtest of")
    shot(page, "08-policy-backtest")
    page.goto(server.url + "/audit")
    expect(page.get_by_test_id("chain-status")).to_contain_text("Intact")
    shot(page, "09-audit")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "arinbox-trace.jsonl"


def test_approver_approves_edits_and_rejects(browser: Browser, server: Server) -> None:
    page = login(browser, server, "approver")
    replies = [a for a in server.approvals(kind="send_reply") if a.tier != "high"]  # high: four eyes
    edited = replies[0]  # replies[1] and the high-tier ones stay for the refused-edit test
    spare = [a for a in server.approvals() if a.tier != "high" and a.id not in {r.id for r in replies}]
    approve_plain, rejected = [*spare, *replies[2:]][:2]

    page.goto(f"{server.url}/queue/{approve_plain.id}")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator(".flash").first).to_contain_text(f"approval {approve_plain.id} approved; email done")
    assert server.approval(approve_plain.id).status == "approved"

    page.goto(f"{server.url}/queue/{edited.id}")
    box = page.get_by_label("Edit the reply")
    draft = box.input_value()
    box.fill("Thank you for your patience.\n\n" + draft)
    page.get_by_role("button", name="Save edit").click()
    expect(page.locator(".flash").first).to_contain_text("your edit of the reply is saved")
    expect(page.get_by_test_id("reply-draft")).to_contain_text("Thank you for your patience.")
    shot(page, "10-approval-edited")
    assert server.approval(edited.id).edited_by == "approver"
    box.fill("We are glad to help.\n\n" + draft)
    page.get_by_role("button", name="Approve with this edit").click()
    expect(page.locator(".flash").first).to_contain_text(f"approval {edited.id} approved with your edit")
    sent = [p.read_text() for p in server.app.settings.outbox_dir.glob("*.eml")]
    assert any("We are glad to help." in text for text in sent)

    page.goto(f"{server.url}/queue/{rejected.id}")
    page.once("dialog", lambda dialog: dialog.accept())  # "Reject this approval?"
    page.get_by_label("Reason").fill("customer is on credit hold")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator(".flash").first).to_contain_text(f"approval {rejected.id} rejected")
    done = server.approval(rejected.id)
    assert (done.status, done.reason, done.approver) == ("rejected", "customer is on credit hold", "approver")


def test_a_refused_edit_and_a_forbidden_tier_are_messages(browser: Browser, server: Server) -> None:
    page = login(browser, server, "approver")
    promise = next(a for a in server.approvals(kind="send_reply") if FIGURE.search(server.draft(a)))
    page.goto(f"{server.url}/queue/{promise.id}")
    box = page.get_by_label("Edit the reply")
    draft = box.input_value()
    figure = FIGURE.search(draft)
    assert figure is not None
    wrong = "7" if draft[figure.start()] != "7" else "8"  # another leading digit: not a ledger figure
    changed = draft[:figure.start()] + wrong + draft[figure.start() + 1:]
    box.fill(changed)
    page.get_by_role("button", name="Save edit").click()
    expect(page.locator(".flash.error")).to_contain_text("the edited reply was not approved")
    expect(page.get_by_label("Edit the reply")).to_have_value(changed)  # the text is not lost
    shot(page, "11-refused-edit")
    assert server.approval(promise.id).status == "pending"

    clerk = login(browser, server, "clerk")
    # the default policy lets clerks decide low-tier approvals only
    medium = (server.approvals(tier="medium") + server.approvals(tier="high"))[0]
    clerk.goto(f"{server.url}/queue/{medium.id}")
    expect(clerk.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    status, body = post_from_page(clerk, f"/queue/{medium.id}/approve", {})
    assert status == 403 and f"clerk (clerk) may not decide a {medium.tier}-tier approval" in body
    assert server.approval(medium.id).status == "pending"


def test_an_auditor_cannot_approve(browser: Browser, server: Server) -> None:
    page = login(browser, server, "auditor")
    target = server.approvals(tier="low")[0]
    page.goto(f"{server.url}/queue/{target.id}")
    expect(page.locator("#decide")).to_contain_text("Your role (auditor) reads the queue; it does not decide.")
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    status, body = post_from_page(page, f"/queue/{target.id}/approve", {})
    assert status == 403 and "auditor (auditor) may not use this page" in body
    assert server.approval(target.id).status == "pending"
    page.goto(f"{server.url}/queue/{target.id}/approve")  # a GET is no way in either
    expect(page.locator("h1")).to_contain_text("Cannot do that")
    shot(page, "12-error")


def test_a_clerk_cannot_read_raw_pii_an_approver_can_and_is_traced(browser: Browser, server: Server) -> None:
    target, secrets = next((a, pii) for a in server.approvals() if (pii := server.masked_values(a)))
    clerk = login(browser, server, "clerk")
    clerk.goto(f"{server.url}/emails/{target.work_item_id}")
    expect(clerk.get_by_test_id("masked-email")).to_be_visible()
    assert not [value for value in secrets if value in clerk.content()]
    expect(clerk.get_by_role("button", name="Show unmasked text")).to_have_count(0)
    status, body = post_from_page(clerk, f"/emails/{target.work_item_id}/raw", {})
    assert status == 403 and not [value for value in secrets if value in body]

    approver = login(browser, server, "approver")
    approver.goto(f"{server.url}/emails/{target.work_item_id}")
    approver.get_by_role("button", name="Show unmasked text").click()
    expect(approver.locator(".flash.warn")).to_contain_text("recorded in the decision trace")
    assert [value for value in secrets if value in approver.content()]
    shot(approver, "13-raw-email")
    approver.goto(f"{server.url}/emails/{target.work_item_id}")
    expect(approver.locator("#trace")).to_contain_text("raw_view")
    with server.app.sessions() as s:
        views = s.scalars(select(m.TraceRecord.body).where(m.TraceRecord.node == "raw_view",
                                                           m.TraceRecord.work_item_id == target.work_item_id)).all()
    assert len(views) == 1 and '"actor":"approver"' in views[0]
