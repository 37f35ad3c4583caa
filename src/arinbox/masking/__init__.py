"""Masking of personal data before any model sees an email.

``build_analyzer`` makes the offline Presidio analyzer, ``PresidioMasker`` implements the
``Masker`` port on it, ``rehydrate`` puts originals back at send time and ``Vault`` keeps the
mapping encrypted.
"""

from __future__ import annotations

from arinbox.masking.engine import build_analyzer
from arinbox.masking.fake import FakeMasker
from arinbox.masking.masker import (
    DEFAULT_ENTITIES,
    DEFAULT_KEEP_PATTERNS,
    DEFAULT_SCORE_THRESHOLD,
    PresidioMasker,
    load_allow_list,
    rehydrate,
)
from arinbox.masking.vault import Vault

__all__ = [
    "DEFAULT_ENTITIES",
    "DEFAULT_KEEP_PATTERNS",
    "DEFAULT_SCORE_THRESHOLD",
    "FakeMasker",
    "PresidioMasker",
    "Vault",
    "build_analyzer",
    "load_allow_list",
    "rehydrate",
]
