"""A real Dovecot IMAP server on loopback for the tests, from ``connectors/dovecot/dovecot.conf.in``.

It runs as the current user when that is not root. As root, Dovecot refuses to hand mail to uid 0,
so the server's processes and the mail files belong to the ``dovecot`` user the Debian package
creates, and the server's folder is made reachable for it.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import ssl
import string
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from arinbox.connectors.config import ImapMailboxConfig
from tests.support.certs import make_certificates

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "connectors" / "dovecot" / "dovecot.conf.in"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    host = "127.0.0.1"

    def __init__(self, base: Path | None = None, pool: int = 300) -> None:
        # as root the server's own user must reach the folder: a fresh 0755 folder, not pytest's 0700 one
        self.base = base or Path(tempfile.mkdtemp(prefix="arinbox-dovecot-"))
        self.base.chmod(0o755)
        self.imap_port, self.imaps_port = free_port(), free_port()
        certs = make_certificates(self.base / "tls")
        self.ca_file = certs.ca_file
        shutil.copy(certs.cert_file, self.base / "server.crt")
        shutil.copy(certs.key_file, self.base / "server.key")
        if os.geteuid() == 0:
            owner = pwd.getpwnam("dovecot")
            self.user, self.uid, self.gid = owner.pw_name, owner.pw_uid, owner.pw_gid
        else:
            self.user, self.uid, self.gid = pwd.getpwuid(os.geteuid()).pw_name, os.geteuid(), os.getegid()
        self.group = grp.getgrgid(self.gid).gr_name
        self.users: dict[str, str] = {f"u{i:03d}": f"pw-{i:03d}-{uuid.uuid4().hex[:8]}" for i in range(pool)}
        self._handed_out: set[str] = set()
        (self.base / "home").mkdir(exist_ok=True)
        self._chown(self.base / "home")
        self.conf = self.base / "dovecot.conf"
        self.conf.write_text(string.Template(TEMPLATE.read_text()).substitute(
            base=self.base, imap_port=self.imap_port, imaps_port=self.imaps_port,
            user=self.user, group=self.group, uid=self.uid, gid=self.gid))
        self._write_passwd()

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self.uid, self.gid)

    def _write_passwd(self) -> None:
        passwd = self.base / "passwd"
        passwd.write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in self.users.items()))
        passwd.chmod(0o644)


    # --- process ---------------------------------------------------------------------------

    @property
    def _pid_file(self) -> Path:
        return self.base / "run" / "master.pid"

    def start(self) -> None:
        # the master daemonizes: its output goes to a file, or a pipe would stay open behind it
        with (self.base / "start.err").open("w") as err:
            code = subprocess.call([DOVECOT, "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=err)
        if code != 0:
            raise RuntimeError(f"dovecot did not start: {(self.base / 'start.err').read_text().strip()} {self.log()}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.imap_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot is not listening on {self.imap_port}: {self.log()}")

    def _children(self) -> list[int]:
        """This instance's service processes (``dovecot-<instance>/imap`` ...): they can outlive the
        master for a while, keeping client connections open across a "restart"."""
        prefix = f"dovecot-arinbox-test-{self.imap_port}/".encode()
        pids = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if (proc / "cmdline").read_bytes().startswith(prefix):
                        pids.append(int(proc.name))
                except OSError:
                    continue
        return pids

    def stop(self) -> None:
        try:
            pid = int(self._pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        children = self._children()
        for p in (pid, *children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in (pid, *children):
            while time.monotonic() < deadline:
                try:
                    os.kill(p, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        # the listeners close with the master; wait until the port is really free for a restart
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.imap_port), timeout=0.2).close()
                time.sleep(0.05)
            except OSError:
                return

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.base / "dovecot.log").read_text()[-3000:]
        except OSError:
            return ""

    # --- server-side helpers for the tests ---------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client(self, user: str) -> IMAPClient:
        c = IMAPClient(self.host, port=self.imaps_port, ssl=True, ssl_context=self.ssl_context(), timeout=30)
        try:
            c.login(user, self.users[user])
        except Exception:
            c.shutdown()
            raise
        return c

    def deliver(self, user: str, folder: str, raw: bytes) -> None:
        with self.client(user) as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            c.append(folder, raw)

    def folder_messages(self, user: str, folder: str) -> dict[int, tuple[bytes, tuple[bytes, ...]]]:
        """UID -> (raw message, flags) of one folder, read without marking anything."""
        with self.client(user) as c:
            if not c.folder_exists(folder):
                return {}
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            data = c.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
            return {uid: (d[b"BODY[]"], tuple(d[b"FLAGS"])) for uid, d in data.items()}

    def new_user(self) -> str:
        """A fresh mailbox user (its own maildir), so tests never see each other's mail. Taken from
        users written before the start: Dovecot may miss a passwd file changed twice in one second."""
        name = next(u for u in self.users if u not in self._handed_out)
        self._handed_out.add(name)
        return name

    def mailbox_config(self, user: str, secrets: Path, **overrides: Any) -> ImapMailboxConfig:
        """An IMAP mailbox of ``user`` over TLS trusting the test CA; the password in a secret file."""
        secret = secrets / f"{user}.password"
        secret.write_text(self.users.get(user, "not-the-password"))
        fields: dict[str, Any] = {
            "kind": "imap", "name": f"imap-{user}", "address": f"{user}@example.com", "host": self.host,
            "port": self.imaps_port, "security": "tls", "ca_file": self.ca_file, "username": user,
            "password": {"file": secret}, "timeout_s": 10}
        fields.update(overrides)
        return ImapMailboxConfig.model_validate(fields)
