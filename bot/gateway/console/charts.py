"""Charts for the console's reports, drawn on the server as inline SVG.

Pure functions from numbers to markup: no script, nothing fetched, and no `style=` attribute (the
console's policy allows only its own style sheet), so colours and sizes are classes in console.css or
SVG presentation attributes. Every text is escaped. Each chart comes with a table of the same numbers,
for screen readers and for reading exact values: the SVG is labelled by its <title>, the table has a
caption and header cells with their scope.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 36
# Ranking charts put their labels on the left.
RANKING_LEFT, RANKING_ROW = 180, 24
MAX_AXIS_LABELS = 8
SERIES_CLASSES = 4
_ID = re.compile(r"^[a-z][a-z0-9-]*$")

ValueText = Callable[[Optional[float]], str]


def count_text(value: Optional[float]) -> str:
    return "no data" if value is None else f"{value:g}"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Optional[float]]


def bar_chart(chart_id: str, title: str, labels: Sequence[str], series: Series, *,
              label_heading: str = "Period", value_text: ValueText = count_text, whole: bool = True) -> Markup:
    """One bar per label. `whole`: the values are counts, so the axis has no fractional ticks."""
    _check(chart_id, labels, [series])
    top = _scale_top(series.values, whole)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_width / max(len(labels), 1)
    bar = max(step * 0.8, 1.0)
    shapes = []
    for index, (label, value) in enumerate(zip(labels, series.values, strict=True)):
        if value is None:
            continue
        height = plot_height * value / top
        shapes.append(f'<rect x="{LEFT + index * step + (step - bar) / 2:.2f}" y="{TOP + plot_height - height:.2f}" '
                      f'width="{bar:.2f}" height="{height:.2f}"><title>{escape(label)}: '
                      f'{escape(value_text(value))}</title></rect>')
    svg = (_svg_open(chart_id, title) + _value_axis(top, whole, value_text) + _period_axis(labels, step)
           + f'<g class="bars series-0">{"".join(shapes)}</g></svg>')
    return _figure(chart_id, title, svg, _table(title, labels, [series], label_heading, value_text))


def line_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *,
               label_heading: str = "Period", value_text: ValueText = count_text, whole: bool = True) -> Markup:
    """One line per series, with a dot on every value (so a single period still shows); a period with
    no value breaks the line."""
    _check(chart_id, labels, series)
    if not 1 <= len(series) <= SERIES_CLASSES:
        raise ValueError(f"a line chart has 1 to {SERIES_CLASSES} series")
    top = _scale_top([value for one in series for value in one.values], whole)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_width / max(len(labels), 1)
    lines = []
    for number, one in enumerate(series):
        points: List[List[Tuple[float, float]]] = [[]]
        dots = []
        for index, (label, value) in enumerate(zip(labels, one.values, strict=True)):
            if value is None:
                points.append([])
                continue
            x, y = LEFT + index * step + step / 2, TOP + plot_height - plot_height * value / top
            points[-1].append((x, y))
            dots.append(f'<circle cx="{x:.2f}" cy="{y:.2f}" r="3"><title>{escape(one.name)}, {escape(label)}: '
                        f'{escape(value_text(value))}</title></circle>')
        runs = "".join(f'<polyline fill="none" points="{" ".join(f"{x:.2f},{y:.2f}" for x, y in run)}"/>'
                       for run in points if len(run) > 1)
        lines.append(f'<g class="line series-{number}">{runs}{"".join(dots)}</g>')
    svg = (_svg_open(chart_id, title) + _value_axis(top, whole, value_text) + _period_axis(labels, step)
           + "".join(lines) + _legend(series) + "</svg>")
    return _figure(chart_id, title, svg, _table(title, labels, series, label_heading, value_text))


def ranking_chart(chart_id: str, title: str, labels: Sequence[str], series: Series, *,
                  label_heading: str, value_text: ValueText = count_text) -> Markup:
    """Horizontal bars, largest first as given: for named categories such as intents."""
    _check(chart_id, labels, [series])
    top = _scale_top(series.values, True)
    height = TOP + RANKING_ROW * max(len(labels), 1) + 8
    plot_width = WIDTH - RANKING_LEFT - RIGHT
    rows = []
    for index, (label, value) in enumerate(zip(labels, series.values, strict=True)):
        y = TOP + index * RANKING_ROW
        length = 0.0 if value is None else plot_width * value / top
        rows.append(f'<text class="label" x="{RANKING_LEFT - 6}" y="{y + RANKING_ROW * 0.65:.2f}" '
                    f'text-anchor="end">{escape(label)}</text>'
                    f'<rect x="{RANKING_LEFT}" y="{y + 4}" width="{length:.2f}" height="{RANKING_ROW - 8}">'
                    f'<title>{escape(label)}: {escape(value_text(value))}</title></rect>'
                    f'<text class="value" x="{RANKING_LEFT + length + 4:.2f}" y="{y + RANKING_ROW * 0.65:.2f}">'
                    f'{escape(value_text(value))}</text>')
    if not labels:
        rows.append(f'<text class="label" x="{RANKING_LEFT}" y="{TOP + RANKING_ROW * 0.65:.2f}">none</text>')
    svg = (_svg_open(chart_id, title, height) + f'<g class="bars series-0">{"".join(rows)}</g></svg>')
    return _figure(chart_id, title, svg, _table(title, labels, [series], label_heading, value_text))


def _check(chart_id: str, labels: Sequence[str], series: Sequence[Series]) -> None:
    # The id is written into attributes and references: only a plain one will do.
    if not _ID.match(chart_id):
        raise ValueError(f"chart id {chart_id!r} must be lower-case letters, digits and hyphens")
    for one in series:
        if len(one.values) != len(labels):
            raise ValueError(f"series {one.name!r} has {len(one.values)} values for {len(labels)} labels")
        if any(value is not None and (value < 0 or not math.isfinite(value)) for value in one.values):
            raise ValueError(f"series {one.name!r} has a negative or infinite value")


def _scale_top(values: Sequence[Optional[float]], whole: bool) -> float:
    """A round number at or above the largest value (1, 2 or 5 times a power of ten)."""
    largest = max((value for value in values if value is not None), default=0.0)
    if largest <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(largest))
    top = next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= largest)
    return max(top, 1.0) if whole else top


def _svg_open(chart_id: str, title: str, height: int = HEIGHT) -> str:
    return (f'<svg class="chart-svg" role="img" aria-labelledby="{chart_id}-title" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{chart_id}-title">{escape(title)}</title>')


def _value_axis(top: float, whole: bool, value_text: ValueText) -> str:
    plot_height = HEIGHT - TOP - BOTTOM
    ticks = [tick for tick in (0.0, top / 2, top) if not whole or tick == int(tick)]
    parts = [f'<line x1="{LEFT}" y1="{TOP + plot_height}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_height}"/>']
    for tick in ticks:
        y = TOP + plot_height - plot_height * tick / top
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.2f}" x2="{WIDTH - RIGHT}" y2="{y:.2f}"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.2f}" text-anchor="end">{escape(value_text(tick))}</text>')
    return f'<g class="axis">{"".join(parts)}</g>'


def _period_axis(labels: Sequence[str], step: float) -> str:
    """At most MAX_AXIS_LABELS labels under the plot, evenly spaced; the table has every one."""
    every = max(1, math.ceil(len(labels) / MAX_AXIS_LABELS))
    y = HEIGHT - BOTTOM + 16
    texts = [f'<text x="{LEFT + index * step + step / 2:.2f}" y="{y}" text-anchor="middle">{escape(label)}</text>'
             for index, label in enumerate(labels) if index % every == 0]
    return f'<g class="axis">{"".join(texts)}</g>'


def _legend(series: Sequence[Series]) -> str:
    items = []
    for number, one in enumerate(series):
        x = LEFT + number * 150
        items.append(f'<g class="line series-{number}"><rect x="{x}" y="8" width="12" height="12"/>'
                     f'<text class="legend" x="{x + 16}" y="18">{escape(one.name)}</text></g>')
    return f'<g class="legend">{"".join(items)}</g>'


def _table(title: str, labels: Sequence[str], series: Sequence[Series], label_heading: str,
           value_text: ValueText) -> str:
    head = "".join(f'<th scope="col">{escape(one.name)}</th>' for one in series)
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f"<td>{escape(value_text(one.values[index]))}</td>" for one in series) + "</tr>"
        for index, label in enumerate(labels))
    return (f'<table class="chart-data"><caption>{escape(title)}</caption><thead><tr>'
            f'<th scope="col">{escape(label_heading)}</th>{head}</tr></thead><tbody>{rows}</tbody></table>')


def _figure(chart_id: str, title: str, svg: str, table: str) -> Markup:
    return Markup(f'<figure class="chart" id="{chart_id}" aria-labelledby="{chart_id}-caption">'
                  f'<figcaption id="{chart_id}-caption">{escape(title)}</figcaption>'
                  f'<div class="chart-body">{svg}<div class="chart-table">{table}</div></div></figure>')
