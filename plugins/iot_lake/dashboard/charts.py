"""Charts as inline SVG, drawn on the server from query rows.

Why hand-drawn SVG: the API server has no network and the pages must render in any
browser without a JavaScript bundle; a line and a bar chart are a few dozen lines of
geometry, and every value stays inspectable in the page (``<title>`` tooltips and
``data-*`` attributes, which the browser test reads).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip

WIDTH, HEIGHT = 720, 260
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 24, 40


@dataclass(frozen=True)
class Series:
    """One named line: x labels (already ordered) and y values (None = gap)."""

    name: str
    points: Sequence[tuple[str, float | None]]
    dash: str = ""


def nice_ticks(low: float, high: float, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values covering [low, high] (the usual 1-2-5 steps; whole for counts)."""
    if math.isclose(low, high):
        # A flat series: counts (and other non-negative values) keep 0 as the baseline.
        low, high = (0.0, max(high, 1.0)) if low >= 0 else (low - 1, high + 1)
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    ticks = [math.floor(low / step) * step]
    while ticks[-1] < high - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(value: float) -> str:
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}"


def _frame(
    title: str, body: list[str], legend: list[tuple[str, str]], height: int = HEIGHT
) -> Markup:
    items = "".join(
        f'<span class="legend-item"><i style="background:{color}"></i>{escape(name)}</span>'
        for name, color in legend
    )
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body)
        + "</svg>"
    )
    return Markup(
        f'<figure class="chart-box"><figcaption>{escape(title)}</figcaption>'
        f'{svg}<div class="legend">{items}</div></figure>'
    )


CHAR_W = 6.2  # px per character of an 11 px tick label, for the fit checks below
MAX_ROTATED = 40  # labels drawn one by one when rotated; more are thinned


def _label_layout(x_labels: Sequence[str], slot: float) -> tuple[bool, int]:
    """(rotate?, extra bottom margin): long labels that would overlap are drawn at -40°."""
    shown = [x[5:] if _ISO_DAY.match(x) else x for x in x_labels]
    longest = max((len(x) for x in shown), default=0)
    if len(shown) <= 8 and longest * CHAR_W <= slot * 0.9:
        return False, 0
    if len(shown) > 8 and longest <= 5:  # short labels (days, hours): thinned, not rotated
        return False, 0
    return True, int(min(longest, 28) * CHAR_W * 0.65)


def _axes(
    y_ticks: list[float],
    y_of,
    x_labels: Sequence[str],
    x_of,
    unit: str,
    rotate: bool = False,
    height: int = HEIGHT,
    bottom: int = BOTTOM,
) -> list[str]:
    parts = []
    for tick in y_ticks:
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(tick)}</text>"
        )
    if unit:
        parts.append(
            f'<text class="unit" x="{LEFT - 6}" y="{TOP - 10}" text-anchor="end">'
            f"{escape(unit)}</text>"
        )
    # Unrotated: at most ~8 x labels so they never overlap; rotated: each label (up to
    # MAX_ROTATED), cut at 28 characters with the full text in a tooltip. ISO days as MM-DD.
    every = max(1, math.ceil(len(x_labels) / (MAX_ROTATED if rotate else 8)))
    shown = [x[5:] if _ISO_DAY.match(x) else x for x in x_labels]
    base = height - bottom
    for index, label in enumerate(shown):
        if index % every == 0 or index == len(x_labels) - 1:
            text = label if len(label) <= 28 else label[:27] + "…"
            if rotate:
                x, y = x_of(index), base + 12
                parts.append(
                    f'<text class="tick" x="{x:.1f}" y="{y}" text-anchor="end" '
                    f'transform="rotate(-40 {x:.1f} {y})"><title>{escape(label)}</title>'
                    f"{escape(text)}</text>"
                )
            else:
                parts.append(
                    f'<text class="tick" x="{x_of(index):.1f}" y="{base + 18}" '
                    f'text-anchor="middle">{escape(text)}</text>'
                )
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}"/>')
    return parts


def line_chart(title: str, series: Sequence[Series], unit: str = "") -> Markup:
    """Lines over a shared, ordered x axis; one colour per series name."""
    x_labels = sorted({x for s in series for x, _ in s.points})
    values = [y for s in series for _, y in s.points if y is not None]
    if not x_labels or not values:
        return Markup(f'<p class="empty">{escape(title)}: no values to draw.</p>')
    ticks = nice_ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(index: int) -> float:
        return LEFT + (plot_w * index / (len(x_labels) - 1) if len(x_labels) > 1 else plot_w / 2)

    def y_of(value: float) -> float:
        return TOP + plot_h * (1 - (value - low) / (high - low))

    body = _axes(ticks, y_of, x_labels, x_of, unit)
    position = {x: i for i, x in enumerate(x_labels)}
    colors: dict[str, str] = {}
    legend: list[tuple[str, str]] = []
    for s in series:
        base = s.name.split(" · ")[0]
        if base not in colors:
            colors[base] = PALETTE[len(colors) % len(PALETTE)]
            legend.append((base, colors[base]))
        color = colors[base]
        segment: list[str] = []
        segments: list[list[str]] = [segment]
        for x, y in s.points:
            if y is None:
                segment = []
                segments.append(segment)
                continue
            segment.append(f"{x_of(position[x]):.1f},{y_of(y):.1f}")
            body.append(
                f'<circle cx="{x_of(position[x]):.1f}" cy="{y_of(y):.1f}" r="2.5" '
                f'fill="{color}" data-series="{escape(s.name)}" data-x="{escape(x)}" '
                f'data-y="{y}"><title>{escape(s.name)} {escape(x)}: {_fmt(y)}</title></circle>'
            )
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        for points in segments:
            if len(points) > 1:
                body.append(
                    f'<polyline fill="none" stroke="{color}" stroke-width="1.6"{dash} '
                    f'points="{" ".join(points)}"/>'
                )
    return _frame(title, body, legend)


def bar_chart(
    title: str, bars: Mapping[str, float], unit: str = "", color: str = PALETTE[0]
) -> Markup:
    """Vertical bars from 0, one per label, in the order given (long labels rotated)."""
    if not bars:
        return Markup(f'<p class="empty">{escape(title)}: no values to draw.</p>')
    return grouped_bar_chart(title, list(bars), {"": [bars[k] for k in bars]}, unit, [color])


def grouped_bar_chart(
    title: str,
    labels: Sequence[str],
    groups: Mapping[str, Sequence[float | None]],
    unit: str = "",
    colors: Sequence[str] = PALETTE,
) -> Markup:
    """Bars from 0: for each x label one bar per group (a legend names the groups).

    ``groups`` maps a group name to one value per label (None = no bar, e.g. no report).
    """
    values = [v for vs in groups.values() for v in vs if v is not None]
    if not labels or not values:
        return Markup(f'<p class="empty">{escape(title)}: no values to draw.</p>')
    whole = all(float(v).is_integer() for v in values)
    ticks = nice_ticks(min(0.0, *values), max(0.0, *values), integer=whole)
    low, high = ticks[0], ticks[-1]
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / len(labels)
    rotate, extra = _label_layout(labels, slot)
    height, bottom = HEIGHT + extra, BOTTOM + extra
    plot_h = height - TOP - bottom

    def x_of(index: int) -> float:
        return LEFT + slot * (index + 0.5)

    def y_of(value: float) -> float:
        return TOP + plot_h * (1 - (value - low) / (high - low))

    body = _axes(ticks, y_of, labels, x_of, unit, rotate=rotate, height=height, bottom=bottom)
    names = list(groups)
    width = max(1.0, slot * 0.7 / len(names))
    legend = []
    for g, name in enumerate(names):
        color = colors[g % len(colors)]
        if name:
            legend.append((name, color))
        for index, label in enumerate(labels):
            value = groups[name][index]
            if value is None:
                continue
            left = x_of(index) - slot * 0.35 + g * width
            top, base = y_of(max(value, 0.0)), y_of(min(value, 0.0))
            series = f' data-series="{escape(name)}"' if name else ""
            tip = f"{name} {label}" if name else label
            body.append(
                f'<rect x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" '
                f'height="{max(base - top, 0.5):.1f}" fill="{color}"{series} '
                f'data-x="{escape(label)}" data-y="{value}">'
                f"<title>{escape(tip)}: {_fmt(value)}</title></rect>"
            )
    return _frame(title, body, legend, height)


def share_bars(title: str, shares: Mapping[str, tuple[int, int]]) -> Markup:
    """Horizontal 0–100 % bars: ``label -> (yes, known)``; unknown stays visibly unknown."""
    if not shares:
        return Markup(f'<p class="empty">{escape(title)}: no values to draw.</p>')
    rows = []
    for index, (label, (yes, known)) in enumerate(shares.items()):
        color = PALETTE[index % len(PALETTE)]
        if known:
            pct = 100.0 * yes / known
            bar = (
                f'<div class="share-track"><div class="share-fill" style="width:{pct:.1f}%;'
                f'background:{color}"></div></div>'
                f'<span class="share-value" data-label="{escape(label)}" data-pct="{pct:.1f}">'
                f"{pct:.1f}% ({yes} of {known})</span>"
            )
        else:
            bar = (
                '<div class="share-track unknown"></div>'
                f'<span class="share-value" data-label="{escape(label)}" data-pct="">'
                "not judged</span>"
            )
        rows.append(
            f'<div class="share-row"><span class="share-label">{escape(label)}</span>{bar}</div>'
        )
    return Markup(
        f'<figure class="chart-box"><figcaption>{escape(title)}</figcaption>'
        f"{''.join(rows)}</figure>"
    )
