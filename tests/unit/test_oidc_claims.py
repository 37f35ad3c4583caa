"""Which console user and role a verified ID token's claims name (arinbox.service.oidc_users)."""

from __future__ import annotations

import pytest

from arinbox.domain.errors import PermissionDenied
from arinbox.service.oidc_users import role_from_groups, username_from
from arinbox.web.oidc import pkce_challenge

MAPPING = {"ar-admins": "admin", "ar-approvers": "approver"}


def test_the_username_claim_names_the_user() -> None:
    assert username_from({"preferred_username": " alice "}, "preferred_username") == "alice"
    assert username_from({"email": "a@x.example", "email_verified": True}, "email") == "a@x.example"
    assert username_from({"email": "a@x.example"}, "email") == "a@x.example"  # providers that do not say
    with pytest.raises(PermissionDenied, match="has not verified the e-mail address 'a@x.example'"):
        username_from({"email": "a@x.example", "email_verified": False}, "email")
    with pytest.raises(PermissionDenied, match="no 'preferred_username' claim"):
        username_from({"email": "a@x.example"}, "preferred_username")
    with pytest.raises(PermissionDenied, match="no 'preferred_username' claim"):
        username_from({"preferred_username": ["alice"]}, "preferred_username")


def test_groups_map_to_the_first_matching_role_in_configured_order() -> None:
    assert role_from_groups({"groups": ["ar-approvers", "ar-admins"]}, "groups", MAPPING) == "admin"
    assert role_from_groups({"groups": ["staff", "ar-approvers"]}, "groups", MAPPING) == "approver"
    assert role_from_groups({"roles": "ar-approvers"}, "roles", MAPPING) == "approver"  # a single string
    assert role_from_groups({"groups": ["staff"]}, "groups", MAPPING) is None
    assert role_from_groups({"groups": ["ar-admins"]}, "groups", {}) is None  # no mapping: the table decides
    assert role_from_groups({}, "groups", MAPPING) is None
    assert role_from_groups({"groups": {"ar-admins": True}}, "groups", MAPPING) is None


def test_the_pkce_challenge_matches_rfc_7636s_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 appendix B
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
