"""IMAP mailboxes (imapclient): only new mail per poll, flagged or moved once processed.

Per watched folder the adapter keeps UIDVALIDITY and the last acknowledged UID in SyncState
(``<folder>/uidvalidity``, ``<folder>/last_uid``). A poll asks for ``UID n:*`` above that UID and
fetches ``BODY.PEEK[]`` in batches (PEEK: reading must not mark the message read). The cursor
only moves over a contiguous prefix of stored messages, so a crash re-offers mail rather than
skipping it; ingest's de-duplication absorbs the re-offer. A new UIDVALIDITY means the server
renumbered the folder: it is read again from the start and ingest drops what it already holds.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from arinbox.connectors.config import ImapMailboxConfig
from arinbox.domain.errors import ConfigError, ServiceUnavailable
from arinbox.domain.ports import RawMail, SyncState

log = logging.getLogger(__name__)
T = TypeVar("T")

SEEN = b"\\Seen"
OUTCOME_FLAGS = {"processed": b"$arinbox-processed", "needs_review": b"$arinbox-review",
                 "failed": b"$arinbox-failed"}
# a dropped or refused connection; anything else the server says (NO, BAD) is not retried
CONNECTION_ERRORS = (OSError, IMAPClientAbortError)
IDLE_LIMIT_S = 29 * 60  # RFC 2177: re-issue IDLE before servers drop an idle client (30 min)


def remove(client: IMAPClient, uid: int) -> None:
    """Delete one message; expunge only it where the server allows (UIDPLUS), else the folder."""
    client.delete_messages([uid], silent=True)
    if client.has_capability("UIDPLUS"):
        client.uid_expunge([uid])
    else:
        client.expunge()


class ImapUnavailableError(ServiceUnavailable):
    """The server could not be reached, even after reconnecting with backoff."""


class _ValidityChanged(Exception):
    """The folder's UIDVALIDITY changed under an open poll."""


def tls_context(verify: bool, ca_file: object | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def source_key(folder: str, uidvalidity: int, uid: int) -> str:
    return f"{folder}/{uidvalidity}/{uid}"


def parse_source_key(key: str) -> tuple[str, int, int]:
    """``<folder>/<uidvalidity>/<uid>``; the folder itself may contain ``/``."""
    folder, uidvalidity, uid = key.rsplit("/", 2)
    return folder, int(uidvalidity), int(uid)


def _server_text(e: Exception) -> str:
    text = str(e)
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text.strip()


class ImapConnection:
    """One logged-in IMAP connection, re-opened with exponential backoff when it drops.

    Wrong credentials or an untrusted certificate are configuration errors: raised at once,
    never retried (a retry loop would lock the account on many servers).
    """

    def __init__(self, config: ImapMailboxConfig, *, attempts: int = 6, backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.attempts, self.backoff_s, self.max_backoff_s = attempts, backoff_s, max_backoff_s
        self._sleep = sleep
        self._client: IMAPClient | None = None
        self._selected: tuple[str, dict[bytes, Any]] | None = None
        self._secret: str | None = None
        self.logins = 0  # login attempts made, for operators and tests

    def _where(self) -> str:
        return f"imap {self.config.name}"

    def _connect(self) -> IMAPClient:
        cfg = self.config
        if self._secret is None:  # read once: a missing secret is a ConfigError before any network
            secret = cfg.password if cfg.auth == "password" else cfg.oauth2_token
            assert secret is not None  # the config validator guarantees it
            self._secret = secret.read(f"{self._where()}: {'password' if cfg.auth == 'password' else 'oauth2_token'}")
        ctx = tls_context(cfg.verify_tls, cfg.ca_file)
        try:
            client = IMAPClient(cfg.host, port=cfg.port, ssl=cfg.security == "tls",
                                ssl_context=ctx if cfg.security == "tls" else None, timeout=cfg.timeout_s)
            if cfg.security == "starttls":
                client.starttls(ctx)
        except ssl.SSLCertVerificationError as e:
            raise ConfigError(f"{self._where()}: TLS certificate of {cfg.host} not trusted: "
                              f"{e.verify_message}") from None
        self.logins += 1
        try:
            if cfg.auth == "xoauth2":
                client.oauth2_login(cfg.username, self._secret)
            else:
                client.login(cfg.username, self._secret)
        except LoginError as e:
            _shutdown(client)
            raise ConfigError(f"{self._where()}: login failed for {cfg.username}: {_server_text(e)}") from None
        return client

    def client(self) -> IMAPClient:
        if self._client is None:
            self._client = self._connect()
            self._selected = None
        return self._client

    def select(self, client: IMAPClient, folder: str, *, fresh: bool = False) -> int:
        """Select ``folder`` (once per connection unless ``fresh``) and return its UIDVALIDITY."""
        if fresh or self._selected is None or self._selected[0] != folder:
            try:
                info = client.select_folder(folder)
            except IMAPClientAbortError:
                raise
            except IMAPClientError as e:
                raise ConfigError(f"{self._where()}: cannot open folder {folder!r}: {_server_text(e)}") from None
            self._selected = (folder, info)
        return int(self._selected[1][b"UIDVALIDITY"])

    def run(self, op: Callable[[IMAPClient], T]) -> T:
        """Run ``op`` on a live connection; on a connection error reconnect and run it again."""
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            try:
                return op(self.client())
            except CONNECTION_ERRORS as e:
                self.drop()
                if attempt == self.attempts:
                    raise ImapUnavailableError(
                        f"{self._where()}: {self.config.host}:{self.config.port} unreachable after "
                        f"{attempt} attempts: {_server_text(e) or type(e).__name__}") from None
                log.warning("%s: connection lost (%s); reconnecting in %.1fs", self._where(), e, delay)
                self._sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
        raise AssertionError("unreachable")

    def drop(self) -> None:
        if self._client is not None:
            _shutdown(self._client)
        self._client, self._selected = None, None

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.logout()
            except Exception:  # already gone: nothing left to close cleanly
                _shutdown(self._client)
        self._client, self._selected = None, None


def _shutdown(client: IMAPClient) -> None:
    with contextlib.suppress(Exception):  # the socket is already closed
        client.shutdown()


@dataclass
class _Cursor:
    uidvalidity: int
    last_uid: int  # end of the acknowledged prefix (in memory)
    saved_uid: int  # what SyncState holds
    pending: deque[int] = field(default_factory=deque)  # handed out, in UID order, not yet in the prefix
    acked: set[int] = field(default_factory=set)
    batch_end: int = 0  # the last UID of the batch being handed out


class ImapMailbox:
    """A MailSource over one IMAP account and several folders."""

    kind = "imap"

    def __init__(self, config: ImapMailboxConfig, state: SyncState, *, batch_size: int = 200,
                 connection: ImapConnection | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.name = config.name
        self.address = config.address
        self.state = state
        self.batch_size = batch_size
        self.conn = connection or ImapConnection(config, sleep=sleep)
        self._sleep = sleep
        self._cursors: dict[str, _Cursor] = {}
        self._created: set[str] = set()

    def __enter__(self) -> ImapMailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for folder, cursor in self._cursors.items():
            self._save(folder, cursor)
        self.conn.close()

    # --- fetch and acknowledge ----------------------------------------------------------------

    def fetch(self) -> Iterator[RawMail]:
        for folder in self.config.folders:
            yield from self._fetch_folder(folder)

    def _open_cursor(self, folder: str) -> _Cursor:
        uidvalidity = self.conn.run(lambda c: self.conn.select(c, folder, fresh=True))
        stored = self.state.get(f"{folder}/uidvalidity")
        last = int(self.state.get(f"{folder}/last_uid") or 0)
        if stored != str(uidvalidity):
            if stored is not None:
                log.warning("imap %s: %s has a new UIDVALIDITY (%s, was %s): reading it again",
                            self.name, folder, uidvalidity, stored)
            last = 0
            self.state.set(f"{folder}/last_uid", "0")  # first, so a crash in between still resets
            self.state.set(f"{folder}/uidvalidity", str(uidvalidity))
        cursor = _Cursor(uidvalidity, last, last)
        self._cursors[folder] = cursor
        return cursor

    def _checked_select(self, client: IMAPClient, folder: str, cursor: _Cursor) -> None:
        if self.conn.select(client, folder) != cursor.uidvalidity:
            raise _ValidityChanged

    def _search(self, client: IMAPClient, folder: str, cursor: _Cursor, first: int) -> list[int]:
        self._checked_select(client, folder, cursor)
        # "n:*" also matches the highest UID when it is below n, hence the filter
        return sorted(u for u in client.search(["UID", f"{first}:*"]) if u >= first)

    def _fetch_batch(self, client: IMAPClient, folder: str, cursor: _Cursor,
                     uids: list[int]) -> dict[int, bytes]:
        self._checked_select(client, folder, cursor)
        data = client.fetch(uids, ["BODY.PEEK[]"])
        # a message expunged since the SEARCH is simply absent from the answer
        return {int(uid): bytes(d[b"BODY[]"]) for uid, d in data.items() if d.get(b"BODY[]") is not None}

    def _fetch_folder(self, folder: str) -> Iterator[RawMail]:
        cursor = self._open_cursor(folder)
        while True:
            try:
                uids = self.conn.run(partial(self._search, folder=folder, cursor=cursor, first=cursor.last_uid + 1))
                for i in range(0, len(uids), self.batch_size):
                    batch = uids[i:i + self.batch_size]
                    bodies = self.conn.run(partial(self._fetch_batch, folder=folder, cursor=cursor, uids=batch))
                    cursor.batch_end = max(bodies, default=batch[-1])
                    for uid in batch:
                        if uid in bodies:
                            cursor.pending.append(uid)
                            yield RawMail(source_key(folder, cursor.uidvalidity, uid), bodies[uid])
                return
            except _ValidityChanged:  # renumbered while we read (e.g. re-created after a reconnect)
                cursor = self._open_cursor(folder)

    def acknowledge(self, source_key: str) -> None:
        try:
            folder, uidvalidity, uid = parse_source_key(source_key)
        except ValueError:
            return
        cursor = self._cursors.get(folder)
        if cursor is None or cursor.uidvalidity != uidvalidity or uid <= cursor.last_uid:
            return
        cursor.acked.add(uid)
        while cursor.pending and cursor.pending[0] in cursor.acked:
            cursor.last_uid = cursor.pending.popleft()
            cursor.acked.discard(cursor.last_uid)
        # one durable write per batch, not per message: a lagging cursor only re-offers stored mail
        if (not cursor.pending and cursor.last_uid >= cursor.batch_end) or \
                cursor.last_uid - cursor.saved_uid >= self.batch_size:
            self._save(folder, cursor)

    def _save(self, folder: str, cursor: _Cursor) -> None:
        if cursor.last_uid != cursor.saved_uid and self.state.get(f"{folder}/uidvalidity") == str(cursor.uidvalidity):
            self.state.set(f"{folder}/last_uid", str(cursor.last_uid))
            cursor.saved_uid = cursor.last_uid

    # --- settle ----------------------------------------------------------------------------------

    def settle(self, source_key: str, outcome: str) -> None:
        """Flag the message with the outcome and move it when a folder is configured for it.

        Harmless when repeated: a message no longer in its folder (already moved, deleted, or the
        folder renumbered) is left alone."""
        if outcome not in OUTCOME_FLAGS:
            raise ValueError(f"unknown outcome {outcome!r}")
        folder, uidvalidity, uid = parse_source_key(source_key)
        target = self.config.processed_folder if outcome == "processed" else self.config.review_folder
        flags = [OUTCOME_FLAGS[outcome], *([SEEN] if outcome == "processed" else [])]

        def op(c: IMAPClient) -> None:
            if self.conn.select(c, folder) != uidvalidity or uid not in c.search(["UID", str(uid)]):
                return
            c.add_flags([uid], flags, silent=True)
            if target and target != folder:
                self._ensure_folder(c, target)
                if c.has_capability("MOVE"):
                    c.move([uid], target)
                else:
                    c.copy([uid], target)
                    remove(c, uid)

        self.conn.run(op)

    def _ensure_folder(self, client: IMAPClient, folder: str) -> None:
        if folder not in self._created:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            self._created.add(folder)

    # --- waiting for mail --------------------------------------------------------------------------

    def wait_for_mail(self, timeout: float) -> bool:
        """Block until new mail may be there: IDLE on the first folder when the server offers it,
        else sleep the poll interval. True when the server announced new mail."""
        poll = min(timeout, self.config.poll_interval_s)
        if not self.config.idle or not self.conn.run(lambda c: bool(c.has_capability("IDLE"))):
            self._sleep(poll)
            return False
        # other folders are only seen by polling, so IDLE no longer than the poll interval then
        limit = min(timeout if len(self.config.folders) == 1 else poll, IDLE_LIMIT_S)
        folder = self.config.folders[0]

        def op(c: IMAPClient) -> bool:
            self.conn.select(c, folder)
            c.idle()
            try:
                responses = c.idle_check(timeout=limit)
            finally:
                c.idle_done()
            return any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)

        return self.conn.run(op)


@dataclass(frozen=True)
class SentCopy:
    uid: int
    flags: tuple[bytes, ...]


class ImapSentFolder:
    """The mailbox's Sent folder, where the SMTP outbox keeps a copy of each reply."""

    def __init__(self, connection: ImapConnection, folder: str) -> None:
        self.conn, self.folder = connection, folder

    def _open(self, client: IMAPClient) -> None:
        if not client.folder_exists(self.folder):
            client.create_folder(self.folder)
        self.conn.select(client, self.folder)

    def find(self, message_id: str) -> SentCopy | None:
        def op(c: IMAPClient) -> SentCopy | None:
            self.conn.select(c, self.folder, fresh=True)  # fresh: see copies appended since
            uids = c.search(["HEADER", "Message-ID", message_id])
            if not uids:
                return None
            uid = min(uids)
            return SentCopy(uid, tuple(c.get_flags([uid]).get(uid, ())))

        try:
            return self.conn.run(op)
        except ConfigError:
            return None  # no Sent folder yet: nothing was ever copied there

    def append(self, raw: bytes, flags: tuple[bytes, ...]) -> None:
        def op(c: IMAPClient) -> None:
            self._open(c)
            c.append(self.folder, raw, flags=flags)

        self.conn.run(op)

    def set_flags(self, uid: int, add: tuple[bytes, ...] = (), remove: tuple[bytes, ...] = ()) -> None:
        def op(c: IMAPClient) -> None:
            self._open(c)
            if add:
                c.add_flags([uid], add, silent=True)
            if remove:
                c.remove_flags([uid], remove, silent=True)

        self.conn.run(op)

    def delete(self, uid: int) -> None:
        def op(c: IMAPClient) -> None:
            self._open(c)
            remove(c, uid)

        self.conn.run(op)

    def close(self) -> None:
        self.conn.close()
