"""PDF remittance advices: the text layer (pypdf, layout mode keeps columns), then the table reader.

A scanned PDF has no text layer; it is noted, not guessed at.
"""

from __future__ import annotations

import io
import logging
import warnings

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError

from arinbox.domain.errors import RemittanceFormatError, UnreadableDocument
from arinbox.domain.models import RemittanceDoc
from arinbox.remittance.limits import Limits
from arinbox.remittance.text_table import parse_text_table


def pdf_text(data: bytes, limits: Limits) -> tuple[str, list[str]]:
    notes: list[str] = []
    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.ERROR)  # pypdf logs every repaired xref as a warning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise UnreadableDocument("PDF is password-protected: not read")
            pages = reader.pages
            if len(pages) > limits.max_pdf_pages:
                notes.append(f"pages beyond {limits.max_pdf_pages} of {len(pages)} not read")
            texts = [pages[i].extract_text(extraction_mode="layout") for i in range(min(len(pages),
                                                                                      limits.max_pdf_pages))]
    except FileNotDecryptedError as exc:
        raise UnreadableDocument("PDF is password-protected: not read") from exc
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise RemittanceFormatError(f"PDF unreadable: {type(exc).__name__}: {exc}") from exc
    except RemittanceFormatError:
        raise
    except Exception as exc:  # hostile PDFs reach pypdf's filters and object graph (NotImplementedError, ...)
        reason = " ".join(str(exc).split())[:200]
        raise RemittanceFormatError(f"PDF damaged: {type(exc).__name__}: {reason}") from exc
    finally:
        pypdf_log.setLevel(level)
    text = "\n".join(t.rstrip() for t in texts).strip()
    if not text:
        notes.append("PDF has no text layer (scanned image): not read")
    return text, notes


def parse_pdf(data: bytes, limits: Limits) -> tuple[RemittanceDoc | None, str, list[str]]:
    text, notes = pdf_text(data, limits)
    doc = parse_text_table(text, "pdf", limits.max_lines)
    if doc is not None and notes:
        doc = doc.model_copy(update={"notes": [*doc.notes, *notes]})
    return doc, text, notes
