"""Log in with a local user's password; log out."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from arinbox.service.users import authenticate
from arinbox.web.console import Console, get_console
from arinbox.web.pages import render
from arinbox.web.security import NotLoggedIn, current_viewer, log_in, log_out

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


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> Response:
    try:
        viewer = current_viewer(request)
    except NotLoggedIn:
        viewer = None
    return render(request, "login.html", viewer, next=_local(next), error=None)


@router.post("/login", include_in_schema=False)
def login(request: Request, console: Annotated[Console, Depends(get_console)],
          username: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/queue") -> Response:
    user = authenticate(console.sessions, username.strip(), password)
    if user is None:
        return render(request, "login.html", None, status_code=401, next=_local(next),
                      error="unknown user or wrong password")
    log_in(request, user)
    return RedirectResponse(_local(next), status_code=303)


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> RedirectResponse:
    log_out(request)
    return RedirectResponse("/login", status_code=303)
