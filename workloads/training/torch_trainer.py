"""Train a ``TabularNet`` on tabular data: one process or data-parallel under torchrun, spot-safe.

The loop is a plain PyTorch loop (AdamW, cross-entropy or mean squared error, minibatches from a
seeded permutation per epoch) with three additions that put nothing on the per-batch path but a
stop-flag check (benchmarks/training_loop_overhead.py measures it against a bare loop):

- early stopping: after each epoch the validation metrics (``evaluation.evaluate``, the same
  metrics every algorithm reports) decide whether ``objective`` improved; the best weights are
  kept and training stops after ``patience`` epochs without improvement;
- checkpoints (``checkpoints.CheckpointStore``): every ``checkpoint_every`` epochs, and at the
  batch boundary where a stop was requested (SIGTERM through ``spot.StopRequest``). A checkpoint
  holds everything the rest of the run depends on: weights, optimizer, position (epoch and
  batch), the epoch's partial training loss, best weights and metric, the patience counter and
  the random states (torch, CUDA, numpy, Python, and the data-order generator as it was when the
  epoch's permutation was drawn). A restart resumes from the newest valid checkpoint and, on the
  same hardware and thread count, ends with exactly the weights and metrics of a run that was
  never interrupted;
- distribution (``distributed``): under torchrun each rank trains on its shard of every epoch's
  permutation in ``DistributedDataParallel``; ``batch_size`` is per process.

Determinism: on CPU a given seed and thread count give bit-identical runs. Mixed precision
(bf16 autocast where the GPU supports it, else fp16 with a gradient scaler) is used on CUDA only.
Checkpoints are read with ``torch.load(..., weights_only=True)``: every value in them is a
tensor or a plain Python value, random states included.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from workloads.model_layout import PYTORCH
from workloads.tabular_net import TabularNet
from workloads.training import objectives
from workloads.training.checkpoints import CheckpointStore
from workloads.training.data import require_complete
from workloads.training.distributed import (
    DistributedContext,
    StopVote,
    broadcast_from_primary,
    distributed_context,
    gather_rows,
    gather_to_all,
    row_range,
    shard,
    sum_across,
)
from workloads.training.evaluation import evaluate
from workloads.training.hyperparameters import as_strings
from workloads.training.outcome import TrainedModel
from workloads.training.params import TorchParams
from workloads.training.progress import Progress

if TYPE_CHECKING:
    from workloads.training.data import TabularData
    from workloads.training.outcome import TrainingContext
    from workloads.training.reporting import MetricReporter
    from workloads.training.spot import StopRequest

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
"""The layout of a checkpoint's payload; a different one is not resumed from."""
VALIDATION_CHUNK = 65_536
"""Rows per validation forward pass: bounds activation memory on large validation sets."""


@dataclass
class TorchOutcome:
    """What a training run ended with."""

    model: TabularNet | None
    """The best model (by ``objective``), on CPU, in eval mode; None when interrupted."""
    metrics: dict[str, float]
    """``train_loss`` and the validation metrics of the best epoch (so far, when interrupted)."""
    best_epoch: int
    """The 1-based epoch the best model comes from (0 when no epoch finished)."""
    epochs_run: int
    """Epochs finished, counting those before any restart."""
    stopped_early: bool
    """Whether early stopping ended training before ``epochs``."""
    interrupted: bool
    """A stop was requested (SIGTERM): a final checkpoint was written; the caller exits 0
    without a model and the restarted job resumes."""
    is_primary: bool
    """Rank 0, or not distributed: only it writes the model and metrics."""


@dataclass
class _LoopState:
    """Everything about the run's position that a checkpoint must carry, besides the modules."""

    loss_sum: torch.Tensor
    """Sum of (batch loss x batch rows) over this epoch's finished batches, on the device."""
    data_order: torch.Tensor
    """The data-order generator's state before this epoch's permutation was drawn."""
    epoch: int = 0
    """Epochs finished (the 0-based index of the epoch in progress)."""
    batch: int = 0
    """Batches of the epoch in progress already trained on."""
    best_state: dict[str, torch.Tensor] | None = None
    """CPU copies of the best epoch's weights."""
    best_metrics: dict[str, float] = field(default_factory=dict)
    """The metrics of the best epoch."""
    best_epoch: int = 0
    """The 1-based best epoch (0 before the first)."""
    best_value: float | None = None
    """The best epoch's ``objective``."""
    stale_epochs: int = 0
    """Epochs since the objective last improved."""
    stopped_early: bool = False
    """Early stopping ended the run (a resumed finished run trains no more)."""


class _NoProgress(AbstractContextManager["_NoProgress"]):
    """Progress for ranks other than the primary: shows nothing."""

    def __exit__(self, *exc_info: object) -> None:
        return None

    def advance(self, n: int = 1, **postfix: Any) -> None:
        """Show nothing."""

    def stop_early(self, reason: str) -> None:
        """Show nothing."""


def train_tabular_net(
    data: TabularData,
    params: TorchParams,
    *,
    checkpoint_dir: Path | None,
    reporter: MetricReporter | None = None,
    stop: StopRequest | None = None,
) -> TorchOutcome:
    """Train a ``TabularNet`` on ``data``; see the module docstring for the loop's guarantees.

    ``checkpoint_dir`` (``/opt/ml/checkpoints`` on SageMaker) is where checkpoints are written and
    resumed from; None turns checkpoints off. ``reporter`` receives every epoch's metrics (on
    the primary rank); ``stop`` is polled at every batch boundary.
    """
    problems = params.problems(data.task) + _data_problems(data)
    if problems:
        raise ValueError("invalid PyTorch training: " + "; ".join(problems))
    threads = torch.get_num_threads()
    if params.num_threads:
        torch.set_num_threads(params.num_threads)
    try:
        with distributed_context() as context:
            run = _Run(data, params, context, checkpoint_dir, reporter, stop)
            return run.train()
    finally:
        torch.set_num_threads(threads)


def train_pytorch(data: TabularData, params: TorchParams, context: TrainingContext) -> TrainedModel:
    """The PyTorch path: :func:`train_tabular_net` as a :class:`TrainedModel`."""
    # A NaN input poisons every weight it reaches: refuse it with the column names up front.
    require_complete(data, "pytorch")
    outcome = train_tabular_net(
        data,
        params,
        checkpoint_dir=context.checkpoint_dir,
        reporter=context.reporter,
        stop=context.stop,
    )
    return TrainedModel(
        framework=PYTORCH,
        model=outcome.model,
        metrics=dict(outcome.metrics),
        framework_version=torch.__version__.split("+")[0],
        best_step=outcome.best_epoch,
        steps_run=outcome.epochs_run,
        stopped_early=outcome.stopped_early,
        interrupted=outcome.interrupted,
        is_primary=outcome.is_primary,
        params=as_strings(params),
    )


def _data_problems(data: TabularData) -> list[str]:
    problems = []
    if data.task not in objectives.METRICS:
        problems.append(f"task: must be one of {list(objectives.METRICS)}, not {data.task!r}")
    for split in ("train", "valid"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        names = data.encoded_names
        if x.ndim != 2 or len(x) == 0 or x.shape[1] != len(names):
            problems.append(f"x_{split}: must have rows and {len(names)} columns, not {x.shape}")
        if len(y) != len(x):
            problems.append(f"y_{split}: has {len(y)} rows but x_{split} has {len(x)}")
        elif x.ndim == 2 and np.isnan(x).any():
            # A NaN input makes every loss NaN: say so now, not after an epoch of NaN.
            flags = np.isnan(x).any(axis=0)
            columns = [n for n, bad in zip(names, flags, strict=True) if bad]
            problems.append(
                f"x_{split}: missing values in {columns}; the network needs them imputed"
            )
    return problems


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # every CUDA device too


def _rng_states(device: torch.device) -> dict[str, Any]:
    """The process's random states as tensors and plain values (``weights_only`` loads them)."""
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {
            "version": version,
            "internal": torch.tensor(internal, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }


def _set_rng_states(states: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and states["cuda"] is not None:
        torch.cuda.set_rng_state(states["cuda"], device)
    numpy_state = states["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python_state = states["python"]
    random.setstate(
        (
            python_state["version"],
            tuple(int(value) for value in python_state["internal"].tolist()),
            python_state["gauss_next"],
        )
    )


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in state.items()}


def _load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's payload, refused (so the store falls back) unless its layout is ours."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"not a format-{CHECKPOINT_FORMAT} TabularNet training checkpoint")
    return payload


class _Run:
    """One call of ``train_tabular_net``: the modules, the data on the device and the loop."""

    def __init__(
        self,
        data: TabularData,
        params: TorchParams,
        context: DistributedContext,
        checkpoint_dir: Path | None,
        reporter: MetricReporter | None,
        stop: StopRequest | None,
    ) -> None:
        self.data = data
        self.params = params
        self.context = context
        self.reporter = reporter
        self.stop = stop
        self.store = CheckpointStore(Path(checkpoint_dir)) if checkpoint_dir is not None else None
        self.minimize = objectives.direction(data.task, params.objective) == objectives.MINIMIZE
        self.classification = data.task == objectives.CLASSIFICATION
        device = context.device
        if self.classification:
            output_size = len(data.classes) or int(max(data.y_train.max(), data.y_valid.max())) + 1
        else:
            output_size = 1

        _seed_everything(params.seed)
        self.net = TabularNet(
            input_size=data.x_train.shape[1],
            hidden_sizes=params.hidden_sizes,
            output_size=output_size,
            dropout=params.dropout,
            standardize=True,
        )
        # From the training rows only (every rank holds all of them, so all agree).
        self.net.fit_standardization(torch.from_numpy(data.x_train))
        self.net.to(device)
        self.model: nn.Module = self.net
        if context.is_distributed:
            # Same initial weights everywhere (DDP also broadcasts rank 0's), but different
            # dropout masks per rank: each rank's batches are different rows.
            torch.manual_seed(params.seed + context.rank)
            self.model = nn.parallel.DistributedDataParallel(
                self.net, device_ids=[device.index] if device.type == "cuda" else None
            )
        self.optimizer = torch.optim.AdamW(
            self.net.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
        )
        self.loss_fn: nn.Module = nn.CrossEntropyLoss() if self.classification else nn.MSELoss()
        self.amp_dtype: torch.dtype | None = None
        self.scaler: torch.amp.GradScaler | None = None
        if params.mixed_precision and device.type == "cuda":
            bf16 = torch.cuda.is_bf16_supported()
            self.amp_dtype = torch.bfloat16 if bf16 else torch.float16
            # bf16 has fp32's exponent range: only fp16 needs loss scaling.
            self.scaler = None if bf16 else torch.amp.GradScaler("cuda")
        # Its own generator, on the CPU and seeded alike on every rank: every rank draws the
        # same permutation and takes its shard; dropout's global generator stays separate.
        self.data_order = torch.Generator().manual_seed(params.seed)

        self.rows = len(data.x_train)
        self.x = torch.from_numpy(data.x_train).to(device)
        y = torch.from_numpy(data.y_train)
        self.y = y.to(device) if self.classification else y.reshape(-1, 1).float().to(device)
        start, stop_row = row_range(len(data.x_valid), context)
        self.x_valid = torch.from_numpy(data.x_valid[start:stop_row]).to(device)
        self.rows_per_rank = self.rows // context.world_size  # what `shard` gives each rank
        self.batches_per_epoch = -(-self.rows_per_rank // params.batch_size)

    # --- the loop ---------------------------------------------------------------------------

    def train(self) -> TorchOutcome:
        """Resume or start, train until done, early-stopped or asked to stop."""
        state = self._resume() or self._fresh_state()
        primary = self.context.is_primary
        vote = StopVote(self.context)
        remaining = self.params.epochs - state.epoch
        progress: Any = Progress(remaining, "epochs") if primary and remaining > 0 else None
        with progress or _NoProgress() as bar:
            while state.epoch < self.params.epochs and not state.stopped_early:
                if not self._train_epoch(state, vote):
                    vote.close()
                    self._save(state, final=True)
                    return self._outcome(state, interrupted=True)
                metrics = self._finish_epoch(state)
                if primary:
                    if self.reporter is not None:
                        self.reporter.report(metrics, step=state.epoch)
                    bar.advance(1, train_loss=metrics["train_loss"], best_epoch=state.best_epoch)
                    if state.stopped_early:
                        bar.stop_early(
                            f"no improvement in {self.params.objective} for "
                            f"{self.params.patience} epochs (best: epoch {state.best_epoch})"
                        )
                finished = state.stopped_early or state.epoch == self.params.epochs
                if finished or state.epoch % self.params.checkpoint_every == 0:
                    self._save(state)
        vote.close()
        return self._outcome(state, interrupted=False)

    def _train_epoch(self, state: _LoopState, vote: StopVote) -> bool:
        """Train the rest of the epoch in progress; False when stopped at a batch boundary."""
        state.data_order = self.data_order.get_state()
        permutation = torch.randperm(self.rows, generator=self.data_order)
        batches = (
            shard(permutation, self.context).to(self.context.device).split(self.params.batch_size)
        )
        step = self._step_function()
        stop = self.stop
        loss_sum = state.loss_sum
        self.model.train()
        # The hot loop: nothing here but what a bare PyTorch loop does, plus a flag check.
        for index in range(state.batch, len(batches)):
            if vote(stop is not None and stop.requested):
                state.batch = index
                return False
            rows = batches[index]
            loss_sum += step(rows) * len(rows)
        state.batch = len(batches)
        return True

    def _step_function(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """One optimizer step on some rows, returning the detached loss (no device sync)."""
        model, optimizer, loss_fn, x, y = self.model, self.optimizer, self.loss_fn, self.x, self.y
        amp_dtype, scaler = self.amp_dtype, self.scaler

        def step(rows: torch.Tensor) -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[rows]), y[rows])
            loss.backward()
            optimizer.step()
            return loss.detach()

        def mixed_precision_step(rows: torch.Tensor) -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=amp_dtype):
                loss = loss_fn(model(x[rows]), y[rows])
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            return loss.detach().float()

        return step if amp_dtype is None else mixed_precision_step

    def _finish_epoch(self, state: _LoopState) -> dict[str, float]:
        """Metrics of the finished epoch, best-model and early-stopping bookkeeping."""
        device = self.context.device
        rows = torch.tensor(self.rows_per_rank, dtype=torch.float64, device=device)
        totals = sum_across(torch.stack([state.loss_sum.double(), rows]), self.context)
        metrics = {"train_loss": (totals[0] / totals[1]).item(), **self._validate()}
        state.epoch += 1
        state.batch = 0
        state.data_order = self.data_order.get_state()  # the next epoch's permutation comes next
        state.loss_sum = torch.zeros((), device=device)
        value = metrics[self.params.objective]
        if state.best_state is None or self._better(value, state.best_value):
            state.best_state = _cpu_copy(self.net.state_dict())
            state.best_metrics = metrics
            state.best_epoch = state.epoch
            state.best_value = value
            state.stale_epochs = 0
        else:
            state.stale_epochs += 1
        if state.stale_epochs >= self.params.patience and state.epoch < self.params.epochs:
            state.stopped_early = True
        return metrics

    def _better(self, value: float, best: float | None) -> bool:
        if not math.isfinite(value):
            return False
        if best is None or not math.isfinite(best):
            return True
        return value < best if self.minimize else value > best

    def _validate(self) -> dict[str, float]:
        """The validation metrics, identical on every rank (rank 0 computes, all receive)."""
        self.net.eval()
        with torch.no_grad():
            if len(self.x_valid):
                chunks = self.x_valid.split(VALIDATION_CHUNK)
                outputs = torch.cat([self.net(chunk) for chunk in chunks]).double()
            else:  # more ranks than validation rows
                outputs = torch.empty((0, self.net.output_size), dtype=torch.float64)
                outputs = outputs.to(self.context.device)
            scores = outputs.softmax(dim=1) if self.classification else outputs[:, 0]
        scores = gather_rows(scores, len(self.data.x_valid), self.context)
        metrics = None
        if self.context.is_primary:
            found = evaluate(self.data.task, self.data.y_valid, scores.cpu().numpy())
            metrics = {name: float(value) for name, value in found.items()}
        return broadcast_from_primary(metrics, self.context)

    # --- checkpoints ------------------------------------------------------------------------

    def _signature(self) -> dict[str, Any]:
        """What must match for a checkpoint to continue this run (not epochs or patience)."""
        params = self.params
        return {
            "task": self.data.task,
            "input_size": self.net.input_size,
            "output_size": self.net.output_size,
            "train_rows": self.rows,
            "valid_rows": len(self.data.x_valid),
            "world_size": self.context.world_size,
            "hidden_sizes": list(params.hidden_sizes),
            "dropout": params.dropout,
            "learning_rate": params.learning_rate,
            "weight_decay": params.weight_decay,
            "batch_size": params.batch_size,
            "objective": params.objective,
            "seed": params.seed,
        }

    def _fresh_state(self) -> _LoopState:
        return _LoopState(
            loss_sum=torch.zeros((), device=self.context.device),
            data_order=self.data_order.get_state(),
        )

    def _save(self, state: _LoopState, *, final: bool = False) -> None:
        """Checkpoint the run at its position; a collective (every rank's random states)."""
        if self.store is None:
            return
        rng = gather_to_all(_rng_states(self.context.device), self.context)
        step = state.epoch * self.batches_per_epoch + state.batch
        if not self.context.is_primary:
            return
        payload = {
            "format": CHECKPOINT_FORMAT,
            "signature": self._signature(),
            "epoch": state.epoch,
            "batch": state.batch,
            "loss_sum": state.loss_sum.detach().cpu(),
            "data_order": state.data_order,
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "best_state": state.best_state,
            "best_metrics": state.best_metrics,
            "best_epoch": state.best_epoch,
            "best_value": state.best_value,
            "stale_epochs": state.stale_epochs,
            "stopped_early": state.stopped_early,
            "rng": rng,
        }
        path = self.store.save(step, lambda target: torch.save(payload, target))
        if final:
            waited = self.stop.seconds_since_request() if self.stop is not None else None
            logger.warning(
                "stop requested: checkpoint %s written at epoch %d, batch %d%s; exiting to resume",
                path,
                state.epoch + 1,
                state.batch,
                f", {waited:.1f} s after the request" if waited is not None else "",
            )

    def _resume(self) -> _LoopState | None:
        """The state of the newest valid checkpoint (rank 0 reads, every rank receives)."""
        if self.store is None:
            return None
        found = self.store.load_latest(_load_checkpoint) if self.context.is_primary else None
        found = broadcast_from_primary(found, self.context)
        if found is None:
            return None
        step, payload = found
        expected = self._signature()
        differences = [
            f"{name} {payload['signature'].get(name)!r} != {value!r}"
            for name, value in expected.items()
            if payload["signature"].get(name) != value
        ]
        if differences:
            raise ValueError(
                f"the checkpoint in {self.store.directory} (step {step}) belongs to another run "
                f"(checkpoint != this run: {'; '.join(differences)}); use an empty checkpoint "
                "directory for a new run"
            )
        device = self.context.device
        self.net.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scaler is not None and payload["scaler"] is not None:
            self.scaler.load_state_dict(payload["scaler"])
        self.data_order.set_state(payload["data_order"])
        _set_rng_states(payload["rng"][self.context.rank], device)
        logger.info(
            "resuming from checkpoint step %d: epoch %d, batch %d",
            step,
            payload["epoch"] + 1,
            payload["batch"],
        )
        return _LoopState(
            loss_sum=payload["loss_sum"].to(device),
            data_order=payload["data_order"],
            epoch=payload["epoch"],
            batch=payload["batch"],
            best_state=payload["best_state"],
            best_metrics=payload["best_metrics"],
            best_epoch=payload["best_epoch"],
            best_value=payload["best_value"],
            stale_epochs=payload["stale_epochs"],
            stopped_early=payload["stopped_early"],
        )

    def _outcome(self, state: _LoopState, *, interrupted: bool) -> TorchOutcome:
        model = None
        if not interrupted and state.best_state is not None:
            model = TabularNet.from_network(self.net.network_spec())
            model.load_state_dict(state.best_state)
            model.eval()
        return TorchOutcome(
            model=model,
            metrics=dict(state.best_metrics),
            best_epoch=state.best_epoch,
            epochs_run=state.epoch,
            stopped_early=state.stopped_early,
            interrupted=interrupted,
            is_primary=self.context.is_primary,
        )
