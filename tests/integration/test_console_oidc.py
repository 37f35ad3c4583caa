"""Single sign-on to the console against a local OpenID Connect provider (tests/support/oidc_issuer.py),
driven with FastAPI's TestClient: the browser's trip to the provider is one plain HTTP request to its
authorize endpoint, which answers with the redirect back to the console.

A good sign-in is the same session a password gives (role checks and CSRF unchanged); a wrong state,
nonce, signature, audience or expiry and an unknown or disabled user each end on a refusal page without a
session; a groups claim maps to a role; passwords can be turned off."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from arinbox.domain.errors import ConfigError
from arinbox.persistence import models as m
from arinbox.service.bootstrap import App
from arinbox.service.users import add_user, list_users
from arinbox.settings import ConsoleSettings, OidcSettings, Settings
from arinbox.web import create_app
from arinbox.web.oidc import OidcClient, SignInFailed, read_client_secret
from tests.support.oidc_issuer import KID, FakeIssuer, new_rsa_key, oidc_issuer

CLIENT_ID = "arinbox-console"
CLIENT_SECRET = "s3cret: with/odd+chars"  # form-encoded in Basic auth, as RFC 6749 2.3.1 asks
REDIRECT = "http://testserver/login/oidc/callback"
PASSWORD = "local-password-123"
MAPPING = {"ar-admins": "admin", "ar-approvers": "approver", "ar-clerks": "clerk"}


@pytest.fixture(scope="module")
def keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    return new_rsa_key(), new_rsa_key()  # the provider's, and one it never published


@pytest.fixture(scope="module")
def provider(keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> Iterator[FakeIssuer]:
    with oidc_issuer(CLIENT_ID, CLIENT_SECRET, keys[0]) as issuer:
        yield issuer


@pytest.fixture
def issuer(provider: FakeIssuer) -> FakeIssuer:
    provider.reset()
    return provider


@dataclass
class Sso:
    app: App
    web: FastAPI
    issuer: FakeIssuer

    def client(self) -> TestClient:
        return TestClient(self.web)

    def to_provider(self, client: TestClient, next_path: str = "/queue") -> str:
        """Start at the console; the browser arrives at the provider's authorize URL."""
        r = client.get("/login/oidc", params={"next": next_path}, follow_redirects=False)
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith(self.issuer.url + "/authorize?")
        return str(r.headers["location"])

    def back_from_provider(self, authorize_url: str) -> str:
        """The provider 'logs in' its scripted user and sends the browser back with a code."""
        r = requests.get(authorize_url, allow_redirects=False, timeout=5)
        assert r.status_code == 302, r.text
        return str(r.headers["Location"])

    def sign_in(self, client: TestClient, claims: dict[str, object], next_path: str = "/queue") -> httpx.Response:
        self.issuer.user = claims
        return client.get(self.back_from_provider(self.to_provider(client, next_path)), follow_redirects=False)

    def role_of(self, username: str) -> str | None:
        with self.app.sessions() as s:
            return s.scalar(select(m.User.role).where(m.User.username == username))


def _console_settings(settings: Settings, issuer: FakeIssuer, **console: object) -> Settings:
    oidc = OidcSettings(issuer=issuer.url, provider_name="Test IdP", client_id=CLIENT_ID,
                        client_secret=SecretStr(CLIENT_SECRET), redirect_uri=REDIRECT, role_mapping=MAPPING)
    fields = {"secret_key": SecretStr("k" * 40), "oidc": oidc, **console}
    return settings.model_copy(update={"console": ConsoleSettings.model_validate(fields)})


@pytest.fixture
def sso(settings: Settings, issuer: FakeIssuer) -> Iterator[Sso]:
    with App(_console_settings(settings, issuer)) as app:
        add_user(app.sessions, "alice", "approver")  # no password: she signs in through the provider
        add_user(app.sessions, "carol", "auditor")
        add_user(app.sessions, "dave", "clerk")
        with app.sessions.begin() as s:
            user = s.scalar(select(m.User).where(m.User.username == "dave"))
            assert user is not None
            user.disabled = True
        yield Sso(app, create_app(app), issuer)


def session_user(client: TestClient) -> object:
    return client.get("/api/session").json()["user"]


def test_a_good_sign_in_is_the_users_session_with_their_role(sso: Sso) -> None:
    client = sso.client()
    login_page = client.get("/login").text
    assert "Sign in with Test IdP" in login_page and 'name="password"' in login_page  # both ways offered

    authorize = sso.to_provider(client, "/kpis")
    sent = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert sent["redirect_uri"] == REDIRECT and sent["scope"].split() == ["openid", "profile", "email"]
    assert len(sent["state"]) >= 32 and len(sent["nonce"]) >= 32 and sent["state"] != sent["nonce"]
    sso.issuer.user = {"preferred_username": "alice", "name": "Alice Approver"}
    callback = sso.back_from_provider(authorize)
    done = client.get(callback, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/kpis"
    assert session_user(client) == {"username": "alice", "role": "approver", "display_name": None}

    # the same session as a password login: role checks and CSRF unchanged
    assert client.get("/kpis").status_code == 200
    audit = client.get("/audit")
    assert audit.status_code == 403 and "alice (approver) may not use this page" in audit.text
    assert client.post("/logout", follow_redirects=False).status_code == 403  # no CSRF token
    assert session_user(client) is not None

    # the callback cannot be replayed: the pending sign-in is used once, and so is the code
    replay = client.get(callback, follow_redirects=False)
    assert replay.status_code == 400 and "no sign-in was started from this browser" in replay.text
    assert sso.issuer.token_requests == 1

    csrf = client.get("/api/session").json()["csrf_token"]
    assert client.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False).status_code == 303
    assert session_user(client) is None


# what the provider or the browser gets wrong, and the refusal's words
REFUSALS = {
    "wrong state": (400, "state differs"),
    "wrong nonce": (403, "nonce does not match"),
    "bad signature": (403, "signature does not verify"),
    "wrong audience": (403, "issued for another client"),
    "expired token": (403, "ID token has expired"),
    "unknown user": (403, "'mallory' is not a console user: an admin adds them with `arinbox users add mallory"),
    "disabled user": (403, "user 'dave' is disabled"),
    "provider said no": (403, "did not sign you in: access_denied (the user cancelled)"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_bad_sign_in_is_refused_with_a_message_and_no_session(
        sso: Sso, keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey], case: str) -> None:
    client, issuer = sso.client(), sso.issuer
    issuer.user = {"preferred_username": {"unknown user": "mallory", "disabled user": "dave"}.get(case, "alice"),
                   "groups": ["unmapped-group"]}
    if case == "wrong nonce":
        issuer.nonce = "a-nonce-from-another-sign-in"
    elif case == "bad signature":
        issuer.sign_with = keys[1]
    elif case == "wrong audience":
        issuer.audience = "another-client"
    elif case == "expired token":
        issuer.expires_in = -3600  # an hour ago, well past the minute of leeway
    callback = sso.back_from_provider(sso.to_provider(client))
    if case == "wrong state":
        callback = re.sub(r"state=[^&]+", "state=forged", callback)
    elif case == "provider said no":
        callback = REDIRECT + "?error=access_denied&error_description=the+user+cancelled&state=x"

    status, words = REFUSALS[case]
    refused = client.get(callback, follow_redirects=False)
    assert refused.status_code == status, refused.text
    assert "Sign-in refused" in refused.text and words in refused.text.replace("&#39;", "'").replace("&#96;", "`")
    assert session_user(client) is None
    assert client.get("/queue", follow_redirects=False).status_code == 303  # back to the login page
    assert {u.username for u in list_users(sso.app.sessions)} == {"alice", "carol", "dave"}  # nobody added


def test_a_groups_claim_maps_to_a_role_kept_in_the_users_table(sso: Sso) -> None:
    bob = sso.client()  # not in the users table: his groups let him in
    assert sso.sign_in(bob, {"preferred_username": "bob", "name": "Bob B", "groups": ["staff", "ar-approvers"]},
                       "/kpis").status_code == 303
    assert session_user(bob) == {"username": "bob", "role": "approver", "display_name": "Bob B"}
    assert bob.get("/kpis").status_code == 200
    assert sso.role_of("bob") == "approver"  # approvals read the approver's role from the table

    sso.issuer.reset()
    bob = sso.client()  # moved to the clerks' group: his role follows at the next sign-in
    assert sso.sign_in(bob, {"preferred_username": "bob", "groups": ["ar-clerks"]}).status_code == 303
    assert session_user(bob) == {"username": "bob", "role": "clerk", "display_name": "Bob B"}
    assert bob.get("/kpis").status_code == 403

    admin = sso.client()  # the first mapping entry the groups match wins; `next` stays on this site
    done = sso.sign_in(admin, {"preferred_username": "erin", "groups": ["ar-clerks", "ar-admins"]},
                       "https://elsewhere.example/phish")
    assert done.status_code == 303 and done.headers["location"] == "/queue"
    assert session_user(admin) == {"username": "erin", "role": "admin", "display_name": None}

    carol = sso.client()  # in the table, groups map to nothing: the table's role stands
    assert sso.sign_in(carol, {"preferred_username": "carol", "groups": ["staff"]}).status_code == 303
    assert session_user(carol) == {"username": "carol", "role": "auditor", "display_name": None}

    dave = sso.client()  # disabled in the table: a mapped group does not bring him back
    refused = sso.sign_in(dave, {"preferred_username": "dave", "groups": ["ar-admins"]})
    assert refused.status_code == 403 and session_user(dave) is None and sso.role_of("dave") == "clerk"


def test_with_passwords_turned_off_only_single_sign_on_logs_in(settings: Settings, issuer: FakeIssuer) -> None:
    with App(_console_settings(settings, issuer, local_login=False)) as app:
        add_user(app.sessions, "alice", "approver", password=PASSWORD)
        sso = Sso(app, create_app(app), issuer)
        client = sso.client()
        page = client.get("/login").text
        assert "Sign in with Test IdP" in page and 'name="password"' not in page
        csrf = client.get("/api/session").json()["csrf_token"]
        form = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": csrf},
                           follow_redirects=False)
        assert form.status_code == 403 and "passwords are turned off" in form.text
        api = client.post("/api/session", json={"username": "alice", "password": PASSWORD},
                          headers={"X-CSRF-Token": csrf})
        assert api.status_code == 403 and "passwords are turned off" in api.json()["detail"]
        assert session_user(client) is None

        assert sso.sign_in(client, {"preferred_username": "alice"}).status_code == 303
        assert session_user(client) == {"username": "alice", "role": "approver", "display_name": None}


def test_passwords_off_without_an_issuer_is_refused_and_no_issuer_means_no_sign_in_link(settings: Settings) -> None:
    off = settings.model_copy(update={"console": ConsoleSettings(secret_key=SecretStr("k" * 40), local_login=False)})
    with App(off) as app, pytest.raises(ConfigError, match="LOCAL_LOGIN is false but ARINBOX_CONSOLE__OIDC__ISSUER"):
        create_app(app)
    plain = settings.model_copy(update={"console": ConsoleSettings(secret_key=SecretStr("k" * 40))})
    with App(plain) as app:
        client = TestClient(create_app(app))
        assert "Sign in with" not in client.get("/login").text
        assert client.get("/login/oidc", follow_redirects=False).status_code == 404


def test_settings_that_cannot_work_are_refused_at_start(tmp_path: Path) -> None:
    def client(**fields: object) -> OidcClient:
        return OidcClient(OidcSettings.model_validate({"issuer": "https://idp.example", "client_id": "c", **fields}))

    with pytest.raises(ConfigError, match="must be an https:// URL"):
        client(issuer="http://idp.example")
    with pytest.raises(ConfigError, match="CLIENT_ID must be set"):
        client(client_id=None)
    with pytest.raises(ConfigError, match="must include 'openid'"):
        client(scopes=["profile"])
    missing = tmp_path / "no-such-secret"
    with pytest.raises(ConfigError, match=f"CLIENT_SECRET_FILE: cannot read {missing}"):
        client(client_secret_file=missing)
    (tmp_path / "secret").write_text("from-a-file\n", encoding="utf-8")
    assert read_client_secret(OidcSettings(client_secret_file=tmp_path / "secret")) == "from-a-file"
    assert client(issuer="http://127.0.0.1:9").issuer == "http://127.0.0.1:9"  # a provider on this machine


def test_a_provider_that_is_down_or_speaks_for_another_issuer_is_named(issuer: FakeIssuer) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(SignInFailed, match=f"cannot read the identity provider's discovery document at {down}") as e:
        OidcClient(OidcSettings(issuer=down, client_id=CLIENT_ID)).begin(REDIRECT, "/queue")
    assert e.value.status == 503
    with pytest.raises(SignInFailed, match=f"names issuer '{issuer.url}', not '{issuer.url}/'"):
        OidcClient(OidcSettings(issuer=issuer.url + "/", client_id=CLIENT_ID)).begin(REDIRECT, "/queue")


def test_an_id_token_signed_with_a_shared_secret_or_without_nonce_is_refused(issuer: FakeIssuer) -> None:
    client = OidcClient(OidcSettings(issuer=issuer.url, client_id=CLIENT_ID))
    now = int(time.time())
    claims = {"iss": issuer.url, "aud": CLIENT_ID, "sub": "x", "iat": now, "exp": now + 60, "nonce": "n"}
    hs = jwt.encode(claims, CLIENT_SECRET * 2, algorithm="HS256", headers={"kid": KID})
    with pytest.raises(SignInFailed, match="signed with 'HS256'; accepted: RS256"):
        client.verify_id_token(hs, "n")
    good = jwt.encode(claims, issuer.key, algorithm="RS256", headers={"kid": KID})
    assert client.verify_id_token(good, "n")["sub"] == "x"
    with pytest.raises(SignInFailed, match="nonce does not match"):
        client.verify_id_token(jwt.encode({**claims, "nonce": None}, issuer.key, algorithm="RS256",
                                          headers={"kid": KID}), "n")
    unknown_kid = jwt.encode(claims, issuer.key, algorithm="RS256", headers={"kid": "rotated-away"})
    with pytest.raises(SignInFailed, match="no key of the identity provider's JWKS matches"):
        client.verify_id_token(unknown_kid, "n")
    no_sub = jwt.encode({k: v for k, v in claims.items() if k != "sub"}, issuer.key, algorithm="RS256",
                        headers={"kid": KID})
    with pytest.raises(SignInFailed, match='missing the "sub" claim'):
        client.verify_id_token(no_sub, "n")
