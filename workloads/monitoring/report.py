"""The check's self-contained HTML report (standard library only).

:func:`render_report` turns a check's ``summary.json`` document into one HTML page that opens
offline: inline CSS, inline SVG plots, no script, no font, no image and no link to anything
outside the file. Feature names, categories, messages and file names come from captured traffic,
which anyone who can call the endpoint controls, so every one of them is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workloads.monitoring.contract import PREDICTION_FEATURE

#: What a figure the check could not compute (null in summary.json) shows as.
NO_FIGURE = "—"

# A strict content security policy: even if something slipped past the escaping, the browser
# would run no script and fetch nothing; the inline styles are the only thing the page needs.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; }
.status { display: inline-block; padding: 0.1em 0.6em; border-radius: 0.3em; color: #fff; }
.status-ok { background: #2e7d32; }
.status-empty { background: #757575; }
.status-drift, .status-violations { background: #c62828; }
.status-other { background: #6a1b9a; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
td.text { text-align: left; }
tr.drifted td { background: #fde2e1; }
.empty { font-size: 1.2em; padding: 1em; background: #f3f3f3; border-radius: 0.3em; }
figure { margin: 1em 0 2em 0; }
figcaption { font-weight: 600; margin-bottom: 0.3em; }
.note { color: #555; font-size: 0.9em; }
"""

# Plot geometry, in SVG user units (pixels at 100% zoom).
_WIDTH = 720
_HEIGHT = 260
_LEFT = 52
_RIGHT = 16
_TOP = 28
_BOTTOM = 48
_BASELINE_COLOUR = "#90a4ae"
_CURRENT_COLOUR = "#1e88e5"
_DRIFTED_COLOUR = "#e53935"
# Below this many pixels per label, x-axis labels would overlap, so only every n-th is written.
_LABEL_PIXELS = 56


def render_report(summary: Mapping[str, Any]) -> str:
    """The HTML page of one check's ``summary.json`` document, ready to write as is."""
    endpoint = str(summary.get("endpoint", ""))
    features: Sequence[Mapping[str, Any]] = summary.get("features") or []
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Drift report: {_escape(endpoint)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        _header(summary),
    ]
    if features:
        parts.append(_thresholds(summary.get("thresholds") or {}))
        parts.append(_feature_table(features))
    else:
        parts.append('<p class="empty">No captured requests in this window.</p>')
    parts.append(_violations(summary.get("violations") or []))
    parts.append(_malformed(summary.get("malformed_examples") or []))
    if features:
        parts.append(_plots(features))
    parts += ["</body>", "</html>", ""]
    return "\n".join(part for part in parts if part)


def write_report(summary: Mapping[str, Any], path: Path) -> Path:
    """Write the report of ``summary`` to ``path`` (UTF-8, parent folders created); the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(summary), encoding="utf-8")
    return path


def _escape(value: object) -> str:
    """``value`` as text safe inside HTML elements and quoted attributes."""
    return html.escape(str(value), quote=True)


def _finite(value: object) -> float | None:
    """``value`` as a float, or None when it is null, not a number, NaN or infinite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _figure(value: object) -> str:
    """A statistic with four significant digits, or the no-figure mark."""
    number = _finite(value)
    return NO_FIGURE if number is None else f"{number:.4g}"


def _rate(value: object) -> str:
    """A rate in [0, 1] as a percentage, or the no-figure mark."""
    number = _finite(value)
    return NO_FIGURE if number is None else f"{number:.1%}"


def _header(summary: Mapping[str, Any]) -> str:
    """The title, the window, the status and the message, and the record counts."""
    status = str(summary.get("status", ""))
    known = status if status in ("ok", "empty", "drift", "violations") else "other"
    window = summary.get("window") or {}
    rows = [
        ("Endpoint", _escape(summary.get("endpoint", ""))),
        (
            "Window",
            f"{_escape(window.get('start') or NO_FIGURE)} to "
            f"{_escape(window.get('end') or NO_FIGURE)}",
        ),
        ("Status", f'<span class="status status-{known}">{_escape(status)}</span>'),
        ("Message", _escape(summary.get("message", ""))),
        ("Records checked", _escape(summary.get("records", NO_FIGURE))),
        ("Capture lines", _escape(summary.get("capture_lines", NO_FIGURE))),
        ("Malformed", _escape(summary.get("malformed", NO_FIGURE))),
    ]
    if "requests" in summary:
        rows.append(("Requests (lines) read", _escape(summary["requests"])))
    if "outside_window" in summary:
        rows.append(("Outside the window", _escape(summary["outside_window"])))
    rows += [("Note", _escape(note)) for note in summary.get("notes") or []]
    items = "\n".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    title = f"<h1>Drift report: {_escape(summary.get('endpoint', ''))}</h1>"
    return f'{title}\n<dl class="meta">\n{items}\n</dl>'


def _thresholds(thresholds: Mapping[str, Any]) -> str:
    """The thresholds the check compared the figures with, one row each."""
    if not thresholds:
        return ""
    rows = "\n".join(
        f'<tr><td class="text">{_escape(name)}</td><td>{_figure(value)}</td></tr>'
        for name, value in thresholds.items()
    )
    return (
        f"<h2>Thresholds</h2>\n<table>\n<tr><th>Threshold</th><th>Value</th></tr>\n{rows}\n</table>"
    )


_COLUMNS = (
    "Feature",
    "Kind",
    "Role",
    "Count",
    "Missing (baseline)",
    "KS statistic",
    "KS p-value",
    "PSI",
    "JS distance",
    "Type violations",
    "Range violations",
    "Unseen categories",
    "Drifted",
)


def _feature_table(features: Sequence[Mapping[str, Any]]) -> str:
    """One row per feature with its figures; drifted rows carry the ``drifted`` class."""
    header = "<tr>" + "".join(f"<th>{column}</th>" for column in _COLUMNS) + "</tr>"
    rows = [_feature_row(feature) for feature in features]
    return "<h2>Features</h2>\n<table>\n" + header + "\n" + "\n".join(rows) + "\n</table>"


def _feature_row(feature: Mapping[str, Any]) -> str:
    """The table row of one feature."""
    drifted = bool(feature.get("drifted"))
    missing = (
        f"{_rate(feature.get('missing_rate'))} ({_rate(feature.get('baseline_missing_rate'))})"
    )
    name = _escape(feature.get("name", ""))
    note = feature.get("note")
    if note:
        name += f'<br><span class="note">{_escape(note)}</span>'
    cells = [
        f'<td class="text">{name}</td>',
        f'<td class="text">{_escape(feature.get("kind", ""))}</td>',
        f'<td class="text">{_escape(feature.get("role", ""))}</td>',
        f"<td>{_escape(feature.get('count', NO_FIGURE))}</td>",
        f"<td>{missing}</td>",
        f"<td>{_figure(feature.get('ks_statistic'))}</td>",
        f"<td>{_figure(feature.get('ks_p_value'))}</td>",
        f"<td>{_figure(feature.get('psi'))}</td>",
        f"<td>{_figure(feature.get('js_distance'))}</td>",
        f"<td>{_rate(feature.get('type_violation_rate'))}</td>",
        f"<td>{_rate(feature.get('range_violation_rate'))}</td>",
        f'<td class="text">{_unseen(feature.get("unseen_categories") or [])}</td>',
        f'<td class="text">{"yes" if drifted else "no"}</td>',
    ]
    row_class = ' class="drifted"' if drifted else ""
    return f"<tr{row_class}>" + "".join(cells) + "</tr>"


# A window can bring thousands of new categories; the table shows the first few.
_UNSEEN_SHOWN = 10


def _unseen(categories: Sequence[object]) -> str:
    """The first unseen categories, escaped and comma-separated, with how many more there are."""
    if not categories:
        return NO_FIGURE
    shown = ", ".join(_escape(category) for category in categories[:_UNSEEN_SHOWN])
    more = len(categories) - _UNSEEN_SHOWN
    return f"{shown} (+{more} more)" if more > 0 else shown


def _violations(violations: Sequence[Mapping[str, Any]]) -> str:
    """The constraint violations as a list, or a line saying there are none."""
    if not violations:
        return "<h2>Violations</h2>\n<p>No violations.</p>"
    items = "\n".join(
        f"<li><strong>{_escape(violation.get('feature_name', ''))}</strong> "
        f"({_escape(violation.get('constraint_check_type', ''))}): "
        f"{_escape(violation.get('description', ''))}</li>"
        for violation in violations
    )
    return f"<h2>Violations</h2>\n<ul>\n{items}\n</ul>"


def _malformed(examples: Sequence[Mapping[str, Any]]) -> str:
    """A table of example capture lines that could not be read; nothing when there are none."""
    if not examples:
        return ""
    rows = "\n".join(
        f'<tr><td class="text">{_escape(example.get("file", ""))}</td>'
        f"<td>{_escape(example.get('line', NO_FIGURE))}</td>"
        f'<td class="text">{_escape(example.get("reason", ""))}</td></tr>'
        for example in examples
    )
    return (
        "<h2>Malformed capture lines (examples)</h2>\n<table>\n"
        f"<tr><th>File</th><th>Line</th><th>Reason</th></tr>\n{rows}\n</table>"
    )


def _plotted(feature: Mapping[str, Any]) -> bool:
    """Whether the report draws this feature: it drifted, or it is the endpoint's prediction."""
    is_prediction = feature.get("role") == "prediction" or feature.get("name") == PREDICTION_FEATURE
    return bool(feature.get("drifted")) or is_prediction


def _plots(features: Sequence[Mapping[str, Any]]) -> str:
    """One figure per drifted feature and for the prediction: baseline against current."""
    figures = [_figure_of(feature) for feature in features if _plotted(feature)]
    if not figures:
        return ""
    return "<h2>Distributions</h2>\n" + "\n".join(figures)


def _figure_of(feature: Mapping[str, Any]) -> str:
    """A captioned plot of one feature's distribution, or a note saying why there is none."""
    name = _escape(feature.get("name", ""))
    caption = f"<figcaption>{name}{' (drifted)' if feature.get('drifted') else ''}</figcaption>"
    distribution = feature.get("distribution")
    svg = _svg(feature, distribution) if isinstance(distribution, Mapping) else None
    if svg is None:
        body = '<p class="note">No distribution to draw for this feature in this window.</p>'
    else:
        body = svg
        if distribution.get("kind") == "bins":
            body += (
                '\n<p class="note">Bin edges are the baseline\'s quantiles; the first and last '
                "bins also hold values below the baseline minimum and above its maximum.</p>"
            )
    return f"<figure>\n{caption}\n{body}\n</figure>"


def _proportions(values: object) -> list[float] | None:
    """A list of proportions (nulls and non-finite values as 0), or None if it is not a list."""
    if not isinstance(values, list):
        return None
    return [_finite(value) or 0.0 for value in values]


def _svg(feature: Mapping[str, Any], distribution: Mapping[str, Any]) -> str | None:
    """Grouped bars, baseline beside current, per bin or per category; None if not drawable."""
    baseline = _proportions(distribution.get("baseline"))
    current = _proportions(distribution.get("current"))
    kind = distribution.get("kind")
    if baseline is None or current is None or len(baseline) != len(current) or not baseline:
        return None
    groups = len(baseline)
    if kind == "bins":
        edges = distribution.get("edges")
        if not isinstance(edges, list) or len(edges) != groups + 1:
            return None
        labels = _edge_labels(edges, groups)
    elif kind == "categories":
        names = distribution.get("labels")
        if not isinstance(names, list) or len(names) != groups:
            return None
        labels = _category_labels(names, groups)
    else:
        return None

    plot_width = _WIDTH - _LEFT - _RIGHT
    plot_height = _HEIGHT - _TOP - _BOTTOM
    group_width = plot_width / groups
    bar_width = group_width * 0.4
    top = max(max(baseline), max(current), 1e-9) * 1.1
    current_colour = _DRIFTED_COLOUR if feature.get("drifted") else _CURRENT_COLOUR
    bottom = _TOP + plot_height

    def bar(x: float, value: float, colour: str, series: str, label: str) -> str:
        height = plot_height * value / top
        return (
            f'<rect x="{x:.1f}" y="{bottom - height:.1f}" width="{bar_width:.1f}" '
            f'height="{height:.1f}" fill="{colour}"><title>{series} {label}: {value:.1%}'
            "</title></rect>"
        )

    elements = [
        f'<svg width="{_WIDTH}" height="{_HEIGHT}" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-label="Baseline and current distribution of {_escape(feature.get("name", ""))}" '
        'font-family="sans-serif" font-size="10">',
        # The y axis: zero, half and the top of the scale, as proportions of the records.
        *(
            f'<line x1="{_LEFT}" y1="{bottom - plot_height * share:.1f}" x2="{_WIDTH - _RIGHT}" '
            f'y2="{bottom - plot_height * share:.1f}" stroke="#e0e0e0"/>'
            f'<text x="{_LEFT - 4}" y="{bottom - plot_height * share + 3:.1f}" '
            f'text-anchor="end">{top * share:.0%}</text>'
            for share in (0.0, 0.5, 1.0)
        ),
        f'<rect x="{_LEFT}" y="6" width="10" height="10" fill="{_BASELINE_COLOUR}"/>'
        f'<text x="{_LEFT + 14}" y="15">baseline</text>'
        f'<rect x="{_LEFT + 80}" y="6" width="10" height="10" fill="{current_colour}"/>'
        f'<text x="{_LEFT + 94}" y="15">current window</text>',
    ]
    for index in range(groups):
        x = _LEFT + index * group_width + group_width * 0.1
        label = labels.hover[index]
        elements.append(bar(x, baseline[index], _BASELINE_COLOUR, "baseline", label))
        elements.append(bar(x + bar_width, current[index], current_colour, "current", label))
    elements += labels.axis
    elements.append(
        f'<line x1="{_LEFT}" y1="{bottom}" x2="{_WIDTH - _RIGHT}" y2="{bottom}" stroke="#444"/>'
    )
    elements.append("</svg>")
    return "\n".join(elements)


@dataclass(frozen=True)
class _Labels:
    """A plot's x-axis text elements and each group's escaped hover label."""

    axis: list[str]
    """The SVG text elements under the axis."""
    hover: list[str]
    """Per group, the escaped label its bars' tooltips name."""


def _label_step(count: int) -> int:
    """Write every n-th of ``count`` axis labels so that neighbours do not overlap."""
    room = (_WIDTH - _LEFT - _RIGHT) / _LABEL_PIXELS
    return max(1, math.ceil(count / room))


def _edge_labels(edges: Sequence[object], groups: int) -> _Labels:
    """Bin edges under the boundaries between the groups of bars."""
    group_width = (_WIDTH - _LEFT - _RIGHT) / groups
    y = _HEIGHT - _BOTTOM + 14
    step = _label_step(len(edges))
    axis = [
        f'<text x="{_LEFT + index * group_width:.1f}" y="{y}" text-anchor="middle">'
        f"{_escape(_figure(edge))}</text>"
        for index, edge in enumerate(edges)
        if index % step == 0 or index == len(edges) - 1
    ]
    hover = [
        f"bin {_escape(_figure(edges[index]))} to {_escape(_figure(edges[index + 1]))}"
        for index in range(groups)
    ]
    return _Labels(axis, hover)


def _category_labels(names: Sequence[object], groups: int) -> _Labels:
    """Category labels under their groups, shortened to fit, the full label as a tooltip."""
    group_width = (_WIDTH - _LEFT - _RIGHT) / groups
    y = _HEIGHT - _BOTTOM + 14
    # About 6 pixels per character at font size 10.
    room = max(3, int(group_width / 6))
    step = _label_step(groups)
    axis = []
    for index, name in enumerate(names):
        if index % step:
            continue
        text = str(name)
        short = text if len(text) <= room else text[: room - 1] + "…"
        axis.append(
            f'<text x="{_LEFT + (index + 0.5) * group_width:.1f}" y="{y}" '
            f'text-anchor="middle"><title>{_escape(text)}</title>{_escape(short)}</text>'
        )
    hover = [_escape(name) for name in names]
    return _Labels(axis, hover)
