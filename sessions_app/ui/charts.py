"""Small charts drawn on the server as SVG: stacked bars, upright (periods along the bottom) or lying (one row per
group or agent). No script and no library: the page shows them as it shows any markup, and prints them.

Every text that reaches the markup goes through `escape`; colours are CSS classes (`static/css/admin.css`).
"""
from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Series:
    name: str
    css_class: str  # colours the bars and the legend's swatch
    values: list[float]


def _legend(series: list[Series], y: float) -> str:
    parts, x = [], 0.0
    for one in series:
        parts.append(f'<rect class="{one.css_class}" x="{x:.0f}" y="{y - 9:.0f}" width="10" height="10" rx="2"/>'
                     f'<text x="{x + 14:.0f}" y="{y:.0f}">{escape(one.name)}</text>')
        x += 22 + 7 * len(one.name)
    return "".join(parts)


def _nice_top(value: float) -> tuple[float, int]:
    """A round axis top at or above `value` (1, 2 or 5 times a power of ten) and how many round steps reach it."""
    if value <= 0:
        return 1.0, 4
    power = 1.0
    while power * 10 <= value:
        power *= 10
    for factor, steps in ((1, 5), (2, 4), (5, 5), (10, 5)):
        if factor * power >= value:
            return factor * power, steps
    return 10 * power, 5


def upright_bars(title: str, labels: list[str], series: list[Series], *, unit: str = "") -> SafeString:
    """Stacked columns, one per label (a period), with a value axis; labels thinned when there are many."""
    width, height, left, bottom, top = 640, 260, 44, 40, 28
    plot_w, plot_h = width - left - 8, height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    axis_top, steps = _nice_top(max(totals, default=0))
    slot = plot_w / max(len(labels), 1)
    bar = max(min(slot * 0.7, 48), 1)
    parts = [f'<svg class="report-chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title><text class="chart-title" x="0" y="14">{escape(title)}</text>']
    for tick in range(steps + 1):
        value = axis_top * tick / steps
        y = top + plot_h - plot_h * tick / steps
        parts.append(f'<line class="grid" x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value:g}{escape(unit)}</text>')
    every = max(1, round(len(labels) / 12))
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar) / 2
        y = top + plot_h
        for one in series:
            h = plot_h * one.values[i] / axis_top
            if h > 0:
                y -= h
                parts.append(f'<rect class="{one.css_class}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                             f"<title>{escape(label)}: {escape(one.name)} {one.values[i]:g}</title></rect>")
        if i % every == 0:
            parts.append(f'<text class="axis" x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                         f"{escape(label[5:10] if len(label) >= 10 else label)}</text>")
    parts.append(f'<g transform="translate({left},{height - 6})">{_legend(series, 0)}</g></svg>')
    return mark_safe("".join(parts))


def lying_bars(title: str, labels: list[str], series: list[Series], *, unit: str = "",
               share: bool = False) -> SafeString:
    """Stacked bars, one row per label (a group, an agent); `share` draws each row as parts of its own total."""
    row, left, right, top = 26, 150, 60, 26
    width = 640
    height = top + row * max(len(labels), 1) + 28
    plot_w = width - left - right
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    scale_top = 1.0 if share else _nice_top(max(totals, default=0))[0]
    parts = [f'<svg class="report-chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title><text class="chart-title" x="0" y="14">{escape(title)}</text>']
    for i, label in enumerate(labels):
        y = top + row * i
        parts.append(f'<text class="axis" x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(label[:22])}</text>')
        x = float(left)
        for one in series:
            value = one.values[i]
            part = value / totals[i] if share and totals[i] else value / scale_top
            w = plot_w * part
            if w > 0:
                parts.append(f'<rect class="{one.css_class}" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 8}">'
                             f"<title>{escape(label)}: {escape(one.name)} {value:g}{escape(unit)}</title></rect>")
                x += w
        if not share:
            parts.append(f'<text class="axis" x="{x + 6:.1f}" y="{y + 15}">{totals[i]:g}{escape(unit)}</text>')
    parts.append(f'<g transform="translate({left},{height - 8})">{_legend(series, 0)}</g></svg>')
    return mark_safe("".join(parts))
