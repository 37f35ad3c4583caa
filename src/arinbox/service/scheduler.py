"""The scheduler of `arinbox serve` (APScheduler 3, in the background of the web process).

Jobs: poll each mailbox of ``connectors/mailboxes.yaml`` at its ``poll_interval_s`` (an IMAP mailbox
with ``idle: true`` waits with IMAP IDLE in a thread of its own instead), escalate overdue
approvals, follow up promises to pay whose date passed, and send the daily digest. Pending emails
are run by the workers, which look for work every ``idle_seconds`` and are woken as soon as a poll
stored something new.

Only the leader runs jobs (``service.leader``); the others stand by and take over when it dies. Every
job is idempotent by key, so a run repeated around a change of leader does no harm.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from arinbox.connectors.config import FolderMailboxConfig, ImapMailboxConfig, load_mailboxes
from arinbox.connectors.folder import FolderOutbox
from arinbox.domain.errors import ConfigError
from arinbox.persistence.models import utcnow
from arinbox.service.approvals import escalate_overdue
from arinbox.service.digest import send_digest
from arinbox.service.leader import Leadership
from arinbox.service.mailboxes import MailboxConfig, build_source, close, load_mailbox, mailboxes_path, poll_once
from arinbox.service.promises import follow_up_promises

if TYPE_CHECKING:
    from arinbox.connectors.imap import ImapMailbox
    from arinbox.service.bootstrap import App

log = logging.getLogger("arinbox.scheduler")
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


class Scheduler:
    name = "scheduler"

    def __init__(self, app: App, leadership: Leadership, *, on_ingested: Callable[[], None] | None = None,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.app, self.leadership, self.on_ingested, self.clock = app, leadership, on_ingested, clock
        self.service = app.settings.service
        self._sched: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._watchers: list[threading.Thread] = []
        self.last: dict[str, tuple[str, str]] = {}  # job -> (outcome, when)

    def mailboxes(self) -> list[MailboxConfig]:
        path = mailboxes_path(self.app.settings)
        if not path.exists():
            return []
        names = self.service.mailboxes or [mb.name for mb in load_mailboxes(path).mailboxes]
        return [load_mailbox(self.app.settings, name) for name in names]

    def start(self) -> None:
        try:
            tz = ZoneInfo(self.service.digest_timezone)
        except (KeyError, ValueError):
            raise ConfigError(f"ARINBOX_SERVICE__DIGEST_TIMEZONE: unknown time zone "
                              f"{self.service.digest_timezone!r}") from None
        mailboxes = self.mailboxes()
        self.leadership.start()
        self._stop.clear()
        sched = BackgroundScheduler(timezone=dt.UTC, job_defaults=JOB_DEFAULTS)
        first = dt.datetime.now(dt.UTC)
        for config in mailboxes:
            if isinstance(config, ImapMailboxConfig) and config.idle:
                t = threading.Thread(target=self._watch, args=(config,), name=f"idle-{config.name}", daemon=True)
                self._watchers.append(t)
                continue
            interval = (self.service.folder_poll_seconds if isinstance(config, FolderMailboxConfig)
                        else config.poll_interval_s)
            sched.add_job(self._poll, "interval", args=[config], seconds=interval, id=f"poll:{config.name}",
                          next_run_time=first)
        sched.add_job(self.escalate, "interval", minutes=self.service.escalate_every_minutes, id="escalate",
                      next_run_time=first)
        sched.add_job(self.promises, "interval", minutes=self.service.promise_check_every_minutes, id="promises",
                      next_run_time=first)
        hour, minute = self.service.digest_time.split(":")
        sched.add_job(self.digest, CronTrigger(hour=int(hour), minute=int(minute), timezone=tz), id="digest")
        sched.start()
        self._sched = sched
        for t in self._watchers:
            t.start()
        log.info("scheduler started", extra={"jobs": [j.id for j in sched.get_jobs()],
                                             "idle": [t.name for t in self._watchers],
                                             "leader": self.leadership.is_leader()})

    def stop(self) -> None:
        self._stop.set()
        if self._sched is not None:
            self._sched.shutdown(wait=True)  # a job that is running finishes
            self._sched = None
        for t in self._watchers:
            t.join(timeout=1)  # a thread inside IMAP IDLE is a daemon: the process does not wait for it
        self._watchers = []
        self.leadership.stop()

    def health(self) -> dict[str, Any]:
        running = self._sched is not None and self._sched.running
        return {"ok": running, "leader": self.leadership.is_leader(),
                "jobs": {job: {"outcome": o, "at": at} for job, (o, at) in sorted(self.last.items())}}

    # --- jobs ----------------------------------------------------------------------------------

    def _run(self, job: str, fn: Callable[[], object]) -> None:
        """Run one job if this process leads; an error is logged and counted, the scheduler goes on."""
        metrics = self.app.metrics
        metrics.leader.set(1 if self.leadership.is_leader() else 0)
        if not self.leadership.is_leader():
            metrics.jobs.labels(job, "standby").inc()
            return
        try:
            result = fn()
        except Exception as e:
            metrics.jobs.labels(job, "error").inc()
            self.last[job] = ("error", self.clock().isoformat())
            log.exception("scheduled job failed", extra={"job": job, "error": f"{type(e).__name__}: {e}"})
            return
        metrics.jobs.labels(job, "ok").inc()
        self.last[job] = ("ok", self.clock().isoformat())
        log.info("scheduled job done", extra={"job": job, "result": result})

    def _poll(self, config: MailboxConfig) -> None:
        self._run(f"poll:{config.name}", lambda: self.poll_mailbox(config))

    def poll_mailbox(self, config: MailboxConfig) -> dict[str, int]:
        report = poll_once(config, self.app.sessions)
        self.app.metrics.ingested.labels(config.name).inc(report.ingest.new)
        if report.ingest.new and self.on_ingested is not None:
            self.on_ingested()
        return {"new": report.ingest.new, "failed": report.ingest.failed, "settled": report.settled}

    def escalate(self) -> None:
        self._run("escalate", lambda: {"escalated": escalate_overdue(self.app.processor, self.clock())})

    def promises(self) -> None:
        def job() -> dict[str, list[int]]:
            settings = self.app.settings
            done = follow_up_promises(self.app.sessions, FolderOutbox(settings.outbox_dir),
                                      today=self.clock().date(), to=self.service.follow_up_to,
                                      sender=settings.mailbox_address)
            return {"broken": done.broken, "kept": done.kept}

        self._run("promises", job)

    def digest(self) -> None:
        def job() -> dict[str, int]:
            settings = self.app.settings
            d = send_digest(self.app.sessions, FolderOutbox(settings.outbox_dir), now=self.clock(),
                            to=self.service.digest_to, sender=settings.mailbox_address)
            return d.by_status

        self._run("digest", job)

    def _watch(self, config: ImapMailboxConfig) -> None:
        """Poll, then wait in IMAP IDLE until the server announces mail (or the poll interval passes)."""
        source: ImapMailbox | None = None
        backoff = 1.0
        while not self._stop.is_set():
            if not self.leadership.is_leader():
                self._stop.wait(self.service.leader_retry_seconds)
                continue
            self._poll(config)
            try:
                if source is None:
                    source = cast("ImapMailbox", build_source(config, self.app.sessions))
                source.wait_for_mail(timeout=config.poll_interval_s)
                backoff = 1.0
            except Exception as e:  # the server went away: wait, then connect afresh
                log.warning("IMAP IDLE failed, polling again in %.0fs: %s", backoff, e,
                            extra={"mailbox": config.name})
                if source is not None:
                    close(source)
                source = None
                self._stop.wait(backoff)
                backoff = min(backoff * 2, config.poll_interval_s)
        if source is not None:
            close(source)
