"""Jinja2 templates and the context every page gets (viewer, CSRF token, flash messages, navigation)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from arinbox.web.security import AUDITORS, EVERYONE, OVERSIGHT, Viewer, csrf_token, take_flashes

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))

# (path, label, roles that see it)
NAV = (("/queue", "Approval queue", EVERYONE), ("/emails", "Emails & traces", EVERYONE),
       ("/kpis", "KPIs", OVERSIGHT), ("/policy", "Policy", OVERSIGHT), ("/audit", "Audit", AUDITORS))


def money(value: Decimal | float | str | None, currency: str | None = None) -> str:
    if value is None or value == "":
        return ""
    text = f"{Decimal(str(value)):,.2f}"
    return f"{text} {currency}" if currency else text


def age(hours: float) -> str:
    if hours < 1:
        return f"{max(0, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def when(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


TEMPLATES.env.filters.update(money=money, age=age, when=when)


def render(request: Request, name: str, viewer: Viewer | None, status_code: int = 200, **context: Any) -> Response:
    nav = [(path, label) for path, label, roles in NAV if viewer is not None and viewer.role in roles]
    raw_roles = request.app.state.console.policy.raw_text_roles
    return TEMPLATES.TemplateResponse(request, name, {
        "viewer": viewer, "csrf": csrf_token(request), "flashes": take_flashes(request), "nav": nav,
        "path": request.url.path, "may_read_raw": viewer is not None and viewer.role in raw_roles, **context,
    }, status_code=status_code)
