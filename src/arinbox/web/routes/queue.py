"""The approval queue: a filtered, sorted, paged list; the detail of one approval; approve, edit, reject."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from arinbox.domain.errors import ArinboxError, NotFoundError, PermissionDenied
from arinbox.web.console import Console, get_console
from arinbox.web.detail import approval_view
from arinbox.web.pages import render
from arinbox.web.params import queue_filter
from arinbox.web.queue_query import SORTS, TIERS, QueueFilter, queue_page
from arinbox.web.security import DECIDERS, EVERYONE, Viewer, flash, require

router = APIRouter(prefix="/queue")
Reader = Annotated[Viewer, Depends(require(*EVERYONE))]
Decider = Annotated[Viewer, Depends(require(*DECIDERS))]
ConsoleDep = Annotated[Console, Depends(get_console)]


@router.get("", include_in_schema=False)
def queue_list(request: Request, viewer: Reader, console: ConsoleDep) -> Response:
    error = None
    try:
        f = queue_filter(request.query_params, console.settings.console.page_size)
    except ArinboxError as e:
        error, f = str(e), QueueFilter(page_size=console.settings.console.page_size)
    with console.sessions() as s:
        page = queue_page(s, f)
    return render(request, "queue.html", viewer, page=page, sorts=SORTS, tiers=TIERS, error=error)


def _detail(request: Request, viewer: Viewer, console: Console, approval_id: int, *, status_code: int = 200,
            error: str | None = None, draft: str | None = None) -> Response:
    with console.sessions() as s:
        view = approval_view(s, approval_id)
    may_decide = viewer.role in DECIDERS and console.policy.may_approve(viewer.role, view.tier)  # type: ignore[arg-type]
    return render(request, "approval.html", viewer, status_code=status_code, ap=view, error=error,
                  draft_text=draft if draft is not None else (view.draft.body if view.draft else None),
                  may_decide=may_decide, may_edit=viewer.role in DECIDERS,
                  four_eyes=view.tier in console.policy.four_eyes_tiers)


@router.get("/{approval_id}", include_in_schema=False)
def approval_detail(request: Request, approval_id: int, viewer: Reader, console: ConsoleDep) -> Response:
    return _detail(request, viewer, console, approval_id)


def _refused(request: Request, viewer: Viewer, console: Console, approval_id: int, e: ArinboxError,
             draft: str | None) -> Response:
    if isinstance(e, NotFoundError):
        raise e
    return _detail(request, viewer, console, approval_id, status_code=403 if isinstance(e, PermissionDenied) else 409,
                   error=str(e), draft=draft)


@router.post("/{approval_id}/approve", include_in_schema=False)
def approve(request: Request, approval_id: int, viewer: Decider, console: ConsoleDep,
            reply_body: Annotated[str | None, Form()] = None) -> Response:
    body = _normalise(reply_body)
    try:
        status = console.decide(approval_id, approve=True, approver=viewer.username, role=viewer.role,
                                reply_body=body)
    except ArinboxError as e:
        return _refused(request, viewer, console, approval_id, e, body)
    flash(request, f"approval {approval_id} approved{' with your edit' if body else ''}; email {status}")
    return RedirectResponse("/queue", status_code=303)


@router.post("/{approval_id}/edit", include_in_schema=False)
def save_edit(request: Request, approval_id: int, viewer: Decider, console: ConsoleDep,
              reply_body: Annotated[str, Form()]) -> Response:
    body = _normalise(reply_body) or ""
    try:
        console.save_edit(approval_id, editor=viewer.username, role=viewer.role, reply_body=body)
    except ArinboxError as e:
        return _refused(request, viewer, console, approval_id, e, body)
    flash(request, f"approval {approval_id}: your edit of the reply is saved; still pending")
    return RedirectResponse(f"/queue/{approval_id}", status_code=303)


@router.post("/{approval_id}/reject", include_in_schema=False)
def reject(request: Request, approval_id: int, viewer: Decider, console: ConsoleDep,
           reason: Annotated[str, Form()] = "") -> Response:
    try:
        if not reason.strip():
            raise ArinboxError("a rejection needs a reason (it is kept in the trace)")
        status = console.decide(approval_id, approve=False, approver=viewer.username, role=viewer.role,
                                reason=reason.strip())
    except ArinboxError as e:
        return _refused(request, viewer, console, approval_id, e, None)
    flash(request, f"approval {approval_id} rejected; email {status}")
    return RedirectResponse("/queue", status_code=303)


def _normalise(text: str | None) -> str | None:
    """Browsers send CRLF from a textarea; drafts are stored with LF."""
    if text is None or not text.strip():
        return None
    return text.replace("\r\n", "\n")
