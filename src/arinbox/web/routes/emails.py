"""Emails and their traces: search by customer, invoice, intent and status; the full decision trace;
the unmasked text for the policy's raw_text_roles (every view traced)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from arinbox.domain.errors import ArinboxError
from arinbox.web.console import Console, get_console
from arinbox.web.detail import approval_of, email_view, read_raw
from arinbox.web.email_query import STATUSES, EmailFilter, search_emails
from arinbox.web.pages import render
from arinbox.web.params import email_filter
from arinbox.web.security import EVERYONE, Viewer, require, require_raw_text

router = APIRouter(prefix="/emails")
Reader = Annotated[Viewer, Depends(require(*EVERYONE))]
RawReader = Annotated[Viewer, Depends(require_raw_text)]
ConsoleDep = Annotated[Console, Depends(get_console)]


@router.get("", include_in_schema=False)
def email_list(request: Request, viewer: Reader, console: ConsoleDep) -> Response:
    error = None
    try:
        f = email_filter(request.query_params, console.settings.console.page_size)
    except ArinboxError as e:
        error, f = str(e), EmailFilter(page_size=console.settings.console.page_size)
    with console.sessions() as s:
        page = search_emails(s, f)
    return render(request, "emails.html", viewer, page=page, statuses=STATUSES, error=error)


@router.get("/{work_item_id}", include_in_schema=False)
def email_detail(request: Request, work_item_id: int, viewer: Reader, console: ConsoleDep) -> Response:
    with console.sessions() as s:
        view = email_view(s, work_item_id)
        approval_id = approval_of(s, work_item_id)
    return render(request, "email.html", viewer, email=view, approval_id=approval_id)


@router.post("/{work_item_id}/raw", include_in_schema=False)
def email_raw(request: Request, work_item_id: int, viewer: RawReader, console: ConsoleDep) -> Response:
    # a POST: reading unmasked text leaves a trace record, and a cross-site link must not cause one
    with console.sessions.begin() as s:
        raw = read_raw(s, work_item_id, actor=viewer.username, role=viewer.role)
    return render(request, "raw.html", viewer, raw=raw)
