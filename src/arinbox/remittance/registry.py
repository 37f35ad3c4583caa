"""Which reader takes a document: each format detects itself from the content, then parses.

Detection looks at the bytes first (``%PDF-``, a workbook inside a zip, an ISO 20022 namespace,
an ISA envelope, a NACHA file header, a BAI2 file header) and only then at the declared type or
name, so a CSV sent as ``application/octet-stream`` or a camt file named ``.txt`` is still read.
A document no reader claims gives ``None``; one a reader claims but cannot read gives a note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from arinbox.domain.errors import RemittanceFormatError, UnreadableDocument
from arinbox.domain.models import RemittanceDoc
from arinbox.remittance.bai2 import looks_like_bai2, parse_bai2
from arinbox.remittance.csv_table import decode, parse_csv
from arinbox.remittance.html_table import parse_html_table
from arinbox.remittance.iso20022 import looks_like_iso20022, parse_iso20022
from arinbox.remittance.limits import DEFAULT_LIMITS, Limits
from arinbox.remittance.nacha import looks_like_nacha, parse_nacha
from arinbox.remittance.pdf import parse_pdf
from arinbox.remittance.render import render_doc
from arinbox.remittance.text_table import parse_text_table
from arinbox.remittance.x12 import looks_like_x12, parse_x12
from arinbox.remittance.xlsx import OLE2_MAGIC, is_xlsx, parse_xlsx

_SPREADSHEET_NAMES = (".xlsx", ".xlsm", ".xls")
_SPREADSHEET_TYPES = ("application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@dataclass(frozen=True)
class Reading:
    """What a document gave: structured lines (or none), a readable text, and why not, if not."""

    doc: RemittanceDoc | None = None
    text: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Source:
    data: bytes
    filename: str  # lower case
    content_type: str
    text: str | None  # the caller's decoding of a text part (declared charset honoured)
    limits: Limits

    def decoded(self) -> str:
        return self.text if self.text is not None else decode(self.data)


@dataclass(frozen=True)
class Format:
    name: str
    detect: Callable[[Source], bool]
    read: Callable[[Source], Reading]


def _structured(parse: Callable[[bytes], tuple[RemittanceDoc, str]]) -> Callable[[Source], Reading]:
    def read(source: Source) -> Reading:
        doc, free = parse(source.data)
        return Reading(doc, render_doc(doc, free))
    return read


def _read_pdf(source: Source) -> Reading:
    doc, text, notes = parse_pdf(source.data, source.limits)
    return Reading(doc, text or None, "; ".join(notes) or None)


def _read_xlsx(source: Source) -> Reading:
    doc, text = parse_xlsx(source.data, source.limits)
    return Reading(doc, text or None)


def _encrypted_workbook(source: Source) -> Reading:
    raise UnreadableDocument("workbook is encrypted or in the legacy .xls format: not read")


def _is_texty(source: Source) -> bool:
    if source.text is not None or source.content_type.startswith("text/"):
        return True
    head = source.data[:4096]
    return bool(head) and b"\x00" not in head and source.filename.endswith((".csv", ".txt", ".tsv", ".htm", ".html"))


def _is_html(source: Source) -> bool:
    head = source.decoded()[:2048].lstrip().lower()
    return source.content_type == "text/html" or head.startswith(("<!doctype html", "<html", "<table"))


def _read_html(source: Source) -> Reading:
    doc = parse_html_table(source.decoded(), source.limits.max_lines)
    return Reading(doc, source.text)


def _is_csv(source: Source) -> bool:
    return source.content_type in ("text/csv", "text/tab-separated-values", "application/csv") or \
        source.filename.endswith((".csv", ".tsv"))


def _read_csv(source: Source) -> Reading:
    text = source.decoded()
    return Reading(parse_csv(text, source.limits.max_lines), text)


def _read_text(source: Source) -> Reading:
    text = source.decoded()
    return Reading(parse_text_table(text, "text-table", source.limits.max_lines), text)


FORMATS: tuple[Format, ...] = (
    Format("pdf", lambda s: s.data.startswith(b"%PDF-"), _read_pdf),
    Format("xlsx", lambda s: is_xlsx(s.data), _read_xlsx),
    Format("ole2-workbook", lambda s: s.data.startswith(OLE2_MAGIC) and (
        s.filename.endswith(_SPREADSHEET_NAMES) or s.content_type in _SPREADSHEET_TYPES), _encrypted_workbook),
    Format("iso20022", lambda s: looks_like_iso20022(s.data), _structured(parse_iso20022)),
    Format("x12-820", lambda s: looks_like_x12(s.data), _structured(parse_x12)),
    Format("nacha", lambda s: looks_like_nacha(s.data), _structured(parse_nacha)),
    Format("bai2", lambda s: looks_like_bai2(s.data), _structured(parse_bai2)),
    Format("html-table", lambda s: _is_texty(s) and _is_html(s), _read_html),
    Format("csv", lambda s: _is_texty(s) and _is_csv(s), _read_csv),
    Format("text-table", _is_texty, _read_text),
)


def detect_format(data: bytes, filename: str = "", content_type: str = "", text: str | None = None) -> str | None:
    source = Source(data, filename.lower(), content_type.lower(), text, DEFAULT_LIMITS)
    return next((f.name for f in FORMATS if f.detect(source)), None)


def read_document(data: bytes, filename: str = "", content_type: str = "", *, text: str | None = None,
                  limits: Limits = DEFAULT_LIMITS) -> Reading:
    """Read one document; bad input gives a one-line note, never an exception."""
    if len(data) > limits.max_attachment_bytes:
        return Reading(text=None, note=f"{len(data)} bytes, over the {limits.max_attachment_bytes}-byte limit: "
                                       "not read")
    source = Source(data, filename.lower(), content_type.lower(), text, limits)
    for fmt in FORMATS:
        if not fmt.detect(source):
            continue
        try:
            return fmt.read(source)
        except RemittanceFormatError as exc:
            return Reading(text=text, note=" ".join(str(exc).split()))
    return Reading(text=text)
