"""The route map: an inline SVG of depots, customers and the routes, one colour per route.

Self-contained (no scripts, fonts or links), so a report stays readable offline. Nodes are drawn
at their coordinates; a problem given only as a distance matrix has no geometry, so its nodes are
placed on a circle (the map then shows who is served by whom, not where).
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from workloads.optimization.routing.model import RoutingProblem

#: Distinct colours for routes (Okabe-Ito and Tableau), reused in turn past their number.
COLOURS = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#d55e00",
    "#56b4e9",
    "#f0e442",
    "#000000",
    "#8c564b",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#9467bd",
    "#2ca02c",
    "#d62728",
    "#1f77b4",
)

_SIZE = 640
_MARGIN = 40


def _positions(problem: RoutingProblem) -> list[tuple[float, float]]:
    nodes = [*problem.depots, *problem.customers]
    if problem.has_coordinates:
        points = [(float(n.x), float(n.y)) for n in nodes]  # type: ignore[arg-type]
    else:
        count = len(nodes)
        points = [
            (math.cos(2 * math.pi * i / count), math.sin(2 * math.pi * i / count))
            for i in range(count)
        ]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    scale = (_SIZE - 2 * _MARGIN) / span
    # SVG's y axis points down; flip it so the map reads like the coordinates.
    return [
        (_MARGIN + (x - min(xs)) * scale, _SIZE - _MARGIN - (y - min(ys)) * scale)
        for x, y in points
    ]


def route_map_svg(problem: RoutingProblem, solution: dict[str, Any]) -> str:
    """An ``<svg>`` element drawing ``solution``'s routes over ``problem``'s nodes."""
    where = _positions(problem)
    number = problem.node_number
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_SIZE} {_SIZE + 30}" '
        f'width="{_SIZE}" height="{_SIZE + 30}" role="img" '
        f'aria-label="Route map of {escape(problem.name)}" font-family="sans-serif" '
        'font-size="11">',
        f"<title>Routes of {escape(problem.name)}</title>",
        f'<rect width="{_SIZE}" height="{_SIZE + 30}" fill="#ffffff"/>',
    ]
    for r, route in enumerate(solution.get("routes", [])):
        colour = COLOURS[r % len(COLOURS)]
        points = " ".join(
            f"{where[number[s['node']]][0]:.1f},{where[number[s['node']]][1]:.1f}"
            for s in route["stops"]
            if s["node"] in number
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-linejoin="round"><title>vehicle {route["vehicle"]} ({escape(route["type"])})'
            f": distance {route['distance']}, load {route['load']}</title></polyline>"
        )
    dropped = {number[n] for n in solution.get("dropped", []) if n in number}
    for node, (x, y) in enumerate(where):
        label = escape(str(problem.node_ids[node]))
        if node < len(problem.depots):
            parts.append(
                f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="#222222">'
                f"<title>depot {label}</title></rect>"
            )
        else:
            fill = "#ffffff" if node in dropped else "#444444"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{fill}" stroke="#444444">'
                f"<title>customer {label}, demand {problem.demand(node)}"
                f"{' (dropped)' if node in dropped else ''}</title></circle>"
            )
    caption = (
        f"{escape(problem.name)}: {len(solution.get('routes', []))} routes, "
        f"objective {solution.get('objective', '-')}"
    )
    if dropped:
        caption += f", {len(dropped)} dropped (hollow)"
    parts.append(f'<text x="{_MARGIN}" y="{_SIZE + 15}">{caption}; squares are depots</text>')
    parts.append("</svg>")
    return "\n".join(parts)
