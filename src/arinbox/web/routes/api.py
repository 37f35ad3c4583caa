"""The JSON API under /api/: the console's data and actions, the same role checks, the same CSRF rule
(send the session's token as an X-CSRF-Token header; GET /api/session returns it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from arinbox.domain.errors import NotFoundError
from arinbox.persistence import trace
from arinbox.persistence.trace import ChainReport
from arinbox.service.kpi import Kpis, compute_kpis
from arinbox.service.users import authenticate
from arinbox.web.console import BacktestRun, Console, get_console
from arinbox.web.detail import ApprovalView, EmailView, RawView, approval_view, email_view, read_raw
from arinbox.web.email_query import EmailRow, search_emails
from arinbox.web.metrics import Series, compute_series
from arinbox.web.params import email_filter, queue_filter, since_date
from arinbox.web.queue_query import QueueRow, queue_page
from arinbox.web.routes.audit import export_response
from arinbox.web.security import (
    AUDITORS,
    DECIDERS,
    EVERYONE,
    OVERSIGHT,
    NotLoggedIn,
    Viewer,
    csrf_token,
    current_viewer,
    log_in,
    log_out,
    require,
    require_raw_text,
)

router = APIRouter(prefix="/api", tags=["api"])
T = TypeVar("T")
Reader = Annotated[Viewer, Depends(require(*EVERYONE))]
Decider = Annotated[Viewer, Depends(require(*DECIDERS))]
Auditor = Annotated[Viewer, Depends(require(*AUDITORS))]
Overseer = Annotated[Viewer, Depends(require(*OVERSIGHT))]
RawReader = Annotated[Viewer, Depends(require_raw_text)]
ConsoleDep = Annotated[Console, Depends(get_console)]


class UserOut(BaseModel):
    username: str
    role: str
    display_name: str | None


class SessionOut(BaseModel):
    user: UserOut | None
    csrf_token: str = Field(description="send as the X-CSRF-Token header with every POST and DELETE")


class Credentials(BaseModel):
    username: str
    password: str


class Page(BaseModel, Generic[T]):
    rows: list[T]
    total: int
    page: int
    pages: int


class ApproveIn(BaseModel):
    reply_body: str | None = Field(default=None, description="replaces the reply draft (approve with edit)")


class EditIn(BaseModel):
    reply_body: str


class RejectIn(BaseModel):
    reason: str = Field(min_length=1)


class DecisionOut(BaseModel):
    approval: int
    decision: Literal["approved", "rejected", "edited"]
    email_status: str | None


class PolicyOut(BaseModel):
    name: str
    version: int
    version_id: str
    yaml: str
    raw_text_roles: list[str]
    approvers: dict[str, list[str]]
    four_eyes_tiers: list[str]


class BacktestOut(BaseModel):
    candidate: str
    run_at: dt.datetime
    run_by: str
    replayed: int
    resolved_before: int
    resolved_after: int
    changes: list[dict[str, Any]]
    skipped: int


class KpisOut(BaseModel):
    kpis: Kpis
    series: Series


def _user(v: Viewer | None) -> UserOut | None:
    return UserOut(username=v.username, role=v.role, display_name=v.display_name) if v else None


@router.get("/session")
def get_session(request: Request) -> SessionOut:
    try:
        viewer: Viewer | None = current_viewer(request)
    except NotLoggedIn:
        viewer = None
    return SessionOut(user=_user(viewer), csrf_token=csrf_token(request))


@router.post("/session")
def post_session(request: Request, body: Credentials, console: ConsoleDep) -> SessionOut:
    if not console.settings.console.local_login:
        raise HTTPException(403, "passwords are turned off here: sign in through single sign-on at /login/oidc")
    user = authenticate(console.sessions, body.username.strip(), body.password)
    if user is None:
        raise HTTPException(401, "unknown user or wrong password")
    log_in(request, user)
    return SessionOut(user=UserOut(username=user.username, role=user.role, display_name=user.display_name),
                      csrf_token=csrf_token(request))


@router.delete("/session", status_code=204)
def delete_session(request: Request) -> Response:
    log_out(request)
    return Response(status_code=204)


@router.get("/approvals")
def list_approvals(request: Request, viewer: Reader, console: ConsoleDep) -> Page[QueueRow]:
    f = queue_filter(request.query_params, console.settings.console.page_size)
    with console.sessions() as s:
        page = queue_page(s, f)
    return Page[QueueRow](rows=page.rows, total=page.total, page=f.page, pages=page.pages)


@router.get("/approvals/{approval_id}")
def get_approval(approval_id: int, viewer: Reader, console: ConsoleDep) -> ApprovalView:
    with console.sessions() as s:
        return approval_view(s, approval_id)


@router.post("/approvals/{approval_id}/approve")
def approve(approval_id: int, body: ApproveIn, viewer: Decider, console: ConsoleDep) -> DecisionOut:
    status = console.decide(approval_id, approve=True, approver=viewer.username, role=viewer.role,
                            reply_body=body.reply_body or None)
    return DecisionOut(approval=approval_id, decision="approved", email_status=status)


@router.post("/approvals/{approval_id}/edit")
def edit(approval_id: int, body: EditIn, viewer: Decider, console: ConsoleDep) -> DecisionOut:
    console.save_edit(approval_id, editor=viewer.username, role=viewer.role, reply_body=body.reply_body)
    return DecisionOut(approval=approval_id, decision="edited", email_status=None)


@router.post("/approvals/{approval_id}/reject")
def reject(approval_id: int, body: RejectIn, viewer: Decider, console: ConsoleDep) -> DecisionOut:
    status = console.decide(approval_id, approve=False, approver=viewer.username, role=viewer.role,
                            reason=body.reason)
    return DecisionOut(approval=approval_id, decision="rejected", email_status=status)


@router.get("/emails")
def list_emails(request: Request, viewer: Reader, console: ConsoleDep) -> Page[EmailRow]:
    f = email_filter(request.query_params, console.settings.console.page_size)
    with console.sessions() as s:
        page = search_emails(s, f)
    return Page[EmailRow](rows=page.rows, total=page.total, page=f.page, pages=page.pages)


@router.get("/emails/{work_item_id}")
def get_email(work_item_id: int, viewer: Reader, console: ConsoleDep) -> EmailView:
    """The email as masked, its classification, proposal and the full decision trace."""
    with console.sessions() as s:
        return email_view(s, work_item_id)


@router.post("/emails/{work_item_id}/raw")
def get_raw(work_item_id: int, viewer: RawReader, console: ConsoleDep) -> RawView:
    """The unmasked email, for the policy's raw_text_roles; the view is appended to the decision trace."""
    with console.sessions.begin() as s:
        return read_raw(s, work_item_id, actor=viewer.username, role=viewer.role)


@router.get("/audit/verify")
def verify_chain(viewer: Auditor, console: ConsoleDep) -> ChainReport:
    with console.sessions() as s:
        return trace.verify(s)


@router.get("/audit/export", response_class=Response)
def export(request: Request, viewer: Auditor, console: ConsoleDep,
           format: Literal["jsonl", "csv"] = "jsonl") -> Response:
    return export_response(console, format, since_date(request.query_params))


@router.get("/policy")
def get_policy(viewer: Overseer, console: ConsoleDep) -> PolicyOut:
    p = console.policy
    return PolicyOut(name=p.name, version=p.version, version_id=p.version_id, yaml=console.policy_yaml,
                     raw_text_roles=list(p.raw_text_roles), approvers={k: list(v) for k, v in p.approvers.items()},
                     four_eyes_tiers=list(p.four_eyes_tiers))


def _backtest(run: BacktestRun) -> BacktestOut:
    r = run.report
    return BacktestOut(candidate=r.candidate, run_at=run.run_at, run_by=run.run_by, replayed=r.replayed,
                       resolved_before=r.resolved_before, resolved_after=r.resolved_after,
                       changes=[asdict(c) for c in r.changes], skipped=len(r.skipped))


@router.get("/policy/backtest")
def last_backtest(viewer: Overseer, console: ConsoleDep) -> BacktestOut:
    if console.last_backtest is None:
        raise NotFoundError("no backtest has run since the console started: POST /api/policy/backtest")
    return _backtest(console.last_backtest)


@router.post("/policy/backtest")
def new_backtest(viewer: Overseer, console: ConsoleDep) -> BacktestOut:
    return _backtest(console.run_backtest(viewer.username))


@router.get("/kpis")
def kpis(request: Request, viewer: Overseer, console: ConsoleDep) -> KpisOut:
    since = since_date(request.query_params)
    with console.sessions() as s:
        return KpisOut(kpis=compute_kpis(s, since), series=compute_series(s, since))
