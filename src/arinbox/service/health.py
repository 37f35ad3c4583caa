"""`/healthz`: is the database reachable, and are the background services of this process running?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker


def health_report(sessions: sessionmaker[Session], services: Sequence[object] = ()) -> dict[str, Any]:
    """``status`` is ok when the database answers and every service that reports health is ok."""
    report: dict[str, Any] = {}
    try:
        with sessions() as s:
            s.execute(text("SELECT 1"))
        report["database"] = {"ok": True}
    except SQLAlchemyError as e:
        report["database"] = {"ok": False, "error": type(e).__name__}
    for service in services:
        check = getattr(service, "health", None)
        if callable(check):
            report[str(getattr(service, "name", type(service).__name__))] = check()
    ok = all(part.get("ok", False) for part in report.values())
    return {"status": "ok" if ok else "failing", **report}
