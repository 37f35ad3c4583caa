"""Small server-rendered SVG charts (no chart library, nothing loaded from elsewhere)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 48, 44, 16
LABEL_CHARS = 38  # longer labels of horizontal bars are cut (the full text is the tooltip)


def _svg(body: list[str], title: str, height: int = HEIGHT) -> Markup:
    head = (f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">'
            f"<title>{escape(title)}</title>")
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704  # every text part is escaped above


def _empty(title: str) -> Markup:
    return _svg([f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle" class="muted">'
                 "no data yet</text>"], title)


def bars(values: Sequence[tuple[str, float]], title: str, fmt: Callable[[float], str] = lambda v: f"{v:g}",
         ) -> Markup:
    """Vertical bars, one per label, the value written above each."""
    if not values or not any(v for _, v in values):
        return _empty(title)
    top = max(v for _, v in values) or 1
    inner_w, inner_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = inner_w / len(values)
    width = min(64.0, max(2.0, step * 0.7))
    body = [f'<line x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH - 8}" y2="{HEIGHT - PAD_BOTTOM}" '
            'class="axis"/>']
    every = max(1, len(values) // 12)  # keep labels readable on long series
    for i, (label, value) in enumerate(values):
        h = inner_h * value / top
        x = PAD_LEFT + i * step + (step - width) / 2
        y = HEIGHT - PAD_BOTTOM - h
        body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" class="bar">'
                    f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>")
        if len(values) <= 16:
            body.append(f'<text x="{x + width / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" class="value">'
                        f"{escape(fmt(value))}</text>")
        if i % every == 0:
            body.append(f'<text x="{x + width / 2:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" text-anchor="middle" '
                        f'class="label">{escape(label)}</text>')
    return _svg(body, title)


def line(points: Sequence[tuple[str, float]], title: str, top: float = 1.0,
         fmt: Callable[[float], str] = lambda v: f"{v:.0%}") -> Markup:
    """A line over evenly spaced points (e.g. a rate per day), with a 0 / mid / top scale."""
    if not points:
        return _empty(title)
    inner_w, inner_h = WIDTH - PAD_LEFT - 16, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = inner_w / max(1, len(points) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return PAD_LEFT + (i * step if len(points) > 1 else inner_w / 2), HEIGHT - PAD_BOTTOM - inner_h * v / top

    body = []
    for frac in (0.0, 0.5, 1.0):
        y = HEIGHT - PAD_BOTTOM - inner_h * frac
        body.append(f'<line x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - 16}" y2="{y:.1f}" class="grid"/>'
                    f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="label">'
                    f"{escape(fmt(top * frac))}</text>")
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, (_, v) in enumerate(points)))
    body.append(f'<polyline points="{path}" class="line"/>')
    every = max(1, len(points) // 8)
    for i, (label, v) in enumerate(points):
        x, y = xy(i, v)
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" class="dot"><title>{escape(label)}: '
                    f"{escape(fmt(v))}</title></circle>")
        if i % every == 0:
            body.append(f'<text x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" text-anchor="middle" class="label">'
                        f"{escape(label)}</text>")
    return _svg(body, title)


def hbars(values: Sequence[tuple[str, float]], title: str, fmt: Callable[[float], str] = lambda v: f"{v:g}",
          ) -> Markup:
    """Horizontal bars with the label on the left: for reasons and other long names."""
    if not values:
        return _empty(title)
    row, label_w = 24, 240
    height = PAD_TOP + row * len(values) + 8
    top = max(v for _, v in values) or 1
    inner_w = WIDTH - label_w - 60
    body = []
    for i, (label, value) in enumerate(values):
        y = PAD_TOP + i * row
        w = max(1.0, inner_w * value / top)
        short = label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"
        body.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" class="label">{escape(short)}'
                    f"<title>{escape(label)}</title></text>"
                    f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" class="bar"/>'
                    f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" class="value">{escape(fmt(value))}</text>')
    return _svg(body, title, height)
