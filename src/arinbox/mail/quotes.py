"""Cut quoted history from a plain-text body, keeping forwarded content.

The classifier and the extractors must see what the sender wrote now, not our own dunning letter
quoted below it. A forward is different: its point is the forwarded message, so when the text
above a forward marker is short, the forwarded part (with its header lines) stays.

Markers are a table of regexes per mail client and language (en, de, fr, es). Maintained
reply-parsing libraries were tried and each missed part of this table (Spanish reply headers,
Outlook blocks without a separator, ``>`` quotes, forwards), so the rules live here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A reply header written above quoted history; may be wrapped over two lines by the client.
_REPLY_HEADER = re.compile(
    r"^(?:"
    r"On\s.{1,250}\swrote\s*:"  # en: On Mon, 3 Mar 2025 at 10:02, Jane <j@x> wrote:
    r"|Am\s.{1,250}\sschrieb\s.{0,250}:"  # de: Am 03.03.2025 um 10:02 schrieb Max <m@x>:
    r"|Le\s.{1,250}\sa\s+écrit\s*:"  # fr: Le lun. 3 mars 2025 à 10:02, Marie <m@x> a écrit :
    r"|El\s.{1,250}\sescribió\s*:"  # es: El lun, 3 mar 2025 a las 10:02, Juan (<j@x>) escribió:
    r")\s*$",
    re.IGNORECASE,
)
_REPLY_HEADER_START = re.compile(r"^(?:On|Am|Le|El)\s", re.IGNORECASE)

_ORIGINAL_MESSAGE = re.compile(
    r"^-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original)"
    r"\s*-{2,}\s*$",
    re.IGNORECASE,
)
_UNDERSCORE_SEPARATOR = re.compile(r"^_{20,}\s*$")
_FORWARD_MARKER = re.compile(
    r"^(?:-{2,}\s*(?:Forwarded message|Message transféré|Weitergeleitete Nachricht"
    r"|Mensaje reenviado)\s*-{2,}|Begin forwarded message\s*:)\s*$",
    re.IGNORECASE,
)

# Outlook-style header block lines: "From: ...", "*Von:* ...", "De : ..."; bold stars come from
# HTML bodies converted to text.
_HEADER_FIELD = r"^\*?(?:{names})\s*:\*?\s*"
_FROM_LINE = re.compile(_HEADER_FIELD.format(names="From|Von|De") + r"\S", re.IGNORECASE)
_SENT_LINE = re.compile(
    _HEADER_FIELD.format(names="Sent|Gesendet|Envoyé|Enviado|Date|Datum|Fecha"),
    re.IGNORECASE,
)
_TO_OR_SUBJECT_LINE = re.compile(
    _HEADER_FIELD.format(names="To|An|À|A|Para|Cc|Subject|Betreff|Objet|Asunto"),
    re.IGNORECASE,
)
_ANY_HEADER_LINE = re.compile(r"^\*?\w[\w -]{0,30}\s*:\*?(?:\s|$)")
_FORWARD_SUBJECT = re.compile(r"^\s*(?:\[?(?:fwd?|wg|tr|rv|enc)\]?\s*:\s*)", re.IGNORECASE)

_QUOTED_LINE = re.compile(r"^\s*>")
_TRAILING_SEPARATOR = re.compile(r"^\s*(?:[-_=*]{3,})?\s*$")

# A forward is kept only when the sender's own words above it are short (a covering note).
FORWARD_NOTE_MAX_CHARS = 500
_HEADER_BLOCK_SPAN = 6


def newest_message(text: str, *, subject: str = "") -> str:
    """Return the newest message in ``text``: quoted history cut, forwarded content kept.

    ``subject`` lets an Outlook forward (``FW:``/``WG:``/``TR:``/``RV:``), whose header block looks
    exactly like a reply's, be recognised as a forward.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    forwarded = bool(_FORWARD_SUBJECT.match(subject))
    kept: list[str] = []
    note_start = 0  # where the sender's words above the next forward marker begin in ``kept``
    index = 0
    while index < len(lines):
        if _QUOTED_LINE.match(lines[index]):
            index += 1
            continue
        is_forward = _FORWARD_MARKER.match(lines[index].strip()) is not None
        if forwarded and not is_forward and _starts_outlook_history(lines, index):
            # The subject says forward: the first Outlook-style block is the forwarded header.
            is_forward, forwarded = True, False
        if is_forward and _note_length(kept[note_start:]) <= FORWARD_NOTE_MAX_CHARS:
            end = _header_block_end(lines, index + 1)
            kept.extend(lines[index:end])
            note_start, index = len(kept), end
            continue
        if is_forward or _is_reply_marker(lines, index):
            break
        kept.append(lines[index])
        index += 1
    newest = _trim(kept)
    return newest or _bottom_posted(lines) or text.strip()


def _is_reply_marker(lines: Sequence[str], index: int) -> bool:
    line = lines[index].strip()
    if _REPLY_HEADER.match(line) or _starts_outlook_history(lines, index):
        return True
    if _REPLY_HEADER_START.match(line) and index + 1 < len(lines):
        return _REPLY_HEADER.match(f"{line} {lines[index + 1].strip()}") is not None
    return False


def _starts_outlook_history(lines: Sequence[str], index: int) -> bool:
    """``-----Original Message-----``, a ``____`` separator or a bare Outlook header block."""
    if _ORIGINAL_MESSAGE.match(lines[index].strip()):
        return True
    return _is_separator_before_block(lines, index) or _outlook_block_end(lines, index) > 0


def _outlook_block_end(lines: Sequence[str], index: int) -> int:
    """End of an Outlook header block starting at ``index`` (From, Sent/Date, To/Subject), or 0."""
    if not _FROM_LINE.match(lines[index].strip()):
        return 0
    window = [line.strip() for line in lines[index + 1 : index + 1 + _HEADER_BLOCK_SPAN]]
    has_sent = any(_SENT_LINE.match(line) for line in window)
    has_to = any(_TO_OR_SUBJECT_LINE.match(line) for line in window)
    return _header_block_end(lines, index) if has_sent and has_to else 0


def _is_separator_before_block(lines: Sequence[str], index: int) -> bool:
    """An Outlook ``____`` line counts only when a header block follows it."""
    if not _UNDERSCORE_SEPARATOR.match(lines[index].strip()):
        return False
    following = [i for i in range(index + 1, min(len(lines), index + 4)) if lines[i].strip()]
    return bool(following) and _outlook_block_end(lines, following[0]) > 0


def _header_block_end(lines: Sequence[str], start: int) -> int:
    """Index after the header lines (and their folded continuations) starting at ``start``."""
    index = start
    while index < len(lines) and not lines[index].strip():
        index += 1
    seen_header = False
    while index < len(lines):
        line = lines[index]
        if _ANY_HEADER_LINE.match(line.strip()):
            seen_header = True
        elif not (seen_header and line[:1] in (" ", "\t") and line.strip()):
            break
        index += 1
    return index if seen_header else start


def _note_length(lines: Sequence[str]) -> int:
    return sum(len(line.strip()) for line in lines)


def _trim(lines: Sequence[str]) -> str:
    """Drop trailing blank and separator lines left above a cut."""
    end = len(lines)
    while end and _TRAILING_SEPARATOR.match(lines[end - 1]):
        end -= 1
    return "\n".join(line.rstrip() for line in lines[:end]).strip()


def _bottom_posted(lines: Sequence[str]) -> str:
    """A reply written under the quote: everything except the quote and its header."""
    rest = [line for i, line in enumerate(lines) if not _QUOTED_LINE.match(line) and not _is_reply_marker(lines, i)]
    return _trim(rest)
