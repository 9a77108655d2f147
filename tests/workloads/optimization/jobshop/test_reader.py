"""The job-shop readers: the standard text format and JSON/YAML, with errors naming the place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workloads.optimization.errors import ProblemError
from workloads.optimization.jobshop import Objective, from_dict, load, parse_text
from workloads.optimization.jobshop.model import Job, JobShopProblem, Operation

INSTANCES = Path(__file__).resolve().parents[4] / "workloads/optimization/instances/jobshop"
OPTIMA = json.loads((INSTANCES / "optima.json").read_text())


@pytest.mark.parametrize("name", sorted(OPTIMA))
def test_every_shipped_instance_reads_with_its_announced_size(name: str) -> None:
    # when
    problem = load(INSTANCES / f"{name}.txt")
    # then
    assert problem.name == name
    assert len(problem.jobs) == OPTIMA[name]["jobs"]
    assert problem.machines == OPTIMA[name]["machines"]
    # each job visits every machine once, as the format says
    for job in problem.jobs:
        assert sorted(op.machine for op in job.operations) == list(range(problem.machines))
    assert problem.objective is Objective.MAKESPAN


def test_comments_and_blank_lines_are_skipped_anywhere() -> None:
    text = "# a comment\n\n2 2\n# between\n0 3 1 2\n\n1 4  0 1\n# trailing\n"
    problem = parse_text(text, "tiny")
    assert problem.jobs == (
        Job((Operation(0, 3), Operation(1, 2))),
        Job((Operation(1, 4), Operation(0, 1))),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# nothing\n", "tiny.txt: no 'jobs machines' line (the file is empty or all comments)"),
        ("2\n", "tiny.txt, line 1: expected 'jobs machines' (two positive integers), got '2'"),
        (
            "2 2\n0 3 1\n1 4 0 1\n",
            "tiny.txt, line 2: expected 4 numbers (2 machine/duration pairs), got 3",
        ),
        ("2 2\n0 3 1 2\n1 4 0 x\n", "tiny.txt, line 3: 'x' is not an integer"),
        ("2 2\n0 3 2 2\n1 4 0 1\n", "tiny.txt, line 2, pair 2: machine 2 is not in 0..1"),
        ("2 2\n0 3 1 -2\n1 4 0 1\n", "tiny.txt, line 2, pair 2: duration -2 is negative"),
        ("# c\n2 2\n0 3 1 2\n", "tiny.txt: expected 2 job lines after line 2, found 1"),
        (
            "2 2\n0 3 1 2\n1 4 0 1\n0 1 1 1\n",
            "tiny.txt, line 4: more job lines than the 2 jobs announced on line 1",
        ),
    ],
)
def test_text_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    # given
    path = tmp_path / "tiny.txt"
    path.write_text(text)
    # when / then
    with pytest.raises(ProblemError) as raised:
        load(path)
    assert str(raised.value) == message


EXAMPLE = {
    "name": "three-jobs",
    "machines": 3,
    "objective": "weighted_tardiness",
    "jobs": [
        {"operations": [[0, 3], [1, 2], [2, 2]], "release": 0, "due": 8, "weight": 2},
        {"operations": [{"machine": 0, "duration": 2}, {"machine": 2, "duration": 1}], "due": 5},
        {"operations": [[1, 4], [2, 3]], "release": 2},
    ],
}


def test_json_and_yaml_give_the_same_problem(tmp_path: Path) -> None:
    # given the documented example as JSON and as YAML
    import yaml

    (tmp_path / "example.json").write_text(json.dumps(EXAMPLE))
    (tmp_path / "example.yaml").write_text(yaml.safe_dump(EXAMPLE))
    # when
    from_json, from_yaml = load(tmp_path / "example.json"), load(tmp_path / "example.yaml")
    # then
    assert from_json == from_yaml
    assert from_json.name == "three-jobs"
    assert from_json.objective is Objective.WEIGHTED_TARDINESS
    assert from_json.jobs[0] == Job(
        (Operation(0, 3), Operation(1, 2), Operation(2, 2)), release=0, due=8, weight=2
    )
    assert from_json.jobs[1].due == 5 and from_json.jobs[1].release == 0
    assert from_json.jobs[2].due is None and from_json.jobs[2].release == 2


def test_machines_and_objective_have_defaults() -> None:
    problem = from_dict({"jobs": [{"operations": [[0, 1], [2, 1]]}]}, "defaults")
    assert problem.machines == 3
    assert problem.objective is Objective.MAKESPAN
    assert problem.name == "defaults"


def with_job(**fields: object) -> dict:
    job = {"operations": [[0, 3], [1, 2]]} | fields
    return {"machines": 2, "jobs": [{"operations": [[1, 1], [0, 1]]}, job]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"jobs": []}, "jobs: must be a non-empty list of jobs, got []"),
        (
            {"jobs": [{"operations": [[0, 1]]}], "workers": 2},
            "workers: unknown field (known: name, machines, objective, jobs)",
        ),
        (
            with_job(operations=[]),
            "jobs[1].operations: must be a non-empty list of [machine, duration], got []",
        ),
        (
            with_job(operations=[[0, 3], [5, 2]]),
            "jobs[1].operations[1].machine: must be in 0..1, got 5",
        ),
        (
            with_job(operations=[[0, -3]]),
            "jobs[1].operations[0].duration: must be a non-negative integer, got -3",
        ),
        (
            with_job(operations=[[0, True]]),
            "jobs[1].operations[0].duration: must be a non-negative integer, got True",
        ),
        (
            with_job(operations=[[0, 1, 2]]),
            "jobs[1].operations[0]: must be [machine, duration] or a mapping, got [0, 1, 2]",
        ),
        (with_job(operations=[{"machine": 0}]), "jobs[1].operations[0].duration: missing"),
        (with_job(release=-1), "jobs[1].release: must be a non-negative integer, got -1"),
        (with_job(release=1.5), "jobs[1].release: must be an integer, got 1.5"),
        (with_job(due=-4), "jobs[1].due: must be a non-negative integer, got -4"),
        (with_job(weight=0), "jobs[1].weight: must be a positive integer, got 0"),
        (
            with_job(deadline=3),
            "jobs[1].deadline: unknown field (known: operations, release, due, weight)",
        ),
        (
            {"machines": 0, "jobs": [{"operations": [[0, 1]]}]},
            "machines: must be a positive integer, got 0",
        ),
        (
            {"objective": "lateness", "jobs": [{"operations": [[0, 1]]}]},
            "objective: must be one of makespan, total_tardiness, weighted_tardiness, got 'lateness'",
        ),
        (
            {"objective": "total_tardiness", "jobs": [{"operations": [[0, 1]]}]},
            "objective: total_tardiness needs a due date on some job",
        ),
    ],
)
def test_dict_errors_name_the_field(data: dict, message: str) -> None:
    with pytest.raises(ProblemError) as raised:
        from_dict(data, "bad")
    assert str(raised.value) == message


def test_json_and_yaml_errors_name_the_file_and_line(tmp_path: Path) -> None:
    # given
    (tmp_path / "broken.json").write_text('{"jobs": [\n  {"operations": [[0, 1]]},\n]}')
    (tmp_path / "broken.yaml").write_text("jobs:\n  - operations: [[0, 1]\n  - x: 1\n")
    (tmp_path / "field.yaml").write_text("jobs:\n  - operations: [[0, -1]]\n")
    # then
    with pytest.raises(ProblemError, match=r"^broken\.json, line 3: not valid JSON \("):
        load(tmp_path / "broken.json")
    with pytest.raises(ProblemError, match=r"^broken\.yaml, line 3: not valid YAML \("):
        load(tmp_path / "broken.yaml")
    with pytest.raises(ProblemError) as raised:
        load(tmp_path / "field.yaml")
    assert str(raised.value) == (
        "field.yaml: jobs[0].operations[0].duration: must be a non-negative integer, got -1"
    )


def test_a_missing_file_is_a_problem_error(tmp_path: Path) -> None:
    with pytest.raises(ProblemError, match=r"missing\.txt: cannot be read"):
        load(tmp_path / "missing.txt")


def test_the_model_validates_direct_construction_too() -> None:
    with pytest.raises(ProblemError) as raised:
        JobShopProblem("direct", 2, (Job((Operation(3, 1),)),))
    assert str(raised.value) == "direct: jobs[0].operations[0].machine: must be in 0..1, got 3"
