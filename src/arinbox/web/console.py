"""What the console's routes share: the composition root, one lock around the graph, the last backtest."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from arinbox.policies.backtest import BacktestReport, backtest
from arinbox.policies.schema import Policy
from arinbox.service import approvals
from arinbox.service.processor import Processor

if TYPE_CHECKING:
    from arinbox.service.bootstrap import App


@dataclass(frozen=True)
class BacktestRun:
    report: BacktestReport
    run_at: dt.datetime
    run_by: str


class Console:
    """Request handlers run on a thread pool: the graph (and its checkpoint connection) is built once
    and driven by one request at a time."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.settings = app.settings
        self.sessions: sessionmaker[Session] = app.sessions  # runs migrations now, not on a request
        self.policy: Policy = app.policy
        self.policy_yaml = app.policy_file.read_text(encoding="utf-8")  # read with the policy: they agree
        self._graph_lock = threading.Lock()
        self.last_backtest: BacktestRun | None = None

    @property
    def processor(self) -> Processor:
        with self._graph_lock:
            return self.app.processor

    def warm_up(self) -> None:
        """Load the models the graph resumes with, so the first approval is not the slow one."""
        with self._graph_lock:
            self.app.processor.deps  # noqa: B018

    def decide(self, approval_id: int, *, approve: bool, approver: str, role: str, reason: str | None = None,
               reply_body: str | None = None) -> str:
        processor = self.processor
        with self._graph_lock:
            return approvals.decide(processor, approval_id, approve=approve, approver=approver, role=role,
                                    reason=reason, reply_body=reply_body)

    def save_edit(self, approval_id: int, *, editor: str, role: str, reply_body: str) -> None:
        processor = self.processor
        with self._graph_lock:
            approvals.save_edit(processor, approval_id, editor=editor, role=role, reply_body=reply_body)

    def run_backtest(self, who: str) -> BacktestRun:
        with self.sessions() as s:
            run = BacktestRun(backtest(s, self.policy), dt.datetime.now(dt.UTC), who)
        self.last_backtest = run
        return run


def get_console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console
