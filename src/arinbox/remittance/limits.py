"""How much of an attachment the readers will open: hostile or huge files stop here, with a note."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_attachment_bytes: int = 10 * 1024 * 1024  # larger attachments are listed, not read
    max_pdf_pages: int = 30  # remittance advices are a few pages; the rest is noted as skipped
    max_xlsx_rows: int = 5000  # per sheet
    max_lines: int = 2000  # structured lines kept per document
    max_archive_members: int = 20  # a zip attachment with more files is not expanded
    max_archive_bytes: int = 20 * 1024 * 1024  # total uncompressed size of a zip's members
    max_archive_ratio: int = 100  # uncompressed / compressed size of one member (zip bombs)


DEFAULT_LIMITS = Limits()
