"""Mail parsing: raw RFC 5322 bytes to a ``ParsedEmail`` with the newest message cut out."""

from __future__ import annotations

from arinbox.mail.html import html_to_text
from arinbox.mail.parse import parse_email
from arinbox.mail.quotes import newest_message

__all__ = ["html_to_text", "newest_message", "parse_email"]
