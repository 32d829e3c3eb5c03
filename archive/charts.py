"""Charts as SVG strings, drawn on the server: no chart service, no script, prints as crisply as it shows.

Every piece of text is escaped here, so a chart is safe to embed in a page as markup. Only presentation
attributes are used (the pages' CSP allows no inline style); the font is the page's, so Chinese labels
render with the same CJK font as the text around them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

INK = "#17202c"
MUTED = "#5a6676"
GRID = "#dde3ea"
FONT_SIZE = 12
# Paint in series order; distinguishable in colour-blind vision and in greyscale print.
PALETTE = ("#0b5cad", "#e8871e", "#1f7a3d", "#b42318", "#98a2b3", "#7a5af8")


@dataclass(frozen=True)
class Series:
    name: str
    color: str


def esc(text: object) -> str:
    return escape(str(text), {'"': "&quot;"})


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Rough rendered width: CJK characters are square, Latin ones a bit over half as wide."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in text)


def fit(text: str, width: float, size: float = FONT_SIZE) -> str:
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and a few round steps (1, 2 or 5 × 10ⁿ) reaching at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if step < 1:
        step = 1.0  # counts of people and questions are whole
    n = math.ceil(top / step)
    return [i * step for i in range(n + 1)]


# Round steps for time axes, in seconds: 1, 2, 5, 10, 15, 20, 30 minutes; 1, 2, 3, 6, 12 hours; days.
TIME_STEPS = (60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def time_ticks(start: float, end: float, most: int) -> list[float]:
    """Round times (whole multiples of a round step) inside [start, end], at most `most` of them."""
    span = end - start
    step = next((s for s in TIME_STEPS if span / s <= most), TIME_STEPS[-1] * math.ceil(span / TIME_STEPS[-1] / most))
    first = math.ceil(start / step) * step
    return [float(t) for t in range(int(first), int(end) + 1, int(step))]


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _open(chart_id: str, title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{esc(chart_id)}-title" font-size="{FONT_SIZE}">',
        f'<title id="{esc(chart_id)}-title">{esc(title)}</title>',
    ]


def _legend(series: Sequence[Series], right: float, y: float) -> list[str]:
    out = []
    x = right
    for s in reversed(series):
        x -= text_width(s.name) + 22
        out.append(f'<rect x="{_num(x)}" y="{_num(y - 9)}" width="10" height="10" rx="2" fill="{esc(s.color)}"/>')
        out.append(f'<text x="{_num(x + 14)}" y="{_num(y)}" fill="{INK}">{esc(s.name)}</text>')
    return out


def _empty(chart_id: str, title: str, message: str, width: int, height: int) -> str:
    parts = _open(chart_id, title, width, height)
    parts.append(
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}">{esc(message)}</text></svg>'
    )
    return "".join(parts)


def time_chart(
    chart_id: str,
    title: str,
    x: Sequence[float],
    series: Sequence[tuple[Series, Sequence[float]]],
    *,
    fmt_x: Callable[[float], str],
    step: float,
    kind: str = "area",
    empty: str = "",
    width: int = 900,
    height: int = 280,
) -> str:
    """Values over time (one point per bucket of `step` seconds): "area" draws lines, "columns" bars."""
    if not x:
        return _empty(chart_id, title, empty, width, height)
    left, right, top, bottom = 44, width - 12, 28, height - 30
    ticks = nice_ticks(max((max(v, default=0) for _, v in series), default=0))
    x0, x1 = x[0], x[-1] + step

    def px(t: float) -> float:
        return left + (t - x0) / (x1 - x0) * (right - left)

    def py(v: float) -> float:
        return bottom - v / ticks[-1] * (bottom - top)

    parts = _open(chart_id, title, width, height)
    for tick in ticks:
        y = py(tick)
        parts.append(f'<line x1="{left}" x2="{right}" y1="{_num(y)}" y2="{_num(y)}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end" fill="{MUTED}">{_num(tick)}</text>')
    for t in time_ticks(x0, x1, max(2, int((right - left) // 90))):
        parts.append(f'<line x1="{_num(px(t))}" x2="{_num(px(t))}" y1="{bottom}" y2="{bottom + 4}" stroke="{MUTED}"/>')
        parts.append(
            f'<text x="{_num(px(t))}" y="{bottom + 18}" text-anchor="middle" fill="{MUTED}">{esc(fmt_x(t))}</text>'
        )
    parts.append(f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="{MUTED}"/>')
    if kind == "columns":
        slot = (right - left) / len(x)
        bar = max(1.0, slot * 0.8 / len(series))
        for k, (s, values) in enumerate(series):
            for t, v in zip(x, values, strict=True):
                if v <= 0:
                    continue
                bx = px(t) + slot * 0.1 + k * bar
                parts.append(
                    f'<rect x="{_num(bx)}" y="{_num(py(v))}" width="{_num(bar)}" height="{_num(bottom - py(v))}" '
                    f'fill="{esc(s.color)}"/>'
                )
    else:
        for s, values in series:
            # Steps, not slopes: each value holds for its whole bucket.
            points = []
            for t, v in zip(x, values, strict=True):
                points += [(px(t), py(v)), (px(t + step), py(v))]
            line = " ".join(f"{_num(a)},{_num(b)}" for a, b in points)
            area = f"{_num(points[0][0])},{bottom} {line} {_num(points[-1][0])},{bottom}"
            parts.append(f'<polygon points="{area}" fill="{esc(s.color)}" fill-opacity="0.15"/>')
            parts.append(f'<polyline points="{line}" fill="none" stroke="{esc(s.color)}" stroke-width="2"/>')
    parts += _legend([s for s, _ in series], right, 14)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, Sequence[float]]],
    series: Sequence[Series],
    *,
    stacked: bool = False,
    empty: str = "",
    width: int = 900,
) -> str:
    """Horizontal bars, one row per label: side by side per series, or stacked into one bar."""
    if not rows:
        return _empty(chart_id, title, empty, width, 80)
    row_height = 26 if stacked else 14 * len(series) + 12
    top = 30
    height = top + row_height * len(rows) + 26
    label_width = min(width * 0.38, max(text_width(label) for label, _ in rows) + 12)
    left, right = label_width + 8, width - 40
    totals = [sum(v) if stacked else max(v, default=0) for _, v in rows]
    ticks = nice_ticks(max(totals, default=0))

    def px(v: float) -> float:
        return left + v / ticks[-1] * (right - left)

    parts = _open(chart_id, title, width, height)
    bottom = top + row_height * len(rows)
    for tick in ticks:
        x = px(tick)
        parts.append(f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{top}" y2="{bottom}" stroke="{GRID}"/>')
        parts.append(f'<text x="{_num(x)}" y="{bottom + 16}" text-anchor="middle" fill="{MUTED}">{_num(tick)}</text>')
    for i, (label, values) in enumerate(rows):
        y = top + i * row_height
        parts.append(
            f'<text x="{_num(left - 8)}" y="{_num(y + row_height / 2 + 4)}" text-anchor="end" fill="{INK}">'
            f"{esc(fit(label, label_width))}</text>"
        )
        if stacked:
            x = left
            for s, v in zip(series, values, strict=True):
                if v > 0:
                    w = px(v) - left
                    parts.append(
                        f'<rect x="{_num(x)}" y="{y + 5}" width="{_num(w)}" height="{row_height - 10}" '
                        f'fill="{esc(s.color)}"><title>{esc(s.name)}: {_num(v)}</title></rect>'
                    )
                    x += w
            parts.append(
                f'<text x="{_num(x + 4)}" y="{_num(y + row_height / 2 + 4)}" fill="{MUTED}">{_num(sum(values))}</text>'
            )
        else:
            for k, (s, v) in enumerate(zip(series, values, strict=True)):
                by = y + 6 + k * 14
                parts.append(
                    f'<rect x="{left}" y="{by}" width="{_num(max(px(v) - left, 0))}" height="12" '
                    f'fill="{esc(s.color)}"><title>{esc(s.name)}: {_num(v)}</title></rect>'
                )
                parts.append(f'<text x="{_num(px(v) + 4)}" y="{by + 10}" fill="{MUTED}">{_num(v)}</text>')
    parts += _legend(series, right, 16)
    parts.append("</svg>")
    return "".join(parts)
