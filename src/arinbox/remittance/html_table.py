"""HTML tables (remittance advices sent as HTML mail or attachments), read with lxml."""

from __future__ import annotations

import lxml.html
from lxml import etree

from arinbox.domain.errors import RemittanceFormatError
from arinbox.domain.models import RemittanceDoc
from arinbox.remittance.columns import rows_to_doc


def html_rows(html: str) -> list[list[str]]:
    """The rows of every table, each cell's text on one line; nested tables are read once."""
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise RemittanceFormatError(f"HTML unreadable: {exc}") from exc
    rows: list[list[str]] = []
    for table in root.iter("table"):
        if table.find(".//table") is not None:
            continue  # a layout table holding the real one: read the inner table only
        for tr in table.iter("tr"):
            rows.append([" ".join(cell.text_content().split()) for cell in tr if cell.tag in ("td", "th")])
        rows.append([])
    return rows


def parse_html_table(html: str, max_lines: int = 2000) -> RemittanceDoc | None:
    return rows_to_doc(html_rows(html), "html-table", max_lines)
