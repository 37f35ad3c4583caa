"""Single sign-on routes, present only when OIDC is configured: send the browser to the provider, take
it back, and log in the console user the verified ID token names (the same session as a password login)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from arinbox.domain.errors import ConfigError, PermissionDenied
from arinbox.service.oidc_users import console_user
from arinbox.settings import ConsoleSettings
from arinbox.web.console import Console, get_console
from arinbox.web.oidc import OidcClient, PendingSignIn, SignInFailed
from arinbox.web.pages import render
from arinbox.web.routes.login import _local
from arinbox.web.security import log_in

router = APIRouter()
PENDING_KEY = "oidc"


def install_sso(web: FastAPI, console: ConsoleSettings) -> None:
    """Add the routes when an issuer is configured; refuse a console nobody could log in to."""
    web.state.oidc = None
    if not console.oidc.issuer:
        if not console.local_login:
            raise ConfigError("ARINBOX_CONSOLE__LOCAL_LOGIN is false but ARINBOX_CONSOLE__OIDC__ISSUER is not set: "
                              "nobody could log in to the console")
        return
    web.state.oidc = OidcClient(console.oidc)
    web.include_router(router)


def get_oidc(request: Request) -> OidcClient:
    client: OidcClient = request.app.state.oidc
    return client


def _redirect_uri(request: Request, client: OidcClient) -> str:
    return client.settings.redirect_uri or str(request.url_for("oidc_callback"))


def _refused(request: Request, status: int, message: str) -> Response:
    return render(request, "sign_in_refused.html", None, status_code=status, message=message)


@router.get("/login/oidc", include_in_schema=False)
def begin(request: Request, client: Annotated[OidcClient, Depends(get_oidc)], next: str | None = None) -> Response:
    try:
        url, pending = client.begin(_redirect_uri(request, client), _local(next))
    except SignInFailed as e:
        return _refused(request, e.status, str(e))
    request.session[PENDING_KEY] = pending.to_session()
    return RedirectResponse(url, status_code=303)


@router.get("/login/oidc/callback", name="oidc_callback", include_in_schema=False)
def callback(request: Request, client: Annotated[OidcClient, Depends(get_oidc)],
             console: Annotated[Console, Depends(get_console)]) -> Response:
    raw = request.session.pop(PENDING_KEY, None)  # used once, whatever happens next
    try:
        pending = PendingSignIn.from_session(raw)
        claims = client.complete(pending, dict(request.query_params), _redirect_uri(request, client))
        user = console_user(console.sessions, claims, client.settings)
    except SignInFailed as e:
        return _refused(request, e.status, str(e))
    except PermissionDenied as e:
        return _refused(request, 403, str(e))
    log_in(request, user)
    return RedirectResponse(pending.next, status_code=303)
