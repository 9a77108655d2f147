"""Checkpoint benchmark: `CheckpointStore.save` of the full training state against `torch.save`.

Run from the repository root with the project's virtualenv:

    .venv/bin/python benchmarks/training_checkpoint_cost.py            # small and large network
    .venv/bin/python benchmarks/training_checkpoint_cost.py --quick    # fewer repeats
    .venv/bin/python benchmarks/training_checkpoint_cost.py --dir /opt/ml/checkpoints

What is compared, and how:
- the payload is the real one: `train_tabular_net` trains one epoch with a checkpoint directory,
  and the checkpoint it wrote is read back (`torch.load(..., weights_only=True)`): weights,
  AdamW state, best weights, position, random states; once for the default network (64, 32)
  and once for a large one (2048, 2048 hidden units, about 70 MB of state);
- ours: `CheckpointStore(dir, keep=2).save(step, lambda path: torch.save(payload, path))`, which
  also fsyncs the file, hashes it (sha256, reading it back), renames it into place, fsyncs the
  directory and prunes to the newest 2;
- bare: `torch.save(payload, dir / "bare.pt")` into the same directory (no fsync, no digest: what
  a loop without spot safety does); shown too: bare plus an fsync of the file, which is what
  makes a checkpoint survive a power cut and is most of what ours adds;
- the three alternate, `--repeats` times each, after one warm-up round; medians compared.

The ratio ours / bare is the price of a checkpoint a crash cannot corrupt. It is paid once per
`checkpoint_every` epochs (and once on SIGTERM), so the figure that matters for training is its
share of an epoch. Results go to build/bench/training_checkpoint.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_support import write_results

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import torch  # noqa: E402
from training_loop_overhead import synthetic_data  # noqa: E402

from workloads.training.checkpoints import CheckpointStore  # noqa: E402
from workloads.training.torch_trainer import TorchParams, train_tabular_net  # noqa: E402

DEFAULT_DIR = REPO / "build" / "bench" / "checkpoints"
DEFAULT_OUT = REPO / "build" / "bench" / "training_checkpoint.json"
NETWORKS = {"default (64, 32)": (64, 32), "large (2048, 2048)": (2048, 2048)}


def training_state(hidden: tuple[int, ...]) -> dict[str, Any]:
    """The payload our trainer checkpoints after one epoch of this network."""
    data = synthetic_data(rows=2_048, valid_rows=256, features=32, classes=4)
    with tempfile.TemporaryDirectory() as directory:
        params = TorchParams(hidden_sizes=hidden, epochs=1, num_threads=1)
        train_tabular_net(data, params, checkpoint_dir=Path(directory))
        found = CheckpointStore(Path(directory)).load_latest(
            lambda path: torch.load(path, weights_only=True)
        )
    assert found is not None
    return found[1]


def fsync(path: Path) -> None:
    with path.open("rb") as stream:
        os.fsync(stream.fileno())


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(payload: dict[str, Any], directory: Path, repeats: int) -> dict[str, Any]:
    store = CheckpointStore(directory / "ours", keep=2)
    (directory / "bare").mkdir(parents=True, exist_ok=True)
    bare_path = directory / "bare" / "bare.pt"

    def ours(step: int) -> None:
        store.save(step, lambda path: torch.save(payload, path))

    def bare_fsync() -> None:
        torch.save(payload, bare_path)
        fsync(bare_path)

    times: dict[str, list[float]] = {"ours": [], "bare": [], "bare + fsync": []}
    for step in range(repeats + 1):  # round 0 warms up the page cache and the pickler
        round_times = {
            "ours": timed(lambda step=step: ours(step)),
            "bare": timed(lambda: torch.save(payload, bare_path)),
            "bare + fsync": timed(bare_fsync),
        }
        if step:
            for name, seconds in round_times.items():
                times[name].append(seconds)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "bytes": bare_path.stat().st_size,
        "median_s": medians,
        "ratio_ours_bare": medians["ours"] / medians["bare"],
        "ratio_ours_bare_fsync": medians["ours"] / medians["bare + fsync"],
        "seconds": times,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where checkpoints go")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 repeats")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 3
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loadavg = os.getloadavg()
    results: dict[str, Any] = {}
    for label, hidden in NETWORKS.items():
        payload = training_state(hidden)
        directory = args.dir / label.split()[0]
        shutil.rmtree(directory, ignore_errors=True)
        try:
            results[label] = measure(payload, directory, args.repeats)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    print(
        f"\nmachine: {os.cpu_count()} CPUs, torch {torch.__version__}, load average "
        f"{loadavg[0]:.2f} before / {os.getloadavg()[0]:.2f} after; directory {args.dir} "
        f"({args.repeats} repeats, medians)"
    )
    for label, found in results.items():
        median = found["median_s"]
        print(
            f"{label:<20} {found['bytes'] / 1e6:8.2f} MB   ours {median['ours'] * 1000:8.2f} ms"
            f"   bare torch.save {median['bare'] * 1000:8.2f} ms"
            f"   bare + fsync {median['bare + fsync'] * 1000:8.2f} ms"
        )
        print(
            f"{'':<20} ratio ours / bare torch.save: {found['ratio_ours_bare']:.2f}x; "
            f"ours / (torch.save + fsync): {found['ratio_ours_bare_fsync']:.2f}x"
        )
    config = {"dir": str(args.dir), "repeats": args.repeats, "loadavg_before": loadavg}
    write_results(args.out, {"config": config, "results": results})
    print(f"results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
