"""HTML mail bodies to plain text that keeps table rows on one line.

Remittance advices often arrive as HTML tables; inscriptis lays each table row out on one line,
so an invoice number and its amount stay next to each other for the extractors.
"""

from __future__ import annotations

import html as html_lib
import re

from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

_BLANK_RUNS = re.compile(r"\n{3,}")
_TAG = re.compile(r"<[^>]*>")
# lxml refuses a str that still declares its byte encoding; the part is already decoded.
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


def html_to_text(html: str) -> str:
    """Render ``html`` as text: a table row per line, links without URLs, few blank lines."""
    source = _XML_DECLARATION.sub("", html)
    config = ParserConfig(css=CSS_PROFILES["strict"], display_links=False)
    try:
        text = str(get_text(source, config))
    except (ValueError, TypeError, LookupError):
        # inscriptis/lxml give up on some hostile markup; a crude tag strip still yields the words.
        text = html_lib.unescape(_TAG.sub(" ", source))
    return tidy_text(text)


def tidy_text(text: str) -> str:
    """Normalise line ends, drop trailing spaces and collapse runs of blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()
