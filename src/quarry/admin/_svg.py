"""Plots as inline SVG, drawn in Python: a line chart of time series and a stacked bar chart. No JavaScript and no
plotting library; a plot is a few kilobytes of markup that the page's first paint already contains."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

from quarry.admin._html import Html, html, join

__all__ = ["COLOURS", "legend", "line_chart", "number", "stacked_bars"]

COLOURS = ("#2f6fde", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#d4ac0d", "#7f8c8d")
_W, _H = 560, 170
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 10, 8, 22


def number(value: float) -> str:
    """A short label: 1.2k, 3.4M, 0.05."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.1f}M"
    if size >= 1e3:
        return f"{value / 1e3:.1f}k"
    if size >= 10 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2g}" if size >= 0.01 else f"{value:.1g}"


def _ceiling(value: float) -> float:
    """A round top for the y axis (1, 2 or 5 times a power of ten) at or above `value`."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _axes(top: float, x_labels: Sequence[tuple[float, str]], *, bars: bool = False) -> Html:
    inner_h = _H - _TOP - _BOTTOM
    parts = []
    for share in (0.0, 0.5, 1.0):
        y = _TOP + inner_h * (1 - share)
        parts.append(
            html(
                '<line x1="{}" x2="{}" y1="{y}" y2="{y}" stroke="#e6e8eb"/>'
                '<text x="{}" y="{}" text-anchor="end" font-size="10" fill="#5b6570">{}</text>',
                _LEFT,
                _W - _RIGHT,
                _LEFT - 5,
                f"{y + 3:.1f}",
                number(top * share),
                y=f"{y:.1f}",
            )
        )
    for index, (x, label) in enumerate(x_labels):
        # A time axis's first and last labels sit at its ends: anchored inwards, they are not cut off.
        anchor = "middle" if bars else "start" if index == 0 else "end" if index == len(x_labels) - 1 else "middle"
        parts.append(
            html(
                '<text x="{}" y="{}" text-anchor="{}" font-size="10" fill="#5b6570">{}</text>',
                f"{x:.1f}",
                _H - 6,
                anchor,
                label,
            )
        )
    return join(parts)


def _clock(seconds: float, span_s: float) -> str:
    return time.strftime("%H:%M:%S" if span_s < 600 else "%H:%M", time.gmtime(seconds))


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]], *, start: float, end: float, label: str = "", empty: str = ""
) -> Html:
    """Lines of (epoch second, value) between `start` and `end`; the x axis in UTC."""
    span = max(end - start, 1.0)
    top = _ceiling(max((value for points in series.values() for _, value in points), default=0.0))
    inner_w, inner_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x_of(at: float) -> float:
        return _LEFT + inner_w * (at - start) / span

    lines = []
    for index, (name, points) in enumerate(series.items()):
        if not points:
            continue
        xy = [(x_of(at), _TOP + inner_h * (1 - value / top)) for at, value in points]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        colour = COLOURS[index % len(COLOURS)]
        if len(xy) < 12:  # a line of a few points (a quiet minute's latencies) shows each point too
            dot = '<circle cx="{}" cy="{}" r="2.5" fill="{}"/>'
            lines += [html(dot, f"{x:.1f}", f"{y:.1f}", colour) for x, y in xy]
        lines.append(
            html(
                '<polyline fill="none" stroke="{}" stroke-width="1.6" points="{}"><title>{}</title></polyline>',
                colour,
                path,
                name,
            )
        )
    ticks = [(x_of(start + span * share), _clock(start + span * share, span)) for share in (0.0, 0.5, 1.0)]
    note = html(
        '<text x="{}" y="{}" text-anchor="middle" font-size="12" fill="#8a939c">{}</text>', _W / 2, _H / 2, empty
    )
    return html(
        '<svg viewBox="0 0 {} {}" role="img" aria-label="{}" class="chart">{}{}{}</svg>',
        _W,
        _H,
        label,
        _axes(top, ticks),
        join(lines),
        note if not lines and empty else Html(""),
    )


def stacked_bars(labels: Sequence[str], stacks: Mapping[str, Sequence[float]], *, label: str = "") -> Html:
    """One bar per label, each made of `stacks`' values at that position (every sequence as long as `labels`)."""
    inner_w, inner_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    totals = [sum(values[i] for values in stacks.values()) for i in range(len(labels))]
    top = _ceiling(max(totals, default=0.0))
    slot = inner_w / max(len(labels), 1)
    bar = max(min(slot * 0.7, 40), 1)
    rects = []
    for i, name in enumerate(labels):
        base = 0.0
        x = _LEFT + slot * i + (slot - bar) / 2
        for index, (stack, values) in enumerate(stacks.items()):
            value = values[i]
            if value <= 0:
                continue
            y = _TOP + inner_h * (1 - (base + value) / top)
            height = inner_h * value / top
            rects.append(
                html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {}</title></rect>',
                    f"{x:.1f}",
                    f"{y:.1f}",
                    f"{bar:.1f}",
                    f"{height:.1f}",
                    COLOURS[index % len(COLOURS)],
                    name,
                    stack,
                    number(value),
                )
            )
            base += value
    every = max(1, len(labels) // 8)  # at most about eight labels under the bars
    ticks = [(_LEFT + slot * (i + 0.5), name) for i, name in enumerate(labels) if i % every == 0]
    return html(
        '<svg viewBox="0 0 {} {}" role="img" aria-label="{}" class="chart">{}{}</svg>',
        _W,
        _H,
        label,
        _axes(top, ticks, bars=True),
        join(rects),
    )


def legend(names: Sequence[str]) -> Html:
    return html(
        '<div class="legend">{}</div>',
        join(
            html('<i style="background:{}"></i>{}', COLOURS[index % len(COLOURS)], name)
            for index, name in enumerate(names)
        ),
    )
