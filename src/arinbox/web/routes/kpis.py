"""KPIs with server-rendered SVG charts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from arinbox.domain.errors import ArinboxError
from arinbox.service.kpi import compute_kpis
from arinbox.web import charts
from arinbox.web.console import Console, get_console
from arinbox.web.metrics import compute_series
from arinbox.web.pages import money, render
from arinbox.web.params import since_date
from arinbox.web.security import OVERSIGHT, Viewer, require

router = APIRouter(prefix="/kpis")
Overseer = Annotated[Viewer, Depends(require(*OVERSIGHT))]
ConsoleDep = Annotated[Console, Depends(get_console)]


@router.get("", include_in_schema=False)
def kpi_page(request: Request, viewer: Overseer, console: ConsoleDep) -> Response:
    error = None
    try:
        since = since_date(request.query_params)
    except ArinboxError as e:
        error, since = str(e), None
    with console.sessions() as s:
        kpis = compute_kpis(s, since)
        series = compute_series(s, since)
    figures = {
        "auto": charts.line([(d.day.strftime("%m-%d"), d.rate) for d in series.auto_resolution],
                            "Auto-resolution rate per day"),
        "response": charts.bars(series.response_minutes, "Time to resolution"),
        "age": charts.bars(series.queue_age_hours, "Age of pending approvals"),
        "cash": {cur: charts.bars([(d.strftime("%m-%d"), float(v)) for d, v in days], f"Cash applied ({cur})",
                                  fmt=lambda v: money(v)) for cur, days in series.cash_applied.items()},
        "exceptions": charts.hbars(series.exceptions, "Exceptions by reason"),
    }
    return render(request, "kpis.html", viewer, kpis=kpis, series=series, figures=figures, since=since,
                  error=error, today=dt.date.today())
