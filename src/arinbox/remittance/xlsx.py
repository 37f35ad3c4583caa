"""XLSX remittance workbooks, read-only with cached values (formulas are not evaluated)."""

from __future__ import annotations

import io
import warnings
import zipfile

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from arinbox.domain.errors import RemittanceFormatError, UnreadableDocument
from arinbox.domain.models import RemittanceDoc
from arinbox.remittance.columns import rows_to_doc
from arinbox.remittance.limits import Limits

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted OOXML and legacy .xls both use it


def is_xlsx(data: bytes) -> bool:
    if not data.startswith(b"PK"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "xl/workbook.xml" in zf.namelist()
    except zipfile.BadZipFile:
        return False


def xlsx_rows(data: bytes, limits: Limits) -> tuple[list[list[object]], list[str]]:
    """Every sheet's rows (a blank row between sheets) and notes on what was cut."""
    if data.startswith(OLE2_MAGIC):
        raise UnreadableDocument("workbook is encrypted or in the legacy .xls format: not read")
    notes: list[str] = []
    rows: list[list[object]] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it ignores
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                for sheet in book.worksheets:
                    for count, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                        if count > limits.max_xlsx_rows:
                            notes.append(f"sheet {sheet.title!r}: rows beyond {limits.max_xlsx_rows} not read")
                            break
                        rows.append(list(values))
                    rows.append([])
            finally:
                book.close()
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise RemittanceFormatError(f"XLSX unreadable: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # a damaged workbook fails in its zip, deflate or XML layer (zlib.error, ParseError)
        reason = " ".join(str(exc).split())[:200]
        raise RemittanceFormatError(f"XLSX damaged: {type(exc).__name__}: {reason}") from exc
    return rows, notes


def rows_as_text(rows: list[list[object]]) -> str:
    """A tab-separated rendering, for masking and for the text extractor."""
    lines = []
    for row in rows:
        cells = ["" if v is None else str(v) for v in row]
        while cells and not cells[-1]:
            cells.pop()
        lines.append("\t".join(cells))
    return "\n".join(lines).strip()


def parse_xlsx(data: bytes, limits: Limits) -> tuple[RemittanceDoc | None, str]:
    rows, notes = xlsx_rows(data, limits)
    doc = rows_to_doc(rows, "xlsx", limits.max_lines)
    if doc is not None and notes:
        doc = doc.model_copy(update={"notes": [*doc.notes, *notes]})
    return doc, rows_as_text(rows)
