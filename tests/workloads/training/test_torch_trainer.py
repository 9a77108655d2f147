"""train_tabular_net: learning, early stopping, determinism, and resuming exactly after a stop.

Run as a script (``python -m tests.workloads.training.test_torch_trainer <dir> <result>``) this
module is also the training process that the SIGTERM test starts and signals.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from workloads.training.checkpoints import CheckpointStore
from workloads.training.data import TabularData
from workloads.training.spot import StopRequest
from workloads.training.torch_trainer import TorchOutcome, TorchParams, train_tabular_net

ROOT = Path(__file__).resolve().parents[3]
# One thread everywhere: results are bit-identical only for the same thread count, and the
# machine's cores are shared.
PARAMS = TorchParams(
    hidden_sizes=(16, 8), batch_size=32, epochs=6, patience=6, num_threads=1, learning_rate=0.01
)


def make_data(task: str = "classification", rows: int = 600, seed: int = 0) -> TabularData:
    """A small learnable problem: a linear boundary (3 classes) or a linear target with noise."""
    generator = np.random.default_rng(seed)
    x = generator.normal(size=(rows, 4)).astype(np.float32)
    if task == "classification":
        score = x[:, 0] + 0.5 * x[:, 1]
        y: np.ndarray = np.digitize(score, [-0.5, 0.5]).astype(np.int64)
        classes: tuple[Any, ...] = ("low", "mid", "high")
    else:
        y = x @ np.array([1.5, -2.0, 0.5, 0.0]) + 0.1 * generator.normal(size=rows)
        y = y.astype(np.float32)
        classes = ()
    split = rows * 2 // 3
    return TabularData(
        feature_names=("a", "b", "c", "d"),
        target="y",
        task=task,
        classes=classes,
        x_train=x[:split],
        y_train=y[:split],
        x_valid=x[split:],
        y_valid=y[split:],
    )


class RecordingReporter:
    """Keeps every report, as the MetricReporter interface receives them."""

    def __init__(self) -> None:
        self.reports: list[tuple[int | None, dict[str, float]]] = []

    def report(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.reports.append((step, dict(metrics)))


class StopAfterPolls(StopRequest):
    """A stop that the first ``polls`` batch boundaries do not see and the next one does."""

    def __init__(self, polls: int) -> None:
        super().__init__()
        self.polls = polls

    @property
    def requested(self) -> bool:
        self.polls -= 1
        if self.polls < 0:
            self.request()
        return super().requested


def weights(outcome: TorchOutcome) -> dict[str, torch.Tensor]:
    assert outcome.model is not None
    return outcome.model.state_dict()


def assert_same_weights(left: Mapping[str, torch.Tensor], right: Mapping[str, torch.Tensor]):
    assert list(left) == list(right)
    for name in left:
        assert torch.equal(left[name], right[name]), name


# --- learning -------------------------------------------------------------------------------


def test_classification_learns_and_reports_every_epoch() -> None:
    # given a learnable three-class problem
    data = make_data("classification")
    reporter = RecordingReporter()
    # when trained for a few epochs
    outcome = train_tabular_net(data, PARAMS, checkpoint_dir=None, reporter=reporter)
    # then the best model is accurate, on the CPU in eval mode, and every epoch was reported
    # with the training loss and every validation metric
    assert outcome.metrics["valid_accuracy"] > 0.85
    assert outcome.model is not None
    assert not outcome.model.training
    assert outcome.model.output_size == 3
    assert {p.device.type for p in outcome.model.parameters()} == {"cpu"}
    assert (outcome.epochs_run, outcome.interrupted, outcome.is_primary) == (6, False, True)
    assert [step for step, _ in reporter.reports] == [1, 2, 3, 4, 5, 6]
    assert set(reporter.reports[0][1]) == {
        "train_loss",
        "valid_loss",
        "valid_accuracy",
        "valid_auc",
        "valid_f1",
    }
    losses = [metrics["train_loss"] for _, metrics in reporter.reports]
    assert losses[-1] < losses[0] / 2
    best = min(reporter.reports, key=lambda report: report[1]["valid_loss"])
    assert (outcome.best_epoch, outcome.metrics) == best


def test_regression_learns_a_linear_target() -> None:
    # given a noisy linear target
    data = make_data("regression")
    # when trained
    outcome = train_tabular_net(data, replace(PARAMS, epochs=10), checkpoint_dir=None)
    # then the validation fit is good and the network has one output
    assert outcome.metrics["valid_r2"] > 0.9
    assert outcome.model is not None
    assert outcome.model.output_size == 1
    assert outcome.metrics["valid_rmse"] == pytest.approx(outcome.metrics["valid_loss"] ** 0.5)


def test_early_stopping_ends_a_plateau_and_keeps_the_best_epoch() -> None:
    # given an objective that saturates: accuracy on an easily separable problem
    data = make_data("classification")
    params = replace(PARAMS, epochs=60, patience=3, objective="valid_accuracy", learning_rate=0.05)
    reporter = RecordingReporter()
    # when trained with a small patience
    outcome = train_tabular_net(data, params, checkpoint_dir=None, reporter=reporter)
    # then it stops `patience` epochs after the best one, well before `epochs`
    assert outcome.stopped_early
    assert outcome.epochs_run == outcome.best_epoch + 3 < 60
    accuracies = [metrics["valid_accuracy"] for _, metrics in reporter.reports]
    assert outcome.metrics["valid_accuracy"] == max(accuracies)
    assert accuracies.index(max(accuracies)) + 1 == outcome.best_epoch


def test_a_seed_makes_training_repeatable() -> None:
    # given the same data and parameters
    data = make_data("classification")
    # when trained twice with one seed and once with another
    first = train_tabular_net(data, PARAMS, checkpoint_dir=None)
    second = train_tabular_net(data, PARAMS, checkpoint_dir=None)
    other = train_tabular_net(data, replace(PARAMS, seed=1), checkpoint_dir=None)
    # then the same seed gives the same weights and metrics; another seed does not
    assert_same_weights(weights(first), weights(second))
    assert first.metrics == second.metrics
    assert not torch.equal(weights(first)["layers.0.weight"], weights(other)["layers.0.weight"])


def test_invalid_parameters_are_all_named_at_once() -> None:
    # given parameters with several bad values
    params = replace(PARAMS, dropout=1.0, batch_size=0, objective="valid_r2")
    # when training, then one error names each of them
    with pytest.raises(ValueError) as raised:
        train_tabular_net(make_data(), params, checkpoint_dir=None)
    assert str(raised.value) == (
        "invalid PyTorch training: dropout: must be in [0, 1), not 1.0; "
        "batch_size: must be >= 1, not 0; "
        "objective: 'valid_r2' is not a classification metric "
        "(known: train_loss, valid_loss, valid_accuracy, valid_auc, valid_f1)"
    )


# --- stopping and resuming --------------------------------------------------------------------


def test_a_stop_mid_epoch_then_a_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    # given an uninterrupted run for reference (13 batches per epoch)
    data = make_data("classification")
    params = replace(PARAMS, checkpoint_every=2)
    reporter = RecordingReporter()
    reference = train_tabular_net(data, params, checkpoint_dir=None, reporter=reporter)
    # when a run is stopped at the batch boundary before batch 7 of epoch 3, and run again
    stopped = train_tabular_net(
        data, params, checkpoint_dir=tmp_path, stop=StopAfterPolls(2 * 13 + 7)
    )
    resumed_reporter = RecordingReporter()
    resumed = train_tabular_net(data, params, checkpoint_dir=tmp_path, reporter=resumed_reporter)
    # then the stop wrote a checkpoint at that batch and returned no model, and the resumed
    # run reported the remaining epochs with the very same metrics and ended with the very
    # same weights
    assert (stopped.interrupted, stopped.model, stopped.epochs_run) == (True, None, 2)
    assert resumed_reporter.reports == reporter.reports[2:]
    assert resumed.metrics == reference.metrics
    assert resumed.best_epoch == reference.best_epoch
    assert_same_weights(weights(resumed), weights(reference))


def test_a_finished_run_resumes_to_the_same_outcome_without_training(tmp_path: Path) -> None:
    # given a run that finished with a checkpoint directory
    data = make_data("classification")
    first = train_tabular_net(data, PARAMS, checkpoint_dir=tmp_path)
    # when the same job starts again (a restart after training, before the model was written)
    reporter = RecordingReporter()
    again = train_tabular_net(data, PARAMS, checkpoint_dir=tmp_path, reporter=reporter)
    # then it trains no epoch and returns the same model and metrics
    assert reporter.reports == []
    assert (again.metrics, again.best_epoch, again.epochs_run) == (
        first.metrics,
        first.best_epoch,
        first.epochs_run,
    )
    assert_same_weights(weights(again), weights(first))


def test_a_corrupt_newest_checkpoint_is_skipped_on_resume(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given a run stopped after epoch 4 with checkpoints after epochs 3 and 4, the newest then
    # damaged by one flipped bit
    data = make_data("classification")
    reference = train_tabular_net(data, PARAMS, checkpoint_dir=None)
    stopped = train_tabular_net(data, PARAMS, checkpoint_dir=tmp_path, stop=StopAfterPolls(4 * 13))
    assert stopped.interrupted
    checkpoints = CheckpointStore(tmp_path).checkpoints()
    assert [found.step for found in checkpoints] == [3 * 13, 4 * 13]
    newest = checkpoints[-1].path
    payload = bytearray(newest.read_bytes())
    payload[len(payload) // 2] ^= 0x10
    newest.write_bytes(bytes(payload))
    # when resumed
    reporter = RecordingReporter()
    with caplog.at_level(logging.WARNING):
        resumed = train_tabular_net(data, PARAMS, checkpoint_dir=tmp_path, reporter=reporter)
    # then the damaged file is named, training goes on from epoch 3, and the end is the same
    assert f"skipping checkpoint {newest}" in caplog.text
    assert [step for step, _ in reporter.reports] == [4, 5, 6]
    assert resumed.metrics == reference.metrics
    assert_same_weights(weights(resumed), weights(reference))


def test_a_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    # given a checkpoint directory holding another configuration's checkpoints
    data = make_data("classification")
    train_tabular_net(data, replace(PARAMS, epochs=1), checkpoint_dir=tmp_path)
    # when a run with other layers and batch size uses the same directory, then it is refused
    with pytest.raises(ValueError, match=r"belongs to another run") as raised:
        train_tabular_net(
            data, replace(PARAMS, hidden_sizes=(4,), batch_size=16), checkpoint_dir=tmp_path
        )
    assert "hidden_sizes [16, 8] != [4]; batch_size 32 != 16" in str(raised.value)


def test_sigterm_mid_run_exits_0_and_the_restart_finishes_identically(tmp_path: Path) -> None:
    # given a training process with a checkpoint directory (larger epochs, so SIGTERM lands
    # inside one), and the same training uninterrupted in this process
    rows = 6000
    command = [sys.executable, "-m", "tests.workloads.training.test_torch_trainer"]
    command += [str(tmp_path), str(tmp_path / "result.pt"), "--rows", str(rows)]
    reporter = RecordingReporter()
    reference = train_tabular_net(
        make_data(rows=rows), PARAMS, checkpoint_dir=None, reporter=reporter
    )
    # when it is sent SIGTERM as soon as it reports its first epoch
    worker = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        first_line = worker.stdout.readline()
        worker.send_signal(signal.SIGTERM)
        rest, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:  # never leave a training process behind
            worker.kill()
            worker.wait()
    # then it exits 0 without a model, having written a final checkpoint
    assert first_line.startswith("step=1 ")
    assert worker.returncode == 0
    assert rest.splitlines()[-1] == "interrupted"
    assert not (tmp_path / "result.pt").exists()
    # and when the job starts again with the same directory, it finishes with the same epochs
    # and the same model as the run that was never interrupted
    resumed_reporter = RecordingReporter()
    resumed = train_tabular_net(
        make_data(rows=rows), PARAMS, checkpoint_dir=tmp_path, reporter=resumed_reporter
    )
    assert resumed_reporter.reports == reporter.reports[-len(resumed_reporter.reports) :]
    assert 1 <= len(resumed_reporter.reports) <= 5
    assert resumed.metrics == reference.metrics
    assert_same_weights(weights(resumed), weights(reference))


# --- the worker the subprocess tests start ---------------------------------------------------


class PrintingReporter:
    """Prints each epoch's metrics at once: the test waits for the first line."""

    def report(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        print(f"step={step} " + json.dumps(dict(metrics)), flush=True)


def main(argv: list[str]) -> int:
    """Train the shared problem with a checkpoint directory, stopping cleanly on SIGTERM.

    Usage: ``<checkpoint dir> <result file> [--rows N]``; prints ``interrupted`` when stopped,
    else saves the model's weights and metrics to the result file.
    """
    checkpoint_dir, result = Path(argv[0]), Path(argv[1])
    options = dict(zip(argv[2::2], argv[3::2], strict=True))
    data = make_data(rows=int(options.get("--rows", "600")))
    with StopRequest.on_sigterm() as stop:
        outcome = train_tabular_net(
            data, PARAMS, checkpoint_dir=checkpoint_dir, reporter=PrintingReporter(), stop=stop
        )
    if outcome.interrupted:
        print("interrupted", flush=True)
        return 0
    assert outcome.model is not None
    torch.save({"weights": outcome.model.state_dict(), "metrics": outcome.metrics}, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
