"""Amounts and dates written the way a reader of each language expects (babel's CLDR data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from babel.dates import format_date
from babel.numbers import format_currency

LANGUAGES = ("en", "de", "fr", "es")
LOCALES = {"en": "en_US", "de": "de_DE", "fr": "fr_FR", "es": "es_ES"}

# (language, group, code) -> word: ReplyRenderer.label reads them from agents/templates/labels.yaml
Label = Callable[[str, str, str], str]


def language_of(language: str) -> str:
    return language if language in LANGUAGES else "en"


def money(amount: Decimal | str, currency: str | None, language: str) -> str:
    return str(format_currency(Decimal(str(amount)), currency or "USD", locale=LOCALES[language_of(language)]))


def day(value: dt.date | str, language: str, width: Literal["long", "medium"] = "long") -> str:
    d = value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
    return str(format_date(d, format=width, locale=LOCALES[language_of(language)]))
