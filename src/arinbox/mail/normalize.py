"""Undo the character tricks that make text read differently to software than to a person.

Three repairs, each reported so the trace shows what was changed:

- invisible format characters (zero-width spaces and joiners, soft hyphens, bidi overrides, BOMs)
  are removed: ``INV-2026-00\u200b4512`` is the invoice a person reads;
- full-width and mathematical letters and digits become their plain forms (NFKC, only for those
  blocks: NFKC over all text would also rewrite no-break spaces, ``m²`` or ``№`` in ordinary mail);
- a word mixing Latin with look-alike letters of another script (Cyrillic ``а`` in ``pаid``) has those
  letters mapped to the Latin ones they imitate (Unicode confusables). Words written wholly in one
  script are left alone: Russian or Greek text stays as it is.
"""

from __future__ import annotations

import re
import unicodedata

from confusable_homoglyphs import confusables

_WIDE = re.compile("[\uff01-\uff5e\U0001d400-\U0001d7ff\u2460-\u24ff]")  # full-width, math alphanumerics, circled
_WORD = re.compile(r"\S+")


# every format character (Unicode category Cf, as of Python 3.11's Unicode 14): zero-width space,
# joiners, soft hyphen, bidi embeddings and overrides, word joiner, BOM, tag characters
_INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)


def normalize_text(text: str) -> tuple[str, list[str]]:
    """The text as a person reads it, and one note per kind of repair made."""
    notes: list[str] = []
    if text.isascii():
        return text, notes
    removed = len(_INVISIBLE.findall(text))
    if removed:
        text = _INVISIBLE.sub("", text)
        notes.append(f"{removed} invisible character(s) removed")
    wide = len(_WIDE.findall(text))
    if wide:
        text = _WIDE.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
        notes.append(f"{wide} full-width or styled character(s) read as plain")
    mapped = 0

    def plain(m: re.Match[str]) -> str:
        nonlocal mapped
        word = m.group(0)
        if word.isascii() or not confusables.is_mixed_script(word):
            return word
        fixed = _to_latin(word)
        mapped += fixed != word
        return fixed

    text = _WORD.sub(plain, text)
    if mapped:
        notes.append(f"{mapped} word(s) with look-alike letters of another script read as Latin")
    return text, notes


def _to_latin(word: str) -> str:
    found = confusables.is_confusable(word, greedy=True, preferred_aliases=["latin"]) or []
    table: dict[str, str] = {}
    for item in found:
        ch = item["character"]
        latin = [h["c"] for h in item["homoglyphs"] if len(h["c"]) == 1 and h["c"].isascii()]
        if latin and _is_letter(ch):
            table[ch] = latin[0]
    return "".join(table.get(ch, ch) for ch in word)


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")
