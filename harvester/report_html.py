"""The report as one self-contained HTML page: inline SVG charts and CSS, no scripts or links.

Every SVG element is well-formed XML, so the charts also open on their own in any SVG viewer.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from harvester.report import BAND_WIDTH, Report, Scores, format_number

#: The CSAT axis runs from 0 to this, or to the highest CSAT when that is higher.
CSAT_SCALE = 100.0
NPS_LOW, NPS_HIGH = -100.0, 100.0

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; color: #1f2933; margin: 2rem auto; max-width: 980px; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #d9e2ec; }
.muted { color: #627d98; }
.cards { display: flex; flex-wrap: wrap; gap: 1rem; margin: 1rem 0; }
.card { border: 1px solid #d9e2ec; border-radius: 6px; padding: 0.6rem 1rem; min-width: 8rem; }
.card b { display: block; font-size: 1.5rem; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5rem; }
svg text { font: 11px system-ui, sans-serif; fill: #334e68; }
svg .title { font-size: 13px; font-weight: 600; fill: #102a43; }
svg .bar { fill: #3e7cb1; }
svg .negative { fill: #d64545; }
svg .axis { stroke: #9fb3c8; stroke-width: 1; }
svg .grid { stroke: #e4e7eb; stroke-width: 1; }
svg .point { fill: #3e7cb1; fill-opacity: 0.35; }
table { border-collapse: collapse; margin-top: 0.8rem; }
th, td { padding: 0.15rem 0.7rem; text-align: right; border-bottom: 1px solid #eef2f6; }
th:first-child, td:first-child { text-align: left; }
"""


def render_html(report: Report) -> str:
    """Render the whole report page."""
    overall = report.overall
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>CSAT report of {_text(str(report.out))}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<h1>CSAT report</h1>",
        f'<p class="muted">{_text(str(report.out))}{_period(report)}</p>',
    ]

    if overall.responses == 0:
        parts += ["<p>No finished surveys: nothing to report.</p>", "</body>", "</html>"]
        return "\n".join(parts) + "\n"
    parts += [
        '<div class="cards">',
        _card("responses", f"{overall.responses:,}"),
        _card("CSAT (mean totalScore)", format_number(overall.csat)),
        _card("NPS (9-10 minus 0-6, %)", format_number(overall.nps)),
        _card("evaluated responses", f"{report.evaluated:,}"),
        "</div>",
    ]
    if report.other_statuses:
        others = ", ".join(f"{status} {count:,}" for status, count in report.other_statuses.items())
        parts.append(f'<p class="muted">Not counted, other statuses: {_text(others)}</p>')

    parts += _section("By ISO week", "ISO week", report.weeks, vertical=True)
    parts += _section("By queue", "queue", report.queues, vertical=False)
    parts += _section("By agent", "agent", report.agents, vertical=False)
    parts += _evaluation_section(report)
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _period(report: Report) -> str:
    if report.first_completed is None:
        return ""
    return f", surveys completed {report.first_completed} to {report.last_completed}"


def _card(label: str, value: str) -> str:
    return f'<div class="card"><span class="muted">{_text(label)}</span><b>{_text(value)}</b></div>'


def _section(heading: str, column: str, rows: list[Scores], *, vertical: bool) -> list[str]:
    csat_high = max([CSAT_SCALE, *(row.csat or 0.0 for row in rows)])
    csat = [(row.label, row.csat) for row in rows]
    nps = [(row.label, row.nps) for row in rows]
    grouping = heading[0].lower() + heading[1:]  # "By ISO week" -> "by ISO week"
    if vertical:
        charts = [
            vertical_bars(f"CSAT {grouping}", csat, 0.0, csat_high),
            vertical_bars(f"NPS {grouping}", nps, NPS_LOW, NPS_HIGH),
        ]
    else:
        charts = [
            horizontal_bars(f"CSAT {grouping}", csat, 0.0, csat_high),
            horizontal_bars(f"NPS {grouping}", nps, NPS_LOW, NPS_HIGH),
        ]
    table = _table(
        [column, "responses", "CSAT", "NPS"],
        [
            [row.label, f"{row.responses:,}", format_number(row.csat), format_number(row.nps)]
            for row in rows
        ],
    )
    note = "" if vertical else '<p class="muted">Those with the most responses first.</p>'
    return [f"<h2>{_text(heading)}</h2>", note, '<div class="charts">', *charts, "</div>", table]


def _evaluation_section(report: Report) -> list[str]:
    correlation = "-" if report.correlation is None else f"{report.correlation:.2f}"
    bands = [(band.label, band.csat) for band in report.bands]
    csat_high = max([CSAT_SCALE, *(band.csat or 0.0 for band in report.bands)])
    table = _table(
        ["evaluation score", "responses", "CSAT"],
        [[band.label, f"{band.responses:,}", format_number(band.csat)] for band in report.bands],
    )
    return [
        "<h2>CSAT against evaluation score</h2>",
        f'<p class="muted">{report.evaluated:,} responses whose conversation has a quality '
        f"evaluation score (the mean of its evaluations); correlation {correlation}. Bands are "
        f"{BAND_WIDTH} points wide.</p>",
        '<div class="charts">',
        scatter(
            "CSAT by evaluation score",
            report.pairs,
            x_label="evaluation score",
            y_label="CSAT",
            y_high=csat_high,
        ),
        vertical_bars("CSAT by evaluation score band", bands, 0.0, csat_high),
        "</div>",
        table,
    ]


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_text(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_text(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# SVG charts


def horizontal_bars(
    title: str, rows: Sequence[tuple[str, float | None]], low: float, high: float
) -> str:
    """Draw one horizontal bar per row, from zero to its value, with the value at the bar's end."""
    label_width, plot_width, value_width, row_height, top = 170.0, 230.0, 50.0, 22.0, 30.0
    width = label_width + plot_width + value_width
    height = top + row_height * max(len(rows), 1) + 10
    scale = _Scale(low, high, label_width, label_width + plot_width)
    zero = scale(0.0)
    parts = [_svg_open(width, height, title), _title_text(title)]
    parts.append(_line(zero, top - 4, zero, height - 6, "axis"))
    for index, (label, value) in enumerate(rows):
        y = top + index * row_height
        parts.append(_label(label_width - 6, y + 15, _shorten(label, 26), anchor="end"))
        if value is None:
            parts.append(_label(zero + 4, y + 15, "-"))
            continue
        end = scale(value)
        left, right = min(zero, end), max(zero, end)
        kind = "negative" if value < 0 else "bar"
        parts.append(_rect(left, y + 3, right - left, row_height - 6, kind))
        parts.append(_label(right + 4, y + 15, format_number(value)))
    parts.append("</svg>")
    return "".join(parts)


def vertical_bars(
    title: str, rows: Sequence[tuple[str, float | None]], low: float, high: float
) -> str:
    """Draw one column per row on a value axis from ``low`` to ``high``, labels below."""
    left, top, plot_height, label_height = 40.0, 30.0, 160.0, 60.0
    column = max(12.0, min(48.0, 400.0 / max(len(rows), 1)))
    width = left + column * max(len(rows), 1) + 10
    height = top + plot_height + label_height
    scale = _Scale(low, high, top + plot_height, top)

    parts = [_svg_open(width, height, title), _title_text(title)]
    for tick in _ticks(low, high):
        y = scale(tick)
        parts.append(_line(left, y, width - 10, y, "grid"))
        parts.append(_label(left - 4, y + 4, f"{tick:g}", anchor="end"))
    zero = scale(max(low, 0.0))
    parts.append(_line(left, zero, width - 10, zero, "axis"))

    every = max(1, len(rows) // 26 + 1)  # label every n-th column once they get crowded
    for index, (label, value) in enumerate(rows):
        x = left + index * column
        if index % every == 0:
            bottom = top + plot_height + 8
            parts.append(
                f'<text x="{x + column / 2:.1f}" y="{bottom:.1f}" text-anchor="end" '
                f'transform="rotate(-45 {x + column / 2:.1f} {bottom:.1f})">{_text(_shorten(label, 12))}</text>'
            )
        if value is None:
            continue
        end = scale(value)
        upper, lower = min(zero, end), max(zero, end)
        kind = "negative" if value < 0 else "bar"
        parts.append(
            _rect(x + column * 0.15, upper, column * 0.7, lower - upper, kind, format_number(value))
        )
        if column >= 30:  # room for the value above (or below) the column
            text_y = upper - 3 if value >= 0 else lower + 11
            parts.append(_label(x + column / 2, text_y, format_number(value), anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)


def scatter(
    title: str,
    points: Sequence[tuple[float, float]],
    *,
    x_label: str,
    y_label: str,
    y_high: float,
) -> str:
    """Draw one dot per (x, y) point, x from 0 to 100 and y from 0 to ``y_high``."""
    left, top, plot_width, plot_height = 40.0, 30.0, 300.0, 200.0
    width, height = left + plot_width + 15, top + plot_height + 40
    x_scale = _Scale(0.0, 100.0, left, left + plot_width)
    y_scale = _Scale(0.0, y_high, top + plot_height, top)
    parts = [_svg_open(width, height, title), _title_text(title)]
    for tick in _ticks(0.0, y_high):
        y = y_scale(tick)
        parts.append(_line(left, y, left + plot_width, y, "grid"))
        parts.append(_label(left - 4, y + 4, f"{tick:g}", anchor="end"))
    for tick in _ticks(0.0, 100.0):
        x = x_scale(tick)
        parts.append(_label(x, top + plot_height + 14, f"{tick:g}", anchor="middle"))
    parts.append(_line(left, top + plot_height, left + plot_width, top + plot_height, "axis"))
    parts.append(_line(left, top, left, top + plot_height, "axis"))
    for x_value, y_value in points:
        parts.append(
            f'<circle class="point" cx="{x_scale(x_value):.1f}" cy="{y_scale(y_value):.1f}" r="3"/>'
        )
    parts.append(_label(left + plot_width / 2, height - 6, x_label, anchor="middle"))
    parts.append(
        f'<text x="12" y="{top + plot_height / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + plot_height / 2:.1f})">{_text(y_label)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


class _Scale:
    """Map values in ``[low, high]`` linearly onto pixels ``[start, end]``, clamping outliers."""

    def __init__(self, low: float, high: float, start: float, end: float) -> None:
        self._low = low
        self._span = (high - low) or 1.0
        self._start = start
        self._end = end

    def __call__(self, value: float) -> float:
        fraction = min(1.0, max(0.0, (value - self._low) / self._span))
        return self._start + fraction * (self._end - self._start)


def _ticks(low: float, high: float) -> list[float]:
    step = 50.0 if high - low > 150 else 25.0
    first = int(low // step)
    return [index * step for index in range(first, int(high // step) + 1)]


def _svg_open(width: float, height: float, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img"><title>{_text(title)}</title>'
    )


def _title_text(title: str) -> str:
    return f'<text class="title" x="4" y="16">{_text(title)}</text>'


def _label(x: float, y: float, text: str, *, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{_text(text)}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, kind: str) -> str:
    return f'<line class="{kind}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>'


def _rect(x: float, y: float, width: float, height: float, kind: str, tooltip: str = "") -> str:
    title = f"<title>{_text(tooltip)}</title>" if tooltip else ""
    return (
        f'<rect class="{kind}" x="{x:.1f}" y="{y:.1f}" width="{max(width, 0.5):.1f}" '
        f'height="{max(height, 0.5):.1f}">{title}</rect>'
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: str) -> str:
    """Escape text for HTML and XML alike; control characters are not allowed in XML 1.0."""
    cleaned = "".join(char if char >= " " or char in "\t\n" else " " for char in value)
    return html.escape(cleaned, quote=True)
