"""Chart geometry for the console's dashboard, drawn as inline SVG by its templates (pure, no I/O).

The console loads no chart library (no CDN, a strict Content-Security-Policy): a chart is a handful of
rectangles, the templates write them as ``<rect>`` elements with their numbers in a ``<title>`` and a table
beside them for screen readers. Here only the arithmetic: where each bar goes, and the axis' round top value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 720
HEIGHT = 220
MARGIN_LEFT = 48  # room for the axis labels
MARGIN_BOTTOM = 30  # room for the hour labels
GAP = 0.2  # share of a slot left empty between bars


@dataclass(frozen=True)
class Segment:
    series: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Column:
    label: str
    total: int
    segments: list[Segment]
    label_x: float


@dataclass(frozen=True)
class Chart:
    columns: list[Column]
    top: int
    """The axis' top value (a round number at or above the tallest column)."""
    ticks: list[tuple[int, float]]
    """(value, y) of the horizontal guide lines."""
    width: int = WIDTH
    height: int = HEIGHT
    plot_bottom: float = HEIGHT - MARGIN_BOTTOM
    plot_left: float = MARGIN_LEFT


def round_top(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^n at or above ``value`` (at least 1: an empty chart still has an axis)."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if step * top >= value:
                return step * top
        top *= 10


def stacked(
    labels: Sequence[str], series: Sequence[str], values: Sequence[Sequence[int]], *, label_every: int = 3
) -> Chart:
    """One column per label, ``values[i][j]`` the height of series ``j`` in column ``i``, stacked bottom up."""
    top = round_top(max((sum(v) for v in values), default=0))
    plot_height = HEIGHT - MARGIN_BOTTOM - 8
    slot = (WIDTH - MARGIN_LEFT) / max(len(labels), 1)
    bottom = float(HEIGHT - MARGIN_BOTTOM)
    columns: list[Column] = []
    for i, (label, column) in enumerate(zip(labels, values, strict=True)):
        x = MARGIN_LEFT + i * slot + slot * GAP / 2
        y = bottom
        segments = []
        for name, value in zip(series, column, strict=True):
            height = plot_height * value / top
            y -= height
            segments.append(
                Segment(name, value, round(x, 1), round(y, 1), round(slot * (1 - GAP), 1), round(height, 1))
            )
        shown = label if i % label_every == 0 else ""
        columns.append(Column(shown, sum(column), segments, round(x + slot * (1 - GAP) / 2, 1)))
    ticks = [(value, round(bottom - plot_height * value / top, 1)) for value in sorted({0, top // 2, top})]
    return Chart(columns, top, ticks)
