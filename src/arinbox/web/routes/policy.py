"""The active policy, read-only (its YAML and version id), and the backtest of it on stored decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from arinbox.policies.backtest import render_backtest
from arinbox.web.console import Console, get_console
from arinbox.web.pages import render
from arinbox.web.security import OVERSIGHT, Viewer, flash, require

router = APIRouter(prefix="/policy")
Overseer = Annotated[Viewer, Depends(require(*OVERSIGHT))]
ConsoleDep = Annotated[Console, Depends(get_console)]


@router.get("", include_in_schema=False)
def policy_page(request: Request, viewer: Overseer, console: ConsoleDep) -> Response:
    run = console.last_backtest
    return render(request, "policy.html", viewer, policy=console.policy, yaml_text=console.policy_yaml,
                  backtest=run, backtest_text=render_backtest(run.report) if run else None)


@router.post("/backtest", include_in_schema=False)
def run_backtest(request: Request, viewer: Overseer, console: ConsoleDep) -> Response:
    run = console.run_backtest(viewer.username)
    flash(request, f"backtest of {run.report.candidate}: {run.report.replayed} stored decisions replayed, "
                   f"{len(run.report.changes)} verdict changes")
    return RedirectResponse("/policy#backtest", status_code=303)
