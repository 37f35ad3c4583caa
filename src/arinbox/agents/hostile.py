"""Text that reaches the pipeline without being the customer's message: hidden HTML and display names.

Neither is read for facts (invoices, amounts, intent), but both are scanned for needs-human signals,
and a display name greets the customer in a reply only when it looks like a name: an instruction
written into the From header must not come back in our own words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from arinbox.agents.amounts import find_amount_hits
from arinbox.agents.lexicon import Lexicon
from arinbox.agents.references import ReferenceIndex
from arinbox.domain.models import Attachment
from arinbox.mail.hidden import HIDDEN_TEXT_TYPE

# Letters, placeholders, and the few marks names carry (O'Neil, Müller-Lüdenscheidt, J. Smith, "Smith, Jo").
_NAME = re.compile(r"^(?:<[A-Z_]+_\d+>|[^\W\d_]+(?:['’.\-][^\W\d_]*)*)$")
_MAX_NAME_WORDS = 5


def split_hidden(attachments: Sequence[Attachment], texts: Sequence[str]) -> tuple[list[str], list[str]]:
    """(texts of the real attachments, texts hidden in the HTML), from the parsed attachments and
    their masked texts (same order)."""
    shown: list[str] = []
    hidden: list[str] = []
    for attachment, text in zip(attachments, texts, strict=False):
        (hidden if attachment.content_type == HIDDEN_TEXT_TYPE else shown).append(text)
    return shown, hidden


def outside_signals(hidden: Sequence[str], display_name: str, language: str | None, lexicon: Lexicon,
                    index: ReferenceIndex) -> list[str]:
    """Signals in hidden HTML text and in the sender's display name.

    Hidden text that names a ledger document or an amount is addressed to software (a person
    cannot see it), so it counts as an instruction to the assistant even without a known phrase.
    """
    signals = lexicon.signals("\n".join([*hidden, display_name]), language)
    for text in hidden:
        refers = index.match(text, None)
        if refers.invoices or refers.orders or refers.unresolved or find_amount_hits(text, language):
            signals.append("ai_instruction")
    return list(dict.fromkeys(signals))


def greeting_name(display_name: str) -> str:
    """The display name when it reads as a person's or a team's name; else "" (the reply says Hello)."""
    words = display_name.replace(",", " ").split()
    if not words or len(words) > _MAX_NAME_WORDS or "@" in display_name:
        return ""
    return display_name.strip() if all(_NAME.match(w) for w in words) else ""
