"""The planned dashboards drawn from the emulated CloudWatch's data, as SVG.

scripts/render_dashboards.py draws a dashboard body's layout; this draws what the rehearsal's data
makes of it, on the same 24-column grid (its `COLUMN`, `ROW`, `MARGIN`, `FONT`, `_title`, `_clip`):

- `metric` widgets: each metric line of the body (CloudWatch API Reference, "Dashboard Body
  Structure and Syntax": `[Namespace, MetricName, DimensionName, DimensionValue, ..., {options}]`,
  "." meaning the previous line's value in that place) is read with GetMetricData at the line's or
  widget's stat and period and drawn as a polyline, with the axis minimum and maximum, horizontal
  annotations, and a legend with each line's latest value ("no data" when it has none). A right
  `yAxis` line gets its own scale. `singleValue` widgets show the latest values only.
- Expression lines (SEARCH, metric math) are not read: moto evaluates no SEARCH and no math
  (moto's GetMetricData only echoes a query id); their legend says "not evaluated by the emulator".
- `text` widgets show their markdown as plain lines; `alarm` widgets each alarm's current state
  (DescribeAlarms), red in ALARM and grey in INSUFFICIENT_DATA as the console colours them.
- Other widget types (log, explorer...) are named and not drawn; the program deploys none.

Every text (titles, labels, dimension values from the stack's config) is escaped, so the output is
well-formed XML whatever the config holds. Percentile stats need moto_fixes.corrected().
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.offline import Plan
from automation.rehearsal.alarms import with_stored_dimensions
from scripts.render_dashboards import COLUMN, FONT, MARGIN, ROW, _clip, _title

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
NOT_EVALUATED = "not evaluated by the emulator"
NO_DATA = "no data"
DEFAULT_PERIOD = 300  # the metric widget's `period` default
DEFAULT_STAT = "Average"  # the metric widget's `stat` default
# CloudWatch's graph colours, in order, for lines without a `color`.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
STATE_COLOURS = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#7f7f7f"}
BACKGROUNDS = {"metric": "#f7f9fb", "text": "#ffffff", "alarm": "#fdf6ec"}
LEGEND_LINE, AXIS_ROOM = 14, 48
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold
_NAME = re.compile(r"[A-Za-z0-9_\-]+")  # PutDashboard's DashboardName characters


def text(value: Any) -> str:
    """Any value as XML character data or attribute text."""
    return html.escape(_NOT_XML.sub("?", str(value)), quote=True)


def number(value: float) -> str:
    return f"{value:.6g}"


@dataclass
class Line:
    """One line of a metric widget, read."""

    label: str
    colour: str
    axis: str = "left"
    points: list[tuple[float, float]] = field(default_factory=list)  # (epoch seconds, value), oldest first
    note: str = ""  # why it has no points though it may have data (an expression)

    @property
    def legend(self) -> str:
        if self.note:
            return f"{self.label}: {self.note}"
        return f"{self.label}: {number(self.points[-1][1])}" if self.points else f"{self.label}: {NO_DATA}"


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float


# --- Reading the lines -----------------------------------------------------------------------------

def expand(metrics: Sequence[Sequence[Any]]) -> list[tuple[list[Any], dict[str, Any]]]:
    """The metric lines as (fields, options), "." replaced by the previous line's field in that place."""
    expanded, previous = [], []
    for raw in metrics:
        options = dict(raw[-1]) if raw and isinstance(raw[-1], Mapping) else {}
        fields = list(raw[:-1] if options else raw)
        fields = [previous[i] if value == "." and i < len(previous) else value for i, value in enumerate(fields)]
        if fields:
            previous = fields
        expanded.append((fields, options))
    return expanded


def read_lines(properties: Mapping[str, Any], cloudwatch: Any, start: dt.datetime, end: dt.datetime,
               period_seconds: int | None) -> list[Line]:
    """Every line of a metric widget, its points read from `cloudwatch` (expressions left unread)."""
    lines, queries = [], {}
    for index, (fields, options) in enumerate(expand(properties.get("metrics", []))):
        colour = options.get("color") or PALETTE[index % len(PALETTE)]
        axis = options.get("yAxis", "left")
        if not fields:  # an expression line: [{"expression": ..., "label": ...}]
            kind = "SEARCH" if "SEARCH(" in options.get("expression", "") else "metric math"
            lines.append(Line(options.get("label") or options.get("id") or kind, colour, axis, note=f"{NOT_EVALUATED} ({kind})"))
            continue
        namespace, name, *pairs = fields
        dimensions = dict(zip(pairs[::2], pairs[1::2], strict=False))
        stat = options.get("stat") or properties.get("stat") or DEFAULT_STAT
        period = period_seconds or int(options.get("period") or properties.get("period") or DEFAULT_PERIOD)
        label = options.get("label") or " ".join([name, *(f"{k}={v}" for k, v in dimensions.items())])
        lines.append(Line(label, colour, axis))
        queries[f"m{index}"] = (lines[-1], with_stored_dimensions(cloudwatch, {"Id": f"m{index}", "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": name,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]},
            "Period": period, "Stat": stat}, "ReturnData": True}))
    if queries:
        answer = cloudwatch.get_metric_data(MetricDataQueries=[q for _, q in queries.values()], StartTime=start, EndTime=end,
                                            ScanBy="TimestampAscending")
        for result in answer["MetricDataResults"]:
            pairs = sorted((t.timestamp(), float(v)) for t, v in zip(result["Timestamps"], result["Values"], strict=True))
            queries[result["Id"]][0].points = pairs
    return lines


# --- Drawing ---------------------------------------------------------------------------------------

def _text_element(x: float, y: float, content: str, *, size: int = 11, fill: str = "#333", anchor: str = "start",
                  bold: bool = False, css_class: str = "") -> str:
    extra = (' font-weight="bold"' if bold else "") + (f' class="{css_class}"' if css_class else "")
    return (f'<text x="{x:.1f}" y="{y:.1f}" {FONT} font-size="{size}" fill="{fill}" text-anchor="{anchor}"{extra}>'
            f"{text(content)}</text>")


def _scale(lines: Sequence[Line], annotations: Sequence[Mapping[str, Any]]) -> tuple[float, float] | None:
    values = [v for line in lines for _, v in line.points] + [float(a["value"]) for a in annotations if "value" in a]
    return (min(values), max(values)) if values else None


def _plot(box: Box, lines: Sequence[Line], properties: Mapping[str, Any], start: dt.datetime, end: dt.datetime) -> list[str]:
    """The plot of the lines with points: axes' min/max, time range, annotations, polylines."""
    t0, t1 = start.timestamp(), end.timestamp()
    annotations = [a for a in properties.get("annotations", {}).get("horizontal", []) if "value" in a]
    parts = [f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" fill="#ffffff" '
             'stroke="#d5dbe1"/>',
             _text_element(box.x, box.y + box.height + 11, f"{start:%m-%d %H:%M}", size=9, css_class="time"),
             _text_element(box.x + box.width, box.y + box.height + 11, f"{end:%m-%d %H:%M} UTC", size=9, anchor="end",
                           css_class="time")]
    for axis, label_x, anchor in (("left", box.x - 4, "end"), ("right", box.x + box.width + 4, "start")):
        on_axis = [line for line in lines if line.axis == axis]
        extent = _scale(on_axis, annotations if axis == "left" else [])
        if extent is None:
            continue
        low, high = extent
        parts += [_text_element(label_x, box.y + 9, number(high), size=9, anchor=anchor, css_class=f"{axis}-max"),
                  _text_element(label_x, box.y + box.height, number(low), size=9, anchor=anchor, css_class=f"{axis}-min")]

        def y_of(value: float, low: float = low, high: float = high) -> float:
            share = 0.5 if high == low else (value - low) / (high - low)
            return box.y + box.height - share * box.height

        if axis == "left":
            for annotation in annotations:
                level = y_of(float(annotation["value"]))
                parts.append(f'<line x1="{box.x:.1f}" y1="{level:.1f}" x2="{box.x + box.width:.1f}" y2="{level:.1f}" '
                             f'stroke="{text(annotation.get("color", "#d62728"))}" stroke-dasharray="4 3"/>')
                parts.append(_text_element(box.x + 4, level - 3, annotation.get("label", number(float(annotation["value"]))),
                                           size=9, fill=annotation.get("color", "#d62728")))
        for line in on_axis:
            if not line.points:
                continue
            xy = [(box.x + (t - t0) / (t1 - t0) * box.width, y_of(v)) for t, v in line.points]
            coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            parts.append(f'<polyline class="series" points="{coordinates}" fill="none" stroke="{text(line.colour)}" '
                         f'stroke-width="1.5"><title>{text(line.label)}</title></polyline>')
            if len(xy) == 1:  # a polyline of one point draws nothing
                parts.append(f'<circle cx="{xy[0][0]:.1f}" cy="{xy[0][1]:.1f}" r="2.5" fill="{text(line.colour)}"/>')
    return parts


def _legend(box: Box, lines: Sequence[Line], room: int) -> list[str]:
    shown = list(lines) if len(lines) <= room else [*lines[:room - 1], None]
    parts = []
    for index, line in enumerate(shown):
        y = box.y + index * LEGEND_LINE
        if line is None:
            parts.append(_text_element(box.x, y + 10, f"... and {len(lines) - room + 1} more", css_class="legend"))
            continue
        parts.append(f'<rect x="{box.x:.1f}" y="{y + 2:.1f}" width="9" height="9" fill="{text(line.colour)}"/>')
        parts.append(_text_element(box.x + 13, y + 10, _clip(line.legend, box.width - 13, 6), css_class="legend"))
    return parts


def metric_widget(box: Box, properties: Mapping[str, Any], cloudwatch: Any, start: dt.datetime, end: dt.datetime,
                  period_seconds: int | None) -> list[str]:
    lines = read_lines(properties, cloudwatch, start, end, period_seconds)
    if properties.get("view") == "singleValue":
        return _legend(Box(box.x + 8, box.y + 28, box.width - 16, box.height - 28), lines,
                       max(int((box.height - 32) // LEGEND_LINE), 1))
    room = max(min(len(lines), int((box.height - 70) // LEGEND_LINE)), 1)
    legend_top = box.y + box.height - 6 - room * LEGEND_LINE
    parts = _legend(Box(box.x + 8, legend_top, box.width - 16, room * LEGEND_LINE), lines, room)
    if any(line.points for line in lines):
        right_room = AXIS_ROOM if any(line.axis == "right" and line.points for line in lines) else 10
        plot = Box(box.x + AXIS_ROOM, box.y + 28, box.width - AXIS_ROOM - right_room, legend_top - box.y - 28 - 16)
        parts = _plot(plot, lines, properties, start, end) + parts
    return parts


def text_widget(box: Box, properties: Mapping[str, Any]) -> list[str]:
    """The markdown's lines after the title line, wrapped, headings' '#' left out."""
    room = max(int((box.width - 16) // 6), 4)
    wrapped = [piece for line in properties.get("markdown", "").splitlines()[1:]
               for piece in (textwrap.wrap(line.lstrip("# "), room) or [""])]
    fits = max(int((box.height - 30) // LEGEND_LINE), 0)
    return [_text_element(box.x + 8, box.y + 36 + LEGEND_LINE * i, line, css_class="markdown") for i, line in enumerate(wrapped[:fits])]


def alarm_widget(box: Box, properties: Mapping[str, Any], cloudwatch: Any) -> list[str]:
    """Each alarm's name and current state, as tiles side by side."""
    names = [arn.split(":alarm:", 1)[-1] for arn in properties.get("alarms", [])]
    states = {}
    for first in range(0, len(names), 100):  # DescribeAlarms takes up to 100 names
        states |= {a["AlarmName"]: a["StateValue"]
                   for a in cloudwatch.describe_alarms(AlarmNames=names[first:first + 100])["MetricAlarms"]}
    parts, x, y = [], box.x + 8, box.y + 36
    for name in names:
        state = states.get(name, "not in the emulated CloudWatch")
        label = f"{name}: {state}"
        width = len(label) * 6 + 20
        if x > box.x + 8 and x + width > box.x + box.width - 8:
            x, y = box.x + 8, y + LEGEND_LINE
        if y > box.y + box.height - 4:
            break
        parts.append(f'<circle cx="{x + 4:.1f}" cy="{y - 4:.1f}" r="4" fill="{STATE_COLOURS.get(state, "#ffffff")}" '
                     'stroke="#555"/>')
        parts.append(_text_element(x + 12, y, _clip(label, box.width - 16, 6), css_class=f"alarm {state}"))
        x += width
    return parts


def render(dashboard_body: Mapping[str, Any] | str, cloudwatch_client: Any, start: dt.datetime, end: dt.datetime,
           period_seconds: int | None = None, *, title: str = "") -> str:
    """One dashboard as an SVG document: the body's widgets where it places them, drawn from
    `cloudwatch_client`'s data over [start, end). `period_seconds` replaces every line's period
    (a rehearsal's hour is minutes long); None keeps the body's."""
    body = json.loads(dashboard_body) if isinstance(dashboard_body, str) else dashboard_body
    widgets = body.get("widgets", [])
    bottom = max((w.get("y", 0) + w.get("height", 6) for w in widgets), default=1)
    width, height = 24 * COLUMN + 2 * MARGIN, bottom * ROW + 2 * MARGIN + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<rect width="{width}" height="{height}" fill="#e9edf2"/>',
             _text_element(MARGIN, 22, f"{title}  ({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC)", size=16, bold=True,
                           fill="#000")]
    for widget in widgets:
        parts += _widget(widget, cloudwatch_client, start, end, period_seconds)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _widget(widget: Mapping[str, Any], cloudwatch: Any, start: dt.datetime, end: dt.datetime,
            period_seconds: int | None) -> list[str]:
    kind, properties = widget["type"], widget.get("properties", {})
    box = Box(MARGIN + widget.get("x", 0) * COLUMN, 30 + MARGIN + widget.get("y", 0) * ROW,
              widget.get("width", 6) * COLUMN - 4, widget.get("height", 6) * ROW - 4)
    title = _title(widget) if kind in BACKGROUNDS else ""
    parts = [f'<g class="widget {text(kind)}">', f"<title>{text(title)}</title>",  # the whole title, shown clipped
             f'<rect x="{box.x}" y="{box.y}" width="{box.width}" height="{box.height}" rx="4" '
             f'fill="{BACKGROUNDS.get(kind, "#ffffff")}" stroke="#aab4be"/>',
             _text_element(box.x + 8, box.y + 18, _clip(title, box.width, 7), size=13, bold=True, fill="#000", css_class="title")]
    drawers = {
        "metric": lambda: metric_widget(box, properties, cloudwatch, start, end, period_seconds),
        "text": lambda: text_widget(box, properties),
        "alarm": lambda: alarm_widget(box, properties, cloudwatch),
    }
    draw = drawers.get(kind, lambda: [_text_element(box.x + 8, box.y + 36, f"{kind} widget: not drawn by the emulator")])
    return [*parts, *draw(), "</g>"]


def render_all(plan: Plan, cloudwatch: Any, start: dt.datetime, end: dt.datetime, out_dir: Path, *,
               period_seconds: int | None = None) -> list[Path]:
    """`<dashboard name>.svg` in `out_dir` for every dashboard of the plan."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for resource in plan.of_type(DASHBOARD):
        name = resource.inputs["dashboardName"]
        if not _NAME.fullmatch(name):  # a dashboard name is a file name here
            raise ValueError(f"dashboard name {name!r} has characters a DashboardName cannot have")
        path = out_dir / f"{name}.svg"
        path.write_text(render(resource.inputs["dashboardBody"], cloudwatch, start, end, period_seconds, title=name))
        written.append(path)
    return written
