"""The date a customer promises to pay by, read from the text and resolved against the email date.

Candidates are found with patterns over short spans, never by running ``dateparser.search``
over a whole email (slow, and it reads dates into words like "We"):

- numeric: ISO ``2026-12-15``; ``15.12.2026`` / ``15.12.`` (day first); ``12/15/2026`` and
  ``12/15`` (month first for English by default, day first otherwise, or when the numbers
  only fit one way);
- a day and a month name in the email's language or English (``December 15``, ``15 décembre``,
  ``15. Dezember``, ``15 de diciembre``), month names from dateparser's language data; without a
  year, the next such day after the email date;
- relative phrases in en/de/fr/es: tomorrow, (next) Friday, Friday next week, end of the
  month/week, beginning of next month, end/mid of a named month, in two weeks / 10 days.

Only dates after the email date and at most 180 days later count. A date near a pay word
(pay, wire, zahlen, überweisen, payer, régler, pagar, transferir ...) wins over the others.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from dateparser.languages.loader import default_loader

from arinbox.agents.lexicon import fold, normalize_language

DateOrder = Literal["MDY", "DMY"]
HORIZON_DAYS = 180

_MONTH_KEYS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)
_WEEKDAY_KEYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NEAR_PAY = 100  # characters between a date and a pay word that still count as "near"
_OTHER_SENTENCE = 60  # added to that distance when a sentence ends in between
_SENTENCE_END = re.compile(r"[.!?]\s+(?=[A-Z\u00C0-\u00DE])|\n")

_PAY_WORDS = re.compile(
    r"(?<!\w)(?:pay\w*|paid|remit\w*|wire\w*|transfer\w*|ach|check|cheque|settl\w*|"
    r"zahl\w*|bezahl\w*|uberw\w*|begleich\w*|ausgleich\w*|anweis\w*|angewiesen|"
    r"pai\w*|paye\w*|regl\w*|virement|vire\w*|pag[aoue]\w*|abon\w*|liquid\w*|sald\w*)(?!\w)"
)

_NUMBER_WORDS: dict[str, int] = {
    # en
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15,
    "twenty": 20, "thirty": 30, "couple of": 2, "few": 3,
    # de
    "ein": 1, "eine": 1, "einem": 1, "einer": 1, "zwei": 2, "drei": 3, "vier": 4, "funf": 5,
    "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "vierzehn": 14, "funfzehn": 15,
    "zwanzig": 20, "dreissig": 30, "dreißig": 30,
    # fr
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8,
    "neuf": 9, "dix": 10, "quinze": 15, "vingt": 20, "trente": 30,
    # es
    "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
    "ocho": 8, "nueve": 9, "diez": 10, "quince": 15, "veinte": 20, "treinta": 30,
}
_NUM_RE = r"(?P<n>\d{1,3}|" + "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True)) + ")"
_UNIT_DAYS = {
    "day": 1, "days": 1, "tag": 1, "tage": 1, "tagen": 1, "jour": 1, "jours": 1, "dia": 1, "dias": 1,
    "week": 7, "weeks": 7, "woche": 7, "wochen": 7, "semaine": 7, "semaines": 7, "semana": 7,
    "semanas": 7, "fortnight": 14, "fortnights": 14,
}
_UNIT_MONTHS = {"month", "months", "monat", "monate", "monaten", "mois", "mes", "meses"}
_BUSINESS = re.compile(r"business|working|werktag|ouvr|habil|laborable")
_IN_N = re.compile(
    r"(?<!\w)(?:in|within|inside|innerhalb(?: von)?|binnen|dans|sous|d'ici|en|dentro de|en un plazo de)"
    r"\s+(?:the next\s+|den nachsten\s+|les prochains\s+|los proximos\s+)?" + _NUM_RE
    + r"\s+(?P<u>(?:business |working )?days?|werktagen|tagen?|wochen?|weeks?|fortnights?|months?|"
    r"monaten?|jours?(?: ouvres| ouvrables)?|semaines?|mois|dias?(?: habiles| laborables)?|semanas?|meses|mes)"
    r"(?!\w)"
)
_FORTNIGHT = re.compile(r"(?<!\w)(?:in|within) a fortnight(?!\w)")

_TOMORROW = re.compile(
    r"(?<!\w)(?P<w>day after tomorrow|tomorrow|ubermorgen|morgen|apres-demain|demain|pasado manana|manana)(?!\w)"
)
_NOT_TOMORROW = re.compile(r"(?:guten|heute|gestern|jeden|am|den|diesen|la|esta|por la|de la|cada|por|en la)\s*$")

_END_NEXT_MONTH = re.compile(
    r"(?<!\w)(?:end of next month|end of the following month|ende (?:des )?nachsten monats|"
    r"fin du mois prochain|fin (?:de|du) mois suivant|(?:a )?(?:finales|final|fin) del (?:proximo|siguiente) mes|"
    r"(?:a )?(?:finales|final|fin) del mes (?:que viene|proximo|siguiente))(?!\w)"
)
_END_MONTH = re.compile(
    r"(?<!\w)(?:end of (?:the |this )?month|month[- ]end|eom|ende (?:des |dieses )?monats|monatsende|"
    r"ende monat|fin (?:du |de ce |de )?mois|(?:a )?(?:finales|final|fin) (?:de|del|de este) mes)(?!\w)"
)
_END_NEXT_WEEK = re.compile(
    r"(?<!\w)(?:end of next week|end of the following week|ende (?:der )?nachste[nr]? woche|"
    r"fin de la semaine prochaine|(?:a )?(?:finales|final|fin) de la (?:proxima|siguiente) semana|"
    r"(?:a )?(?:finales|final|fin) de la semana que viene)(?!\w)"
)
# "fin de semaine" / "fin de semana" without an article is the weekend ("bonne fin de semaine").
_END_WEEK = re.compile(
    r"(?<!\w)(?:end of (?:the |this )?week|ende (?:der|dieser) woche|fin de (?:la |cette )semaine|"
    r"(?:a )?(?:finales|final|fin) de (?:la |esta )semana)(?!\w)"
)
_NEXT_WEEK = re.compile(
    r"(?<!\w)(?P<early>early |beginning of |anfang |debut de |(?:a )?principios de |comienzos de )?"
    r"(?:next week|(?:der )?nachste(?:n)? woche|la semaine prochaine|la (?:proxima|siguiente) semana|"
    r"la semana (?:que viene|proxima))(?!\w)"
)
_START_NEXT_MONTH = re.compile(
    r"(?<!\w)(?:(?:beginning|start) of next month|early next month|anfang (?:des )?nachsten monats|"
    r"debut du mois prochain|debut (?:de|du) mois suivant|(?:a )?principios del (?:proximo|siguiente) mes|"
    r"(?:a )?principios del mes que viene)(?!\w)"
)
_PAST_BEFORE = re.compile(r"(?:last|past|previous|vergangenen|letzten|letzte)\s*$")
_PAST_AFTER = re.compile(r"\s*(?:dernier|passe|pasado|last week|letzter woche|der letzten woche)(?!\w)")
_DATE_CUE = r"(?:bis|am|zum|le|el|on|by|until|before|avant|antes del?|hasta el|para el)"


@dataclass(frozen=True)
class DateCandidate:
    value: dt.date
    start: int
    end: int
    written: str
    kind: str  # numeric, month, day (a day of the month alone), relative


def _base_date(email_date: dt.date | dt.datetime) -> dt.date:
    return email_date.date() if isinstance(email_date, dt.datetime) else email_date


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _next_weekday(base: dt.date, weekday: int) -> dt.date:
    ahead = (weekday - base.weekday()) % 7 or 7
    return base + dt.timedelta(days=ahead)


def _add_business_days(base: dt.date, days: int) -> dt.date:
    day = base
    while days > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def _languages(language: str | None) -> list[str]:
    lang = normalize_language(language)
    out = [lang] if lang else []
    if "en" not in out:
        out.append("en")
    return [x for x in out if _locale_info(x)]


@lru_cache(maxsize=32)
def _locale_info(language: str) -> dict[str, list[str]]:
    try:
        info = default_loader.get_locale(language).info
    except (KeyError, ValueError):
        return {}
    return {k: [str(v) for v in info.get(k, [])] for k in (*_MONTH_KEYS, *_WEEKDAY_KEYS)}


@lru_cache(maxsize=32)
def _month_names(languages: tuple[str, ...]) -> dict[str, int]:
    names: dict[str, int] = {}
    for lang in languages:
        info = _locale_info(lang)
        for number, key in enumerate(_MONTH_KEYS, start=1):
            for name in info.get(key, []):
                folded = fold(name).rstrip(".")
                if len(folded) >= 3 and folded.isalpha():
                    names.setdefault(folded, number)
    return names


@lru_cache(maxsize=32)
def _full_month_names(languages: tuple[str, ...]) -> frozenset[str]:
    """The unabbreviated names: a dot after one of them ends a sentence, it does not abbreviate."""
    full: set[str] = set()
    for lang in languages:
        info = _locale_info(lang)
        for key in _MONTH_KEYS:
            names = [fold(n).rstrip(".") for n in info.get(key, [])]
            if names:
                full.add(max(names, key=len))
    return frozenset(full)


@lru_cache(maxsize=32)
def _weekday_names(languages: tuple[str, ...]) -> dict[str, int]:
    names: dict[str, int] = {}
    for lang in languages:
        info = _locale_info(lang)
        for number, key in enumerate(_WEEKDAY_KEYS):
            for name in info.get(key, []):
                folded = fold(name)
                if len(folded) >= 5 and folded.isalpha():
                    names.setdefault(folded, number)
    return names


def _alternation(names: dict[str, int]) -> str:
    return "|".join(sorted(map(re.escape, names), key=len, reverse=True))


@lru_cache(maxsize=32)
def _month_patterns(languages: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    months = _alternation(_month_names(languages))
    day_first = re.compile(
        r"(?<![\w.,/])(?P<d>[0-3]?\d)(?:st|nd|rd|th|er|eme|o|\.)?\s*(?:of\s+|de\s+)?(?P<m>" + months + r")\.?"
        r"(?:,?\s*(?:de\s+|del\s+)?(?P<y>\d{4}))?(?!\w)"
    )
    month_first = re.compile(
        r"(?<!\w)(?P<m>" + months + r")\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?(?![\d:.,]\d)(?!\w)"
        r"(?:,?\s*(?P<y>\d{4}))?"
    )
    named = re.compile(
        r"(?<!\w)(?P<q>end of|the end of|ende|fin|fin de|a fin de|finales de|a finales de|final de|mid|mid-|"
        r"mitte|mi-|mediados de|a mediados de|beginning of|early|anfang|debut|principios de|a principios de)"
        r"\s*(?P<m>" + months + r")(?!\w)"
    )
    return day_first, month_first, named


@lru_cache(maxsize=32)
def _weekday_pattern(languages: tuple[str, ...]) -> re.Pattern[str]:
    days = _alternation(_weekday_names(languages))
    return re.compile(
        r"(?<!\w)(?P<wd>" + days + r")(?!\w)"
        r"(?P<nw>\s+(?:next week|of next week|week|nachster woche|der nachsten woche|in der nachsten woche|"
        r"de la semaine prochaine|de la proxima semana|de la semana que viene))?"
    )


# A day of the month written alone: "on the 20th", "am 20.", "le 20", "el día 20" (on folded text).
_DAY_ALONE = {
    "en": r"(?:on|by|before|until|for) the (?P<d>[0-3]?\d)(?:st|nd|rd|th)(?!\w)",
    "de": r"(?:am|bis zum|bis spatestens zum|zum|spatestens am) (?P<d>[0-3]?\d)\.(?!\s*\d)",
    "fr": r"(?:le|au|d'ici le|avant le|jusqu'au|pour le) (?P<d>1er|[0-3]?\d)(?![\d/.,:h%]|\s*(?:%|€|eur|jours?|h\b))",
    "es": r"(?:el|hasta el|antes del|para el) (?:dia )?(?P<d>[0-3]?\d)(?![\d/.,:%]|\s*(?:€|eur|dias?|%))",
}


@lru_cache(maxsize=32)
def _day_alone_patterns(languages: tuple[str, ...]) -> list[re.Pattern[str]]:
    months = _alternation(_month_names(languages))
    # not when a month follows: "the 20th of November" is a whole date, read elsewhere
    no_month = r"(?!\.?\s*(?:of |de |del )?(?:" + months + r")(?!\w))"
    return [re.compile(rf"(?<!\w){_DAY_ALONE[lang]}{no_month}") for lang in languages if lang in _DAY_ALONE]


def _day_alone(text: str, folded: str, base: dt.date, languages: tuple[str, ...]) -> list[DateCandidate]:
    """The next such day of a month after ``base``: this month's, else next month's."""
    out: list[DateCandidate] = []
    for m in (m for p in _day_alone_patterns(languages) for m in p.finditer(folded)):
        day = 1 if m.group("d") == "1er" else int(m.group("d"))
        month_start = base.replace(day=1)
        for first in (month_start, _add_months(month_start, 1)):
            value = _safe_date(first.year, first.month, day)
            if value is not None and value > base:
                out.append(DateCandidate(value, m.start(), m.end(), text[m.start() : m.end()], "day"))
                break
    return out


def _pick_order(first: int, second: int, order: DateOrder) -> tuple[int, int] | None:
    """(month, day) from two numbers written in ``order``, swapped when only that fits."""
    month, day = (first, second) if order == "MDY" else (second, first)
    if 1 <= month <= 12 and 1 <= day <= 31:
        return month, day
    if 1 <= day <= 12 and 1 <= month <= 31:
        return day, month
    return None


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _upcoming(base: dt.date, month: int, day: int) -> dt.date | None:
    """The first ``month/day`` after ``base`` (a year is not written; 29 February waits for a leap year)."""
    for year in range(base.year, base.year + 5):
        found = _safe_date(year, month, day)
        if found is not None and found > base:
            return found
    return None


def _numeric(text: str, base: dt.date, order: DateOrder) -> list[DateCandidate]:
    out: list[DateCandidate] = []
    taken: list[tuple[int, int]] = []

    def add(value: dt.date | None, m: re.Match[str]) -> None:
        if value is not None:
            out.append(DateCandidate(value, m.start(), m.end(), m.group(0), "numeric"))
            taken.append((m.start(), m.end()))

    for m in re.finditer(r"(?<![\w/.-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\w/-])", text):
        add(_safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3))), m)
    for m in re.finditer(r"(?<![\w/.,-])(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?![\w/-]|[.,]\d)", text):
        year = int(m.group(4))
        year += 2000 if year < 100 else 0
        pair = _pick_order(int(m.group(1)), int(m.group(3)), "DMY" if m.group(2) == "." else order)
        add(_safe_date(year, *pair) if pair else None, m)
    for m in re.finditer(r"(?<![\w/.,-])(\d{1,2})/(\d{1,2})(?![\w/]|[.,]\d)", text):
        if _inside(m.start(), taken):
            continue
        pair = _pick_order(int(m.group(1)), int(m.group(2)), order)
        add(_upcoming(base, *pair) if pair else None, m)
    folded = fold(text)
    for m in re.finditer(r"(?<![\w.,])(\d{1,2})\.(\d{1,2})\.(?!\d)", text):
        if _inside(m.start(), taken):
            continue
        add(_upcoming(base, int(m.group(2)), int(m.group(1))), m)
    for m in re.finditer(r"(?<!\w)" + _DATE_CUE + r"\s+(\d{1,2})\.(\d{1,2})(?![\d.,])", folded):
        if _inside(m.start(1), taken):
            continue
        value = _upcoming(base, int(m.group(2)), int(m.group(1)))
        if value is not None:
            out.append(DateCandidate(value, m.start(1), m.end(), text[m.start(1) : m.end()], "numeric"))
    return out


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= pos < e for s, e in spans)


def _with_month_names(
    text: str, folded: str, base: dt.date, languages: tuple[str, ...]
) -> list[DateCandidate]:
    day_first, month_first, named = _month_patterns(languages)
    months = _month_names(languages)
    out: list[DateCandidate] = []
    seen: list[tuple[int, int]] = []
    for pattern in (day_first, month_first):
        for m in pattern.finditer(folded):
            if any(s < m.end() and m.start() < e for s, e in seen):
                continue
            if "." in folded[m.end("m") : m.start("d")] and m.group("m") in _full_month_names(languages):
                continue  # "mars. 3 040,80": the sentence ended after the month
            snippet = text[m.start() : m.end()]
            # the pattern has read the day, month and year: what dateparser would make of the snippet
            # with a future preference, at a small part of its cost
            month, day = months[m.group("m")], int(m.group("d"))
            value = _safe_date(int(m.group("y")), month, day) if m.group("y") else _upcoming(base, month, day)
            if value is not None:
                out.append(DateCandidate(value, m.start(), m.end(), snippet, "month"))
                seen.append((m.start(), m.end()))
    for m in named.finditer(folded):
        if any(s < m.end() and m.start() < e for s, e in seen):
            continue
        month = months[m.group("m")]
        year = base.year if month >= base.month else base.year + 1
        q = m.group("q")
        if q.startswith(("mid", "mitte", "mi-", "mediados", "a mediados")):
            named_day = dt.date(year, month, 15)
        elif q.startswith(("beginning", "early", "anfang", "debut", "principios", "a principios")):
            named_day = dt.date(year, month, 1)
        else:
            named_day = _month_end(year, month)
        if named_day > base:
            out.append(DateCandidate(named_day, m.start(), m.end(), text[m.start() : m.end()], "month"))
    return out


def _relative(text: str, folded: str, base: dt.date, languages: tuple[str, ...]) -> list[DateCandidate]:
    out: list[DateCandidate] = []

    def add(m: re.Match[str], value: dt.date | None) -> None:
        if value is not None:
            out.append(DateCandidate(value, m.start(), m.end(), text[m.start() : m.end()], "relative"))

    for m in _TOMORROW.finditer(folded):
        word = m.group("w")
        if word in ("morgen", "manana") and _NOT_TOMORROW.search(folded[max(0, m.start() - 12) : m.start()]):
            continue
        sentence_start = re.search(r"(?:^|[\n.!?:]\s*)$", text[max(0, m.start() - 3) : m.start()]) is not None
        if word == "morgen" and text[m.start()] == "M" and not sentence_start and m.start() > 0:
            continue  # "Morgen" inside a sentence is the noun (the morning)
        later = word in ("day after tomorrow", "ubermorgen", "apres-demain", "pasado manana")
        add(m, base + dt.timedelta(days=2 if later else 1))
    resolvers: list[tuple[re.Pattern[str], Callable[[re.Match[str]], dt.date]]] = [
        (_END_NEXT_MONTH, lambda m: _month_end(*_ym(_add_months(base.replace(day=1), 1)))),
        (_END_MONTH, lambda m: _end_of_month(base)),
        (_END_NEXT_WEEK, lambda m: _friday_of_week(base) + dt.timedelta(days=7)),
        (_END_WEEK, lambda m: _friday_of_week(base)),
        (_START_NEXT_MONTH, lambda m: _add_months(base.replace(day=1), 1)),
        (
            _NEXT_WEEK,
            lambda m: base + dt.timedelta(days=7 - base.weekday() + (0 if m.group("early") else 4)),
        ),
    ]
    taken: list[tuple[int, int]] = []
    for pattern, resolve in resolvers:
        for m in pattern.finditer(folded):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            add(m, resolve(m))
    for m in _weekday_pattern(languages).finditer(folded):
        before, after = folded[max(0, m.start() - 14) : m.start()], folded[m.end() : m.end() + 10]
        if _PAST_BEFORE.search(before) or _PAST_AFTER.match(after):
            continue  # "last Friday", "vendredi dernier": already past
        weekday = _weekday_names(languages)[m.group("wd")]
        if m.group("nw"):
            monday = base + dt.timedelta(days=7 - base.weekday())
            add(m, monday + dt.timedelta(days=weekday))
        else:
            add(m, _next_weekday(base, weekday))
    for m in _IN_N.finditer(folded):
        n = int(m.group("n")) if m.group("n").isdigit() else _NUMBER_WORDS[m.group("n")]
        unit = m.group("u")
        head = unit.split()[0]
        if head in _UNIT_MONTHS:
            add(m, _add_months(base, n))
        elif _BUSINESS.search(unit):
            add(m, _add_business_days(base, n))
        else:
            add(m, base + dt.timedelta(days=n * _UNIT_DAYS.get(head, 1)))
    for m in _FORTNIGHT.finditer(folded):
        add(m, base + dt.timedelta(days=14))
    return out


def _ym(day: dt.date) -> tuple[int, int]:
    return day.year, day.month


def _end_of_month(base: dt.date) -> dt.date:
    end = _month_end(base.year, base.month)
    if end > base:
        return end
    return _month_end(*_ym(_add_months(base.replace(day=1), 1)))


def _friday_of_week(base: dt.date) -> dt.date:
    if base.weekday() < 4:
        return base + dt.timedelta(days=4 - base.weekday())
    return _next_weekday(base, 4)


def find_date_candidates(
    text: str,
    language: str | None,
    email_date: dt.date | dt.datetime,
    *,
    date_order: DateOrder | None = None,
) -> list[DateCandidate]:
    """Every date written in ``text`` (promise or not), resolved against ``email_date``."""
    base = _base_date(email_date)
    lang = normalize_language(language)
    order: DateOrder = date_order or ("MDY" if lang in ("en", "") else "DMY")
    languages = tuple(_languages(language))
    folded = fold(text)
    found = [
        *_numeric(text, base, order),
        *_with_month_names(text, folded, base, languages),
        *_relative(text, folded, base, languages),
    ]
    found += [c for c in _day_alone(text, folded, base, languages)
              if not any(f.start < c.end and c.start < f.end for f in found)]
    explicit = [c for c in found if c.kind != "relative"]
    # "Friday, November 20" / "vendredi 4 décembre": the weekday only names the explicit date beside it
    found = [c for c in found if c.kind != "relative" or not any(
        0 <= e.start - c.end <= 3 or 0 <= c.start - e.end <= 3 for e in explicit)]
    found.sort(key=lambda c: (c.start, -c.end))
    return found


# a date labelled as the invoice's own due or issue date is no promise ("$21,340.00, due 11/21"); on folded text
_DUE_LABEL = re.compile(
    r"\b(due( date| on| by)?|dated|invoice date|issued( on)?|fallig( am| zum)?|falligkeit|"
    r"rechnungsdatum|(date d')?echeance|vencimiento|vence( el)?|fecha de factura)\s*[:.]?\s*$"
)


def find_promised_date(
    text: str,
    language: str | None,
    email_date: dt.date | dt.datetime | None,
    *,
    date_order: DateOrder | None = None,
) -> dt.date | None:
    """The date the customer commits to pay by, or None.

    ``date_order`` says how ``12/11`` reads: "MDY" (the default for English) or "DMY" (the
    default otherwise, and for English writers outside North America).
    """
    if email_date is None:
        return None
    base = _base_date(email_date)
    horizon = base + dt.timedelta(days=HORIZON_DAYS)
    folded = fold(text)
    candidates = [
        c for c in find_date_candidates(text, language, email_date, date_order=date_order)
        if base < c.value <= horizon and not _DUE_LABEL.search(folded[max(0, c.start - 24):c.start])
    ]
    if not candidates:
        return None
    pays = [(m.start(), m.end()) for m in _PAY_WORDS.finditer(folded)]

    def distance(c: DateCandidate) -> int:
        best = _NEAR_PAY + 1
        for start, end in pays:
            lo, hi = (c.end, start) if start >= c.end else (end, c.start)
            gap = max(hi - lo, 0)
            if _SENTENCE_END.search(text, lo, max(lo, hi)):
                gap += _OTHER_SENTENCE  # a pay word in the same sentence binds closer
            if gap <= _NEAR_PAY and "\n\n" not in text[lo:hi]:
                best = min(best, gap)
        return best

    near = [(distance(c), c.start, c) for c in candidates]
    near_pay = [item for item in near if item[0] <= _NEAR_PAY]
    if near_pay:
        return min(near_pay, key=lambda item: (item[0], item[1]))[2].value
    return candidates[0].value
