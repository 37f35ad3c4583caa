"""Console and command-line users: a name, one role, and an optional password (scrypt-hashed).

Roles: clerk (works the queue, edits drafts, approves what the policy lets clerks approve), approver,
auditor (reads traces and exports, never decides), admin. Which role may approve which risk tier is
the policy's ``approvers`` setting, not code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal, cast, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arinbox.domain.errors import ArinboxError, NotFoundError
from arinbox.persistence import models as m

Role = Literal["clerk", "approver", "auditor", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
# scrypt work factors (RFC 7914 interactive-login range); stored with each hash so they can grow
_N, _R, _P = 2**14, 8, 1


@dataclass(frozen=True)
class UserInfo:
    username: str
    role: Role
    display_name: str | None
    has_password: bool
    disabled: bool


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    enc = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${enc(salt).decode()}${enc(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def _info(u: m.User) -> UserInfo:
    return UserInfo(u.username, cast(Role, u.role), u.display_name, u.password_hash is not None, u.disabled)


def add_user(sessions: sessionmaker[Session], username: str, role: str, password: str | None = None,
             display_name: str | None = None) -> UserInfo:
    if role not in ROLES:
        raise ArinboxError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if not username.strip():
        raise ArinboxError("a user needs a name")
    with sessions.begin() as s:
        if s.scalar(select(m.User.id).where(m.User.username == username)) is not None:
            raise ArinboxError(f"user {username!r} already exists")
        user = m.User(username=username, role=role, display_name=display_name,
                      password_hash=hash_password(password) if password else None)
        s.add(user)
        s.flush()
        return _info(user)


def set_password(sessions: sessionmaker[Session], username: str, password: str) -> None:
    """Give an existing user a (new) console password."""
    if not password:
        raise ArinboxError("an empty password is not a password")
    with sessions.begin() as s:
        user = s.scalar(select(m.User).where(m.User.username == username))
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        user.password_hash = hash_password(password)


def get_user(sessions: sessionmaker[Session], username: str) -> UserInfo:
    """The active user of that name; an unknown or disabled user is an error naming the fix."""
    with sessions() as s:
        user = s.scalar(select(m.User).where(m.User.username == username))
        if user is None:
            raise NotFoundError(f"no user {username!r}: add one with `arinbox users add {username} --role ROLE`")
        if user.disabled:
            raise NotFoundError(f"user {username!r} is disabled")
        return _info(user)


def authenticate(sessions: sessionmaker[Session], username: str, password: str) -> UserInfo | None:
    with sessions() as s:
        user = s.scalar(select(m.User).where(m.User.username == username))
        if user is None or user.disabled or user.password_hash is None:
            check_password(password, hash_password("timing"))  # same cost whether or not the user exists
            return None
        return _info(user) if check_password(password, user.password_hash) else None


def list_users(sessions: sessionmaker[Session]) -> list[UserInfo]:
    with sessions() as s:
        return [_info(u) for u in s.scalars(select(m.User).order_by(m.User.username))]
