"""The incumbent's checkpoints: atomic, verified, the newest valid one wins, rate-limited."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from workloads.optimization.checkpoints import (
    CheckpointFolder,
    CheckpointWriter,
    fingerprint,
    result_from_dict,
)
from workloads.optimization.results import Improvement, SolveResult, SolveStatus, StopReason


def _result(objective: float, seconds: float = 1.0) -> SolveResult:
    return SolveResult(
        problem="countdown",
        name="a",
        status=SolveStatus.FEASIBLE,
        stop_reason=StopReason.TOTAL_TIME_LIMIT,
        objective=objective,
        bound=10.0,
        elapsed_seconds=seconds,
        history=[Improvement(0.5, objective + 1), Improvement(seconds, objective)],
        solution={"value": int(objective)},
    )


@dataclass(frozen=True)
class _Problem:
    name: str
    sizes: tuple[int, ...]


def test_the_fingerprint_follows_the_problem_content() -> None:
    # given two equal problems and a different one
    # then equal content hashes equal, other content differently
    assert fingerprint(_Problem("a", (1, 2))) == fingerprint(_Problem("a", (1, 2)))
    assert fingerprint(_Problem("a", (1, 2))) != fingerprint(_Problem("a", (2, 1)))


def test_a_result_survives_the_round_trip() -> None:
    # given
    result = _result(42.0)
    # when
    again = result_from_dict(json.loads(json.dumps(result.to_dict())))
    # then
    assert again == result


def test_the_newest_checkpoint_is_loaded(tmp_path: Path) -> None:
    # given two checkpoints, the later one better
    folder = CheckpointFolder(tmp_path, "countdown", "f" * 64)
    folder.save(_result(50.0), 1.0)
    folder.save(_result(40.0, 2.0), 2.0)
    notes: list[str] = []
    # when
    found = folder.newest(notes.append)
    # then
    assert found is not None and found.result.objective == 40.0
    assert (found.elapsed_seconds, notes) == (2.0, [])


def test_a_corrupt_newest_checkpoint_is_skipped_with_a_note(tmp_path: Path) -> None:
    # given an older good checkpoint and a newer one whose bytes changed after the save
    folder = CheckpointFolder(tmp_path, "countdown", "f" * 64)
    folder.save(_result(50.0), 1.0)
    newest = folder.save(_result(40.0, 2.0), 2.0)
    newest.write_text(newest.read_text().replace("40.0", "10.0"))
    notes: list[str] = []
    # when
    found = folder.newest(notes.append)
    # then the older one is used and the skip is one line naming the file
    assert found is not None and found.result.objective == 50.0
    assert notes == [f"skipping checkpoint {newest.name}: its bytes do not match its sha256"]


def test_a_checkpoint_of_another_problem_or_not_json_is_skipped(tmp_path: Path) -> None:
    # given a checkpoint of another problem and a file that is not JSON, both with good digests
    CheckpointFolder(tmp_path, "countdown", "a" * 64).save(_result(30.0), 3.0)
    folder = CheckpointFolder(tmp_path, "countdown", "b" * 64)
    junk = folder.store.save(4000, lambda path: path.write_text("{not json"))
    notes: list[str] = []
    # when
    found = folder.newest(notes.append)
    # then neither is used, and each skip says why
    assert found is None
    assert len(notes) == 2
    assert notes[0].startswith(f"skipping checkpoint {junk.name}: not JSON (")
    assert notes[1].endswith(
        ": it is for another problem (countdown aaaaaaaaaaaa, this one is countdown bbbbbbbbbbbb)"
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_improvements_are_saved_at_most_once_per_interval_and_always_last(
    tmp_path: Path,
) -> None:
    # given a writer allowing one save per 5 s
    clock = _Clock()
    folder = CheckpointFolder(tmp_path, "countdown", "f" * 64)
    writer = CheckpointWriter(folder, clock, interval_seconds=5, monotonic=clock)
    # when nothing improved yet, a tick writes nothing
    assert writer.tick() is None
    # when an improvement comes, the next tick saves it
    writer.offer(_result(50.0))
    assert writer.tick() is not None
    # when another comes 1 s later, it waits for the interval
    clock.now = 1.0
    writer.offer(_result(45.0))
    assert writer.tick() is None
    clock.now = 5.0
    assert writer.tick() is not None
    # and the final save is never skipped
    clock.now = 5.5
    writer.final(_result(44.0))
    assert writer.saves == 3
    found = folder.newest(lambda note: None)
    assert found is not None and found.result.objective == 44.0


def test_the_incumbent_is_saved_again_periodically_with_the_clock(tmp_path: Path) -> None:
    # given one saved improvement
    clock = _Clock()
    folder = CheckpointFolder(tmp_path, "countdown", "f" * 64)
    writer = CheckpointWriter(folder, clock, interval_seconds=5, monotonic=clock)
    writer.offer(_result(50.0))
    writer.tick()
    # when the interval passes without improvement
    clock.now = 6.0
    # then the tick saves it again with the run's clock
    assert writer.tick() is not None
    found = folder.newest(lambda note: None)
    assert found is not None and (found.elapsed_seconds, found.result.objective) == (6.0, 50.0)
