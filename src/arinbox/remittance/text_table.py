"""Tables written as text: pipes (Markdown-ish), tabs, semicolons, or columns aligned with spaces.

Body tables, plain-text attachments and the text layer of a PDF all come here. A cell boundary is
a delimiter, or two or more spaces; a data row that splits differently from its header is cut at
the header's column positions (fixed width), so a cell with single spaces stays whole.
"""

from __future__ import annotations

import re

from arinbox.domain.models import RemittanceDoc
from arinbox.remittance.columns import rows_to_doc

_RULE = re.compile(r"^[\s|:+=\-_*]+$")  # |---|---|, ======, +----+
_GAP = re.compile(r"\s{2,}|\t")


def split_row(line: str) -> list[str]:
    """The cells of one text line."""
    stripped = line.strip()
    if "|" in stripped:
        return [c.strip() for c in stripped.strip("|").split("|")]
    for delimiter in ("\t", ";"):
        if delimiter in stripped:
            return [c.strip() for c in stripped.split(delimiter)]
    return [c for c in _GAP.split(stripped) if c]


def _starts(line: str) -> list[int]:
    """Where each space-aligned column of a header line begins."""
    return [m.start() for m in re.finditer(r"(?:(?<=\s\s)|^)\S", line.rstrip())]


def text_rows(text: str) -> list[list[str]]:
    """Rows of cells; a space-aligned row with the wrong cell count is cut at the header's columns."""
    rows: list[list[str]] = []
    starts: list[int] = []
    width = 0
    for line in text.splitlines():
        if not line.strip():
            rows.append([])
            continue
        if _RULE.match(line):
            continue
        cells = split_row(line)
        aligned = not any(d in line for d in "|\t;")
        if aligned and len(cells) >= 2 and not re.search(r"\d", line):
            starts, width = _starts(line), len(cells)  # a possible header: remember its columns
        elif aligned and starts and len(cells) != width and len(line) > starts[-1]:
            cells = _cut(line, starts)
        rows.append(cells)
    return rows


def _cut(line: str, starts: list[int]) -> list[str]:
    """Cut at the header's column starts, moved left to a space so no word is split."""
    bounds = []
    for s in starts:
        while 0 < s < len(line) and not line[s - 1].isspace():
            s -= 1
        bounds.append(s)
    bounds.append(len(line))
    return [line[a:b].strip() for a, b in zip(bounds, bounds[1:], strict=False)]


def parse_text_table(text: str, fmt: str = "text-table", max_lines: int = 2000) -> RemittanceDoc | None:
    """Every remittance table in ``text``; ``None`` when there is none."""
    return rows_to_doc(text_rows(text), fmt, max_lines)
