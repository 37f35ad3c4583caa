"""Who is asking: the signed session cookie, role checks on every route, CSRF tokens on every POST.

The session holds the user name, a CSRF token and flash messages; the role is re-read from the
database on each request, so disabling a user or changing a role takes effect at once.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from fastapi import Request
from sqlalchemy import select

from arinbox.domain.errors import ConfigError
from arinbox.persistence import models as m
from arinbox.service.users import Role, UserInfo
from arinbox.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

# who may do what; the policy adds its own limits (approvers per tier, raw_text_roles)
EVERYONE: tuple[Role, ...] = ("clerk", "approver", "auditor", "admin")
DECIDERS: tuple[Role, ...] = ("clerk", "approver", "admin")  # auditors read, they never decide
AUDITORS: tuple[Role, ...] = ("auditor", "admin")
OVERSIGHT: tuple[Role, ...] = ("approver", "auditor", "admin")  # policy and KPIs


class NotLoggedIn(Exception):
    """No valid session: pages redirect to the login form, the API answers 401."""


class Forbidden(Exception):
    """The user's role may not use this route (403)."""


class CsrfRejected(Exception):
    """A POST without the session's CSRF token (403)."""


@dataclass(frozen=True)
class Viewer:
    username: str
    role: Role
    display_name: str | None

    @property
    def label(self) -> str:
        return self.display_name or self.username


def session_secret(settings: Settings) -> str:
    """The key that signs session cookies: configured, or in development a key file made once."""
    console = settings.console
    if console.secret_key is not None:
        key = console.secret_key.get_secret_value()
        if len(key) < 32:
            raise ConfigError("ARINBOX_CONSOLE__SECRET_KEY must be at least 32 characters")
        return key
    if settings.environment == "production":
        raise ConfigError("ARINBOX_CONSOLE__SECRET_KEY must be set in production")
    path: Path = console.secret_key_file
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key, encoding="utf-8")
    path.chmod(0o600)
    return key


def secure_cookies(settings: Settings, over_https: bool = False) -> bool:
    if settings.console.secure_cookies is not None:
        return settings.console.secure_cookies
    return over_https or settings.environment == "production"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def csrf_protect(request: Request) -> None:
    """Every unsafe request carries the session's token, as a form field or an X-CSRF-Token header."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
        raise CsrfRejected("missing or wrong CSRF token: reload the page and try again")


def log_in(request: Request, user: UserInfo) -> None:
    """A fresh session (and CSRF token) at login, so a session planted before it is worth nothing."""
    request.session.clear()
    request.session["user"] = user.username
    request.session["csrf"] = secrets.token_urlsafe(32)


def log_out(request: Request) -> None:
    request.session.clear()


def current_viewer(request: Request) -> Viewer:
    username = request.session.get("user")
    if not isinstance(username, str):
        raise NotLoggedIn()
    sessions = request.app.state.console.sessions
    with sessions() as s:
        user = s.scalar(select(m.User).where(m.User.username == username))
    if user is None or user.disabled:
        request.session.clear()
        raise NotLoggedIn()
    return Viewer(user.username, cast(Role, user.role), user.display_name)


def require(*roles: Role) -> Callable[[Request], Viewer]:
    """A dependency that admits logged-in users with one of ``roles``."""

    def dependency(request: Request) -> Viewer:
        viewer = current_viewer(request)
        if viewer.role not in roles:
            raise Forbidden(f"{viewer.username} ({viewer.role}) may not use this page; it is for "
                            + ", ".join(roles))
        return viewer

    dependency.roles = roles  # type: ignore[attr-defined]  # read by the route-permission test
    return dependency


def require_raw_text(request: Request) -> Viewer:
    """Unmasked email text: only the policy's ``raw_text_roles``."""
    viewer = current_viewer(request)
    allowed = request.app.state.console.policy.raw_text_roles
    if viewer.role not in allowed:
        raise Forbidden(f"{viewer.username} ({viewer.role}) may not read unmasked email text; the policy "
                        f"allows: {', '.join(allowed) or 'nobody'}")
    return viewer


def flash(request: Request, message: str, kind: str = "info") -> None:
    request.session["flash"] = [*request.session.get("flash", []), [kind, message]]


def take_flashes(request: Request) -> list[tuple[str, str]]:
    return [(k, msg) for k, msg in request.session.pop("flash", [])]
