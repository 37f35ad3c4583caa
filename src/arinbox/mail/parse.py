"""Raw RFC 5322 bytes to a ``ParsedEmail``, tolerant of the broken mail real mailboxes hold.

The standard library parser (``policy.default``) never gives up on bad structure; it records
defects instead. This module keeps that spirit: every defect it meets, and every repair it makes
(charset guessed, leading blank lines dropped, id synthesised), is listed in ``defects`` so the
trace shows what was read and how. ``MailParseError`` is raised only when nothing usable is
there: empty input or no header at all.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.errors import InvalidBase64LengthDefect, MessageError
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses

from arinbox.domain.errors import MailParseError, RemittanceFormatError
from arinbox.domain.models import Attachment, ParsedEmail
from arinbox.mail.hidden import HIDDEN_TEXT_NOTE, HIDDEN_TEXT_TYPE, split_hidden
from arinbox.mail.html import html_to_text, tidy_text
from arinbox.mail.normalize import normalize_text
from arinbox.mail.quotes import newest_message
from arinbox.remittance import read_document
from arinbox.remittance.archive import is_zip, unpack_zip
from arinbox.remittance.limits import DEFAULT_LIMITS
from arinbox.remittance.tnef import is_tnef, unpack_tnef

# Headers the classifier and the policy read (auto-reply, bulk mail, bounces, threading).
STRUCTURAL_HEADERS = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "precedence",
    "x-auto-response-suppress",
    "content-type",
    "list-id",
    "list-unsubscribe",
    "return-path",
    "reply-to",
)
# Attachments whose text is worth handing to the extractors.
TEXT_ATTACHMENT_TYPES = frozenset({"text/csv", "text/plain", "text/tab-separated-values"})
_RENDERED_TYPES = frozenset(
    {
        "message/rfc822",
        "message/global",
        "message/delivery-status",
        "text/rfc822-headers",
    }
)
_MAX_DEPTH = 20  # nesting beyond this is hostile; the parts below are skipped, not recursed
_LEADING_BLANK_LINES = re.compile(rb"\A(?:[ \t]*\r?\n)+")
# Up to three junk lines, then two header lines in a row.
_HEADERS_AFTER_JUNK = re.compile(rb"\A(?:[^\n]*\n){1,3}?((?:[A-Za-z][A-Za-z0-9-]*:[ \t][^\n]*\n){2})")
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_SURROGATE = re.compile("[\udc80-\udcff]")
_NON_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one message; raise ``MailParseError`` only when it has no headers at all."""
    if not raw.strip():
        raise MailParseError("empty message: no headers and no body")
    try:
        return _parse(raw)
    except MailParseError:
        raise
    except Exception as exc:
        # Last line of defence for hostile input: the caller stores the message as failed.
        reason = " ".join(str(exc).split())[:200]
        raise MailParseError(f"unparseable message: {type(exc).__name__}: {reason}") from exc


def _parse(raw: bytes) -> ParsedEmail:
    notes: list[str] = []
    source = raw.removeprefix(b"\xef\xbb\xbf")
    if source != raw:
        notes.append("byte order mark removed")
    stripped = _LEADING_BLANK_LINES.sub(b"", source)
    if stripped != source:
        notes.append("leading blank lines removed")
    msg = _parse_bytes(stripped)
    if not msg.keys():
        found = ", ".join(_defect_names(msg.defects)) or "no header lines"
        # A junk line or two above real headers (export tools, broken relays) hides them all.
        start = _HEADERS_AFTER_JUNK.search(stripped)
        if start is None:
            raise MailParseError(f"no headers found ({found})")
        notes.append(f"junk before headers skipped ({found})")
        msg = _parse_bytes(stripped[start.start(1) :])

    headers = _Headers(msg, notes)
    walk = _Walk()
    walk.visit(msg, 0)
    # what software reads must be what a person sees: invisible and look-alike characters undone
    body = _normalized(walk.body(), notes)
    subject = _normalized(headers.text("subject"), notes)
    sender_name, sender = headers.sender()
    sender_name = _normalized(sender_name, notes)
    attachments = [a.model_copy(update={"text": _normalized(a.text, notes)}) if a.text else a
                   for a in walk.attachments]
    if walk.hidden:
        hidden = _normalized("\n".join(walk.hidden), notes)
        notes.append(f"hidden HTML text: {len(walk.hidden)} element(s) kept apart from the body")
        attachments.append(Attachment(filename="", content_type=HIDDEN_TEXT_TYPE, size=len(hidden.encode()),
                                      text=hidden, note=HIDDEN_TEXT_NOTE))
    message_id = headers.message_id("message-id") or _synthetic_message_id(raw, notes)
    references = _MESSAGE_ID.findall(headers.text("references"))
    return ParsedEmail(
        message_id=message_id,
        subject=subject,
        sender=sender,
        sender_name=sender_name,
        to=headers.addresses("to"),
        date=headers.date(),
        in_reply_to=headers.message_id("in-reply-to") or None,
        references=references,
        headers=headers.structural(),
        content_types=walk.content_types,
        body=body,
        newest=newest_message(body, subject=subject),
        attachments=attachments,
        defects=_unique([*notes, *headers.defects, *walk.defects]),
    )


def _normalized(text: str, notes: list[str]) -> str:
    fixed, found = normalize_text(text)
    notes.extend(found)
    return fixed


def _synthetic_message_id(raw: bytes, notes: list[str]) -> str:
    """A stable id for a message without one, so re-ingesting it finds the same record."""
    notes.append("Message-ID missing: synthesised")
    return f"{hashlib.sha256(raw).hexdigest()[:32]}@arinbox.invalid"


class _Headers:
    """Header access that survives malformed values, recording their defects."""

    def __init__(self, msg: Message, notes: list[str]) -> None:
        self._msg = msg
        self._notes = notes
        self.defects: list[str] = []

    def text(self, name: str) -> str:
        """The decoded value of the first ``name`` header, unfolded; ``""`` when absent."""
        value = self._parsed(name)
        return " ".join(value.split()) if value else ""

    def _parsed(self, name: str) -> str:
        raw = self._raw(name)
        if raw is None:
            return ""
        try:
            header = self._msg[name]
        except Exception as exc:  # noqa: BLE001 - stdlib header parsing can crash on hostile input
            self.defects.append(f"{name} header unparseable: {type(exc).__name__}")
            return _decode_words(_repair_header(raw, self._notes))
        self.defects.extend(_defect_names(getattr(header, "defects", ())))
        if _SURROGATE.search(raw):
            # Raw 8-bit bytes: the parser turned them into U+FFFD; decode them ourselves.
            return _decode_words(_repair_header(raw, self._notes))
        return str(header)

    def _raw(self, name: str) -> str | None:
        for key, value in self._msg.raw_items():
            if key.lower() == name:
                return str(value)
        return None

    def sender(self) -> tuple[str, str]:
        """(display name, bare lower-case address) of From, else Sender, else Return-Path."""
        for name in ("from", "sender", "return-path"):
            found = self._address_pairs(name)
            if found:
                return found[0]
        return "", ""

    def addresses(self, name: str) -> list[str]:
        return [address for _, address in self._address_pairs(name)]

    def _address_pairs(self, name: str) -> list[tuple[str, str]]:
        raw = self._raw(name)
        if raw is None:
            return []
        pairs: list[tuple[str, str]] = []
        try:
            header = self._msg[name]
            found: Iterable[Address] = getattr(header, "addresses", ())
            pairs = [(a.display_name, a.addr_spec) for a in found]
        except Exception as exc:  # noqa: BLE001 - see _parsed
            self.defects.append(f"{name} header unparseable: {type(exc).__name__}")
        if not any(address for _, address in pairs):
            pairs = getaddresses([raw])
        result = []
        for display, address in pairs:
            address = _repair_header(address, self._notes).strip().strip("<>").lower()
            if address:
                result.append((" ".join(_repair_header(display, self._notes).split()), address))
        return result

    def message_id(self, name: str) -> str:
        """The first ``<id>`` in the header, without brackets; ``""`` when there is none."""
        raw = self._raw(name)
        if raw is None:
            return ""
        value = _repair_header(raw, self._notes).strip()
        ids = _MESSAGE_ID.findall(value)
        if ids:
            return str(ids[0])
        # Some mailers omit the angle brackets; a single token is still an id.
        return value if value and not any(ch.isspace() for ch in value) else ""

    def date(self) -> dt.datetime | None:
        if self._raw("date") is None:
            return None
        try:
            header = self._msg["date"]
            value = getattr(header, "datetime", None)
        except Exception as exc:  # noqa: BLE001 - see _parsed
            self.defects.append(f"date header unparseable: {type(exc).__name__}")
            return None
        self.defects.extend(_defect_names(getattr(header, "defects", ())))
        if not isinstance(value, dt.datetime):
            self.defects.append("date header unparseable")
            return None
        if value.tzinfo is None:
            # RFC 5322 "-0000" means UTC with the origin's zone unknown.
            self.defects.append("date without time zone: read as UTC")
            value = value.replace(tzinfo=dt.UTC)
        return value

    def structural(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in STRUCTURAL_HEADERS:
            if self._raw(name) is not None:
                found[name] = self.text(name)
        return found


@dataclass
class _Walk:
    """Collects body text, attachments, content types and defects over the MIME tree."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    wrapped_bodies: list[str] = field(default_factory=list)  # bodies found inside winmail.dat
    hidden: list[str] = field(default_factory=list)  # HTML text a mail client would not show

    def body(self) -> str:
        """The text/plain parts; only when there are none, the HTML parts as text, then a TNEF body."""
        plain = "\n\n".join(text for text in self.plain if text.strip())
        html = "\n\n".join(html_to_text(html) for html in self.html)
        return tidy_text(plain or html or "\n\n".join(self.wrapped_bodies))

    def visit(self, part: Message, depth: int) -> None:
        if depth > _MAX_DEPTH:
            self.defects.append("MIME nesting too deep: inner parts skipped")
            return
        try:
            self._visit(part, depth)
        except Exception as exc:  # noqa: BLE001 - one bad part must not cost the rest
            self.defects.append(f"part unreadable: {type(exc).__name__}")
        # Read after decoding: payload decoding (base64, quoted-printable) adds defects too.
        self.defects.extend(_defect_names(part.defects))

    def _visit(self, part: Message, depth: int) -> None:
        ctype = part.get_content_type()
        self.content_types.append(ctype)
        if ctype in _RENDERED_TYPES:
            self._add_rendered(part, ctype, depth)
            return
        payload = part.get_payload()
        if isinstance(payload, list):
            for child in payload:
                if isinstance(child, Message):
                    self.visit(child, depth + 1)
            return
        if part.get_content_maintype() == "multipart":
            # A multipart whose boundary never appears: its payload is all the text there is.
            self.defects.append("multipart without parts: body read as text")
            self.plain.append(_decode_text(part, self.defects))
            return
        if _is_attachment(part):
            self._attachment(part, ctype)
        elif ctype == "text/html":
            self.html.append(self._visible(_decode_text(part, self.defects)))
        elif ctype == "text/plain":
            self.plain.append(_decode_text(part, self.defects))
        else:
            self._attachment(part, ctype)

    def _attachment(self, part: Message, ctype: str) -> None:
        data = _payload_bytes(part, self.defects)
        decoded: str | None = None
        if ctype in TEXT_ATTACHMENT_TYPES or ctype == "text/html":
            decoded = _decode_bytes(data, part.get_content_charset(), self.defects)
        self._add_file(_filename(part, self.defects), ctype, data, decoded, unpack=True)

    def _add_file(self, filename: str, ctype: str, data: bytes, decoded: str | None, *, unpack: bool) -> None:
        """One attached file: its text, its remittance lines, and the files a container holds.

        winmail.dat and zip files are listed themselves, then each file inside them (one level:
        a zip inside a zip stays packed).
        """
        container = None
        if unpack and is_tnef(data, filename, ctype):
            container = "tnef"
        elif unpack and is_zip(data, filename, ctype):
            container = "zip"
        if container is not None and len(data) <= DEFAULT_LIMITS.max_attachment_bytes:
            try:
                if container == "tnef":
                    content = unpack_tnef(data)
                    files = content.files
                    if content.body:
                        self.wrapped_bodies.append(content.body)
                else:
                    files = unpack_zip(data, DEFAULT_LIMITS)
            except RemittanceFormatError as exc:
                self.attachments.append(Attachment(filename=filename, content_type=ctype, size=len(data),
                                                   note=" ".join(str(exc).split())))
                return
            self.attachments.append(Attachment(filename=filename, content_type=ctype, size=len(data)))
            for name, content_bytes in files:
                guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
                self._add_file(name, guessed, content_bytes, None, unpack=False)
            return
        reading = read_document(data, filename, ctype, text=decoded)
        if ctype == "text/html" and decoded is not None:
            text: str | None = html_to_text(self._visible(decoded))
        elif decoded is not None:
            text = tidy_text(decoded)
        else:
            text = tidy_text(reading.text) if reading.text else None
        self.attachments.append(Attachment(filename=filename, content_type=ctype, size=len(data), text=text,
                                           remittance=reading.doc, note=reading.note))

    def _visible(self, markup: str) -> str:
        visible, hidden = split_hidden(markup)
        self.hidden.extend(hidden)
        return visible

    def _add_rendered(self, part: Message, ctype: str, depth: int) -> None:
        """message/rfc822 and delivery reports as readable text (bounces, attached mails).

        An attached message's own attachments follow it in the list.
        """
        payload = part.get_payload()
        blocks = [block for block in payload if isinstance(block, Message)] if isinstance(payload, list) else []
        inner = _Walk()
        if ctype in ("message/rfc822", "message/global"):
            if not blocks:
                # Encoded (base64/quoted-printable) attached mail: the parser left it undecoded.
                self.defects.append(f"{ctype} part re-parsed after decoding")
                blocks = [_parse_bytes(_payload_bytes(part, self.defects))]
            inner.visit(blocks[0], depth + 1)
            text = _render_message(blocks[0], inner)
        elif blocks:
            text = "\n\n".join(_render_headers(block, self.defects) for block in blocks)
        else:
            text = _decode_text(part, self.defects)
        text = tidy_text(text)
        self.attachments.append(
            Attachment(
                filename=_filename(part, self.defects),
                content_type=ctype,
                size=len(text.encode("utf-8")),
                text=text,
            )
        )
        self.content_types.extend(inner.content_types)
        self.defects.extend(inner.defects)
        self.attachments.extend(inner.attachments)
        self.hidden.extend(inner.hidden)


def _render_message(msg: Message, walk: _Walk) -> str:
    """An attached message as its key headers and body; its defects go to ``walk``."""
    headers = _Headers(msg, walk.defects)
    lines = [
        f"{label}: {value}"
        for label, value in (
            ("From", headers.text("from")),
            ("To", headers.text("to")),
            ("Date", headers.text("date")),
            ("Subject", headers.text("subject")),
        )
        if value
    ]
    walk.defects.extend(headers.defects)
    return "\n".join(lines) + "\n\n" + walk.body()


def _render_headers(block: Message, defects: list[str]) -> str:
    notes: list[str] = []
    lines = [f"{key}: {' '.join(_repair_header(str(value), notes).split())}" for key, value in block.raw_items()]
    defects.extend(notes)
    return "\n".join(lines)


def _is_attachment(part: Message) -> bool:
    """Explicit attachments, and named parts not marked inline (inline text stays body)."""
    disposition = part.get_content_disposition()
    return disposition == "attachment" or (disposition != "inline" and bool(part.get_filename()))


def _filename(part: Message, defects: list[str]) -> str:
    try:
        name = part.get_filename()
    except Exception as exc:  # noqa: BLE001 - see _Headers._parsed
        defects.append(f"attachment filename unparseable: {type(exc).__name__}")
        return ""
    notes: list[str] = []
    name = _repair_header(name or "", notes)
    defects.extend(notes)
    return name


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    """The part's payload with its transfer encoding undone."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return b""
    if any(isinstance(defect, InvalidBase64LengthDefect) for defect in part.defects):
        # The stdlib hands back the base64 text itself. Each encoded line stands alone, so
        # dropping the damaged lines keeps every other line's bytes intact.
        source = str(part.get_payload()).encode("utf-8", "surrogateescape")
        chunks = [_b64decode_line(line) for line in source.splitlines()]
        dropped = sum(chunk is None for chunk in chunks)
        defects.append(f"base64 repaired: {dropped} damaged line(s) dropped")
        return b"".join(chunk for chunk in chunks if chunk)
    return data


def _b64decode_line(line: bytes) -> bytes | None:
    core = b"".join(line.split()).rstrip(b"=")
    if _NON_BASE64.search(core) or len(core) % 4 == 1:
        return None
    return base64.b64decode(core + b"=" * (-len(core) % 4))


def _decode_text(part: Message, defects: list[str]) -> str:
    return _decode_bytes(_payload_bytes(part, defects), part.get_content_charset(), defects)


def _decode_bytes(data: bytes, declared: str | None, defects: list[str]) -> str:
    """Decode with the declared charset (none: us-ascii); if that fails, guess and say so."""
    try:
        return data.decode(declared or "us-ascii")
    except LookupError:
        defects.append(f"unknown charset {declared!r}")
    except ValueError:  # UnicodeDecodeError, or a codec that rejects the data outright
        pass
    text, charset = _guess_decode(data)
    defects.append(f"charset repaired: declared {declared or 'none'}, read as {charset}")
    return text


def _guess_decode(data: bytes) -> tuple[str, str]:
    """utf-8 (tolerating a few stray bytes), else cp1252, else latin-1 (decodes anything)."""
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    if bad == 0:
        return text, "utf-8"
    # Single-byte text almost never forms valid multi-byte utf-8 by accident, so a text with
    # many valid sequences and a few broken ones is utf-8 with stray bytes.
    valid = sum(1 for ch in text if ord(ch) > 127 and ch != "\ufffd")
    if valid >= 2 * bad:
        return text, f"utf-8 with {bad} bad bytes replaced"
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:  # cp1252 leaves five byte values undefined
        return data.decode("latin-1"), "latin-1"


def _repair_header(value: str, notes: list[str]) -> str:
    """Decode raw 8-bit header bytes, which the parser keeps as surrogate escapes."""
    if not _SURROGATE.search(value):
        return value
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that are not escapes: nothing to recover
        return value.encode("utf-8", "replace").decode("utf-8")
    text, charset = _guess_decode(data)
    notes.append(f"header charset repaired: raw 8-bit read as {charset}")
    return text


def _decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words in a header value the parser could not handle."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, MessageError):
        return value


def _parse_bytes(data: bytes) -> Message:
    return BytesParser(policy=policy.default).parsebytes(data)


def _defect_names(defects: Iterable[object]) -> list[str]:
    return [type(defect).__name__ for defect in defects]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
