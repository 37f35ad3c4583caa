"""Oversized mail at ingest: stored, acknowledged, its work item failed with one line naming the limit;
past the storage cap only the head is kept (with the full size and hash); processing skips it."""

from __future__ import annotations

import base64
import hashlib
import json

from sqlalchemy import select

from arinbox.connectors.fake import InMemoryMailbox
from arinbox.persistence import models as m
from arinbox.service.bootstrap import App
from arinbox.service.ingest import SizeLimits, ingest
from arinbox.settings import Settings

HEAD = b"From: ap@customer.example\r\nTo: ar@example.com\r\nSubject: %s\r\nMessage-ID: <%s@customer.example>\r\n"


def _plain(name: bytes, body_bytes: int) -> bytes:
    return HEAD % (name, name) + b"\r\n" + (b"payment for INV-1 " * (body_bytes // 18 + 1))[:body_bytes] + b"\r\n"


def _with_attachment(name: bytes, attachment_bytes: int) -> bytes:
    data = base64.encodebytes(b"\x00" * attachment_bytes)
    return (HEAD % (name, name) + b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
            b"Content-Type: text/plain\r\n\r\nsee attached\r\n--B\r\nContent-Type: application/pdf\r\n"
            b'Content-Disposition: attachment; filename="scan.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + data + b"--B--\r\n")


def _items(app: App) -> dict[str, tuple[m.WorkItem, m.RawMessage]]:
    with app.sessions() as s:
        rows = s.execute(select(m.WorkItem, m.RawMessage)
                         .join(m.RawMessage, m.RawMessage.id == m.WorkItem.raw_message_id)).all()
        return {raw.source_key: (item, raw) for item, raw in rows}


def test_oversized_messages_and_attachments_are_stored_and_failed(settings: Settings) -> None:
    limits = SizeLimits(max_message_bytes=64 * 1024, max_attachment_bytes=16 * 1024, store_cap_bytes=256 * 1024,
                        stored_head_bytes=8 * 1024)
    huge = _plain(b"huge", 300 * 1024)  # over the storage cap too
    box = InMemoryMailbox({
        "small": _plain(b"small", 1000),
        "big": _plain(b"big", 100 * 1024),
        "huge": huge,
        "attached": _with_attachment(b"attached", 20 * 1024),
        "attached-ok": _with_attachment(b"attached-ok", 4 * 1024),
    })
    with App(settings) as app:
        report = ingest(box, app.sessions, kind="memory", limits=limits)
        assert (report.new, report.failed) == (2, 3)
        assert sorted(box.acknowledged) == sorted(box.messages)  # failed ones too: nothing is fetched again
        items = _items(app)
        assert items["small"][0].status == "pending" and items["attached-ok"][0].status == "pending"

        big_item, big_raw = items["big"]
        assert big_item.status == "failed"
        big = _plain(b"big", 100 * 1024)
        assert big_item.last_error == (f"message is {len(big)} bytes, over the 65536 bytes limit "
                                       "(ARINBOX_MAX_MESSAGE_BYTES)")
        assert big_raw.raw == big and big_raw.parse_status == "failed"  # stored whole: under the storage cap

        huge_item, huge_raw = items["huge"]
        assert huge_item.status == "failed" and "ARINBOX_MAX_MESSAGE_BYTES" in (huge_item.last_error or "")
        # past the cap: the head with its headers, the full size and the full message's hash
        assert huge_raw.size == len(huge) and huge_raw.sha256 == hashlib.sha256(huge).hexdigest()
        assert 0 < len(huge_raw.raw) < len(huge) and huge.startswith(huge_raw.raw)
        assert b"Subject: huge" in huge_raw.raw

        attached_item, _ = items["attached"]
        assert attached_item.status == "failed"
        assert attached_item.last_error == ("attachment 'scan.pdf' is 20480 bytes, over the 16384 bytes limit "
                                            "(ARINBOX_MAX_ATTACHMENT_BYTES)")
        assert "\n" not in (attached_item.last_error or "")

        # the failed ones are never run; the traced ingest record says why
        assert set(app.processor.runnable_ids()) == {items["small"][0].id, items["attached-ok"][0].id}
        with app.sessions() as s:
            body = s.scalar(select(m.TraceRecord.body).where(m.TraceRecord.work_item_id == huge_item.id,
                                                              m.TraceRecord.node == "ingest"))
        assert body is not None
        body = json.loads(body)  # stored as canonical JSON text, the form the hash covers
        assert body["size"] == len(huge) and body["stored"] == len(huge_raw.raw)
        assert body["error"] == huge_item.last_error

        # re-polling the same mailbox stores nothing twice
        again = ingest(box, app.sessions, kind="memory", limits=limits)
        assert (again.new, again.failed, again.duplicates) == (0, 0, 5)


def test_the_limits_come_from_the_settings() -> None:
    limits = SizeLimits.of(Settings(max_message_bytes=1000, max_attachment_bytes=10))
    assert (limits.max_message_bytes, limits.max_attachment_bytes) == (1000, 10)
    default = SizeLimits.of(Settings())
    assert (default.max_message_bytes, default.max_attachment_bytes) == (25 * 1024 * 1024, 10 * 1024 * 1024)
