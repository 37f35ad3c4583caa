"""OpenID Connect sign-in for the console: discovery, the authorization-code request with PKCE, state and
nonce, the code exchange and the ID token's checks (signature against the issuer's JWKS, issuer, audience,
expiry, nonce). PyJWT verifies the token; requests speaks to the provider.

What the browser must bring back (state, nonce, PKCE verifier, where to go next) waits in the signed session
cookie between the redirect to the provider and the callback, and is used once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

import jwt
import requests

from arinbox.domain.errors import ArinboxError, ConfigError
from arinbox.settings import OidcSettings

log = logging.getLogger(__name__)

# never "none" nor HS*: a shared-secret signature would let anyone holding the client secret mint tokens
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
PENDING_SECONDS = 600  # a sign-in not finished within this is started again
JWKS_REFRESH_SECONDS = 30  # an unknown key id re-reads the JWKS (key rotation), at most this often
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class SignInFailed(ArinboxError):
    """The sign-in cannot finish; the message is shown on the refusal page and no session is made."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _check_url(url: str, what: str) -> str:
    """HTTPS, or plain HTTP on this machine only (a local test provider)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return url
    raise ConfigError(f"{what} must be an https:// URL (plain http only on loopback): {url!r}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: the provider checks the verifier sent with the code against this."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True)
class Provider:
    """The parts of the discovery document a sign-in uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]  # ID token algorithms both sides accept
    auth_methods: tuple[str, ...]  # token endpoint client authentication


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    nonce: str
    verifier: str
    next: str
    started: float

    def to_session(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_session(cls, raw: object) -> PendingSignIn:
        try:
            if not isinstance(raw, dict):
                raise TypeError(type(raw).__name__)
            return cls(str(raw["state"]), str(raw["nonce"]), str(raw["verifier"]), str(raw["next"]),
                       float(raw["started"]))
        except (KeyError, TypeError, ValueError):
            raise SignInFailed("no sign-in was started from this browser (or it was used already): "
                               "start again from the login page") from None


def read_client_secret(oidc: OidcSettings) -> str | None:
    if oidc.client_secret is not None:
        return oidc.client_secret.get_secret_value()
    if oidc.client_secret_file is None:
        return None
    try:
        secret = oidc.client_secret_file.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"ARINBOX_CONSOLE__OIDC__CLIENT_SECRET_FILE: cannot read {oidc.client_secret_file}: "
                          f"{e.strerror or e}") from None
    if not secret:
        raise ConfigError(f"ARINBOX_CONSOLE__OIDC__CLIENT_SECRET_FILE: {oidc.client_secret_file} is empty")
    return secret


class OidcClient:
    """One provider, read lazily: the console starts while the provider is down, and says so at sign-in."""

    def __init__(self, oidc: OidcSettings, http: requests.Session | None = None) -> None:
        if not oidc.issuer:
            raise ConfigError("ARINBOX_CONSOLE__OIDC__ISSUER is not set")
        if not oidc.client_id:
            raise ConfigError("ARINBOX_CONSOLE__OIDC__CLIENT_ID must be set with ARINBOX_CONSOLE__OIDC__ISSUER")
        if "openid" not in oidc.scopes:
            raise ConfigError("ARINBOX_CONSOLE__OIDC__SCOPES must include 'openid'")
        self.settings = oidc
        self.issuer = _check_url(oidc.issuer, "ARINBOX_CONSOLE__OIDC__ISSUER")
        self.client_id: str = oidc.client_id
        self._secret = read_client_secret(oidc)
        self._http = http or requests.Session()
        self._lock = threading.Lock()
        self._provider: Provider | None = None
        self._jwks: list[dict[str, Any]] = []
        self._jwks_read_at = float("-inf")

    # -- talking to the provider ------------------------------------------------------------------

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            r = self._http.get(url, timeout=self.settings.timeout_seconds)
            r.raise_for_status()
            body = r.json()
        except requests.RequestException as e:
            raise SignInFailed(f"cannot read the identity provider's {what} at {url}: {e}", 503) from None
        except ValueError:
            raise SignInFailed(f"the identity provider's {what} at {url} is not JSON", 502) from None
        if not isinstance(body, dict):
            raise SignInFailed(f"the identity provider's {what} at {url} is not a JSON object", 502)
        return body

    def provider(self) -> Provider:
        with self._lock:
            if self._provider is None:
                self._provider = self._discover()
            return self._provider

    def _discover(self) -> Provider:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        doc = self._get_json(url, "discovery document")
        if doc.get("issuer") != self.issuer:  # OpenID Connect Discovery 4.3: exactly the configured issuer
            raise SignInFailed(f"the discovery document at {url} names issuer {doc.get('issuer')!r}, "
                               f"not {self.issuer!r} (ARINBOX_CONSOLE__OIDC__ISSUER)", 502)
        endpoints = {}
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = doc.get(field)
            if not isinstance(value, str):
                raise SignInFailed(f"the discovery document at {url} has no {field}", 502)
            try:
                endpoints[field] = _check_url(value, field)
            except ConfigError as e:
                raise SignInFailed(f"the discovery document at {url}: {e}", 502) from None
        offered = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = tuple(a for a in offered if a in ASYMMETRIC)
        if not algorithms:
            raise SignInFailed(f"the identity provider signs ID tokens with {', '.join(map(str, offered))}; "
                               f"the console accepts {', '.join(ASYMMETRIC)}", 502)
        methods = tuple(doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"])
        return Provider(self.issuer, endpoints["authorization_endpoint"], endpoints["token_endpoint"],
                        endpoints["jwks_uri"], algorithms, methods)

    def _keys(self, jwks_uri: str, refresh: bool) -> list[dict[str, Any]]:
        with self._lock:
            stale = time.monotonic() - self._jwks_read_at >= JWKS_REFRESH_SECONDS
            if not self._jwks or (refresh and stale):
                doc = self._get_json(jwks_uri, "key set (JWKS)")
                keys = doc.get("keys")
                self._jwks = [k for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []
                self._jwks_read_at = time.monotonic()
            return self._jwks

    # -- the flow ---------------------------------------------------------------------------------

    def begin(self, redirect_uri: str, next_path: str) -> tuple[str, PendingSignIn]:
        """The provider's authorization URL and what the callback must match."""
        provider = self.provider()
        pending = PendingSignIn(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                                verifier=secrets.token_urlsafe(64), next=next_path, started=time.time())
        query = urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
            "scope": " ".join(self.settings.scopes), "state": pending.state, "nonce": pending.nonce,
            "code_challenge": pkce_challenge(pending.verifier), "code_challenge_method": "S256",
        })
        sep = "&" if "?" in provider.authorization_endpoint else "?"
        return f"{provider.authorization_endpoint}{sep}{query}", pending

    def complete(self, pending: PendingSignIn, params: Mapping[str, str], redirect_uri: str) -> dict[str, Any]:
        """The callback's query checked against the pending sign-in; the verified ID token's claims."""
        if "error" in params:
            detail = params.get("error_description") or ""
            raise SignInFailed(f"the identity provider did not sign you in: {params['error']}"
                               + (f" ({detail})" if detail else ""), 403)
        if not hmac.compare_digest(params.get("state", ""), pending.state):
            raise SignInFailed("the sign-in answer does not belong to the sign-in this browser started "
                               "(state differs): start again from the login page")
        if time.time() - pending.started > PENDING_SECONDS:
            raise SignInFailed(f"the sign-in took longer than {PENDING_SECONDS // 60} minutes: start again")
        code = params.get("code")
        if not code:
            raise SignInFailed("the identity provider sent no authorization code")
        return self.verify_id_token(self._exchange(code, pending.verifier, redirect_uri), pending.nonce)

    def _exchange(self, code: str, verifier: str, redirect_uri: str) -> str:
        provider = self.provider()
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": verifier}
        auth: tuple[str, str] | None = None
        if self._secret is None:
            data["client_id"] = self.client_id  # a public client: PKCE is its proof
        elif "client_secret_basic" in provider.auth_methods or "client_secret_post" not in provider.auth_methods:
            # RFC 6749 2.3.1: both parts form-encoded before Basic
            auth = (quote_plus(self.client_id), quote_plus(self._secret))
        else:
            data |= {"client_id": self.client_id, "client_secret": self._secret}
        try:
            r = self._http.post(provider.token_endpoint, data=data, auth=auth, timeout=self.settings.timeout_seconds,
                                headers={"Accept": "application/json"})
        except requests.RequestException as e:
            raise SignInFailed(f"cannot reach the identity provider's token endpoint: {e}", 503) from None
        try:
            body = r.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise SignInFailed(f"the token endpoint answered {r.status_code} without a JSON object", 502)
        if r.status_code != 200:
            error, detail = body.get("error", r.status_code), body.get("error_description") or ""
            raise SignInFailed(f"the identity provider refused the authorization code: {error}"
                               + (f" ({detail})" if detail else ""), 403)
        token = body.get("id_token")
        if not isinstance(token, str):
            raise SignInFailed("the token endpoint answered without an ID token (is 'openid' among the scopes?)", 502)
        return token

    def verify_id_token(self, token: str, nonce: str) -> dict[str, Any]:
        provider = self.provider()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise SignInFailed(f"the ID token is not a signed JWT: {e}", 403) from None
        alg = header.get("alg")
        if alg not in provider.algorithms:
            raise SignInFailed(f"the ID token is signed with {alg!r}; accepted: {', '.join(provider.algorithms)}", 403)
        key = self._signing_key(provider.jwks_uri, header.get("kid"), alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[alg], audience=self.client_id, issuer=provider.issuer,
                leeway=self.settings.leeway_seconds, options={"require": ["iss", "sub", "aud", "exp", "iat"]})
        except jwt.InvalidSignatureError:
            raise SignInFailed("the ID token's signature does not verify against the identity provider's keys",
                               403) from None
        except jwt.ExpiredSignatureError:
            raise SignInFailed("the ID token has expired (check this server's clock if this repeats)", 403) from None
        except jwt.InvalidAudienceError:
            raise SignInFailed(f"the ID token was issued for another client, not {self.client_id!r} (audience)",
                               403) from None
        except jwt.InvalidIssuerError:
            raise SignInFailed(f"the ID token was issued by another issuer, not {provider.issuer!r}", 403) from None
        except jwt.PyJWTError as e:
            raise SignInFailed(f"the ID token is not valid: {e}", 403) from None
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.client_id:
            raise SignInFailed(f"the ID token names several audiences and its azp is not {self.client_id!r}", 403)
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, nonce):
            raise SignInFailed("the ID token's nonce does not match this sign-in (a replayed token?): "
                               "start again from the login page", 403)
        return claims

    def _signing_key(self, jwks_uri: str, kid: object, alg: str) -> jwt.PyJWK:
        for refresh in (False, True):  # a key id not seen yet: the provider may have rotated its keys
            found = [k for k in self._keys(jwks_uri, refresh) if k.get("use", "sig") == "sig"
                     and (kid is None or k.get("kid") == kid) and k.get("alg", alg) == alg]
            if found:
                break
        if len(found) != 1:
            raise SignInFailed(f"{'no' if not found else 'more than one'} key of the identity provider's JWKS "
                               f"matches the ID token (kid {kid!r}, {alg})", 403)
        try:
            return jwt.PyJWK(found[0], algorithm=alg)
        except jwt.PyJWTError as e:
            raise SignInFailed(f"the identity provider's key {kid!r} cannot check a {alg} signature: {e}",
                               403) from None
