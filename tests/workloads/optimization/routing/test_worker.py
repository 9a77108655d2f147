"""One portfolio worker in this process: its rounds, its reports, its start from given routes."""

from __future__ import annotations

import queue
import signal

import pytest

from workloads.optimization.routing import worker
from workloads.optimization.routing.model import RoutingProblem
from workloads.optimization.routing.solution import objective_of


def test_a_worker_reports_improvements_and_starts_a_round_from_the_given_routes(
    eight: RoutingProblem, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a worker fed two short rounds, the second from poor zig-zag routes, then told to end
    # (run in this process: it must not change this process's Ctrl-C handling)
    monkeypatch.setattr(signal, "signal", lambda *_: None)
    zig_zag = [[1, 5, 2, 6], [3, 7, 4, 8]]
    commands: queue.Queue[object] = queue.Queue()
    results: queue.Queue[tuple[object, ...]] = queue.Queue()
    for command in [(1, 0.2, None), (2, 0.2, zig_zag), None]:
        commands.put(command)
    strategy = worker.Strategy("PATH_CHEAPEST_ARC", "GUIDED_LOCAL_SEARCH")
    # when
    worker.run(0, eight, strategy, commands, results)  # type: ignore[arg-type]
    # then each round reports improvements, each better than the last, then its end
    messages = []
    while not results.empty():
        messages.append(results.get())
    for round_number in (1, 2):
        improved = [m for m in messages if m[0] == "improved" and m[2] == round_number]
        objectives = [m[3] for m in improved]
        assert objectives and objectives == sorted(objectives, reverse=True)
        for message in improved:
            assert objective_of(eight, message[4]) == message[3]
        assert [m[3] for m in messages if m[0] == "done" and m[2] == round_number] != []
    # the second round's first solution is the zig-zag itself
    first_of_second = next(m for m in messages if m[0] == "improved" and m[2] == 2)
    assert first_of_second[4] == zig_zag
