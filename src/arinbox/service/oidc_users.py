"""Who a single sign-on is in the console.

The username claim (preferred_username or email) names a user of `arinbox users add NAME --role ROLE`
(no password needed). With a groups-to-role mapping configured, a mapped group grants its role: the user is
added or their role updated in the users table, because approvals read the approver's role from there.
A user in the table whose groups map to nothing keeps the table's role; an unknown or disabled user is
refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from arinbox.domain.errors import PermissionDenied
from arinbox.persistence import models as m
from arinbox.service.users import Role, UserInfo
from arinbox.settings import OidcSettings

log = logging.getLogger(__name__)


def username_from(claims: Mapping[str, Any], claim: str) -> str:
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise PermissionDenied(f"the identity provider sent no {claim!r} claim to name a console user by "
                               "(ARINBOX_CONSOLE__OIDC__USERNAME_CLAIM)")
    if claim == "email" and claims.get("email_verified") is False:  # anyone can type an address at some providers
        raise PermissionDenied(f"the identity provider has not verified the e-mail address {value!r}")
    return value.strip()


def role_from_groups(claims: Mapping[str, Any], claim: str, mapping: Mapping[str, str]) -> Role | None:
    """The role of the first mapping entry (in configured order) whose group the token carries."""
    groups = claims.get(claim)
    if isinstance(groups, str):
        groups = [groups]
    if not mapping or not isinstance(groups, list):
        return None
    held = {g for g in groups if isinstance(g, str)}
    return next((cast(Role, role) for group, role in mapping.items() if group in held), None)


def console_user(sessions: sessionmaker[Session], claims: Mapping[str, Any], oidc: OidcSettings) -> UserInfo:
    """The console user these verified claims sign in as; PermissionDenied says why nobody."""
    username = username_from(claims, oidc.username_claim)
    granted = role_from_groups(claims, oidc.groups_claim, oidc.role_mapping)
    try:
        return _sign_in(sessions, username, granted, claims)
    except IntegrityError:  # the same person's first sign-in twice at once: the other one added the row
        return _sign_in(sessions, username, granted, claims)


def _sign_in(sessions: sessionmaker[Session], username: str, granted: Role | None,
             claims: Mapping[str, Any]) -> UserInfo:
    with sessions.begin() as s:
        user = s.scalar(select(m.User).where(m.User.username == username))
        if user is not None and user.disabled:
            raise PermissionDenied(f"user {username!r} is disabled in the console")
        if user is None:
            if granted is None:
                raise PermissionDenied(f"{username!r} is not a console user: an admin adds them with "
                                       f"`arinbox users add {username} --role ROLE`")
            name = claims.get("name")
            user = m.User(username=username, role=granted, display_name=name if isinstance(name, str) else None)
            s.add(user)
            s.flush()
            log.info("single sign-on added console user %s as %s from their groups", username, granted)
        elif granted is not None and user.role != granted:
            log.info("single sign-on changed %s from %s to %s from their groups", username, user.role, granted)
            user.role = granted
        return UserInfo(user.username, cast(Role, user.role), user.display_name, user.password_hash is not None,
                        user.disabled)
