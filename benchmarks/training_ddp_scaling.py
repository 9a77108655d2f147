"""DDP scaling benchmark: `train_tabular_net` on 2 CPU processes (torchrun, gloo) against 1.

Run from the repository root with the project's virtualenv:

    .venv/bin/python benchmarks/training_ddp_scaling.py           # 200k x 32, 4 epochs
    .venv/bin/python benchmarks/training_ddp_scaling.py --quick   # 40k rows, 3 epochs
    .venv/bin/python benchmarks/training_ddp_scaling.py --hidden 512,512   # more compute per step
    .venv/bin/python benchmarks/training_ddp_scaling.py --compare-stop-vote   # + a run without it

What is compared, and how:
- the same synthetic data as benchmarks/training_loop_overhead.py (200,000 x 32 training rows,
  20,000 validation rows, 4 classes), the same `TorchParams` (hidden 64,32 or `--hidden`, batch
  256 per process, early stopping off, no checkpoints), one torch thread per process
  (`OMP_NUM_THREADS=1`, `num_threads=1`);
- 1 process: this interpreter's `python` running the worker, with no torchrun variables;
- 2 processes: `torchrun --standalone --nproc-per-node 2` running the same worker: each rank
  trains on half of every epoch's rows (the global batch is 512) with gradients all-reduced over
  gloo every step, the per-batch stop vote, and sharded validation;
- time per epoch is measured on rank 0 between consecutive epoch reports (validation included),
  the first epoch left out (warm-up), the median of the rest; speedup = 1-process time /
  2-process time, scaling efficiency = speedup / 2 (1.0 is perfect);
- `--compare-stop-vote` adds a 2-process run whose per-batch stop vote is replaced by a no-op,
  showing what agreeing on SIGTERM costs.

The 2 processes need the machine's 2 cores to themselves: on a shared machine the figures show
the contention too (the load average is printed). Results go to build/bench/training_ddp.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench_support import add_problem_arguments, write_results

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_OUT = REPO / "build" / "bench" / "training_ddp.json"


class Timestamps:
    """A metric reporter that keeps each epoch's end time."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def report(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Keep the time."""
        self.times.append(time.perf_counter())


def worker(args: argparse.Namespace) -> int:
    """Train once in this process (a torchrun rank or alone) and write rank 0's epoch times."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from training_loop_overhead import synthetic_data

    import workloads.training.torch_trainer as torch_trainer

    if args.no_stop_vote:

        class NoVote:
            def __init__(self, context: Any) -> None:
                pass

            def __call__(self, wanted: bool) -> bool:
                return False

            def close(self) -> None:
                pass

        torch_trainer.StopVote = NoVote  # type: ignore[misc,assignment]
    data = synthetic_data(args.rows, args.valid_rows, args.features, args.classes)
    params = torch_trainer.TorchParams(
        hidden_sizes=hidden_sizes(args.hidden),
        epochs=args.epochs,
        patience=args.epochs,
        batch_size=args.batch_size,
        num_threads=1,
    )
    reporter = Timestamps()
    start = time.perf_counter()
    outcome = torch_trainer.train_tabular_net(data, params, checkpoint_dir=None, reporter=reporter)
    if outcome.is_primary:
        times = [start, *reporter.times]
        result = {
            "world_size": int(os.environ.get("WORLD_SIZE", "1")),
            "epoch_seconds": [after - before for before, after in itertools.pairwise(times)],
            "metrics": outcome.metrics,
        }
        Path(args.result).write_text(json.dumps(result))
    return 0


def hidden_sizes(text: str) -> tuple[int, ...]:
    return tuple(int(size) for size in text.split(","))


def launch(command: list[str], result: Path, label: str) -> dict[str, Any]:
    environ = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        environ.pop(name, None)
    print(f"$ {' '.join(command)}", flush=True)
    loadavg = os.getloadavg()
    started = time.perf_counter()
    # A session of its own: if anything goes wrong, no torchrun worker outlives this script.
    process = subprocess.Popen(command, cwd=REPO, env=environ, start_new_session=True)
    try:
        process.wait()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait()
    if process.returncode != 0:
        sys.exit(f"{label} run failed with exit status {process.returncode}")
    found = json.loads(result.read_text())
    epochs = found["epoch_seconds"]
    found["median_epoch_s"] = statistics.median(epochs[1:] or epochs)
    found["wall_s"] = time.perf_counter() - started
    found["loadavg_before"] = loadavg
    found["command"] = command
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_problem_arguments(parser)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=256, help="per process")
    parser.add_argument("--hidden", default="64,32", help="hidden layer sizes, e.g. 512,512")
    parser.add_argument("--quick", action="store_true", help="smoke run: 40k rows, 3 epochs")
    parser.add_argument("--compare-stop-vote", action="store_true")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-stop-vote", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.valid_rows, args.epochs = 40_000, 4_000, 3
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        sys.exit("torchrun is not next to this interpreter: run with the project's .venv")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    script = str(Path(__file__).resolve())
    shared = [
        f"--rows={args.rows}",
        f"--valid-rows={args.valid_rows}",
        f"--features={args.features}",
        f"--classes={args.classes}",
        f"--epochs={args.epochs}",
        f"--batch-size={args.batch_size}",
        f"--hidden={args.hidden}",
        "--worker",
    ]
    two = [torchrun, "--standalone", "--nproc-per-node", "2", script, *shared]
    runs: dict[str, dict[str, Any]] = {}
    plans = {
        "1 process": [sys.executable, script, *shared],
        "2 processes (DDP)": two,
    }
    if args.compare_stop_vote:
        plans["2 processes, no stop vote"] = [*two, "--no-stop-vote"]
    for label, command in plans.items():
        result = args.out.with_suffix(f".{len(runs)}.run.json")
        runs[label] = launch([*command, f"--result={result}"], result, label)
        result.unlink()
    single = runs["1 process"]["median_epoch_s"]
    print(
        f"\nmachine: {os.cpu_count()} CPUs, 1 torch thread per process, load average "
        f"{os.getloadavg()[0]:.2f} now"
    )
    print(
        f"data: {args.rows} x {args.features} training rows, {args.valid_rows} validation rows, "
        f"hidden {args.hidden}, batch {args.batch_size} per process, {args.epochs} epochs "
        "(median of epochs 2..)"
    )
    for label, run in runs.items():
        speedup = single / run["median_epoch_s"]
        run["speedup"], run["efficiency"] = speedup, speedup / 2
        print(
            f"{label:<28} {run['median_epoch_s'] * 1000:9.1f} ms/epoch   "
            f"valid_loss {run['metrics']['valid_loss']:.4f}   load {run['loadavg_before'][0]:.2f}"
            + (
                ""
                if run["world_size"] == 1
                else f"   speedup {speedup:.2f}x, efficiency {speedup / 2:.2f}"
            )
        )
    write_results(args.out, {"config": vars(args) | {"out": str(args.out)}, "runs": runs})
    print(f"results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
