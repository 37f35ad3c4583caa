"""Audit: the trace chain's verification and the export for auditors (JSON Lines or CSV)."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from typing import Annotated, Literal, TextIO, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from arinbox.persistence import trace
from arinbox.service.audit_export import export_trace
from arinbox.web.console import Console, get_console
from arinbox.web.pages import render
from arinbox.web.params import since_date
from arinbox.web.security import AUDITORS, Viewer, require

router = APIRouter(prefix="/audit")
Auditor = Annotated[Viewer, Depends(require(*AUDITORS))]
ConsoleDep = Annotated[Console, Depends(get_console)]
CHUNK = 64 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024


@router.get("", include_in_schema=False)
def audit_page(request: Request, viewer: Auditor, console: ConsoleDep) -> Response:
    with console.sessions() as s:
        report = trace.verify(s)
    return render(request, "audit.html", viewer, report=report, checked_at=dt.datetime.now(dt.UTC))


def export_response(console: Console, fmt: Literal["jsonl", "csv"], since: dt.date | None) -> StreamingResponse:
    """Spool the export to a temporary file (kept in memory while small), then stream it."""
    # closed by the streaming generator once the last block is sent
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, mode="w+", encoding="utf-8", newline="")  # noqa: SIM115
    with console.sessions() as s:
        export_trace(s, since, fmt, cast(TextIO, spool))
    spool.seek(0)

    def chunks() -> Iterator[str]:
        with spool:
            while block := spool.read(CHUNK):
                yield block

    name = f"arinbox-trace{'-since-' + since.isoformat() if since else ''}.{fmt}"
    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(chunks(), media_type=f"{media}; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/export", include_in_schema=False)
def audit_export(request: Request, viewer: Auditor, console: ConsoleDep,
                 format: Literal["jsonl", "csv"] = "jsonl") -> Response:
    return export_response(console, format, since_date(request.query_params))
