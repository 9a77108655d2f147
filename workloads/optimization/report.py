"""The solve's HTML report: one self-contained page, readable offline.

The page holds the instance's summary, the status and stop reason, objective, bound, gap and
times, the incumbent's history as an inline SVG step chart, the problem's own figure (a route
map, a Gantt chart: ``figure_svg`` of the kind's module) and the feasibility check's result.
No external asset (no script, stylesheet, font or image URL); every text from the problem or the
result is HTML-escaped, and the kind's figure is embedded as an ``<img>`` with a ``data:`` URI,
so whatever text it carries can neither break the page nor run in it.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workloads.atomic_files import write_atomically
from workloads.optimization.results import Improvement, SolveResult

REPORT_FILE = "report.html"
"""The report's file name in the output directory."""

_CHART_WIDTH, _CHART_HEIGHT = 640, 260
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 80, 20, 16, 40

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 60em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; } td, th { padding: .25em .8em; border-bottom: 1px solid #ddd;
  text-align: left; } th { font-weight: 600; }
.ok { color: #176f2c; } .bad { color: #b00020; }
img.figure { max-width: 100%; border: 1px solid #ddd; }
"""


def _number(value: float | None, digits: int = 6) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def _rows(rows: Sequence[tuple[str, str]]) -> str:
    return "\n".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for name, value in rows
    )


def history_svg(history: Sequence[Improvement], elapsed_seconds: float) -> str:
    """The incumbent's objective over time as an inline SVG step chart (escaped labels)."""
    width, height = _CHART_WIDTH, _CHART_HEIGHT
    if not history:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="60" role="img">'
            '<text x="10" y="35">no solution was found, so there is no history</text></svg>'
        )
    end = max(elapsed_seconds, history[-1].seconds, 1e-9)
    low = min(point.objective for point in history)
    high = max(point.objective for point in history)
    if math.isclose(low, high):
        low, high = low - 1, high + 1
    plot_w = width - _MARGIN_LEFT - _MARGIN_RIGHT
    plot_h = height - _MARGIN_TOP - _MARGIN_BOTTOM

    def x(seconds: float) -> float:
        return _MARGIN_LEFT + plot_w * seconds / end

    def y(objective: float) -> float:
        return _MARGIN_TOP + plot_h * (high - objective) / (high - low)

    points = []
    for index, point in enumerate(history):
        if index:
            points.append(f"{x(point.seconds):.1f},{y(history[index - 1].objective):.1f}")
        points.append(f"{x(point.seconds):.1f},{y(point.objective):.1f}")
    points.append(f"{x(end):.1f},{y(history[-1].objective):.1f}")
    dots = "".join(
        f'<circle cx="{x(p.seconds):.1f}" cy="{y(p.objective):.1f}" r="3" fill="#1f5fbf">'
        f"<title>{html.escape(_number(p.objective))} at {p.seconds:.2f} s</title></circle>"
        for p in history
    )
    bottom = _MARGIN_TOP + plot_h
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="objective over time">'
        f'<line x1="{_MARGIN_LEFT}" y1="{bottom}" x2="{width - _MARGIN_RIGHT}" y2="{bottom}" '
        'stroke="#888"/>'
        f'<line x1="{_MARGIN_LEFT}" y1="{_MARGIN_TOP}" x2="{_MARGIN_LEFT}" y2="{bottom}" '
        'stroke="#888"/>'
        f'<text x="{_MARGIN_LEFT - 6}" y="{y(high) + 4:.1f}" text-anchor="end" '
        f'font-size="11">{html.escape(_number(high))}</text>'
        f'<text x="{_MARGIN_LEFT - 6}" y="{y(low) + 4:.1f}" text-anchor="end" '
        f'font-size="11">{html.escape(_number(low))}</text>'
        f'<text x="{_MARGIN_LEFT}" y="{bottom + 16}" font-size="11">0 s</text>'
        f'<text x="{width - _MARGIN_RIGHT}" y="{bottom + 16}" text-anchor="end" '
        f'font-size="11">{end:.2f} s</text>'
        f'<text x="{_MARGIN_LEFT + plot_w / 2:.0f}" y="{height - 6}" text-anchor="middle" '
        'font-size="12">seconds (objective, lower is better)</text>'
        f'<polyline fill="none" stroke="#1f5fbf" stroke-width="2" points="{" ".join(points)}"/>'
        f"{dots}</svg>"
    )


def figure_img(svg: str) -> str:
    """The kind's SVG figure as an ``<img>`` with a ``data:`` URI (no script can run in it)."""
    encoded = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img class="figure" alt="the solution" src="data:image/svg+xml;base64,{encoded}">'


def render(
    result: SolveResult,
    summary: Mapping[str, Any],
    violations: Sequence[str] | None,
    figure: str | None,
) -> str:
    """The report page for ``result``.

    ``violations`` is the feasibility check's output (None: nothing to check, no solution);
    ``figure`` the kind's SVG (None: none drawn).
    """
    title = f"{result.problem} {result.name}: {result.status.value}"
    outcome = [
        ("status", result.status.value),
        ("stop reason", result.stop_reason.value),
        ("objective", _number(result.objective)),
        ("bound", _number(result.bound)),
        ("gap", _percent(result.gap)),
        ("elapsed", _seconds(result.elapsed_seconds)),
        ("time to first solution", _seconds(result.seconds_to_first)),
        ("time to best solution", _seconds(result.seconds_to_best)),
        ("improvements", str(len(result.history))),
    ]
    instance = [(str(key), _plain_text(value)) for key, value in summary.items()]
    if violations is None:
        check = "<p>No solution to check.</p>"
    elif not violations:
        check = '<p class="ok">Feasible: the independent check found no violated constraint.</p>'
    else:
        items = "\n".join(f"<li>{html.escape(line)}</li>" for line in violations)
        check = (
            f'<p class="bad">Infeasible: {len(violations)} violated constraint(s).</p>'
            f"<ul>{items}</ul>"
        )
    picture = figure_img(figure) if figure else "<p>No figure (no solution).</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<h2>Instance</h2>
<table>{_rows(instance)}</table>
<h2>Result</h2>
<table>{_rows(outcome)}</table>
<h2>Incumbent over time</h2>
{history_svg(result.history, result.elapsed_seconds)}
<h2>Solution</h2>
{picture}
<h2>Feasibility check</h2>
{check}
</body></html>
"""


def _plain_text(value: Any) -> str:
    if isinstance(value, float):
        return _number(value)
    return str(value)


def write_report(
    path: Path,
    result: SolveResult,
    summary: Mapping[str, Any],
    violations: Sequence[str] | None,
    figure: str | None,
) -> Path:
    """Write :func:`render`'s page to ``path`` atomically; returns ``path``."""
    page = render(result, summary, violations, figure)
    write_atomically(path, lambda temporary: temporary.write_text(page, encoding="utf-8"))
    return path
