"""A small A4 page layout on fpdf2 shared by the invoice copy and the statement.

The PDF core font Helvetica with WinAnsi (cp1252) text: it holds every letter of en, de, fr and es
and the euro sign, needs no font file on the machine, and keeps the text layer readable (pypdf).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from fpdf import FPDF
from fpdf.enums import XPos, YPos

# babel separates thousands with a narrow no-break space in French: not in cp1252, a no-break space is
_SPACES = str.maketrans({"\u202f": "\u00a0", "\u2009": "\u00a0", "\u2007": "\u00a0"})


def pdf_text(text: str) -> str:
    """The text as the core font can write it; a letter outside cp1252 (rare in a name) becomes '?'."""
    return text.translate(_SPACES).encode("cp1252", "replace").decode("cp1252")


class Page(FPDF):
    def __init__(self, title: str, company_name: str, created: dt.datetime) -> None:
        super().__init__(format="A4", unit="mm")
        self.core_fonts_encoding = "windows-1252"
        # the email's date, not the clock: rendering the same email again gives the same bytes
        self.set_creation_date(created if created.tzinfo else created.replace(tzinfo=dt.UTC))
        self.set_producer("arinbox")
        self.set_title(pdf_text(title))
        self.set_author(pdf_text(company_name))
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)
        self.add_page()
        self.set_font("Helvetica", "B", 9)
        self.line_text(company_name)
        self.ln(4)
        self.set_font("Helvetica", "B", 16)
        self.line_text(title, height=9)
        self.ln(3)
        self.set_font("Helvetica", "", 10)

    def line_text(self, text: str, height: float = 5.5) -> None:
        self.cell(0, height, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def fields(self, rows: Sequence[tuple[str, str]]) -> None:
        """Label and value pairs, one per line."""
        for label, value in rows:
            self.set_font("Helvetica", "B", 10)
            self.cell(48, 6, pdf_text(label))
            self.set_font("Helvetica", "", 10)
            self.cell(0, 6, pdf_text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def grid(self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int],
             right: frozenset[int] = frozenset()) -> None:
        """A table; columns in ``right`` (amounts, counts) are right-aligned."""
        self.set_font("Helvetica", "", 9)
        with self.table(col_widths=tuple(widths), first_row_as_headings=True, line_height=5.5) as table:
            for i, values in enumerate([header, *rows]):
                row = table.row()
                for col, value in enumerate(values):
                    row.cell(pdf_text(value), align="RIGHT" if col in right and i else "LEFT")
        self.set_font("Helvetica", "", 10)
