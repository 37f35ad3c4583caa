"""Cut the signature block (and what follows a sign-off) from the newest message.

Signatures, disclaimers and addresses say nothing about what the customer wants and dilute a
short request; the classifier reads the text above the sign-off.
"""

from __future__ import annotations

import re

_SIGN_OFF = re.compile(
    r"^\s*(--\s*$|(best|kind|warm|warmest|many thanks and)?\s*regards\b|thanks( again| and regards)?[,!.]?\s*$"
    r"|thank you[,!.]?\s*$|sincerely|cheers\b|respectfully\b"
    r"|mit freundlichen gr(ü|ue)(ß|ss)en|freundliche gr(ü|ue)(ß|ss)e|viele gr(ü|ue)(ß|ss)e|beste gr(ü|ue)(ß|ss)e"
    r"|gru(ß|ss)\b|cordialement|bien (à|a) vous|salutations\b|bonne (journée|journee)"
    r"|(un )?saludos?\b|atentamente|cordiales saludos|un cordial saludo)",
    re.IGNORECASE,
)


def strip_signature(text: str, keep_lines: int = 2) -> str:
    """Text up to the first sign-off line after the first ``keep_lines`` lines (subject, greeting)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if i >= keep_lines and _SIGN_OFF.match(line):
            return "\n".join(lines[:i])
    return text
