"""The Gantt chart of a schedule: one row per machine, one colour per job, plain inline SVG.

No scripts, fonts or external references: it reads the same offline, in a browser or embedded
in the HTML report. Hovering an operation shows its job, index and times (SVG ``<title>``).
"""

from __future__ import annotations

from html import escape
from typing import Any

from workloads.optimization.jobshop.model import JobShopProblem

ROW = 26
"""A machine row's height in pixels."""
LABEL = 48
"""The machine labels' column."""
WIDTH = 900
"""The chart's width in pixels."""


def job_colour(job: int, jobs: int) -> str:
    """A colour for ``job`` of ``jobs``: evenly spread hues, alternating lightness."""
    hue = round(360 * job / max(1, jobs))
    lightness = 55 if job % 2 == 0 else 70
    return f"hsl({hue}, 65%, {lightness}%)"


def figure_svg(problem: JobShopProblem, solution: dict[str, Any]) -> str:
    """The Gantt chart of ``solution`` (its per-job times) as an inline SVG document."""
    rows = solution.get("jobs") or []
    end = max((item["end"] for row in rows for item in row), default=0) or 1
    scale = (WIDTH - LABEL - 10) / end
    legend_rows = (len(problem.jobs) + 9) // 10
    chart_height = ROW * problem.machines
    height = 30 + chart_height + 30 + 18 * legend_rows
    objective = solution.get("objective", "makespan")
    title = f"{problem.name}: {objective} {solution.get('objective_value', '')}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11" role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LABEL}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    top = 26
    for machine in range(problem.machines):
        y = top + machine * ROW
        fill = "#f4f4f4" if machine % 2 == 0 else "#ffffff"
        parts.append(
            f'<rect x="{LABEL}" y="{y}" width="{WIDTH - LABEL - 10}" height="{ROW}" fill="{fill}"/>'
        )
        parts.append(f'<text x="4" y="{y + ROW / 2 + 4}">M{machine}</text>')
    for j, row in enumerate(rows):
        colour = job_colour(j, len(problem.jobs))
        for k, item in enumerate(row):
            x = LABEL + item["start"] * scale
            width = max(1.0, (item["end"] - item["start"]) * scale)
            y = top + item["machine"] * ROW + 3
            tip = f"job {j}, operation {k}: {item['start']}-{item['end']}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{ROW - 6}" fill="{colour}" '
                f'stroke="#333" stroke-width="0.5"><title>{tip}</title></rect>'
            )
            if width >= 14:
                parts.append(
                    f'<text x="{x + width / 2:.1f}" y="{y + ROW / 2 + 1}" '
                    f'text-anchor="middle">{j}</text>'
                )
    axis = top + chart_height
    parts.append(f'<line x1="{LABEL}" y1="{axis}" x2="{WIDTH - 10}" y2="{axis}" stroke="#333"/>')
    ticks = 10
    for tick in range(ticks + 1):
        value = round(end * tick / ticks)
        x = LABEL + value * scale
        parts.append(f'<line x1="{x:.1f}" y1="{axis}" x2="{x:.1f}" y2="{axis + 4}" stroke="#333"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis + 15}" text-anchor="middle">{value}</text>')
    for j in range(len(problem.jobs)):
        x = LABEL + (j % 10) * 80
        y = axis + 24 + (j // 10) * 18
        colour = job_colour(j, len(problem.jobs))
        parts.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16}" y="{y + 10}">job {j}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
