"""Data-parallel training: shards, the single-process context, and a real torchrun run on gloo.

Run under torchrun (``torchrun --standalone --nproc-per-node 2 -m
tests.workloads.training.test_distributed <dir>``) this module is also the worker: each rank
trains the shared small problem three times (uninterrupted; stopped when rank 1 alone asks;
resumed) and saves what it saw to ``<dir>/rank<r>.pt``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.workloads.training.test_torch_trainer import (
    PARAMS,
    StopAfterPolls,
    assert_same_weights,
    make_data,
)
from workloads.training.checkpoints import CheckpointStore
from workloads.training.distributed import (
    DistributedContext,
    StopVote,
    distributed_context,
    gather_rows,
    row_range,
    shard,
)
from workloads.training.torch_trainer import train_tabular_net

ROOT = Path(__file__).resolve().parents[3]
TORCHRUN = Path(sys.executable).with_name("torchrun")
# Rank 1 asks to stop before batch 5 of epoch 3 (7 batches per rank and epoch); the vote
# settles one boundary later, on both ranks.
STOP_AFTER_POLLS = 2 * 7 + 5


def test_shards_are_equal_and_disjoint() -> None:
    # given a permutation of 10 rows and a world of 3
    permutation = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    contexts = [DistributedContext(rank=rank, world_size=3) for rank in range(3)]
    # when each rank takes its shard
    shards = [shard(permutation, context) for context in contexts]
    # then every rank has 3 rows (one row left out this epoch) and no row is shared
    assert [len(part) for part in shards] == [3, 3, 3]
    assert len(set(torch.cat(shards).tolist())) == 9
    assert torch.equal(shard(permutation, DistributedContext()), permutation)


def test_row_ranges_cover_the_rows_once() -> None:
    # given 10 validation rows and a world of 4, when each rank takes its range
    ranges = [row_range(10, DistributedContext(rank=rank, world_size=4)) for rank in range(4)]
    # then the ranges are contiguous, cover every row and differ in size by at most one
    assert ranges == [(0, 3), (3, 6), (6, 8), (8, 10)]


def test_without_torchrun_the_context_is_a_single_process() -> None:
    # given an environment without torchrun's variables
    with distributed_context({}) as context:
        # when asked, then it is a single primary process on the CPU, and collectives are local
        assert (context.rank, context.world_size, context.is_primary) == (0, 1, True)
        assert not context.is_distributed
        assert context.device == torch.device("cpu")
        part = torch.arange(6.0).reshape(3, 2)
        assert gather_rows(part, 3, context) is part
        vote = StopVote(context)
        assert (vote(False), vote(True)) == (False, True)


def test_a_bad_torchrun_environment_is_named() -> None:
    # given WORLD_SIZE without RANK
    environ = {"WORLD_SIZE": "2", "LOCAL_RANK": "0"}
    # when entering the context, then the missing variable is named
    with (
        pytest.raises(RuntimeError, match=r"^RANK is not set; launch distributed training"),
        distributed_context(environ),
    ):
        pass


def test_torchrun_two_ranks_train_one_model_stop_together_and_resume(tmp_path: Path) -> None:
    # given two CPU processes of one thread each under torchrun (gloo)
    command = [str(TORCHRUN), "--standalone", "--nproc-per-node", "2"]
    command += ["-m", "tests.workloads.training.test_distributed", str(tmp_path)]
    environ = {**os.environ, "OMP_NUM_THREADS": "1"}
    # when they train, then train again with a stop that only rank 1 asks for, then resume
    returncode, stderr = run_in_own_group(command, environ, timeout=120)
    # then both exit 0 ...
    assert returncode == 0, stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    # ... with one model on both ranks that learned the problem
    assert_same_weights(ranks[0]["reference"], ranks[1]["reference"])
    assert ranks[0]["reference_metrics"] == ranks[1]["reference_metrics"]
    assert ranks[0]["reference_metrics"]["valid_accuracy"] > 0.85
    assert [rank["is_primary"] for rank in ranks] == [True, False]
    # ... both stopped at the same boundary, and only rank 0 wrote checkpoints
    assert [rank["interrupted"] for rank in ranks] == [True, True]
    assert [rank["epochs_when_stopped"] for rank in ranks] == [2, 2]
    assert ranks[0]["newest_step_when_stopped"] == 2 * 7 + 6
    assert not (tmp_path / "rank1").exists()
    # ... and the resumed run ended exactly where the uninterrupted one did
    for rank in ranks:
        assert_same_weights(rank["resumed"], rank["reference"])
        assert rank["resumed_metrics"] == rank["reference_metrics"]


def run_in_own_group(command: list[str], environ: dict[str, str], timeout: float):
    """Run torchrun in a session of its own; on timeout kill the session, workers included.

    Killing torchrun alone (what ``subprocess.run`` does on timeout) would leave its workers
    waiting in gloo for a peer that never comes.
    """
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
        pytest.fail(f"torchrun did not finish in {timeout} s: {stderr[-3000:]}")
    return process.returncode, stderr


def main(directory: Path) -> int:
    """The torchrun worker: train three times on this rank and save what each run ended with."""
    rank = int(os.environ["RANK"])
    data = make_data(rows=600)  # 400 training rows: 200 per rank, 7 batches of 32
    checkpoint_dir = directory / f"rank{rank}"  # one per instance, as on SageMaker
    reference = train_tabular_net(data, PARAMS, checkpoint_dir=None)
    stop = StopAfterPolls(STOP_AFTER_POLLS) if rank == 1 else None
    stopped = train_tabular_net(data, PARAMS, checkpoint_dir=checkpoint_dir, stop=stop)
    found = CheckpointStore(checkpoint_dir).checkpoints()
    resumed = train_tabular_net(data, PARAMS, checkpoint_dir=checkpoint_dir)
    assert reference.model is not None
    assert resumed.model is not None
    summary = {
        "reference": reference.model.state_dict(),
        "reference_metrics": reference.metrics,
        "is_primary": reference.is_primary,
        "interrupted": stopped.interrupted,
        "epochs_when_stopped": stopped.epochs_run,
        "newest_step_when_stopped": found[-1].step if found else None,
        "resumed": resumed.model.state_dict(),
        "resumed_metrics": resumed.metrics,
    }
    torch.save(summary, directory / f"rank{rank}.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
