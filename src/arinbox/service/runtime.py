"""What runs in the background of a process: the scheduler and a worker pool, assembled from settings,
and the entry point of one `arinbox worker` process."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from arinbox.service.leader import Leadership
from arinbox.service.scheduler import Scheduler
from arinbox.service.workers import WorkerPool, run_until_signalled

if TYPE_CHECKING:
    from arinbox.service.bootstrap import App

log = logging.getLogger("arinbox.runtime")


def worker_pool(app: App, threads: int) -> WorkerPool:
    service = app.settings.service
    return WorkerPool(app.processor, threads=threads, idle_s=service.idle_seconds,
                      grace_s=service.shutdown_grace_seconds)


def background_services(app: App, *, scheduler: bool = True, workers: int = 1) -> list[Any]:
    """The services `arinbox serve` starts beside the console: workers first, so that the scheduler's
    first poll can wake them."""
    services: list[Any] = []
    pool = worker_pool(app, workers) if workers > 0 else None
    if pool is not None:
        services.append(pool)
    if scheduler:
        leadership = Leadership(app.settings.database_url, retry_s=app.settings.service.leader_retry_seconds)
        services.append(Scheduler(app, leadership, on_ingested=pool.wake if pool else None))
    return services


def run_worker(app: App, threads: int = 1, *, metrics_port: int | None = None) -> None:
    """One worker process: claim and run emails until SIGTERM; optionally serve /metrics on a port."""
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, registry=app.metrics.registry)
    app.processor.leases.release_dead_local()
    run_until_signalled(worker_pool(app, threads))


def worker_child(threads: int) -> None:
    """The target of each process `arinbox worker --concurrency N` starts (settings from the environment)."""
    from arinbox.service import logs
    from arinbox.service.bootstrap import App
    from arinbox.settings import Settings

    logs.configure()
    with App(Settings()) as app:
        run_worker(app, threads)
