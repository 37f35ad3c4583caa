"""The `arinbox` command. Errors arinbox raises on purpose print as one line and exit 2."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from arinbox.domain.errors import ArinboxError, NotFoundError
from arinbox.persistence import models as m
from arinbox.persistence import trace as trace_log
from arinbox.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="arinbox: the accounts-receivable inbox agent.")
approvals_app = typer.Typer(no_args_is_help=True, help="Review what the policy held for a person.")
ledger_app = typer.Typer(no_args_is_help=True, help="The embedded AR ledger.")
audit_app = typer.Typer(no_args_is_help=True, help="Prove the decision trace intact.")
policy_app = typer.Typer(no_args_is_help=True, help="Finance-owned policy files.")
app.add_typer(approvals_app, name="approvals")
app.add_typer(ledger_app, name="ledger")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks on this machine.")
app.add_typer(bench_app, name="bench")
users_app = typer.Typer(no_args_is_help=True, help="People who approve, edit and audit.")
app.add_typer(users_app, name="users")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _app(settings: Settings | None = None, policy: Path | None = None) -> Any:
    from arinbox.service.bootstrap import App

    return App(settings or get_settings(), policy)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=False)


# --- ledger, ingest, process ------------------------------------------------------------------


@ledger_app.command("import")
def ledger_import(
    directory: Annotated[Path, typer.Argument(help="Folder with customers.csv, invoices.csv, orders.csv")],
) -> None:
    """Import the AR ledger from CSV; a bad row names file, row and column and nothing is written."""
    from arinbox.ledger.csv_import import import_ledger

    with _app() as a:
        r = import_ledger(directory, a.sessions)
    out.print(f"imported {r.customers} customers, {r.invoices} invoices, {r.orders} orders")


@ledger_app.command("export")
def ledger_export(
    directory: Annotated[Path, typer.Argument(help="Folder to write customers.csv, invoices.csv, orders.csv to")],
) -> None:
    """Write the ledger as CSV in the import format: importing the export changes nothing."""
    from arinbox.ledger.csv_export import export_ledger

    with _app() as a:
        r = export_ledger(a.ledger, directory)
    out.print(f"exported {r.customers} customers, {r.invoices} invoices, {r.orders} orders to {directory}")


def _ingest_folder(a: Any, folder: Path) -> Any:
    from arinbox.connectors.folder import FolderMailbox
    from arinbox.service.ingest import ingest

    report = ingest(FolderMailbox(folder, address=a.settings.mailbox_address), a.sessions, kind="folder")
    _print_ingest(report)
    return report


def _print_ingest(report: Any) -> None:
    out.print(f"ingested {report.new} new, {report.duplicates} already stored, {report.failed} failed to parse")
    for f in report.failures:
        out.print(f"  failed: {f}")


@app.command()
def ingest(
    folder: Annotated[Path | None, typer.Option("--folder", help="A Maildir or a folder of .eml files")] = None,
    mailbox: Annotated[str | None, typer.Option("--mailbox", help="A mailbox of mailboxes.yaml, polled once")] = None,
) -> None:
    """Store every new message of a mailbox exactly once; a configured mailbox also settles finished ones."""
    if (folder is None) == (mailbox is None):
        raise ArinboxError("give exactly one of --folder DIR or --mailbox NAME")
    with _app() as a:
        if folder is not None:
            _ingest_folder(a, folder)
            return
        from arinbox.service.mailboxes import load_mailbox, poll_once

        assert mailbox is not None
        poll = poll_once(load_mailbox(a.settings, mailbox), a.sessions)
        _print_ingest(poll.ingest)
        out.print(f"settled {poll.settled} processed message(s) on the server")


def _process(a: Any) -> dict[str, int]:
    processor = a.processor
    processor.leases.release_dead_local()
    ids = processor.runnable_ids()
    counts: Counter[str] = Counter()
    with _progress() as bar:
        task = bar.add_task("processing emails", total=len(ids))
        for wi in ids:
            counts[processor.try_run(wi) or "left to a running worker"] += 1
            bar.advance(task)
    return dict(counts)


@app.command()
def process() -> None:
    """Run every pending email (and any interrupted by a crash) through the graph."""
    with _app() as a:
        counts = _process(a)
    out.print("processed: " + (", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing pending"))


# --- approvals ---------------------------------------------------------------------------------


@approvals_app.command("list")
def approvals_list() -> None:
    """Pending approvals, oldest first."""
    from arinbox.service.approvals import list_pending

    with _app() as a:
        pending = list_pending(a.processor)
    if not pending:
        out.print("no pending approvals")
        return
    for p in pending:
        flag = "  [red]ESCALATED[/red]" if p.escalated else ""
        out.print(f"[bold]#{p.id}[/bold]{flag}  {p.intent or '?'}  <{p.message_id}>  rule {p.rule_id}: {p.reason}",
                  soft_wrap=True)
        for line in p.actions:
            out.print(f"     {line}")


@approvals_app.command("escalate")
def approvals_escalate() -> None:
    """Escalate approvals waiting longer than the policy allows (run it on a schedule)."""
    from arinbox.service.approvals import escalate_overdue

    with _app() as a:
        ids = escalate_overdue(a.processor)
    out.print(f"escalated {len(ids)} approval(s) to {a.policy.escalate_to}" + (f": {ids}" if ids else ""))


OS_USER = getpass.getuser()
ApproverOpt = Annotated[str, typer.Option(help="Who decides: a user from `arinbox users add`; "
                                                "the policy says which roles may decide which risk tier")]


@approvals_app.command("approve")
def approvals_approve(
    approval_id: int,
    edit_file: Annotated[Path | None, typer.Option("--edit-file", help="Text that replaces the reply draft")] = None,
    approver: ApproverOpt = OS_USER,
) -> None:
    """Approve (optionally with an edited reply) and resume the email from its checkpoint."""
    from arinbox.service.approvals import decide
    from arinbox.service.users import get_user

    body = edit_file.read_text(encoding="utf-8") if edit_file else None
    with _app() as a:
        user = get_user(a.sessions, approver)
        status = decide(a.processor, approval_id, approve=True, approver=user.username, role=user.role,
                        reply_body=body)
    out.print(f"approval {approval_id} approved by {approver} ({user.role}); email {status}")


@approvals_app.command("edit")
def approvals_edit(
    approval_id: int,
    edit_file: Annotated[Path, typer.Option("--edit-file", help="Text that replaces the reply draft")],
    editor: Annotated[str, typer.Option(help="Who edits: a user from `arinbox users add`")] = OS_USER,
) -> None:
    """Replace the reply draft without deciding (at four-eyes tiers another person then approves)."""
    from arinbox.service.approvals import save_edit
    from arinbox.service.users import get_user

    with _app() as a:
        user = get_user(a.sessions, editor)
        save_edit(a.processor, approval_id, editor=user.username, role=user.role,
                  reply_body=edit_file.read_text(encoding="utf-8"))
    out.print(f"approval {approval_id}: draft edited by {editor}; still pending")


@approvals_app.command("reject")
def approvals_reject(
    approval_id: int,
    reason: Annotated[str, typer.Option(help="Why (kept in the trace)")],
    approver: ApproverOpt = OS_USER,
) -> None:
    """Reject: nothing is executed, the reason is traced."""
    from arinbox.service.approvals import decide
    from arinbox.service.users import get_user

    with _app() as a:
        user = get_user(a.sessions, approver)
        status = decide(a.processor, approval_id, approve=False, approver=user.username, role=user.role,
                        reason=reason)
    out.print(f"approval {approval_id} rejected by {approver} ({user.role}); email {status}")


# --- users ---------------------------------------------------------------------------------------


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[str, typer.Option(help="clerk, approver, auditor or admin")],
    display_name: Annotated[str | None, typer.Option(help="Name shown in the console and the trace")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read a console password from standard input")] = False,
) -> None:
    """Add a user (a password is needed only to log in to the web console)."""
    from arinbox.service.users import add_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password_stdin and not password:
        raise ArinboxError("--password-stdin: no password on standard input")
    with _app() as a:
        user = add_user(a.sessions, username, role, password, display_name)
    out.print(f"user {user.username} added as {user.role}" + (" with a console password" if password else ""))


@users_app.command("list")
def users_list() -> None:
    """Users and their roles."""
    from arinbox.service.users import list_users

    with _app() as a:
        users = list_users(a.sessions)
    for u in users:
        out.print(f"{u.username}  {u.role}" + ("  (disabled)" if u.disabled else "")
                  + ("" if u.has_password else "  (no console password)"))
    if not users:
        out.print("no users yet: `arinbox users add NAME --role approver`")


# --- trace, audit, mask, policy ----------------------------------------------------------------


def print_trace(a: Any, message_id: str) -> None:
    mid = message_id.strip().strip("<>")
    with a.sessions() as s:
        rows = s.execute(select(m.WorkItem, m.RawMessage).join(
            m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id).where(m.RawMessage.message_id == mid)).all()
        if not rows:
            raise NotFoundError(f"no stored email with Message-ID <{mid}>")
        for item, raw in rows:
            out.print(f"[bold]email <{raw.message_id}>[/bold]  work item {item.id}  status {item.status}"
                      f"  source {raw.source_key}")
            for rec in trace_log.records_for(s, item.id):
                out.print(f"\n[bold cyan]{rec.node}[/bold cyan]  #{rec.id}  {rec.created_at.isoformat()}"
                          f"  hash {rec.hash[:16]}… prev {rec.prev_hash[:16]}…", soft_wrap=True)
                out.print(json.dumps(json.loads(rec.body), indent=2, ensure_ascii=False), markup=False,
                          soft_wrap=True)


@app.command()
def trace(message_id: str) -> None:
    """Print the full decision trace of one email."""
    with _app() as a:
        print_trace(a, message_id)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the trace's hash chain; exit 1 if any record was edited, deleted or moved."""
    with _app() as a, a.sessions() as s:
        report = trace_log.verify(s)
    if report.ok:
        out.print(f"trace intact: {report.records} records")
        return
    out.print(f"trace BROKEN at record #{report.first_bad_id}: {report.problem}")
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    since: Annotated[str | None, typer.Option(help="Only records created on or after this date (YYYY-MM-DD)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    output: Annotated[Path | None, typer.Option(help="Write to this file instead of standard output")] = None,
) -> None:
    """Export the decision trace, in chain order, for auditors."""
    from arinbox.service.audit_export import export_trace

    if fmt not in ("jsonl", "csv"):
        raise ArinboxError(f"--format must be jsonl or csv, not {fmt!r}")
    day = _date(since)
    with _app() as a, a.sessions() as s:
        if output is None:
            n = export_trace(s, day, fmt, sys.stdout)  # type: ignore[arg-type]
        else:
            with output.open("w", encoding="utf-8", newline="") as f:
                n = export_trace(s, day, fmt, f)  # type: ignore[arg-type]
    err.print(f"exported {n} trace records")


@app.command()
def kpi(
    since: Annotated[str | None, typer.Option(help="Only emails since this date (YYYY-MM-DD)")] = None,
) -> None:
    """Operating KPIs: auto-resolution, time to resolution, exceptions, overrides, approval compliance."""
    from arinbox.service.kpi import compute_kpis, render_kpis

    with _app() as a, a.sessions() as s:
        out.print(render_kpis(compute_kpis(s, _date(since))), markup=False, soft_wrap=True)


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ArinboxError(f"not a date (YYYY-MM-DD): {text!r}") from None


@app.command()
def mask(file: Annotated[Path, typer.Argument(help="An .eml file")]) -> None:
    """Print the masked text of an email, as classifiers and models see it."""
    from arinbox.mail.parse import parse_email

    email = parse_email(file.read_bytes())
    with _app() as a:
        from arinbox.agents.context import LedgerRefs

        keep = LedgerRefs.load(a.ledger, (a.settings.company_name,)).keep_terms
        results = a.masker.mask([email.subject, email.body], keep)
    out.print(f"Subject: {results[0].text}\n\n{results[1].text}", markup=False)


@policy_app.command("check")
def policy_check(file: Path) -> None:
    """Validate a policy file; errors name the file, line and field."""
    from arinbox.policies.schema import load_policy

    p = load_policy(file)
    out.print(f"{file}: valid, {p.version_id}")


@policy_app.command("backtest")
def policy_backtest(
    file: Path,
    since: Annotated[str | None, typer.Option(help="Only emails decided on or after this date (YYYY-MM-DD)")] = None,
) -> None:
    """Replay stored decisions under a candidate policy and show what would change."""
    from arinbox.policies.backtest import backtest, render_backtest
    from arinbox.policies.schema import load_policy

    candidate = load_policy(file)
    with _app() as a, a.sessions() as s:
        out.print(render_backtest(backtest(s, candidate, _date(since))), markup=False, soft_wrap=True)


# --- eval and demo -----------------------------------------------------------------------------


@bench_app.command("masking")
def bench_masking(
    corpus: Annotated[Path | None, typer.Option(help="A labelled corpus (default: agents/evals/dev)")] = None,
    emails: Annotated[int, typer.Option(help="How many ~1.5 KB emails per round")] = 60,
    rounds: Annotated[int, typer.Option(help="Rounds; the median of their p50s is reported")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Stock Presidio against arinbox's masker on the same AR emails, in this process."""
    from arinbox.bench import masking as bench

    settings = get_settings()
    corpus = corpus or settings.data_root / "agents" / "evals" / "dev"
    result = bench.run(corpus, settings, emails, rounds)
    if as_json:
        sys.stdout.write(json.dumps(result.as_json()) + "\n")
    else:
        out.print(bench.render(result, corpus), markup=False, soft_wrap=True)


@bench_app.command("reading")
def bench_reading(
    emails: Annotated[int, typer.Option(help="How many emails to classify and extract (the corpus repeated)")] = 2000,
    corpus: Annotated[Path | None, typer.Option(help="A labelled corpus (default: agents/evals/dev)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """The embedded classify-and-extract stage on already-masked text, one core: emails/s, p50/p95."""
    from arinbox.bench import reading as bench

    settings = get_settings()
    corpus = corpus or settings.data_root / "agents" / "evals" / "dev"
    result = bench.run(corpus, settings, emails)
    if as_json:
        sys.stdout.write(json.dumps(result.as_json()) + "\n")
    else:
        out.print(bench.render(result, corpus), markup=False, soft_wrap=True)


@bench_app.command("matching")
def bench_matching(
    invoices: Annotated[int, typer.Option(min=1, help="Open invoices in the synthetic ledger")] = 100_000,
    customers: Annotated[int, typer.Option(min=1, help="Customers they belong to")] = 5_000,
    remittances: Annotated[int, typer.Option(min=1, help="Remittances of 1-50 lines to match")] = 2_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Cash application against a synthetic SQLite ledger: p50/p95 ms per remittance, precision, recall."""
    from arinbox.bench import matching as bench
    from arinbox.policies.reconciliation import load_reconciliation

    if customers > invoices:
        raise typer.BadParameter("--customers may not exceed --invoices (each customer has one at least)")
    result = bench.run(invoices, customers, remittances, rules=load_reconciliation(get_settings().reconciliation_path))
    if as_json:
        sys.stdout.write(json.dumps(result.as_json()) + "\n")
    else:
        out.print(bench.render(result), markup=False, soft_wrap=True)


@bench_app.command("service")
def bench_service(
    emails: Annotated[int, typer.Option(help="Emails per run (the development corpus repeated)")] = 300,
    memory_emails: Annotated[int, typer.Option(help="Emails of the memory run (0: skip it)")] = 20000,
    workers: Annotated[str, typer.Option(help="PostgreSQL runs: worker processes, comma-separated")] = "1,2,4",
    pg_admin: Annotated[str, typer.Option(help="PostgreSQL URL allowed to create a throw-away database")] =
        "postgresql://postgres@127.0.0.1:5432/postgres",
    corpus: Annotated[Path | None, typer.Option(help="A labelled corpus (default: agents/evals/dev)")] = None,
) -> None:
    """End-to-end emails/s and p50/p95 per graph node: SQLite, PostgreSQL with N workers; memory over a long run."""
    from arinbox.bench import service as bench

    settings = get_settings()
    counts = tuple(int(n) for n in workers.split(",") if n.strip())
    result = bench.run(corpus or settings.data_root / "agents" / "evals" / "dev", emails, memory_emails, pg_admin,
                       counts)
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


@app.command("eval-masking")
def eval_masking(
    file: Annotated[Path, typer.Argument(help="presidio-research InputSample .json or arinbox masking .jsonl")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Per-entity precision, recall and F2 of the masker on span-labelled texts, and the keep rate."""
    from arinbox.masking.scoring import load_samples, render, score_masking, to_json

    samples = load_samples(file)
    with _app() as a:
        score = score_masking(a.masker, samples)
    if as_json:
        sys.stdout.write(json.dumps(to_json(score), indent=2) + "\n")
    else:
        out.print(render(score), markup=False, soft_wrap=True)


@app.command("eval")
def eval_(
    corpus: Annotated[Path, typer.Argument(help="A corpus folder (labels.jsonl, emails/, ledger/)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    policy: Annotated[Path | None, typer.Option(help="Policy file (default: the active one)")] = None,
    keep: Annotated[Path | None, typer.Option(help="Keep the evaluation database in this new folder "
                                                   "(to backtest or inspect it)")] = None,
) -> None:
    """Score the real graph on a labelled corpus, in a fresh temporary database."""
    from arinbox.evaluation.report import render_text, to_json
    from arinbox.evaluation.runner import run_eval

    with _progress() as bar:
        task = bar.add_task("evaluating", total=None)
        report = run_eval(corpus, get_settings(), policy,
                          on_progress=lambda n, total: bar.update(task, completed=n, total=total), keep_dir=keep)
    if as_json:
        sys.stdout.write(json.dumps(to_json(report), indent=2) + "\n")
    else:
        out.print(render_text(report), markup=False, soft_wrap=True)


@app.command()
def demo(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Run and print; do not start the web console")] = False,
) -> None:
    """Import the demo ledger, ingest the demo mailbox, process it, and show what happened."""
    from arinbox.ledger.csv_import import import_ledger

    settings = get_settings()
    samples = settings.data_root / "connectors" / "samples"
    with _app(settings) as a:
        with a.sessions() as s:
            fresh = s.scalar(select(m.Customer.customer_id).limit(1)) is None
        if fresh:
            r = import_ledger(samples / "demo-ledger", a.sessions)
            out.print(f"ledger: imported {r.customers} customers, {r.invoices} invoices, {r.orders} orders")
        else:
            out.print("ledger: already imported")
        _demo_users(a)
        _ingest_folder(a, samples / "demo-mailbox")
        a.deps  # load the models before the progress bar starts  # noqa: B018
        _process(a)
        show_summary(a)
        if not no_serve:
            _serve_demo(a)


def _serve_demo(a: Any) -> None:
    """A fresh password for the demo users at each start, printed with the console's address."""
    import secrets

    from arinbox.service.users import set_password
    from arinbox.web.server import serve

    password = secrets.token_urlsafe(9)
    for name, _ in DEMO_USERS:
        set_password(a.sessions, name, password)
    console = a.settings.console
    out.print(f"\nweb console: [bold]http://{console.host}:{console.port}[/bold]  log in as "
              + ", ".join(n for n, _ in DEMO_USERS) + f" with the demo password [bold]{password}[/bold]"
              "  (Ctrl+C stops it)", soft_wrap=True)
    serve(a, host=console.host, port=console.port, warm_up=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: ARINBOX_CONSOLE__HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: ARINBOX_CONSOLE__PORT, 8000)")] = None,
    certfile: Annotated[Path | None, typer.Option(help="TLS certificate: serve HTTPS (cookies then Secure)")] = None,
    keyfile: Annotated[Path | None, typer.Option(help="TLS private key for --certfile")] = None,
    scheduler: Annotated[bool, typer.Option(help="Poll mailboxes, escalate, follow up promises, send the "
                                                 "daily digest (one leader among all processes)")] = True,
    workers: Annotated[int, typer.Option(min=0, help="Worker threads running emails in this process "
                                                     "(0: leave it to `arinbox worker` processes)")] = 1,
) -> None:
    """Serve the web console and its API, with the scheduler and a worker pool in the background."""
    from arinbox.service import logs
    from arinbox.service.runtime import background_services
    from arinbox.web.server import serve as run_server

    settings = get_settings()
    logs.configure()
    with _app(settings) as a:
        run_server(a, host=host or settings.console.host, port=port or settings.console.port,
                   certfile=str(certfile) if certfile else None, keyfile=str(keyfile) if keyfile else None,
                   services=background_services(a, scheduler=scheduler, workers=workers))


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Worker processes (one per core: the graph is "
                                                         "CPU-bound); a dead one is restarted")] = 1,
    threads: Annotated[int, typer.Option(min=1, help="Worker threads per process (helps only while "
                                                     "emails wait on SMTP, IMAP or an LLM)")] = 1,
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus /metrics on this port "
                                                          "(with --concurrency 1)")] = None,
) -> None:
    """Claim and run emails until SIGTERM, beside other workers on this machine or others."""
    from functools import partial

    from arinbox.service import logs
    from arinbox.service.runtime import run_worker, worker_child
    from arinbox.service.workers import supervise

    logs.configure()
    if concurrency == 1:
        with _app() as a:
            run_worker(a, threads, metrics_port=metrics_port)
        return
    if metrics_port is not None:
        raise ArinboxError("--metrics-port needs --concurrency 1 (run one process per port)")
    supervise(concurrency, partial(worker_child, threads))


DEMO_USERS = (("demo-clerk", "clerk"), ("demo-approver", "approver"), ("demo-auditor", "auditor"))


def _demo_users(a: Any) -> None:
    """One user per working role, so the approval queue can be tried straight away."""
    from arinbox.service.users import add_user, list_users

    known = {u.username for u in list_users(a.sessions)}
    for name, role in DEMO_USERS:
        if name not in known:
            add_user(a.sessions, name, role, display_name=f"Demo {role}")


def show_summary(a: Any) -> None:
    with a.sessions() as s:
        items = list(s.scalars(select(m.WorkItem).order_by(m.WorkItem.id)))
        table = Table(title="What arinbox did with the demo mailbox")
        for col in ("intent", "emails", "handled automatically", "waiting for approval", "failed"):
            table.add_column(col, justify="left" if col == "intent" else "right")
        per: dict[str, Counter[str]] = {}
        for it in items:
            per.setdefault(it.intent or "(unparsed)", Counter())[it.status] += 1
        for intent, c in sorted(per.items()):
            table.add_row(intent, str(sum(c.values())), str(c["done"]), str(c["waiting_approval"]),
                          str(c["failed"]))
        out.print(table)
        executed = s.scalars(select(m.ActionRow).where(m.ActionRow.status == "verified")).all()
        kinds = Counter(x.kind for x in executed)
        out.print("automatic actions executed and verified: "
                  + (", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) or "none"))
        sample = next((it for it in items if it.status == "done" and it.intent == "remittance_advice"
                       and any(x.work_item_id == it.id for x in executed)), None)
        if sample is not None:
            raw = s.get(m.RawMessage, sample.raw_message_id)
            assert raw is not None
            mid = raw.message_id
        report = trace_log.verify(s)
    if sample is not None:
        out.rule("one decision trace in full")
        print_trace(a, mid)
        out.rule()
    out.print(f"trace chain: {'intact' if report.ok else 'BROKEN'} ({report.records} records)")
    out.print(f"replies written to: {a.settings.outbox_dir}/")
    out.print("next: [bold]arinbox approvals list[/bold], then [bold]arinbox approvals approve ID --approver "
              "demo-approver[/bold] or [bold]arinbox approvals reject ID --reason TEXT --approver demo-approver[/bold] "
              "(users: " + ", ".join(f"{n} ({r})" for n, r in DEMO_USERS) + "); "
              "[bold]arinbox trace MESSAGE_ID[/bold] shows any email's trace.")


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except ArinboxError as e:
        err.print(f"error: {e}", markup=False, soft_wrap=True)
        raise SystemExit(2) from None
    except Exception as e:  # click's own usage errors arrive here in non-standalone mode
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            raise SystemExit(e.exit_code) from None
        if isinstance(e, click.exceptions.Abort | KeyboardInterrupt):
            raise SystemExit(130) from None
        raise
    if isinstance(code, int) and code:
        raise SystemExit(code)
