"""A local Microsoft identity platform and Microsoft Graph mail API over HTTPS, on loopback.

msal and requests run unchanged against it: msal reads the tenant's OpenID configuration and asks
the token endpoint for an app-only token (client credentials); Graph calls must carry a token the
server issued. Behind it sits one in-memory mailbox: folders, messages with their MIME bytes,
folder delta queries with pages and delta links, move, categories, createReply, MIME drafts and
send. Hooks make it throttle (429/503 with Retry-After), revoke tokens or expire delta links.
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import json
import re
import secrets
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.certs import make_certificates

WELL_KNOWN = {"inbox": "Inbox", "drafts": "Drafts", "sentitems": "Sent Items", "deleteditems": "Deleted Items",
              "archive": "Archive"}
_PROPERTY_FILTER = re.compile(r"^singleValueExtendedProperties/any\(ep: ep/id eq '((?:[^']|'')*)' "
                              r"and ep/value eq '((?:[^']|'')*)'\)$")
_EQ_FILTER = re.compile(r"^(internetMessageId|displayName) eq '((?:[^']|'')*)'$")


def _unquote_odata(s: str) -> str:
    return s.replace("''", "'")


@dataclass
class Folder:
    id: str
    display_name: str
    parent_id: str | None = None
    well_known: str | None = None


@dataclass
class Message:
    id: str
    folder_id: str
    mime: bytes
    internet_message_id: str
    subject: str
    to: list[str]
    is_draft: bool = False
    body_text: str = ""
    categories: list[str] = field(default_factory=list)
    extended: dict[str, str] = field(default_factory=dict)
    in_reply_to: str | None = None  # the original's internetMessageId, for replies
    attachments: list[dict[str, Any]] = field(default_factory=list)  # fileAttachment JSON (name, bytes)
    arrived: int = 0  # sequence number when it entered its folder
    changed: int = 0

    def header(self, name: str) -> str | None:
        value = email.message_from_bytes(self.mime)[name]
        return None if value is None else str(value)


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class FakeGraph:
    """The state behind the server; tests deliver mail and read the outcome here."""

    def __init__(self, tenant: str, client_id: str, client_secret: str, user: str) -> None:
        self.tenant, self.client_id, self.client_secret, self.user = tenant, client_id, client_secret, user
        self.base_url = ""  # set when the server starts
        self.lock = threading.RLock()
        self._seq = itertools.count(1)
        self.folders: dict[str, Folder] = {}
        for wk, name in WELL_KNOWN.items():
            fid = self._new_id("AQMkF")
            self.folders[fid] = Folder(fid, name, well_known=wk)
        self.messages: dict[str, Message] = {}
        self.removed: dict[str, list[tuple[int, str]]] = {}  # folder id -> (sequence, message id) that left it
        self.rounds: dict[str, tuple[list[dict[str, Any]], str]] = {}  # delta round -> (entries, delta token)
        self.delta_floor = 0  # delta tokens issued before this sequence number answer 410
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.requests: list[tuple[str, str]] = []  # Graph calls: (method, path with query)
        self.sent: list[Message] = []
        self.drafts_created = 0
        self._throttle: list[tuple[int, str]] = []  # (status, Retry-After) answered before the next calls

    # -- test controls --------------------------------------------------------------------------

    @staticmethod
    def _new_id(prefix: str = "AAMkAG") -> str:
        # Graph ids carry '=', '-' and '_': the client must quote them in paths
        return f"{prefix}{secrets.token_urlsafe(18)}="

    def folder(self, name: str) -> Folder:
        """A folder by well-known name, display name or ``Parent/Child`` path."""
        parent: str | None = None
        found: Folder | None = None
        for part in name.split("/"):
            found = next((f for f in self.folders.values() if f.parent_id == parent and (
                f.display_name.lower() == part.lower() or (parent is None and f.well_known == part.lower()))), None)
            if found is None:
                raise KeyError(name)
            parent = found.id
        assert found is not None
        return found

    def add_folder(self, display_name: str, parent: str | None = None) -> str:
        with self.lock:
            fid = self._new_id("AQMkF")
            self.folders[fid] = Folder(fid, display_name, parent_id=self.folder(parent).id if parent else None)
            return fid

    def deliver(self, mime: bytes, folder: str = "inbox") -> str:
        with self.lock:
            msg = email.message_from_bytes(mime)
            seq = next(self._seq)
            m = Message(id=self._new_id(), folder_id=self.folder(folder).id, mime=mime,
                        internet_message_id=str(msg["Message-ID"] or make_msgid()), subject=str(msg["Subject"] or ""),
                        to=[a for _, a in getaddresses([str(msg["To"] or "")])], arrived=seq, changed=seq)
            self.messages[m.id] = m
            return m.id

    def delete(self, message_id: str) -> None:
        with self.lock:
            m = self.messages.pop(message_id)
            self.removed.setdefault(m.folder_id, []).append((next(self._seq), m.id))

    def in_folder(self, name: str) -> list[Message]:
        fid = self.folder(name).id
        return sorted((m for m in self.messages.values() if m.folder_id == fid), key=lambda m: m.arrived)

    def folder_name(self, message_id: str) -> str:
        return self.folders[self.messages[message_id].folder_id].display_name

    def throttle(self, times: int = 1, retry_after: int = 1, status: int = 429) -> None:
        with self.lock:
            self._throttle += [(status, str(retry_after))] * times

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def expire_delta_links(self) -> None:
        with self.lock:
            self.delta_floor = next(self._seq)
            self.rounds.clear()

    def calls(self, method: str, contains: str = "") -> int:
        return sum(1 for m, p in self.requests if m == method and contains in p)

    # -- identity platform --------------------------------------------------------------------

    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        if tenant != self.tenant:
            raise GraphError(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
        root = f"{self.base_url}/{tenant}"
        return {"issuer": f"{root}/v2.0", "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "token_endpoint": f"{root}/oauth2/v2.0/token", "jwks_uri": f"{root}/discovery/v2.0/keys",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "response_types_supported": ["code", "id_token", "token"], "tenant_region_scope": "EU"}

    def issue_token(self, tenant: str, form: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            self.token_requests += 1
            if tenant != self.tenant:
                raise GraphError(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
            if form.get("grant_type") != "client_credentials":
                raise GraphError(400, "unsupported_grant_type", "AADSTS70003: unsupported grant type.")
            if form.get("client_id") != self.client_id:
                raise GraphError(400, "unauthorized_client", f"AADSTS700016: Application with identifier "
                                 f"'{form.get('client_id')}' was not found in the directory.")
            if form.get("client_secret") != self.client_secret:
                raise GraphError(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure "
                                 "the secret being sent in the request is the client secret value.\r\n"
                                 "Trace ID: 0f1e\r\nCorrelation ID: 9a8b\r\nTimestamp: 2026-11-22 11:40:00Z")
            if form.get("scope") != f"{self.base_url}/.default":
                raise GraphError(400, "invalid_scope", f"AADSTS1002012: The provided value for scope "
                                 f"{form.get('scope')} is not valid.")
            token = secrets.token_urlsafe(24)
            self.tokens.add(token)
            return {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}

    # -- Graph ----------------------------------------------------------------------------------

    def graph(self, method: str, parts: list[str], query: dict[str, str], headers: dict[str, str],
              body: bytes) -> tuple[int, Any, dict[str, str]]:
        """Answer one Graph call below ``/users/{user}``: (status, JSON or bytes, extra headers)."""
        with self.lock:
            if self._throttle:
                status, after = self._throttle.pop(0)
                raise GraphError(status, "TooManyRequests" if status == 429 else "ServiceUnavailable",
                                 "Application is over its MailboxConcurrency limit.", {"Retry-After": after})
            if parts[:1] == ["mailFolders"]:
                return self._folders(method, parts[1:], query, headers)
            if parts[:1] == ["messages"]:
                return self._messages(method, parts[1:], query, headers, body)
            raise GraphError(400, "BadRequest", f"unsupported path {'/'.join(parts)}")

    def _folder_json(self, f: Folder) -> dict[str, Any]:
        return {"id": f.id, "displayName": f.display_name, "parentFolderId": f.parent_id}

    def _folder_by_ref(self, ref: str) -> Folder:
        f = self.folders.get(ref) or next((f for f in self.folders.values() if f.well_known == ref.lower()), None)
        if f is None:  # as Graph: a display name is not a folder id
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        return f

    def _folders(self, method: str, parts: list[str], query: dict[str, str],
                 headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if method != "GET":
            raise GraphError(405, "MethodNotAllowed", "")
        if not parts or parts[1:] == ["childFolders"]:
            parent = self._folder_by_ref(parts[0]).id if parts else None
            folders = [f for f in self.folders.values() if f.parent_id == parent]
            if "$filter" in query:
                m = _EQ_FILTER.match(query["$filter"])
                if not m or m.group(1) != "displayName":
                    raise GraphError(400, "BadRequest", f"unsupported filter {query['$filter']}")
                folders = [f for f in folders if f.display_name.lower() == _unquote_odata(m.group(2)).lower()]
            return 200, {"value": [self._folder_json(f) for f in folders]}, {}
        if len(parts) == 1:
            return 200, self._folder_json(self._folder_by_ref(parts[0])), {}
        if parts[1:] == ["messages", "delta"]:
            return 200, self._delta(self._folder_by_ref(parts[0]), query, headers), {}
        raise GraphError(400, "BadRequest", "unsupported folder path")

    def _delta(self, folder: Folder, query: dict[str, str], headers: dict[str, str]) -> dict[str, Any]:
        size = 10
        for pref in headers.get("prefer", "").split(","):
            if pref.strip().startswith("odata.maxpagesize="):
                size = int(pref.strip().split("=", 1)[1])
        if "$skiptoken" in query:
            round_id, _, offset_s = query["$skiptoken"].rpartition(".")
            if round_id not in self.rounds:
                raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")
            offset = int(offset_s)
        else:
            change = query.get("changeType", "")
            since: int | None = None
            if "$deltatoken" in query:
                fid, seq_s, change = query["$deltatoken"].split(".")
                since = int(seq_s)
                if fid != folder.id or since < self.delta_floor:
                    raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")
            msgs = sorted((m for m in self.messages.values() if m.folder_id == folder.id), key=lambda m: m.arrived)
            if since is None:
                entries = [{"@odata.type": "#microsoft.graph.message", "id": m.id} for m in msgs]
            else:
                stamp = (lambda m: m.arrived) if change == "created" else (lambda m: m.changed)
                entries = [{"@odata.type": "#microsoft.graph.message", "id": m.id} for m in msgs if stamp(m) > since]
                if change in ("", "deleted"):
                    entries += [{"id": i, "@removed": {"reason": "deleted"}}
                                for s, i in self.removed.get(folder.id, []) if s > since]
            round_id = secrets.token_hex(8)
            self.rounds[round_id] = (entries, f"{folder.id}.{next(self._seq)}.{change}")
            offset = 0
        entries, token = self.rounds[round_id]
        link = f"{self.base_url}/v1.0/users/{self.user}/mailFolders/{folder.id}/messages/delta"
        page: dict[str, Any] = {"@odata.context": f"{self.base_url}/v1.0/$metadata#Collection(message)",
                                "value": entries[offset:offset + size]}
        if offset + size < len(entries):
            page["@odata.nextLink"] = f"{link}?$skiptoken={round_id}.{offset + size}"
        else:
            page["@odata.deltaLink"] = f"{link}?$deltatoken={token}"
        return page

    def _message_json(self, m: Message) -> dict[str, Any]:
        return {"id": m.id, "parentFolderId": m.folder_id, "isDraft": m.is_draft, "subject": m.subject,
                "internetMessageId": m.internet_message_id, "categories": list(m.categories),
                "toRecipients": [{"emailAddress": {"address": a}} for a in m.to]}

    def _message(self, message_id: str) -> Message:
        m = self.messages.get(message_id)
        if m is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return m

    def _touch(self, m: Message, folder_id: str | None = None) -> None:
        seq = next(self._seq)
        if folder_id and folder_id != m.folder_id:
            self.removed.setdefault(m.folder_id, []).append((seq, m.id))
            m.folder_id, m.arrived = folder_id, seq
        m.changed = seq

    def _messages(self, method: str, parts: list[str], query: dict[str, str], headers: dict[str, str],
                  body: bytes) -> tuple[int, Any, dict[str, str]]:
        if not parts:
            if method == "GET":
                return 200, {"value": [self._message_json(m) for m in self._filter(query.get("$filter", ""))]}, {}
            if method == "POST":
                return 201, self._message_json(self._create(headers, body)), {}
            raise GraphError(405, "MethodNotAllowed", "")
        m = self._message(parts[0])
        action = parts[1] if len(parts) > 1 else None
        if method == "GET" and action is None:
            return 200, self._message_json(m), {}
        if method == "GET" and action == "$value":
            return 200, m.mime, {"Content-Type": "message/rfc822"}
        if method == "PATCH" and action is None:
            changes = json.loads(body)
            if "categories" in changes:
                m.categories = list(changes["categories"])
            self._touch(m)
            return 200, self._message_json(m), {}
        if method == "POST" and action == "move":
            self._touch(m, self._folder_by_ref(json.loads(body)["destinationId"]).id)
            return 201, self._message_json(m), {}
        if action == "attachments" and len(parts) == 2:
            return self._attachments(m, method, body)
        if method == "POST" and action == "createReply":
            return 201, self._message_json(self._create_reply(m, json.loads(body or b"{}"))), {}
        if method == "POST" and action == "send":
            if not m.is_draft:
                raise GraphError(400, "ErrorInvalidOperation", "Only a draft can be sent.")
            m.is_draft = False
            self._touch(m, self.folder("sentitems").id)
            self.sent.append(m)
            return 202, None, {}
        raise GraphError(400, "BadRequest", f"unsupported message call {method} {action}")

    def _attachments(self, m: Message, method: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        if method == "GET":
            return 200, {"value": [{k: v for k, v in a.items() if k != "contentBytes"} for a in m.attachments]}, {}
        if method != "POST":
            raise GraphError(405, "MethodNotAllowed", "")
        if not m.is_draft:
            raise GraphError(400, "ErrorInvalidOperation", "Attachments can be added to a draft only.")
        given = json.loads(body)
        if given.get("@odata.type") != "#microsoft.graph.fileAttachment":
            raise GraphError(400, "BadRequest", "only file attachments are supported here")
        data = base64.b64decode(given["contentBytes"], validate=True)
        a = {"id": self._new_id("AAMkAtt"), "name": given["name"], "contentType": given.get("contentType"),
             "size": len(data), "contentBytes": given["contentBytes"]}
        m.attachments.append(a)
        self._touch(m)
        return 201, {k: v for k, v in a.items() if k != "contentBytes"}, {}

    def attachment_bytes(self, m: Message) -> dict[str, bytes]:
        """A message's attachments by name, decoded."""
        return {str(a["name"]): base64.b64decode(a["contentBytes"]) for a in m.attachments}

    def _filter(self, flt: str) -> list[Message]:
        if (p := _PROPERTY_FILTER.match(flt)) is not None:
            pid, value = _unquote_odata(p.group(1)), _unquote_odata(p.group(2))
            return [m for m in self.messages.values() if m.extended.get(pid) == value]
        if (e := _EQ_FILTER.match(flt)) is not None and e.group(1) == "internetMessageId":
            wanted = _unquote_odata(e.group(2))
            return [m for m in self.messages.values() if m.internet_message_id == wanted]
        raise GraphError(400, "BadRequest", f"unsupported filter {flt}")

    def _draft(self, **fields: Any) -> Message:
        seq = next(self._seq)
        m = Message(id=self._new_id(), folder_id=self.folder("drafts").id, is_draft=True, arrived=seq,
                    changed=seq, **fields)
        self.messages[m.id] = m
        self.drafts_created += 1
        return m

    def _create(self, headers: dict[str, str], body: bytes) -> Message:
        if not headers.get("content-type", "").startswith("text/plain"):
            raise GraphError(400, "BadRequest", "only MIME drafts are supported here")
        mime = base64.b64decode(body, validate=True)
        msg = email.message_from_bytes(mime, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        part = msg.get_body(("plain",))
        files = [{"id": self._new_id("AAMkAtt"), "name": a.get_filename(), "contentType": a.get_content_type(),
                  "size": len(data := a.get_payload(decode=True)), "contentBytes": base64.b64encode(data).decode()}
                 for a in msg.iter_attachments()]
        return self._draft(mime=mime, internet_message_id=str(msg["Message-ID"] or make_msgid()),
                           subject=str(msg["Subject"] or ""), to=[a for _, a in getaddresses([str(msg["To"] or "")])],
                           body_text=part.get_content() if part is not None else "", attachments=files,
                           in_reply_to=str(msg["In-Reply-To"]) if msg["In-Reply-To"] else None)

    def _create_reply(self, original: Message, request: dict[str, Any]) -> Message:
        given = request.get("message", {})
        if "comment" in request and "body" in given:
            raise GraphError(400, "ErrorInvalidRequest", "comment and message.body are exclusive")
        orig = email.message_from_bytes(original.mime)
        sender = [a for _, a in getaddresses([str(orig["Reply-To"] or orig["From"] or "")])]
        to = [r["emailAddress"]["address"] for r in given.get("toRecipients", [])] or sender
        subject = given.get("subject") or f"RE: {original.subject}"
        text = given.get("body", {}).get("content", request.get("comment", ""))
        mid = given.get("internetMessageId") or make_msgid()
        out = EmailMessage()  # what Exchange would hand out as the draft's MIME: threaded on the original
        out["Message-ID"], out["Date"], out["From"] = mid, formatdate(usegmt=True), self.user
        out["To"], out["Subject"] = ", ".join(to), subject
        out["In-Reply-To"] = original.internet_message_id
        out["References"] = " ".join(x for x in (str(orig["References"] or ""), original.internet_message_id) if x)
        out.set_content(text)
        extended = {p["id"]: p["value"] for p in given.get("singleValueExtendedProperties", [])}
        return self._draft(mime=bytes(out), internet_message_id=mid, subject=subject, to=to, body_text=text,
                           extended=extended, in_reply_to=original.internet_message_id)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(payload, bytes):
            data, ctype = payload, "application/octet-stream"
        elif payload is None:
            data, ctype = b"", "application/json"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        extra = headers or {}
        self.send_header("Content-Type", extra.pop("Content-Type", ctype))
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if parts[1:] == ["v2.0", ".well-known", "openid-configuration"] and method == "GET":
                return self._send(200, fake.openid_configuration(parts[0]))
            if parts[1:] == ["oauth2", "v2.0", "token"] and method == "POST":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                return self._send(200, fake.issue_token(parts[0], form))
            if parts[:2] != ["v1.0", "users"] or len(parts) < 4:
                raise GraphError(404, "NotFound", f"no route {url.path}")
            with fake.lock:
                fake.requests.append((method, self.path))
                auth = headers.get("authorization", "")
                if not auth.startswith("Bearer ") or auth[7:] not in fake.tokens:
                    raise GraphError(401, "InvalidAuthenticationToken", "Access token has expired or is not valid.")
                if parts[2].lower() != fake.user.lower():
                    raise GraphError(404, "ErrorInvalidUser", f"The requested user '{parts[2]}' is invalid.")
                status, payload, extra = fake.graph(method, parts[3:], query, headers, body)
            self._send(status, payload, extra)
        except GraphError as e:
            if parts[1:3] == ["oauth2", "v2.0"] or parts[1:2] == ["v2.0"]:  # OAuth 2 error shape
                payload = {"error": e.code, "error_description": e.message}
            else:
                payload = {"error": {"code": e.code, "message": e.message}}
            self._send(e.status, payload, dict(e.headers))

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGraph


@contextmanager
def graph_server(folder: Path, *, tenant: str = "contoso-tenant", client_id: str = "arinbox-app",
                 client_secret: str = "s3cret", user: str = "ar@contoso.example") -> Iterator[tuple[FakeGraph, Path]]:
    """Serve a FakeGraph on an ephemeral loopback port; yields it and the CA file a client trusts."""
    certs = make_certificates(folder)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.cert_file, certs.key_file)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    fake = FakeGraph(tenant, client_id, client_secret, user)
    fake.base_url = f"https://127.0.0.1:{server.server_address[1]}"
    server.fake = fake
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake, certs.ca_file
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
