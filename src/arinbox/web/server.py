"""`arinbox serve`: one process that serves the console; background services (a scheduler, workers)
join it through the ``Service`` interface and start and stop with the server."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Protocol

import uvicorn
from fastapi import FastAPI

from arinbox.web.app import create_app

if TYPE_CHECKING:
    from arinbox.service.bootstrap import App


class Service(Protocol):
    """Something that runs beside the web server in the same process."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


class ModelWarmUp:
    """Loads the models the graph resumes with in the background, so the first approval is quick."""

    name = "model warm-up"

    def __init__(self, web: FastAPI) -> None:
        self._web = web
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._web.state.console.warm_up, name="warm-up", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        pass  # a daemon thread: nothing to wait for


def build(app: App, services: Sequence[Service] = (), *, over_https: bool = False, warm_up: bool = True) -> FastAPI:
    web = create_app(app, over_https=over_https)
    running = [*services, *([ModelWarmUp(web)] if warm_up else [])]
    web.state.services = running  # /healthz reports on those that have ``health()``

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for service in running:
            service.start()
        try:
            yield
        finally:
            for service in reversed(running):
                service.stop()

    web.router.lifespan_context = lifespan
    return web


def serve(app: App, *, host: str, port: int, services: Sequence[Service] = (), certfile: str | None = None,
          keyfile: str | None = None, warm_up: bool = True) -> None:
    """Serve until interrupted. With a certificate the server speaks HTTPS and cookies are Secure."""
    web = build(app, services, over_https=certfile is not None, warm_up=warm_up)
    config = uvicorn.Config(web, host=host, port=port, ssl_certfile=certfile, ssl_keyfile=keyfile,
                            proxy_headers=True, log_level="info", access_log=False)
    uvicorn.Server(config).run()
