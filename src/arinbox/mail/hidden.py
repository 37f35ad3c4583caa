"""Text an HTML mail hides from the person reading it: display:none, invisible, white on white, tiny.

Such text is written for software, not for the reader, so it is taken out of the body (it is not
the customer's words: no invoice, amount or intent is read from it) and handed back separately;
the parser lists it as a pseudo-attachment of type ``HIDDEN_TEXT_TYPE`` that the extractor scans
for needs-human signals only.

Only inline styles and attributes are read: a class hidden by a ``<style>`` block is not seen here,
and stays in the body, where every phrase is scanned as the customer's own.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

HIDDEN_TEXT_TYPE = "text/x-arinbox-hidden-html"
HIDDEN_TEXT_NOTE = ("text hidden in the HTML body (not shown to the reader): scanned for signals, "
                    "not read as the customer's words")
TINY_FONT_PX = 3.0  # at or below this a font is unreadable; real fine print is 7px or more
_NEAR = 48  # colour distance (sum over R, G, B) under which text and background look the same

_DECL = re.compile(r"([a-z-]+)\s*:\s*([^;]+)", re.I)
_HEX = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})\b", re.I)
_RGB = re.compile(r"rgba?\(\s*(\d+)[\s,]+(\d+)[\s,]+(\d+)(?:[\s,/]+(\d+(?:\.\d*)?%?|\.\d+%?))?", re.I)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(px|pt|em|rem|%)?", re.I)
_NAMED = {"white": (255, 255, 255), "black": (0, 0, 0), "transparent": None}
_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "meta", "link"})

Rgb = tuple[int, int, int]


def split_hidden(markup: str) -> tuple[str, list[str]]:
    """(the HTML without hidden elements, the text of each hidden element); unparseable HTML is kept whole."""
    if not markup.strip():
        return markup, []
    try:
        root = lxml_html.document_fromstring(markup.encode("utf-8", "surrogatepass"))
    except (etree.LxmlError, ValueError, TypeError, UnicodeError):
        return markup, []
    hidden: list[str] = []
    _walk(root, _BLACK, _WHITE, hidden)
    if not hidden:
        return markup, []
    return lxml_html.tostring(root, encoding="unicode"), hidden


def _walk(root: etree._Element, color: Rgb, background: Rgb, hidden: list[str]) -> None:
    """In document order; ``iter`` does not recurse, so hostile mail nested thousands deep is fine."""
    colours: dict[etree._Element, tuple[Rgb, Rgb]] = {root: (color, background)}
    found: list[etree._Element] = []
    for el in root.iter():
        parent = el.getparent()
        if el is root or parent not in colours or not isinstance(el.tag, str):
            continue  # inside a hidden or skipped element, or a comment / processing instruction
        if el.tag.lower() in _SKIP_TAGS:
            continue
        fg_in, bg_in = colours[parent]
        style = _style(el)
        own_bg = _colour(style.get("background-color") or style.get("background") or el.get("bgcolor"))
        own_fg = _colour(style.get("color") or (el.get("color") if el.tag.lower() == "font" else None))
        fg, bg = own_fg or fg_in, own_bg or bg_in
        if _is_hidden(el, style, fg, bg, own_fg is not None):
            found.append(el)
            continue
        colours[el] = (fg, bg)
    for el in found:
        text = " ".join(el.text_content().split())
        if text:
            hidden.append(text)
        _drop(el)


def _is_hidden(el: etree._Element, style: dict[str, str], fg: Rgb, bg: Rgb, sets_colour: bool) -> bool:
    if el.get("hidden") is not None:
        return True
    display = style.get("display", "").lower()
    if display.startswith("none") or style.get("visibility", "").lower().startswith(("hidden", "collapse")):
        return True
    if style.get("mso-hide", "").lower().startswith("all"):
        return True
    opacity = _number(style.get("opacity"))
    if opacity is not None and opacity < 0.1:
        return True
    size = style.get("font-size")  # not <font size>: its 1 is a small but readable size
    if size is not None and _tiny(size):
        return True
    for box in ("max-height", "height", "max-width", "width"):
        if _number(style.get(box)) == 0 and "hidden" in style.get("overflow", "").lower():
            return True
    # white on white (or any colour on itself): only where the element sets its text colour
    return sets_colour and sum(abs(a - b) for a, b in zip(fg, bg, strict=True)) < _NEAR


def _drop(el: etree._Element) -> None:
    """Remove an element but keep the text that follows it (its tail belongs to the parent)."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    previous = el.getprevious()
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _style(el: etree._Element) -> dict[str, str]:
    raw = el.get("style") or ""
    return {k.lower(): v.replace("!important", "").strip() for k, v in _DECL.findall(raw)}


def _colour(value: str | None) -> Rgb | None:
    if not value:
        return None
    value = value.strip().lower()
    for word, rgb in _NAMED.items():
        if re.search(rf"\b{word}\b", value):
            return rgb
    m = _HEX.search(value)
    if m:
        digits = m.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    m = _RGB.search(value)
    if m:
        alpha = m.group(4)
        if alpha is not None and _alpha(alpha) < 0.1:
            return None  # a transparent colour shows what is behind it
        return int(m.group(1)) % 256, int(m.group(2)) % 256, int(m.group(3)) % 256
    return None


def _alpha(value: str) -> float:
    return float(value[:-1]) / 100 if value.endswith("%") else float(value)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    m = _SIZE.match(value)
    return float(m.group(1)) if m else None


def _tiny(value: str) -> bool:
    m = _SIZE.match(value)
    if m is None:
        return False
    size, unit = float(m.group(1)), (m.group(2) or "px").lower()
    if unit in ("em", "rem"):
        size *= 16
    elif unit == "%":
        size *= 0.16
    elif unit == "pt":
        size *= 4 / 3
    return size <= TINY_FONT_PX
