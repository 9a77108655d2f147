"""Training-loop benchmark: our `train_tabular_net` against a bare PyTorch loop, same work.

Run from the repository root with the project's virtualenv:

    .venv/bin/python benchmarks/training_loop_overhead.py           # 200k x 32, 5 epochs, 1 thread
    .venv/bin/python benchmarks/training_loop_overhead.py --quick   # 20k rows, 3 epochs

What is compared, and how it is made fair:
- the same synthetic classification data (seeded; 200,000 training and 20,000 validation rows of
  32 float32 features, 4 classes), the same `TabularNet` (64, 32 hidden units, dropout 0.1), AdamW,
  cross-entropy, batch size 256, the same epochs, the same seed and the same thread count;
- the bare loop follows our seeding recipe (python, numpy and torch seeded with the seed, the
  network built, then a CPU `torch.Generator` seeded alike drawing one permutation per epoch), so
  both draw the same batches and the same dropout masks: their per-epoch losses must be equal to
  the last bit, which this script checks;
- both evaluate the validation set after every epoch in the same way (one forward pass, softmax
  in float64, `workloads.training.evaluation.evaluate`), so that cost is in both figures;
- ours runs as production runs it, minus I/O: early stopping is effectively off (patience = epochs,
  its bookkeeping and best-weights copy still run), no checkpoint directory (the bare loop saves
  nothing either), no metric reporter beyond a timestamp, progress on stderr;
- one epoch's time is the time from the end of one epoch's validation to the end of the next
  (ours: the reporter's timestamps; bare: the same points in its loop); a tiny run of each pays
  the lazy imports first, the first epoch of every run is left out (warm-up), and runs alternate
  ours/bare `--repeats` times; the medians of all the other epochs are compared (the machine
  may be shared: the load average is printed, and the fastest epoch of each is shown too).

Target: ours <= 1.05x the bare loop's time per epoch, and identical losses. Exit 1 otherwise.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench_support import add_problem_arguments, write_results

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from workloads.tabular_net import TabularNet  # noqa: E402
from workloads.training.data import TabularData  # noqa: E402
from workloads.training.evaluation import evaluate  # noqa: E402
from workloads.training.torch_trainer import TorchParams, train_tabular_net  # noqa: E402

DEFAULT_OUT = REPO / "build" / "bench" / "training_loop_overhead.json"
TARGET_RATIO = 1.05


def synthetic_data(rows: int, valid_rows: int, features: int, classes: int, seed: int = 0):
    """A seeded classification problem: classes by a noisy linear score's quantiles."""
    generator = np.random.default_rng(seed)
    total = rows + valid_rows
    x = generator.normal(size=(total, features)).astype(np.float32)
    score = x @ generator.normal(size=features) + 0.5 * generator.normal(size=total)
    edges = np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1])
    y = np.digitize(score, edges).astype(np.int64)
    return TabularData(
        feature_names=tuple(f"x{i}" for i in range(features)),
        target="y",
        task="classification",
        classes=tuple(range(classes)),
        x_train=np.ascontiguousarray(x[:rows]),
        y_train=y[:rows],
        x_valid=np.ascontiguousarray(x[rows:]),
        y_valid=y[rows:],
    )


class Timestamps:
    """A metric reporter that keeps each epoch's end time and metrics."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.metrics: list[dict[str, float]] = []

    def report(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Keep the time and the metrics."""
        self.times.append(time.perf_counter())
        self.metrics.append(dict(metrics))


def run_ours(data: TabularData, params: TorchParams) -> tuple[list[float], list[dict[str, float]]]:
    reporter = Timestamps()
    start = time.perf_counter()
    train_tabular_net(data, params, checkpoint_dir=None, reporter=reporter)
    return [start, *reporter.times], reporter.metrics


def run_bare(data: TabularData, params: TorchParams) -> tuple[list[float], list[dict[str, float]]]:
    """The loop anyone would write, following the same seeding recipe."""
    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(params.num_threads)
    random.seed(params.seed)
    np.random.seed(params.seed)
    torch.manual_seed(params.seed)
    model = TabularNet(
        data.x_train.shape[1], params.hidden_sizes, len(data.classes), params.dropout
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(params.seed)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    x_valid = torch.from_numpy(data.x_valid)
    times, metrics = [start], []
    for _ in range(params.epochs):
        model.train()
        loss_sum = torch.zeros(())
        for rows in torch.randperm(len(x), generator=order).split(params.batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[rows]), y[rows])
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(rows)
        train_loss = loss_sum.double().item() / len(x)
        model.eval()
        with torch.no_grad():
            scores = model(x_valid).double().softmax(dim=1)
        metrics.append(
            {"train_loss": train_loss, **evaluate(data.task, data.y_valid, scores.numpy())}
        )
        times.append(time.perf_counter())
    torch.set_num_threads(threads)
    return times, metrics


def per_epoch(times: list[float]) -> list[float]:
    return [after - before for before, after in itertools.pairwise(times)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_problem_arguments(parser)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20k rows, 3 epochs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.valid_rows, args.epochs = 20_000, 2_000, 3
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = synthetic_data(args.rows, args.valid_rows, args.features, args.classes)
    params = TorchParams(
        epochs=args.epochs,
        patience=args.epochs,  # early stopping never triggers; its bookkeeping still runs
        batch_size=args.batch_size,
        num_threads=args.threads,
    )
    warm_up = synthetic_data(1_000, 100, args.features, args.classes)
    run_ours(warm_up, TorchParams(epochs=1, num_threads=args.threads))
    run_bare(warm_up, TorchParams(epochs=1, num_threads=args.threads))
    loadavg_before = os.getloadavg()
    ours: list[list[float]] = []
    bare: list[list[float]] = []
    same_losses = True
    for _ in range(args.repeats):
        our_times, our_metrics = run_ours(data, params)
        bare_times, bare_metrics = run_bare(data, params)
        ours.append(per_epoch(our_times))
        bare.append(per_epoch(bare_times))
        same_losses &= our_metrics == bare_metrics
    # The first epoch of a run carries its warm-up (allocations): left out of the medians.
    our_epochs = [t for epochs in ours for t in epochs[1:] or epochs]
    bare_epochs = [t for epochs in bare for t in epochs[1:] or epochs]
    our_median, bare_median = statistics.median(our_epochs), statistics.median(bare_epochs)
    ratio = our_median / bare_median
    passed = ratio <= TARGET_RATIO and same_losses
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "loadavg_before": loadavg_before,
            "loadavg_after": os.getloadavg(),
        },
        "config": {k: v for k, v in vars(args).items() if k != "out"} | {"out": str(args.out)},
        "ours_epoch_seconds": ours,
        "bare_epoch_seconds": bare,
        "ours_median_s": our_median,
        "bare_median_s": bare_median,
        "ratio": ratio,
        "ratio_fastest": min(our_epochs) / min(bare_epochs),
        "identical_losses": same_losses,
        "final_epoch_metrics": our_metrics[-1],
    }
    write_results(args.out, results)
    print(
        f"\nmachine: {os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} thread(s), "
        f"load average {loadavg_before[0]:.2f} before / {os.getloadavg()[0]:.2f} after"
    )
    print(
        f"data: {args.rows} x {args.features} training rows, {args.valid_rows} validation rows, "
        f"batch {args.batch_size}, {args.epochs} epochs, {args.repeats} alternating repeat(s)"
    )
    print(f"ours (train_tabular_net) time per epoch, median: {our_median * 1000:9.1f} ms")
    print(f"bare PyTorch loop        time per epoch, median: {bare_median * 1000:9.1f} ms")
    print(
        f"fastest epoch: ours {min(our_epochs) * 1000:.1f} ms, bare {min(bare_epochs) * 1000:.1f} "
        f"ms (ratio {min(our_epochs) / min(bare_epochs):.3f}x)"
    )
    print(f"ratio ours / bare (medians): {ratio:.3f}x (target <= {TARGET_RATIO:.2f}x)")
    print(f"per-epoch losses and metrics identical: {same_losses}")
    print(f"{'PASS' if passed else 'FAIL'}; results in {args.out}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
