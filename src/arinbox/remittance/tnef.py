"""TNEF (winmail.dat, application/ms-tnef): the attachments and body Outlook wrapped inside.

tnefparse reads the stream and stops at its end, so bytes after the payload are ignored. An RTF
body is decompressed (compressed_rtf) and turned into text (striprtf).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import tnefparse
from compressed_rtf import decompress
from striprtf.striprtf import rtf_to_text

from arinbox.domain.errors import RemittanceFormatError
from arinbox.mail.html import html_to_text

TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"


@dataclass
class TnefContent:
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (file name, content)
    body: str | None = None


def is_tnef(data: bytes, filename: str, content_type: str) -> bool:
    return data.startswith(TNEF_SIGNATURE) or content_type == "application/ms-tnef" or filename.lower() == "winmail.dat"


def unpack_tnef(data: bytes) -> TnefContent:
    if not data.startswith(TNEF_SIGNATURE):
        raise RemittanceFormatError("TNEF: signature missing, not a winmail.dat stream")
    log = logging.getLogger("tnefparse")
    level = log.level
    log.setLevel(logging.ERROR)  # it logs each attribute it does not know as a warning
    try:
        parsed = tnefparse.TNEF(data)
    except Exception as exc:  # noqa: BLE001 - tnefparse raises bare errors on damaged streams
        raise RemittanceFormatError(f"TNEF unreadable: {type(exc).__name__}: {exc}") from exc
    finally:
        log.setLevel(level)
    if not (parsed.attachments or parsed.has_body() or parsed.msgprops or parsed.mapiprops):
        raise RemittanceFormatError("TNEF: no message attribute readable after the signature")
    content = TnefContent()
    for index, attachment in enumerate(parsed.attachments, start=1):
        name = attachment.long_filename() or attachment.name or f"attachment-{index}"
        payload = attachment.data if isinstance(attachment.data, bytes) else bytes(attachment.data or b"")
        content.files.append((str(name).strip("\x00"), payload))
    content.body = _body(parsed)
    return content


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace") if _is_utf8(value) else value.decode("cp1252", "replace")
    return str(value)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _body(parsed: tnefparse.TNEF) -> str | None:
    if parsed.body:
        return _text(parsed.body).strip("\x00").strip() or None
    if parsed.htmlbody:
        return html_to_text(_text(parsed.htmlbody)) or None
    compressed = getattr(parsed, "_rtfbody", None)
    if compressed:
        try:
            rtf = decompress(compressed + b"\x00")
        except Exception:  # noqa: BLE001 - a damaged RTF body is dropped, the attachments still count
            return None
        text: str = rtf_to_text(_text(rtf))  # type: ignore[no-untyped-call]
        return text.strip() or None
    return None
