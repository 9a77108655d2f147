"""CheckpointStore: atomic saves, digests, pruning, and falling back past damaged checkpoints."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.workloads.conftest import mode_of
from workloads.training.checkpoints import CheckpointStore, sha256_of

ROOT = Path(__file__).resolve().parents[3]


def writer(text: str):
    return lambda path: path.write_text(text)


def read(path: Path) -> str:
    return path.read_text()


def saved(store: CheckpointStore, *steps: int) -> list[Path]:
    return [store.save(step, writer(f"payload {step}")) for step in steps]


def visible_names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_the_newest_checkpoint_loads_and_only_keep_survive(tmp_path: Path) -> None:
    # given a store keeping two checkpoints
    store = CheckpointStore(tmp_path / "checkpoints", keep=2)
    # when three are saved
    paths = saved(store, 1, 2, 3)
    # then the newest loads, the oldest is pruned, and each name carries its step and digest
    assert store.load_latest(read) == (3, "payload 3")
    assert [found.step for found in store.checkpoints()] == [2, 3]
    assert not paths[0].exists()
    assert paths[2].name == f"checkpoint-000000003-{sha256_of(paths[2])}.ckpt"
    assert visible_names(tmp_path / "checkpoints") == sorted(p.name for p in paths[1:])


def test_an_empty_or_missing_directory_has_no_checkpoint(tmp_path: Path) -> None:
    # given a directory that does not exist and one that holds unrelated files
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hello")
    # when loading from each
    missing = CheckpointStore(tmp_path / "missing").load_latest(read)
    unrelated = CheckpointStore(tmp_path / "other").load_latest(read)
    # then there is nothing to resume from
    assert missing is None
    assert unrelated is None


@pytest.mark.parametrize("damage", ["truncate", "bit_flip", "empty"])
def test_a_damaged_newest_checkpoint_is_skipped_with_a_warning(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given two checkpoints, the newest then damaged on disk
    store = CheckpointStore(tmp_path)
    _, newest = saved(store, 4, 5)
    data = newest.read_bytes()
    if damage == "truncate":
        newest.write_bytes(data[: len(data) // 2])
    elif damage == "bit_flip":
        newest.write_bytes(data[:3] + bytes([data[3] ^ 0x01]) + data[4:])
    else:
        newest.write_bytes(b"")
    # when loading the latest
    with caplog.at_level(logging.WARNING, logger="workloads.training.checkpoints"):
        found = store.load_latest(read)
    # then the previous one is used and the warning names the damaged file
    assert found == (4, "payload 4")
    assert [record.levelname for record in caplog.records] == ["WARNING"]
    assert str(newest) in caplog.text
    assert "truncated or corrupted" in caplog.text


def test_a_checkpoint_its_loader_rejects_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given two intact checkpoints whose newest the loader cannot parse
    store = CheckpointStore(tmp_path)
    saved(store, 1)
    newest = store.save(2, writer("not a number"))
    # when loading with a loader that raises on it
    with caplog.at_level(logging.WARNING, logger="workloads.training.checkpoints"):
        found = store.load_latest(lambda path: int(path.read_text().split()[-1]))
    # then the older one is returned and the warning says why
    assert found == (1, 1)
    assert f"skipping checkpoint {newest}: it does not load (ValueError:" in caplog.text


def test_every_checkpoint_damaged_means_none(tmp_path: Path) -> None:
    # given checkpoints that are all truncated
    store = CheckpointStore(tmp_path)
    for path in saved(store, 1, 2):
        path.write_bytes(b"x")
    # when loading, then there is nothing valid
    assert store.load_latest(read) is None


def test_a_write_that_fails_leaves_the_previous_checkpoints_and_no_file(tmp_path: Path) -> None:
    # given two checkpoints
    store = CheckpointStore(tmp_path)
    before = saved(store, 1, 2)

    def fails_half_way(path: Path) -> None:
        path.write_text("half a payl")
        raise OSError("disk full")

    # when a third save fails inside its writer
    with pytest.raises(OSError, match="disk full"):
        store.save(3, fails_half_way)
    # then the error propagates, nothing new is visible and the older ones still load
    assert visible_names(tmp_path) == sorted(p.name for p in before)
    assert store.load_latest(read) == (2, "payload 2")


CRASH = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import workloads.training.checkpoints as checkpoints

    directory, moment = Path(sys.argv[1]), sys.argv[2]
    store = checkpoints.CheckpointStore(directory)

    def write(path):
        path.write_text("payload 3 but onl")
        if moment == "during_write":
            os._exit(9)
        with path.open("a") as stream:
            stream.write("y part of it")

    def crash(*args, **kwargs):
        os._exit(9)

    if moment == "before_rename":
        checkpoints.os.replace = crash
    if moment == "before_prune":
        store._prune = crash
    store.save(3, write)
    """
)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("during_write", (2, "payload 2")),
        ("before_rename", (2, "payload 2")),
        ("before_prune", (3, "payload 3 but only part of it")),
    ],
)
def test_a_process_killed_while_saving_leaves_valid_checkpoints(
    tmp_path: Path, moment: str, expected: tuple[int, str]
) -> None:
    # given two checkpoints written by an earlier process
    store = CheckpointStore(tmp_path)
    saved(store, 1, 2)
    # when another process dies (os._exit, no cleanup) at a moment of its save
    result = subprocess.run(
        [sys.executable, "-c", CRASH, str(tmp_path), moment], cwd=ROOT, check=False
    )
    # then the newest complete checkpoint loads, every checkpoint left verifies, and the next
    # save clears the crashed save's temporary file
    assert result.returncode == 9
    assert store.load_latest(read) == expected
    assert all(sha256_of(found.path) == found.sha256 for found in store.checkpoints())
    store.save(4, writer("payload 4"))
    assert [name for name in visible_names(tmp_path) if name.startswith(".")] == []
    assert store.load_latest(read) == (4, "payload 4")


def test_saving_a_step_again_replaces_it(tmp_path: Path) -> None:
    # given checkpoints 1 and 2
    store = CheckpointStore(tmp_path, keep=2)
    saved(store, 1, 2)
    # when step 2 is saved again with other bytes (a resume that stopped at once)
    again = store.save(2, writer("payload 2 again"))
    # then the older file of step 2 is gone and step 1 is still the fallback
    assert [found.step for found in store.checkpoints()] == [1, 2]
    assert [found.path for found in store.checkpoints()][1] == again
    assert store.load_latest(read) == (2, "payload 2 again")


def test_the_checkpoint_just_saved_survives_pruning_even_below_older_steps(
    tmp_path: Path,
) -> None:
    # given checkpoints of steps 7 and 8 left by an abandoned run
    store = CheckpointStore(tmp_path, keep=2)
    saved(store, 7, 8)
    # when a fresh run saves step 1
    fresh = store.save(1, writer("payload 1"))
    # then its checkpoint is kept next to the newest older one
    assert fresh.exists()
    assert [found.step for found in store.checkpoints()] == [1, 8]


def test_a_suffix_names_every_file(tmp_path: Path) -> None:
    # given a store for XGBoost boosters, whose writer picks the format from the extension
    store = CheckpointStore(tmp_path, keep=1, suffix=".ubj")
    seen: list[str] = []
    # when saving, then the writer's temporary path and the checkpoint both end in .ubj
    path = store.save(10, lambda p: (seen.append(p.name), p.write_bytes(b"{}"))[-1])
    assert seen[0].endswith(".ubj")
    assert path.name.endswith(".ubj")
    assert store.load_latest(Path.read_bytes) == (10, b"{}")


def test_invalid_arguments_are_rejected(tmp_path: Path) -> None:
    # given / when / then: each bad argument fails with a message naming it
    with pytest.raises(ValueError, match=r"^keep must be >= 1, not 0$"):
        CheckpointStore(tmp_path, keep=0)
    with pytest.raises(ValueError, match=r"^suffix must be empty or start with '\.', not 'pt'$"):
        CheckpointStore(tmp_path, suffix="pt")
    with pytest.raises(ValueError, match=r"^step must be >= 0, not -1$"):
        CheckpointStore(tmp_path).save(-1, writer("x"))


def test_a_checkpoint_gets_the_mode_open_would_give_it(tmp_path: Path, usual_umask: int) -> None:
    """Given umask 022, when a checkpoint is saved, then it is 0644 like any file the job writes."""
    store = CheckpointStore(tmp_path)
    path = store.save(1, writer("one"))
    assert mode_of(path) == 0o644
