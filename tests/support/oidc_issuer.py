"""A tiny OpenID Connect provider on loopback (stdlib ThreadingHTTPServer in a thread) for the console's
single sign-on: discovery, a JWKS with an RSA key generated here, an authorize endpoint that sends the
browser back with a code for the scripted user, and a token endpoint that checks the client's secret, the
redirect URI and the PKCE verifier before issuing a signed ID token.

Knobs make the ID token wrong in one way at a time (audience, nonce, expiry, a key the JWKS does not hold).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KID = "test-key-1"


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str
    claims: dict[str, Any]


@dataclass
class FakeIssuer:
    client_id: str
    client_secret: str
    key: rsa.RSAPrivateKey
    url: str = ""
    user: dict[str, Any] = field(default_factory=dict)  # the claims of whoever "logs in" next
    # one wrong thing at a time
    sign_with: rsa.RSAPrivateKey | None = None  # a key the JWKS does not publish (same kid)
    audience: str | None = None
    nonce: str | None = None
    expires_in: int = 300
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    codes: dict[str, Grant] = field(default_factory=dict)

    def reset(self) -> None:
        with self.lock:
            self.user, self.sign_with, self.audience, self.nonce, self.expires_in = {}, None, None, None, 300
            self.authorize_requests.clear()
            self.codes.clear()
            self.token_requests = 0

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "code_challenge_methods_supported": ["S256"]}

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        """(status, headers): a redirect back with a code, or 400 for a request no provider would accept."""
        with self.lock:
            self.authorize_requests.append(query)
            if (query.get("client_id") != self.client_id or query.get("response_type") != "code"
                    or query.get("code_challenge_method") != "S256" or not query.get("code_challenge")
                    or "openid" not in query.get("scope", "").split()):
                return 400, {}
            code = secrets.token_urlsafe(16)
            self.codes[code] = Grant(self.client_id, query["redirect_uri"], query.get("nonce"),
                                     query["code_challenge"], dict(self.user))
        back = urlencode({"code": code, "state": query.get("state", "")})
        return 302, {"Location": f"{query['redirect_uri']}?{back}"}

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.token_requests += 1
            if not authorization or not authorization.startswith("Basic "):
                return 401, {"error": "invalid_client"}
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            if (unquote_plus(user), unquote_plus(password)) != (self.client_id, self.client_secret):
                return 401, {"error": "invalid_client"}
            grant = self.codes.pop(form.get("code", ""), None)  # a code works once
            if grant is None or form.get("grant_type") != "authorization_code":
                return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
            if form.get("redirect_uri") != grant.redirect_uri:
                return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge != grant.challenge:
                return 400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"}
            now = int(time.time())
            claims = {"iss": self.url, "aud": self.audience or self.client_id, "iat": now,
                      "exp": now + self.expires_in, "sub": "sub-" + str(grant.claims.get("preferred_username")),
                      **grant.claims}
            nonce = self.nonce or grant.nonce
            if nonce is not None:
                claims["nonce"] = nonce
            id_token = jwt.encode(claims, self.sign_with or self.key, algorithm="RS256", headers={"kid": KID})
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                     "id_token": id_token}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    issuer: FakeIssuer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _send(self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        issuer = self.server.issuer
        parts = urlsplit(self.path)
        if parts.path == "/.well-known/openid-configuration":
            self._send(200, issuer.discovery())
        elif parts.path == "/jwks":
            self._send(200, issuer.jwks())
        elif parts.path == "/authorize":
            status, headers = issuer.authorize({k: v[0] for k, v in parse_qs(parts.query).items()})
            self._send(status, None, headers)
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/token":
            self._send(404, {"error": "not_found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        status, body = self.server.issuer.token(form, self.headers.get("Authorization"))
        self._send(status, body)


@contextmanager
def oidc_issuer(client_id: str, client_secret: str, key: rsa.RSAPrivateKey) -> Iterator[FakeIssuer]:
    """Serve a FakeIssuer on an ephemeral loopback port; its ``url`` is the issuer identifier."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.issuer = FakeIssuer(client_id, client_secret, key)
    server.issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
