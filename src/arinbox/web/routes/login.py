"""Log in with a local user's password (unless turned off for single sign-on); log out."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from arinbox.service.users import authenticate
from arinbox.web.console import Console, get_console
from arinbox.web.pages import render
from arinbox.web.security import NotLoggedIn, Viewer, current_viewer, log_in, log_out

router = APIRouter()


def _local(target: str | None) -> str:
    """Only paths on this site: a login link must not send the user elsewhere afterwards."""
    if not target:
        return "/queue"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/queue"
    return target


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/queue", status_code=303)


def _login_page(request: Request, viewer: Viewer | None, next: str | None, error: str | None,
                status_code: int = 200) -> Response:
    console = request.app.state.console.settings.console
    return render(request, "login.html", viewer, status_code=status_code, next=_local(next), error=error,
                  local_login=console.local_login, sso_name=console.oidc.provider_name if console.oidc.issuer else None)


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> Response:
    try:
        viewer = current_viewer(request)
    except NotLoggedIn:
        viewer = None
    return _login_page(request, viewer, next, None)


@router.post("/login", include_in_schema=False)
def login(request: Request, console: Annotated[Console, Depends(get_console)],
          username: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/queue") -> Response:
    if not console.settings.console.local_login:
        return _login_page(request, None, next, "passwords are turned off here: use single sign-on", 403)
    user = authenticate(console.sessions, username.strip(), password)
    if user is None:
        return _login_page(request, None, next, "unknown user or wrong password", 401)
    log_in(request, user)
    return RedirectResponse(_local(next), status_code=303)


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> RedirectResponse:
    log_out(request)
    return RedirectResponse("/login", status_code=303)
