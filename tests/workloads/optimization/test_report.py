"""The HTML report: self-contained, escaped, with the history chart and the problem's figure."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from workloads.optimization.report import write_report
from workloads.optimization.results import Improvement, SolveResult, SolveStatus, StopReason


def _result(name: str = "a") -> SolveResult:
    return SolveResult(
        problem="countdown",
        name=name,
        status=SolveStatus.FEASIBLE,
        stop_reason=StopReason.NO_IMPROVEMENT,
        objective=95.0,
        bound=90.0,
        elapsed_seconds=3.0,
        history=[Improvement(0.1, 100.0), Improvement(1.0, 97.0), Improvement(2.0, 95.0)],
        solution={"value": 95},
    )


def test_the_report_holds_every_figure_and_no_external_asset(tmp_path: Path) -> None:
    # given a result whose name and summary carry markup
    result = _result("<script>alert(1)</script>")
    figure = '<svg xmlns="http://www.w3.org/2000/svg"><text>figure-text</text></svg>'
    # when
    path = write_report(
        tmp_path / "report.html", result, {"name": "<b>x</b>", "jobs": 3}, [], figure
    )
    page = path.read_text()
    # then the markup is escaped, never live
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    # and the figures are there: status, objective, bound, gap, times, the history polyline
    for text in ("feasible", "no_improvement", "95", "90", "5.26 %", "3.00 s", "2.00 s"):
        assert text in page
    assert len(re.findall(r"<circle ", page)) == 3 and "<polyline" in page
    # and the problem's figure is embedded as data, the check says feasible
    encoded = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert encoded is not None and base64.b64decode(encoded[1]).decode() == figure
    assert "Feasible: the independent check found no violated constraint." in page
    # and nothing is fetched from elsewhere
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_violations_are_listed_and_a_missing_solution_said(tmp_path: Path) -> None:
    # given a result breaking two constraints
    path = write_report(tmp_path / "r.html", _result(), {}, ["too <heavy>", "late"], None)
    # then
    page = path.read_text()
    assert "Infeasible: 2 violated constraint(s)." in page
    assert "<li>too &lt;heavy&gt;</li>" in page and "No figure (no solution)." in page


def test_a_run_without_a_solution_has_no_history_chart(tmp_path: Path) -> None:
    # given
    result = SolveResult("countdown", "a", SolveStatus.NO_SOLUTION, StopReason.TOTAL_TIME_LIMIT)
    # when
    page = write_report(tmp_path / "r.html", result, {}, None, None).read_text()
    # then
    assert "no solution was found, so there is no history" in page
    assert "No solution to check." in page
