"""Render the layout of each CloudWatch dashboard to SVG, from the dashboard body itself.

    venv/bin/python scripts/render_dashboards.py [--stack prod] [--out docs/dashboards]

The bodies are made by components/dashboards.py (the builders the Monitoring component deploys)
from the stack's config, as a stack whose models all serve from their endpoint would have them
(endpoint `<project>-<stack>-<model>-endpoint`, the config's variants, capturing requests when the
endpoint has instances and `dataCapturePercent` above 0), with the alarms
components/monitoring.py and components/drift.py name; ARNs use the offline engine's account.
Each widget is drawn where the body places it on CloudWatch's 24-column grid, with its title and
one legend line per metric, search or alarm: what a reviewer checks, without AWS.
prod is the default: its endpoints have instances and capture requests, so every widget is drawn.
tests/program/test_monitoring.py checks the files are current and that the prod plan's bodies are
these builders' output.
"""

from __future__ import annotations

import argparse
import html
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from automation import offline  # noqa: E402
from components import config, dashboards, drift, monitoring  # noqa: E402
from components.documents import Account  # noqa: E402
from components.feature_store import feature_group_name  # noqa: E402

COLUMN, ROW, MARGIN = 48, 30, 8
FONT = "font-family=\"Helvetica, Arial, sans-serif\""
COLOURS = {"metric": "#f7f9fb", "text": "#ffffff", "alarm": "#fdf6ec"}


def stack_config(stack: str) -> config.PlatformConfig:
    """The stack's config exactly as the program gets it (the offline engine reads it as the CLI does)."""
    project = offline.load_project()
    values, _ = offline.load_stack_config(stack, project=project)
    return config.parse_cli_config(project["name"], stack, values)


def sample_inputs(cfg: config.PlatformConfig, *, serving: bool = True) -> dashboards.DashboardInputs:
    """What Monitoring._dashboards resolves for this config (`serving`: every model has its endpoint)."""
    account = Account("aws", cfg.region, offline.ACCOUNT_ID)
    alarm = lambda name: account.arn("cloudwatch", f"alarm:{name}")  # noqa: E731
    endpoints = tuple(dashboards.EndpointView(m.name, cfg.namer.name(f"{m.name}-endpoint"),
                                              tuple(v.name for v in m.endpoint.variants), m.endpoint.serverless,
                                              captured=not m.endpoint.serverless and m.endpoint.data_capture_percent > 0)
                      for m in cfg.models) if serving else ()
    groups = {g.name: feature_group_name(cfg, g.name) for g in cfg.feature_groups}
    alarms = {
        dashboards.TRAINING_PIPELINE: (alarm(monitoring.failed_executions_alarm_name(cfg)),),
        dashboards.MODEL_PERFORMANCE: tuple(alarm(drift.alarm_name(cfg, e.model)) for e in endpoints if e.captured),
        dashboards.INFERENCE_ENDPOINTS: tuple(alarm(name) for e in endpoints for v in e.variants
                                              for name in monitoring.endpoint_alarm_names(cfg, e.model, v)),
        dashboards.FEATURE_STORE: tuple(alarm(monitoring.rejected_rows_alarm_name(cfg, g)) for g in groups),
    }
    return dashboards.DashboardInputs(
        region=cfg.region, state_machine_arn=account.arn("states", f"stateMachine:{cfg.namer.name('training', 'state_machine')}"),
        models=dashboards.model_views(cfg), endpoints=endpoints, feature_groups=tuple(groups.values()), alarms=alarms)


def _legend(widget: Mapping[str, Any]) -> list[str]:
    properties = widget["properties"]
    if widget["type"] == "text":
        return [line.lstrip("# ") for line in properties["markdown"].splitlines()[1:]]
    if widget["type"] == "alarm":
        return [arn.rsplit(":", 1)[1] for arn in properties["alarms"]]
    legend = []
    for line in properties["metrics"]:
        if isinstance(line[0], dict):
            expression = line[0]["expression"]
            legend.append(f"{line[0].get('label') or 'search'}: {expression.split('} ', 1)[-1].split(chr(39))[0]}")
        else:
            _, name, *rest = line
            options = rest[-1] if rest and isinstance(rest[-1], dict) else {}
            legend.append(f"{options.get('label', name)} ({name}, {options.get('stat', properties.get('stat', 'Average'))})")
    return legend


def _title(widget: Mapping[str, Any]) -> str:
    properties = widget["properties"]
    if widget["type"] == "text":
        return properties["markdown"].splitlines()[0].lstrip("# ")
    return properties.get("title", "")


def svg(name: str, body: Mapping[str, Any]) -> str:
    """One dashboard's layout as an SVG document (deterministic: the same body, the same bytes)."""
    bottom = max(w["y"] + w["height"] for w in body["widgets"])
    width, height = dashboards.GRID_COLUMNS * COLUMN + 2 * MARGIN, bottom * ROW + 2 * MARGIN + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<rect width="{width}" height="{height}" fill="#e9edf2"/>',
             f'<text x="{MARGIN}" y="22" {FONT} font-size="16" font-weight="bold">{html.escape(name)}</text>']
    for widget in body["widgets"]:
        x, y = MARGIN + widget["x"] * COLUMN, 30 + MARGIN + widget["y"] * ROW
        w, h = widget["width"] * COLUMN - 4, widget["height"] * ROW - 4
        parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4" fill="{COLOURS[widget["type"]]}" '
                     'stroke="#aab4be"/>')
        parts.append(f'<text x="{x + 8}" y="{y + 18}" {FONT} font-size="13" font-weight="bold">'
                     f'{html.escape(_clip(_title(widget), w, 7))}</text>')
        legend, room = _legend(widget), max((h - 30) // 14, 0)
        if widget["type"] == "alarm":  # CloudWatch shows alarms as tiles side by side
            legend = _wrap(legend, w)
        shown = legend if len(legend) <= room else [*legend[:room - 1], f"... and {len(legend) - room + 1} more"]
        for index, line in enumerate(shown):
            parts.append(f'<text x="{x + 8}" y="{y + 36 + 14 * index}" {FONT} font-size="11" fill="#333">'
                         f'{html.escape(_clip(line, w, 6))}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _wrap(items: list[str], width: int, character_width: int = 6) -> list[str]:
    room, lines = max((width - 16) // character_width, 4), [""]
    for item in items:
        candidate = f"{lines[-1]}    {item}" if lines[-1] else item
        if len(candidate) <= room or not lines[-1]:
            lines[-1] = candidate
        else:
            lines.append(item)
    return lines


def _clip(text: str, width: int, character_width: int) -> str:
    room = max((width - 16) // character_width, 4)
    return text if len(text) <= room else text[:room - 1] + "…"


def render(cfg: config.PlatformConfig) -> dict[str, str]:
    """File name (without .svg) -> SVG, one per dashboard."""
    return {cfg.namer.name(board, "dashboard"): svg(f"{dashboards.TITLES[board]} ({cfg.stack})", body)
            for board, body in dashboards.bodies(sample_inputs(cfg)).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboards")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in render(stack_config(args.stack)).items():
        (args.out / f"{name}.svg").write_text(text)
        print(args.out / f"{name}.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
