"""One authenticated HTTP client for Microsoft Graph, shared by the Graph mailbox and outbox.

App-only tokens come from msal's client-credentials flow and stay in msal's cache until they near
expiry. Every request goes through one ``requests.Session`` that ignores proxy and CA environment
variables (``trust_env=False``) and trusts ``ca_file`` when one is configured; msal uses the same
session, so the identity endpoint and Graph are reached the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import msal
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

from arinbox.connectors.config import GraphMailboxConfig
from arinbox.domain.errors import ConfigError, ServiceUnavailable

# The identity platform's own failures: worth a later retry, unlike a refused credential.
_TRANSIENT_TOKEN_ERRORS = {"temporarily_unavailable", "server_error"}
_RETRY_STATUSES = {429, 503, 504}
# The configured user is no mailbox Graph can serve: no retry will change that.
_MAILBOX_ERRORS = {"ErrorInvalidUser", "MailboxNotEnabledForRESTAPI", "MailboxNotHostedInExchangeOnline"}


class GraphError(ServiceUnavailable):
    """Graph or the identity platform failed or could not be reached; a later poll may succeed."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _TimeoutSession(requests.Session):
    """requests has no session-wide timeout; msal calls the session without one."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, *args, **kwargs)


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0].strip()


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: rare from Graph, so fall back to backoff
        return None


def _graph_error(resp: requests.Response) -> dict[str, Any]:
    """Graph's ``{"error": {"code", "message"}}``, or nothing when the body is something else."""
    try:
        body = resp.json()
    except ValueError:
        return {}
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def graph_error_code(resp: requests.Response) -> str:
    return str(_graph_error(resp).get("code", ""))


def graph_error_text(resp: requests.Response) -> str:
    """The error as one line: Graph's code and message, or the start of any other body."""
    err = _graph_error(resp)
    if err.get("code") or err.get("message"):
        return _first_line(f"{err.get('code', '')}: {err.get('message', '')}")
    return _first_line(resp.text)[:200] or resp.reason


def odata_string(value: str) -> str:
    """A string literal for ``$filter``: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


class GraphClient:
    def __init__(
        self,
        config: GraphMailboxConfig,
        *,
        max_retries: int = 4,
        max_wait_s: float = 120,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.max_retries = max_retries
        self.max_wait_s = max_wait_s
        self._sleep = sleep
        self.http = _TimeoutSession(config.timeout_s)
        self.http.trust_env = False
        if config.ca_file is not None:
            self.http.verify = str(config.ca_file)
        base = config.graph_url.rstrip("/")
        root = urlsplit(base)
        self.scope = f"{root.scheme}://{root.netloc}/.default"  # app-only: the resource's .default scope
        self.user_url = f"{base}/users/{quote(config.user, safe='@')}"
        self._app: Any = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tokens -------------------------------------------------------------------------------

    def _where(self) -> str:
        return f"mailbox {self.config.name}"

    def _application(self) -> Any:
        if self._app is None:
            c = self.config
            secret = c.client_secret.read(f"{self._where()}: client_secret")
            authority = f"{c.authority_host.rstrip('/')}/{c.tenant_id}"
            # Entra hosts are validated by msal itself; any other host (a sovereign proxy, the test
            # endpoint) is trusted as configured, without asking login.microsoftonline.com about it.
            known = urlsplit(c.authority_host).hostname in WELL_KNOWN_AUTHORITY_HOSTS
            try:
                self._app = msal.ConfidentialClientApplication(
                    c.client_id, client_credential=secret, authority=authority, http_client=self.http,
                    instance_discovery=None if known else False)
            except ValueError:  # msal's words for an unknown tenant or a malformed authority are long
                raise ConfigError(f"{self._where()}: tenant_id {c.tenant_id} is unknown to {c.authority_host} "
                                  f"(no OpenID configuration under {authority})") from None
            except requests.RequestException as e:
                raise GraphError(f"{self._where()}: cannot reach {authority}: {e}") from None
        return self._app

    def token(self) -> str:
        app = self._application()
        try:
            result: Mapping[str, Any] = app.acquire_token_for_client(scopes=[self.scope])
        except requests.RequestException as e:
            raise GraphError(f"{self._where()}: cannot reach the identity platform: {e}") from None
        except msal.exceptions.MsalServiceError as e:  # a 5xx from the token endpoint
            raise GraphError(f"{self._where()}: identity platform error: {_first_line(str(e))}") from None
        if "access_token" in result:
            return str(result["access_token"])
        error = str(result.get("error", "error"))
        text = f"{error}: {_first_line(str(result.get('error_description', '')))}"
        if error in _TRANSIENT_TOKEN_ERRORS:
            raise GraphError(f"{self._where()}: token request failed: {text}")
        # A refused credential, client id, tenant or scope does not heal by retrying.
        raise ConfigError(f"{self._where()}: tenant {self.config.tenant_id} refused the client credentials of "
                          f"client_id {self.config.client_id} ({text})")

    def _forget_token(self) -> None:
        self._application().remove_tokens_for_client()

    # -- requests -----------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """A path under the mailbox's user (``/messages/...``) or a full link Graph handed out."""
        return path if path.startswith("https://") else self.user_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        prefer: tuple[str, ...] = (),
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one Graph request and return its final response, whatever its status.

        A 401 gets one fresh token and one retry; 429/503/504 are retried after Retry-After (or a
        short backoff) a bounded number of times. Immutable ids keep a message's id stable when it
        is moved, so a source key stays valid after settle moves the message.
        """
        url = self.url(path)
        refreshed = False
        attempt = 0
        while True:
            h = {"Authorization": f"Bearer {self.token()}",
                 "Prefer": ", ".join(('IdType="ImmutableId"', *prefer)), **(headers or {})}
            try:
                resp = self.http.request(method, url, headers=h, **kwargs)
            except requests.RequestException as e:
                raise GraphError(f"{self._where()}: {method} {urlsplit(url).path}: {e}") from None
            if resp.status_code == 401 and not refreshed:
                refreshed = True  # the token was revoked or expired early: one fresh one
                self._forget_token()
                continue
            if resp.status_code in _RETRY_STATUSES and attempt < self.max_retries:
                wait = _retry_after(resp)
                wait = min(2.0**attempt, 30.0) if wait is None else wait
                if wait > self.max_wait_s:
                    raise GraphError(f"{self._where()}: Graph asks to wait {wait:.0f} s ({resp.status_code}); "
                                     "the next poll retries", resp.status_code)
                attempt += 1
                self._sleep(wait)
                continue
            return resp

    def check(self, resp: requests.Response, what: str) -> requests.Response:
        """Raise for a failed response: permission problems as ConfigError, the rest as GraphError."""
        if resp.ok:
            return resp
        text = f"{self._where()}: {what}: HTTP {resp.status_code} {graph_error_text(resp)}"
        if graph_error_code(resp) in _MAILBOX_ERRORS:
            raise ConfigError(f"{text} (check user: {self.config.user})")
        if resp.status_code in (401, 403):
            raise ConfigError(f"{text} (check the app's Mail.ReadWrite/Mail.Send application permissions "
                              f"and access to {self.config.user})")
        raise GraphError(text, resp.status_code)

    def json(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        resp = self.check(self.request(method, path, **kwargs), what)
        body: dict[str, Any] = resp.json() if resp.content else {}
        return body
