"""CSV remittance files: delimiter sniffed (, ; tab |), local number formats, header synonyms."""

from __future__ import annotations

import csv
import io

from arinbox.domain.errors import RemittanceFormatError
from arinbox.domain.models import RemittanceDoc
from arinbox.remittance.columns import rows_to_doc

_DELIMITERS = ",;\t|"


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252: what spreadsheet exports write."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        # the sniffer gives up on short files: take the delimiter most lines agree on
        counts = {d: min((line.count(d) for line in sample.splitlines() if line.strip()), default=0)
                  for d in _DELIMITERS}
        return max(counts, key=lambda d: counts[d])


def csv_rows(text: str) -> list[list[str]]:
    # newline="": the reader sees a lone CR as a line end instead of failing on it
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        return [[cell.strip() for cell in row] for row in reader]
    except csv.Error as exc:
        raise RemittanceFormatError(f"CSV line {reader.line_num}: {exc}") from exc


def parse_csv(text: str, max_lines: int = 2000) -> RemittanceDoc | None:
    """The remittance table of a CSV file; ``None`` when no header names invoices and amounts."""
    return rows_to_doc(csv_rows(text), "csv", max_lines)
