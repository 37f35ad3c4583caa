"""The console's FastAPI application, built from the composition root."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response

from arinbox.domain.errors import ArinboxError, NotFoundError, PermissionDenied
from arinbox.service.health import health_report
from arinbox.service.prometheus_metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from arinbox.web.console import Console
from arinbox.web.pages import render
from arinbox.web.params import BadParameter
from arinbox.web.routes import api, audit, emails, kpis, login, policy, queue
from arinbox.web.routes.sso import install_sso
from arinbox.web.security import (
    EVERYONE,
    CsrfRejected,
    Forbidden,
    NotLoggedIn,
    Viewer,
    csrf_protect,
    current_viewer,
    require,
    secure_cookies,
    session_secret,
)

if TYPE_CHECKING:
    from arinbox.service.bootstrap import App

STATIC = Path(__file__).with_name("static")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _viewer_or_none(request: Request) -> Viewer | None:
    try:
        return current_viewer(request)
    except NotLoggedIn:
        return None


def _problem(request: Request, status: int, message: str) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=status)
    return render(request, "error.html", _viewer_or_none(request), status_code=status, status=status,
                  message=message)


def _install_error_pages(web: FastAPI) -> None:
    async def not_logged_in(request: Request, exc: Exception) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "log in first: POST /api/session"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={target}" if request.method == "GET" else "/login", status_code=303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        return _problem(request, 403, str(exc))

    async def arinbox_error(request: Request, exc: Exception) -> Response:
        status = (404 if isinstance(exc, NotFoundError) else 403 if isinstance(exc, PermissionDenied)
                  else 400 if isinstance(exc, BadParameter) else 409)
        return _problem(request, status, str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return _problem(request, exc.status_code, str(exc.detail))

    async def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return _problem(request, 422, f"{where}: {first.get('msg', 'invalid request')}")

    web.add_exception_handler(NotLoggedIn, not_logged_in)
    web.add_exception_handler(Forbidden, forbidden)
    web.add_exception_handler(CsrfRejected, forbidden)
    web.add_exception_handler(ArinboxError, arinbox_error)
    web.add_exception_handler(StarletteHTTPException, http_error)
    web.add_exception_handler(RequestValidationError, bad_request)


def create_app(app: App, *, over_https: bool = False) -> FastAPI:
    """The console over one composition root. ``over_https``: the server terminates TLS itself."""
    settings = app.settings
    web = FastAPI(title="arinbox console API", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(csrf_protect)],
                  description="The approval queue, emails and decision traces, audit, policy and KPIs. "
                              "Log in with POST /api/session; send the CSRF token it returns as X-CSRF-Token.")
    web.state.console = Console(app)
    web.add_middleware(SessionMiddleware, secret_key=session_secret(settings), session_cookie="arinbox_session",
                       max_age=int(settings.console.session_hours * 3600), same_site="lax",
                       https_only=secure_cookies(settings, over_https))
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (login, queue, emails, audit, policy, kpis, api):
        web.include_router(module.router)
    install_sso(web, settings.console)  # /login/oidc when an issuer is configured
    _install_error_pages(web)

    @web.get("/api/openapi.json", include_in_schema=False)
    def openapi(viewer: Any = Depends(require(*EVERYONE))) -> dict[str, Any]:  # noqa: B008
        return web.openapi()

    @web.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """Database and background services of this process (``web.state.services``, set by serve)."""
        report = health_report(app.sessions, getattr(web.state, "services", ()))
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    @web.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus metrics, public like /healthz: expose the port to the monitoring network only."""
        return Response(app.metrics.render(), media_type=METRICS_CONTENT_TYPE)

    return web
