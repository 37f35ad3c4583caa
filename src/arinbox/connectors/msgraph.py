"""A Microsoft 365 shared mailbox through Microsoft Graph: new mail by delta query, replies as drafts.

``GraphMailbox`` reads each watched folder with a delta query that asks for created messages only
(so categorising a message does not hand it over again) and downloads each one's MIME content.
The link to the next page is saved in the sync state only once every message of the page before
it has been acknowledged, i.e. stored: a crash re-reads at most one page and loses nothing.

``GraphOutbox`` answers in the original's conversation: ``createReply`` when the original is found
by its Message-ID, else a new draft from MIME (Graph accepts only ``x-`` headers in
``internetMessageHeaders``, so In-Reply-To and References travel inside the MIME). A reply draft
carries the idempotency key in an extended property, a MIME draft also a Message-ID derived from
it; a retry looks the key up on the server before it creates anything, so a crash never doubles
a reply.
"""

from __future__ import annotations

import base64
import email
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import getaddresses
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session, sessionmaker

from arinbox.connectors.config import GraphMailboxConfig
from arinbox.connectors.folder import render_mail
from arinbox.connectors.msgraph_client import GraphClient, GraphError, odata_string
from arinbox.domain.errors import ArinboxError, ConfigError
from arinbox.domain.ports import OutgoingMail, RawMail, SyncState
from arinbox.persistence import models as m

PAGE_SIZE = 50
# Folders Graph addresses by name in every mailbox language.
WELL_KNOWN_FOLDERS = frozenset({
    "inbox", "drafts", "sentitems", "deleteditems", "archive", "junkemail", "outbox", "clutter",
    "conversationhistory", "msgfolderroot", "recoverableitemsdeletions", "scheduled", "searchfolders",
})
# A named MAPI property in a fixed property set: the idempotency key stamped on each reply draft.
KEY_PROPERTY = "String {8c2d6f1e-5b7a-4e39-9d0c-2a61f4b8e3a7} Name arinboxIdempotencyKey"
REVIEW_SUFFIX = ": needs review"
DONE_STATUSES = ("sent", "drafted")  # drafted: reply_mode draft left it in the mailbox's Drafts


def source_key(folder: str, message_id: str) -> str:
    return f"graph/{folder}/{message_id}"


def split_source_key(key: str) -> tuple[str, str]:
    """``graph/<folder>/<id>``: the folder may hold slashes, a Graph id does not."""
    prefix, _, rest = key.partition("/")
    folder, _, message_id = rest.rpartition("/")
    if prefix != "graph" or not folder or not message_id:
        raise ValueError(f"not a Graph source key: {key!r}")
    return folder, message_id


def _message_path(message_id: str) -> str:
    return f"/messages/{quote(message_id, safe='')}"


def _link_expired(status: int, body: str) -> bool:
    """Graph answers 410 when a delta or skip token is too old to resume from."""
    return status == 410 or (status == 400 and "syncstate" in body.lower())


@dataclass
class _Page:
    cursor: str  # the link that continues after this page
    waiting: set[str] = field(default_factory=set)  # source keys not yet acknowledged


class GraphFolders:
    """Folder ids by configured name: a well-known name, or a display-name path like ``Inbox/AR``."""

    def __init__(self, client: GraphClient) -> None:
        self._client = client
        self._ids: dict[str, str] = {}

    def id(self, name: str) -> str:
        if name not in self._ids:
            self._ids[name] = self._resolve(name)
        return self._ids[name]

    def _resolve(self, name: str) -> str:
        parts = [p for p in name.split("/") if p]
        if not parts:
            raise ConfigError(f"mailbox {self._client.config.name}: empty folder name")
        first = parts[0]
        if first.lower() in WELL_KNOWN_FOLDERS:
            body = self._client.json("GET", f"/mailFolders/{first.lower()}", f"folder {first}",
                                     params={"$select": "id"})
            folder_id = str(body["id"])
            parts = parts[1:]
            parent = f"/mailFolders/{quote(folder_id, safe='')}/childFolders"
        else:
            parent = "/mailFolders"
        for part in parts:
            found = self._client.json("GET", parent, f"folder {name}", params={
                "$filter": f"displayName eq {odata_string(part)}", "$select": "id"}).get("value", [])
            if not found:
                raise ConfigError(f"mailbox {self._client.config.name}: folder {name!r} does not exist in "
                                  f"the mailbox of {self._client.config.user}")
            folder_id = str(found[0]["id"])
            parent = f"/mailFolders/{quote(folder_id, safe='')}/childFolders"
        return folder_id


class GraphMailbox:
    def __init__(
        self,
        config: GraphMailboxConfig,
        state: SyncState,
        client: GraphClient | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.config = config
        self.page_size = page_size
        self.name = config.name
        self.address = config.address
        self._state = state
        self._own_client = client is None
        self._client = client or GraphClient(config)
        self._folders = GraphFolders(self._client)
        self._pages: dict[str, list[_Page]] = {}  # per watched folder, oldest first

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    @staticmethod
    def _cursor_key(folder: str) -> str:
        return f"delta/{folder}"

    def _first_link(self, folder: str) -> str:
        folder_id = quote(self._folders.id(folder), safe="")
        # created only: later rounds skip messages that merely changed (read, categorised by settle)
        return f"/mailFolders/{folder_id}/messages/delta?changeType=created&$select=id"

    # -- MailSource ---------------------------------------------------------------------------

    def fetch(self) -> Iterator[RawMail]:
        for folder in self.config.folders:
            yield from self._fetch_folder(folder)

    def acknowledge(self, source_key: str) -> None:
        folder, _ = split_source_key(source_key)
        for page in self._pages.get(folder, []):
            page.waiting.discard(source_key)
        self._advance(folder)

    def settle(self, source_key: str, outcome: str) -> None:
        _, message_id = split_source_key(source_key)
        c = self.config
        target = c.processed_folder if outcome == "processed" else c.review_folder
        if target:
            self._move(message_id, self._folders.id(target))
        elif c.category:
            self._categorise(message_id, c.category, review=outcome != "processed")

    # -- reading ------------------------------------------------------------------------------

    def _fetch_folder(self, folder: str) -> Iterator[RawMail]:
        pages = self._pages[folder] = []  # pages of an earlier, interrupted fetch are read again
        first = self._first_link(folder)
        link: str | None = self._state.get(self._cursor_key(folder)) or first
        while link is not None:
            resp = self._client.request("GET", link, prefer=(f"odata.maxpagesize={self.page_size}",))
            if _link_expired(resp.status_code, resp.text) and link != first:
                link = first  # start a full round again; ingest recognises what it already stored
                continue
            body = self._client.check(resp, f"delta of folder {folder}").json()
            next_link = body.get("@odata.nextLink")
            cursor = next_link or body.get("@odata.deltaLink")
            if not cursor:
                raise GraphError(f"mailbox {self.name}: delta of folder {folder} returned no next or delta link")
            ids = [str(e["id"]) for e in body.get("value", []) if "@removed" not in e]
            page = _Page(cursor=str(cursor), waiting={source_key(folder, i) for i in ids})
            pages.append(page)
            self._advance(folder)  # a page without new mail moves the cursor at once
            for message_id in ids:
                key = source_key(folder, message_id)
                raw = self._mime(message_id)
                if raw is None:  # deleted since the delta was read: nothing to store
                    self.acknowledge(key)
                    continue
                yield RawMail(source_key=key, raw=raw)
            link = next_link

    def _advance(self, folder: str) -> None:
        pages = self._pages.get(folder, [])
        while pages and not pages[0].waiting:
            self._state.set(self._cursor_key(folder), pages.pop(0).cursor)

    def _mime(self, message_id: str) -> bytes | None:
        resp = self._client.request("GET", f"{_message_path(message_id)}/$value")
        if resp.status_code == 404:
            return None
        return self._client.check(resp, f"MIME content of message {message_id}").content

    # -- settling -----------------------------------------------------------------------------

    def _get(self, message_id: str, select: str) -> dict[str, Any] | None:
        resp = self._client.request("GET", _message_path(message_id), params={"$select": select})
        if resp.status_code == 404:
            return None
        body: dict[str, Any] = self._client.check(resp, f"read message {message_id}").json()
        return body

    def _move(self, message_id: str, folder_id: str) -> None:
        current = self._get(message_id, "parentFolderId")
        if current is None or current.get("parentFolderId") == folder_id:
            return  # gone, or already moved by an earlier settle
        resp = self._client.request("POST", f"{_message_path(message_id)}/move", json={"destinationId": folder_id})
        if resp.status_code != 404:
            self._client.check(resp, f"move message {message_id}")

    def _categorise(self, message_id: str, category: str, review: bool) -> None:
        current = self._get(message_id, "categories")
        if current is None:
            return
        have = [str(x) for x in current.get("categories", [])]
        label = category + REVIEW_SUFFIX
        want = [x for x in have if x != label]  # a reviewed message settled later as processed
        want += [x for x in (category, label if review else None) if x and x not in want]
        if want == have:
            return
        resp = self._client.request("PATCH", _message_path(message_id), json={"categories": want})
        if resp.status_code != 404:
            self._client.check(resp, f"categorise message {message_id}")


class GraphOutbox:
    """Replies through Graph, at most once per idempotency key (rows in ``outgoing_messages``)."""

    def __init__(
        self, config: GraphMailboxConfig, sessions: sessionmaker[Session], client: GraphClient | None = None
    ) -> None:
        self.config = config
        self._sessions = sessions
        self._own_client = client is None
        self._client = client or GraphClient(config)

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def was_sent(self, idempotency_key: str) -> bool:
        with self._sessions() as s:
            row = s.get(m.OutgoingMessage, idempotency_key)
            return row is not None and row.status in DONE_STATUSES

    def send(self, mail: OutgoingMail) -> str:
        mime = render_mail(mail)  # its Message-ID is derived from the idempotency key
        derived_id = str(email.message_from_bytes(mime)["Message-ID"]).strip("<>")
        key = mail.idempotency_key
        with self._sessions.begin() as s:  # recorded before any call, so a retry knows to look first
            row = s.get(m.OutgoingMessage, key)
            if row is not None and row.status in DONE_STATUSES:
                return row.message_id
            earlier = row is not None
            if row is None:
                row = m.OutgoingMessage(idempotency_key=key, mailbox_name=self.config.name,
                                        message_id=derived_id, attempts=0)
                s.add(row)
            row.status, row.attempts, row.last_error = "sending", row.attempts + 1, None
        try:
            status, message = self._deliver(mail, mime, derived_id, look_first=earlier)
        except ArinboxError as e:
            self._finish(key, "failed", error=str(e))
            raise
        # createReply drafts get their Message-ID from Exchange: keep the one the customer will see
        return self._finish(key, status, message_id=str(message.get("internetMessageId") or derived_id).strip("<>"))

    def _finish(self, key: str, status: str, error: str | None = None, message_id: str | None = None) -> str:
        with self._sessions.begin() as s:
            row = s.get(m.OutgoingMessage, key)
            assert row is not None
            row.status, row.last_error = status, error
            if message_id:
                row.message_id = message_id
            if status in DONE_STATUSES:
                row.sent_at = m.utcnow()
            return row.message_id

    def _deliver(
        self, mail: OutgoingMail, mime: bytes, derived_id: str, look_first: bool
    ) -> tuple[str, dict[str, Any]]:
        """Create (or find) the draft and send it: the final status and the draft as Graph shows it."""
        found = self._find_stamped(mail.idempotency_key, derived_id) if look_first else None
        if found is None:
            draft = self._create_draft(mail, mime)
        elif found.get("isDraft"):
            draft = found  # an earlier attempt created it and stopped short of sending
        else:
            return "sent", found  # an earlier attempt sent it
        self._attach(str(draft["id"]), mail)
        if self.config.reply_mode == "draft":
            return "drafted", draft
        self._client.check(self._client.request("POST", f"{_message_path(str(draft['id']))}/send"),
                           f"send reply {mail.idempotency_key}")
        return "sent", draft

    def _attach(self, draft_id: str, mail: OutgoingMail) -> None:
        """Files go on the draft before it is sent. The draft's list is read first, so an attempt that
        died half-way through (or a MIME draft that carries them already) gets no second copy."""
        if not mail.attachments:
            return
        path = f"{_message_path(draft_id)}/attachments"
        have = {str(a.get("name")) for a in self._client.json(
            "GET", path, "list the reply's attachments", params={"$select": "name"}).get("value", [])}
        for a in mail.attachments:
            if a.filename in have:
                continue
            self._client.json("POST", path, f"attach {a.filename}", json={
                "@odata.type": "#microsoft.graph.fileAttachment", "name": a.filename,
                "contentType": a.content_type, "contentBytes": base64.b64encode(a.data).decode("ascii")})

    def _messages(self, flt: str) -> list[dict[str, Any]]:
        body = self._client.json("GET", "/messages", "look up a message",
                                 params={"$filter": flt, "$select": "id,isDraft,internetMessageId"})
        found: list[dict[str, Any]] = body.get("value", [])
        return found

    def _find_stamped(self, key: str, derived_id: str) -> dict[str, Any] | None:
        """The reply an earlier attempt created: by its key property, or as a MIME draft by its Message-ID."""
        by_key = self._messages(f"singleValueExtendedProperties/any(ep: ep/id eq {odata_string(KEY_PROPERTY)} "
                                f"and ep/value eq {odata_string(key)})")
        found = by_key or self._messages(f"internetMessageId eq {odata_string(f'<{derived_id}>')}")
        return found[0] if found else None

    def _create_draft(self, mail: OutgoingMail, mime: bytes) -> dict[str, Any]:
        original = self._messages(f"internetMessageId eq {odata_string(f'<{mail.in_reply_to}>')}") \
            if mail.in_reply_to else []
        if original:
            to = [{"emailAddress": {"name": n, "address": a} if n else {"address": a}}
                  for n, a in getaddresses([mail.to]) if a]
            body = self._client.json(
                "POST", f"{_message_path(str(original[0]['id']))}/createReply", "create the reply draft",
                json={"message": {
                    "subject": mail.subject,
                    "toRecipients": to,
                    "body": {"contentType": "text", "content": mail.body},
                    "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": mail.idempotency_key}],
                }})
        else:  # the original is not in this mailbox: a new message threaded by its MIME headers
            body = self._client.json("POST", "/messages", "create the reply draft",
                                     data=base64.b64encode(mime), headers={"Content-Type": "text/plain"})
        return body
