"""The Gantt chart: valid standalone SVG, one bar per operation on its machine's row."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from workloads.optimization.jobshop import figure_svg, from_dict, load
from workloads.optimization.jobshop.schedule import greedy_starts, solution_from_starts

INSTANCES = Path(__file__).resolve().parents[4] / "workloads/optimization/instances/jobshop"
SVG = "{http://www.w3.org/2000/svg}"


def test_every_operation_is_a_bar_with_its_times_and_its_jobs_colour() -> None:
    # given
    problem = load(INSTANCES / "ft06.txt")
    solution = solution_from_starts(problem, greedy_starts(problem))
    # when
    root = ET.fromstring(figure_svg(problem, solution))
    # then
    assert root.tag == f"{SVG}svg"
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert len(bars) == problem.operation_count
    tips = {rect.find(f"{SVG}title").text for rect in bars}
    first = solution["jobs"][2][3]
    assert f"job 2, operation 3: {first['start']}-{first['end']}" in tips
    # one colour per job, the same for all its operations
    colours: dict[str, set[str]] = {}
    for rect in bars:
        job = rect.find(f"{SVG}title").text.split(",")[0]
        colours.setdefault(job, set()).add(rect.get("fill"))
    assert all(len(fills) == 1 for fills in colours.values())
    assert len({fills.pop() for fills in colours.values()}) == len(problem.jobs)
    # a row label per machine, nothing fetched from outside
    labels = {text.text for text in root.iter(f"{SVG}text")}
    assert {f"M{m}" for m in range(problem.machines)} <= labels
    assert "href" not in figure_svg(problem, solution)


def test_names_are_escaped() -> None:
    problem = from_dict({"name": "a<b>&c", "jobs": [{"operations": [[0, 1]]}]}, "x")
    svg = figure_svg(problem, solution_from_starts(problem, [[0]]))
    ET.fromstring(svg)
    assert "a&lt;b&gt;&amp;c" in svg
